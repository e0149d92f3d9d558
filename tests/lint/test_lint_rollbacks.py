"""``lint`` shows the rollback annotations: what the updater last wrote per image, and
mistakes in the opt-ins."""

from __future__ import annotations

from imageupdater.lint import lint_documents
from tests.lint.test_lint_holds import APP

RECORD = (
    """    image-updater.io/last-written: '{"web":{"version":"1.1.0","previous":"1.0.0","""
    """"at":"2026-03-20T12:00:00Z","seen":"2026-03-20T12:00:00Z","state":"reverted","""
    """"to":"1.0.0"}}'\n"""
    """    image-updater.io/hold.web: "rolled back from 1.1.0 to 1.0.0 by someone else\""""
)


def lines(annotations: str) -> list[str]:
    return [str(f) for f in lint_documents(APP.format(holds=annotations), source="apps.yaml")]


def test_the_last_written_record_is_a_note_per_image_next_to_its_hold() -> None:
    assert lines(RECORD) == [
        "apps.yaml: argocd/shop: image-updater.io/hold.web: held, image 'web' is not updated: "
        "rolled back from 1.1.0 to 1.0.0 by someone else",
        "apps.yaml: argocd/shop: image-updater.io/last-written: last written: image 'web' set "
        "to 1.1.0 from 1.0.0, reverted by someone else (held)",
    ]


def test_an_unreadable_record_is_a_warning() -> None:
    [line] = lines("    image-updater.io/last-written: 'nope'")
    assert "warning: is not a JSON object of image records" in line


def test_mistaken_opt_ins_are_reported_with_what_is_accepted() -> None:
    found = lines(
        '    image-updater.io/rollback-on-degraded: "soon"\n'
        '    image-updater.io/resume-after-rollback: "yes"'
    )
    assert len(found) == 2
    assert "image-updater.io/rollback-on-degraded: warning: 'soon' is not accepted" in found[0]
    assert "accepted: 'newer'" in found[1]
