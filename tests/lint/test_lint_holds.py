"""``lint`` shows holds: each hold in force as a note, and mistaken holds as problems."""

from __future__ import annotations

from imageupdater.lint import lint_documents

APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: web=nginx:1.x,api=org/api:~2
{holds}
spec:
  project: default
"""


def lines(holds: str) -> list[str]:
    return [str(f) for f in lint_documents(APP.format(holds=holds), source="apps.yaml")]


def test_an_application_without_holds_has_no_hold_lines() -> None:
    assert lines("") == []


def test_each_hold_in_force_is_a_note_with_its_reason() -> None:
    found = lint_documents(
        APP.format(holds='    image-updater.io/hold.api: "waiting for QA"'), source="apps.yaml"
    )
    assert [(f.severity, str(f)) for f in found] == [
        (
            "note",
            "apps.yaml: argocd/shop: image-updater.io/hold.api: held, image 'api' is not "
            "updated: waiting for QA",
        )
    ]


def test_a_hold_on_the_whole_application_is_a_note() -> None:
    assert lines('    image-updater.io/hold: "freeze until Monday"') == [
        "apps.yaml: argocd/shop: image-updater.io/hold: held, no image is updated: freeze "
        "until Monday"
    ]


def test_a_hold_without_a_reason_is_an_error_and_still_holds() -> None:
    found = lint_documents(APP.format(holds='    image-updater.io/hold: ""'), source="a.yaml")
    assert [f.severity for f in found] == ["error", "note"]
    assert "the hold has no reason" in found[0].message


def test_a_hold_on_an_alias_the_image_list_lacks_is_a_warning_naming_the_aliases() -> None:
    found = lint_documents(APP.format(holds='    image-updater.io/hold.wbe: "x"'), source="a.yaml")
    warning = next(f for f in found if f.severity == "warning")
    assert "aliases in the image list: api, web" in warning.message
