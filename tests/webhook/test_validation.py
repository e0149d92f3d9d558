"""Validation: denials list every problem, warnings flag risks, stored mistakes never block."""

from __future__ import annotations

import pytest

from imageupdater.credentials import CredentialRules
from tests.webhook.reviews import application, body, ours, review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings


def validate(data: dict[str, object], **settings: object) -> wire.Verdict:
    admission = Admission(AdmissionSettings(**settings))  # type: ignore[arg-type]
    return admission.validate(wire.decode(body(data))).verdict


def test_an_application_without_our_annotations_is_allowed_silently() -> None:
    verdict = validate(review(application({"team": "web"})))
    assert verdict.allowed
    assert verdict.warnings == ()
    assert verdict.patch == ()


def test_other_kinds_are_allowed_untouched() -> None:
    verdict = validate(review(application(ours(update_strategy="bogus")), kind="AppProject"))
    assert verdict.allowed


def test_a_valid_configuration_is_allowed() -> None:
    verdict = validate(
        review(application(ours(image_list="web=nginx:~1.26", web__update_strategy="semver")))
    )
    assert verdict.allowed
    assert verdict.warnings == []


def test_every_problem_is_listed_in_one_denial() -> None:
    annotations = ours(
        image_list="web=nginx:~1.26",
        web__update_stratgy="semver",
        web__allow_tags="regexp:(",
        api__update_strategy="digest",
    )
    verdict = validate(review(application(annotations)))
    assert not verdict.allowed
    assert verdict.message.startswith("3 problems in image-updater annotations:\n")
    assert "web.update-stratgy" in verdict.message and "did you mean" in verdict.message
    assert "web.allow-tags" in verdict.message
    assert "'api' is not in image-list" in verdict.message or "alias 'api'" in verdict.message


def test_an_unknown_strategy_is_denied_naming_the_accepted_ones() -> None:
    verdict = validate(review(application(ours(image_list="nginx", update_strategy="newest"))))
    assert not verdict.allowed
    assert "semver, newest-build, alphabetical, digest" in verdict.message


def test_deprecated_strategy_names_are_allowed_with_a_warning() -> None:
    verdict = validate(
        review(application(ours(image_list="web=ghcr.io/a/b", web__update_strategy="latest")))
    )
    assert verdict.allowed
    assert any("deprecated" in w and "newest-build" in w for w in verdict.warnings)


def test_newest_build_on_docker_hub_warns_about_pull_limits() -> None:
    verdict = validate(
        review(application(ours(image_list="web=nginx", web__update_strategy="newest-build")))
    )
    assert verdict.allowed
    assert any("Docker Hub" in w for w in verdict.warnings)


def test_an_image_argo_cd_does_not_report_is_flagged() -> None:
    status = {"summary": {"images": ["ghcr.io/acme/api:1.0.0"]}}
    app = application(ours(image_list="web=ghcr.io/acme/web,api=ghcr.io/acme/api"), status=status)
    verdict = validate(review(app))
    assert verdict.allowed
    assert [w for w in verdict.warnings if "not among the images" in w] == [
        "image 'web' is not among the images Argo CD reports for this Application, so it will "
        "not be updated; check the name or set force-update"
    ]


def test_secrets_in_another_namespace_are_denied_unless_allowed() -> None:
    app = application(ours(image_list="web=ghcr.io/a/b", web__pull_secret="pullsecret:other/creds"))
    denied = validate(review(app))
    assert not denied.allowed
    assert "other" in denied.message
    allowed = validate(review(app), credentials=CredentialRules(allow_cross_namespace_secrets=True))
    assert allowed.allowed


def test_an_update_that_keeps_stored_mistakes_is_allowed_with_warnings() -> None:
    bad = application(ours(image_list="nginx", update_strategy="bogus"))
    changed_status = application(
        ours(image_list="nginx", update_strategy="bogus"), status={"sync": {}}
    )
    verdict = validate(review(changed_status, operation="UPDATE", old=bad))
    assert verdict.allowed
    assert any("bogus" in w for w in verdict.warnings)


def test_an_update_that_introduces_a_mistake_is_denied() -> None:
    good = application(ours(image_list="nginx"))
    bad = application(ours(image_list="nginx", update_strategy="bogus"))
    verdict = validate(review(bad, operation="UPDATE", old=good))
    assert not verdict.allowed


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
def test_dry_run_reviews_get_the_same_answer(dry_run: bool) -> None:
    verdict = validate(
        review(application(ours(image_list="nginx", update_strategy="x")), dry_run=dry_run)
    )
    assert not verdict.allowed


def test_deletes_are_allowed() -> None:
    verdict = validate(review(None, operation="DELETE", old=application(ours(image_list="("))))
    assert verdict.allowed


def test_the_denial_is_encoded_as_kube_apiserver_expects() -> None:
    data = review(application(ours(image_list="nginx", update_strategy="x")), version="v1beta1")
    request = wire.decode(body(data))
    admission = Admission(AdmissionSettings())
    encoded = wire.encode(request, admission.validate(request).verdict)
    assert encoded["apiVersion"] == "admission.k8s.io/v1beta1"
    assert encoded["response"]["uid"] == data["request"]["uid"]
    assert encoded["response"]["allowed"] is False
    assert encoded["response"]["status"]["code"] == 422
    assert "patch" not in encoded["response"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b'{"kind": "AdmissionReview", "apiVersion": "v9"}', id="wrong-version"),
        pytest.param(
            b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}', id="no-request"
        ),
        pytest.param(
            b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", '
            b'"request": {"uid": "u", "operation": "EAT"}}',
            id="unknown-operation",
        ),
    ],
)
def test_malformed_reviews_are_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(wire.MalformedReview):
        wire.decode(raw)


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        pytest.param("v2.0.1", "looks like a tag", id="tag"),
        pytest.param("9fceb02", "looks like a commit", id="commit"),
    ],
)
def test_kubectl_apply_warns_when_git_write_back_cannot_follow_the_revision(
    revision: str, expected: str
) -> None:
    source = {"repoURL": "https://git.example/repo.git", "path": "app", "targetRevision": revision}
    app = application(ours(image_list="nginx", write_back_method="git"), source=source)
    verdict = validate(review(app))
    assert verdict.allowed
    assert [w for w in verdict.warnings if w.startswith("git write-back:")] == [
        next(w for w in verdict.warnings if expected in w)
    ]


def test_the_revision_warning_follows_a_source_change_under_the_same_annotations() -> None:
    admission = Admission(AdmissionSettings())
    annotations = ours(image_list="nginx", write_back_method="git")
    for revision, warned in [("v1.0.0", True), ("main", False), ("v1.0.0", True)]:
        source = {"repoURL": "https://git.example/r.git", "path": "app", "targetRevision": revision}
        verdict = admission.validate(
            wire.decode(body(review(application(annotations, source=source))))
        ).verdict
        assert any(w.startswith("git write-back:") for w in verdict.warnings) is warned, revision


def test_a_mistyped_rollback_opt_in_is_admitted_with_a_warning_saying_what_applies() -> None:
    app = application(ours(image_list="web=nginx:1.x"))
    app["metadata"]["annotations"].update(
        {
            "image-updater.io/rollback-on-degraded": "sometimes",
            "image-updater.io/resume-after-rollback": "later",
        }
    )
    verdict = validate(review(app))
    assert verdict.allowed
    gate = [w for w in verdict.warnings if "image-updater.io/rollback-on-degraded" in w]
    resume = [w for w in verdict.warnings if "image-updater.io/resume-after-rollback" in w]
    assert len(gate) == 1 and "the default window applies" in gate[0]
    assert len(resume) == 1 and "'newer'" in resume[0]
