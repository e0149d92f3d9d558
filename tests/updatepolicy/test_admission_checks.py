"""Admission: an Application's annotations and spec overrides against the policies that apply,
each rule allowing and denying, each action deciding what the user sees."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.annotations import PREFIX
from imageupdater.updatepolicy import FindingsMemo, check_application, problems

from .builders import application, config, policy

IMAGE_LIST = PREFIX + "image-list"


def check(rules: dict[str, Any], annotations: dict[str, str], **app: Any) -> list[str]:
    """The rules broken, as ``rule@key``."""
    found = check_application(
        [policy(rules)],
        application(annotations=annotations, **app),
        config(annotations) if annotations else None,
    )
    return [f"{f.rule}@{f.key}" for f in found]


CONFIG_CASES = [
    pytest.param(
        {"allowedRegistries": ["ghcr.io"]}, {"image-list": "web=ghcr.io/acme/web"}, [], id="reg-ok"
    ),
    pytest.param(
        {"allowedRegistries": ["ghcr.io"]},
        {"image-list": "web=nginx"},
        [f"allowedRegistries@{IMAGE_LIST}"],
        id="registry-docker-hub",
    ),
    pytest.param(
        {"allowedRegistries": ["*.example.com"]},
        {"image-list": "web=registry.example.com/web"},
        [],
        id="registry-glob",
    ),
    pytest.param(
        {"allowedRepositories": ["ghcr.io/acme/*"]},
        {"image-list": "web=ghcr.io/acme/web"},
        [],
        id="repository-ok",
    ),
    pytest.param(
        {"allowedRepositories": ["ghcr.io/acme/*"]},
        {"image-list": "web=ghcr.io/other/web"},
        [f"allowedRepositories@{IMAGE_LIST}"],
        id="repository-other",
    ),
    pytest.param(
        {"allowedRepositories": ["nginx"]}, {"image-list": "docker.io/library/nginx"}, [], id="hub"
    ),
    pytest.param(
        {"allowedStrategies": ["semver"]}, {"image-list": "web=ghcr.io/a/web"}, [], id="strategy"
    ),
    pytest.param(
        {"allowedStrategies": ["semver"]},
        {"image-list": "web=ghcr.io/a/web", "web.update-strategy": "newest-build"},
        [f"allowedStrategies@{PREFIX}web.update-strategy"],
        id="strategy-own-key",
    ),
    pytest.param(
        {"allowedStrategies": ["semver"]},
        {"image-list": "web=ghcr.io/a/web", "update-strategy": "alphabetical"},
        [f"allowedStrategies@{PREFIX}update-strategy"],
        id="strategy-app-key",
    ),
    pytest.param(
        {"deniedTags": ["latest"]},
        {"image-list": "web=ghcr.io/a/web:latest", "web.update-strategy": "digest"},
        [f"deniedTags@{IMAGE_LIST}"],
        id="digest-follows-denied-tag",
    ),
    pytest.param(
        {"deniedTags": ["latest"]},
        {"image-list": "web=ghcr.io/a/web:stable", "web.update-strategy": "digest"},
        [],
        id="digest-follows-allowed-tag",
    ),
    pytest.param(
        {"deniedTags": ["1.*"]}, {"image-list": "web=ghcr.io/a/web:1.x"}, [], id="semver-range"
    ),
    pytest.param(
        {"requiredConstraint": "<3"},
        {"image-list": "web=ghcr.io/a/web:3.1", "web.update-strategy": "digest"},
        [f"requiredConstraint@{IMAGE_LIST}"],
        id="digest-tag-outside-constraint",
    ),
    pytest.param(
        {"requiredConstraint": "<3"},
        {"image-list": "web=ghcr.io/a/web:2.0", "web.update-strategy": "digest"},
        [],
        id="digest-tag-inside-constraint",
    ),
]


@pytest.mark.parametrize(("rules", "annotations", "broken"), CONFIG_CASES)
def test_each_rule_judges_the_annotations_configuration(
    rules: dict[str, Any], annotations: dict[str, str], broken: list[str]
) -> None:
    assert check(rules, annotations) == broken


def kustomize(*images: str) -> dict[str, Any]:
    return {"repoURL": "https://git.example/r", "kustomize": {"images": list(images)}}


def helm(**parameters: str) -> dict[str, Any]:
    return {
        "repoURL": "https://git.example/r",
        "helm": {"parameters": [{"name": k, "value": v} for k, v in parameters.items()]},
    }


OVERRIDE_CASES = [
    pytest.param(
        {"allowedRegistries": ["ghcr.io"]},
        {"source": kustomize("ghcr.io/acme/web:1.0", "nginx:1.25")},
        ["allowedRegistries@spec.source.kustomize.images[1]"],
        id="kustomize-registry",
    ),
    pytest.param(
        {"deniedTags": ["latest"]},
        {"source": kustomize("web=ghcr.io/acme/web:latest")},
        ["deniedTags@spec.source.kustomize.images[0]"],
        id="kustomize-renamed-denied-tag",
    ),
    pytest.param(
        {"allowedRepositories": ["ghcr.io/acme/*"]},
        {"source": kustomize("ghcr.io/evil/web=ghcr.io/acme/web:1.0")},
        [],
        id="kustomize-judges-the-new-name",
    ),
    pytest.param(
        {"allowedRegistries": ["ghcr.io"], "deniedTags": ["latest"]},
        {"sources": [helm(), helm(**{"image.name": "quay.io/x/web", "image.tag": "latest"})]},
        [
            "allowedRegistries@spec.sources[1].helm.parameters[0]",
            "deniedTags@spec.sources[1].helm.parameters[1]",
        ],
        id="helm-defaults-multi-source",
    ),
    pytest.param(
        {"deniedTags": ["latest"]},
        {"source": helm(**{"image.tag": "latest@sha256:" + "a" * 64})},
        ["deniedTags@spec.source.helm.parameters[0]"],
        id="helm-tag-with-digest",
    ),
    pytest.param(
        {"deniedTags": ["latest"]},
        {"source": helm(**{"replicas": "latest", "image.name": "not an image!"})},
        [],
        id="helm-other-and-unreadable-values",
    ),
]


@pytest.mark.parametrize(("rules", "app", "broken"), OVERRIDE_CASES)
def test_overrides_written_in_the_spec_are_judged_without_annotations(
    rules: dict[str, Any], app: dict[str, Any], broken: list[str]
) -> None:
    assert check(rules, {}, **app) == broken


def test_the_helm_parameters_the_annotations_name_are_judged() -> None:
    annotations = {"image-list": "web=nginx", "web.helm.image-spec": "app.image"}
    source = helm(**{"app.image": "docker.io/library/nginx:latest"})
    rules = {"allowedRegistries": ["ghcr.io"], "deniedTags": ["latest"]}
    assert check(rules, annotations, source=source) == [
        f"allowedRegistries@{IMAGE_LIST}",
        "allowedRegistries@spec.source.helm.parameters[0]",
        "deniedTags@spec.source.helm.parameters[0]",
    ]


BREACH = {"image-list": "web=docker.io/library/nginx"}


@pytest.mark.parametrize(
    ("action", "severity"),
    [
        pytest.param("Enforce", "error", id="enforce-denies"),
        pytest.param("Warn", "warning", id="warn-warns"),
        pytest.param("Audit", None, id="audit-records-only"),
    ],
)
def test_the_action_decides_whether_a_finding_denies_warns_or_is_only_recorded(
    action: str, severity: str | None
) -> None:
    found = check_application(
        [policy({"allowedRegistries": ["ghcr.io"]}, action=action)],
        application(annotations=BREACH),
        config(BREACH),
    )
    (finding,) = found
    assert finding.action.value == action
    assert [p.severity for p in problems(found)] == ([severity] if severity else [])


def test_a_denial_names_the_policy_the_rule_the_value_and_what_is_allowed() -> None:
    found = check_application(
        [policy({"allowedRegistries": ["ghcr.io", "*.example.com"]}, name="trusted")],
        application(annotations=BREACH),
        config(BREACH),
    )
    (problem,) = problems(found)
    assert problem.key == IMAGE_LIST
    assert problem.message == (
        "policy ClusterImageUpdatePolicy/trusted (Enforce), rule allowedRegistries: image 'web' "
        "is from registry 'docker.io', which is not allowed; allowed: registries 'ghcr.io', "
        "'*.example.com'"
    )
    assert found[0].value == "docker.io" and found[0].image == "docker.io/library/nginx"


def test_every_matching_policy_applies_and_names_itself() -> None:
    team = {"kind": "ImageUpdatePolicy", "name": "team", "namespace": "argocd"}
    policies = [
        policy({"allowedRegistries": ["ghcr.io"]}, name="registries"),
        policy({"allowedRegistries": ["quay.io"]}, name="other", action="Warn"),
        policy({"deniedTags": ["latest"]}, **team),
    ]
    app = application(annotations=BREACH, source=kustomize("nginx:latest"))
    found = check_application(policies, app, config(BREACH))
    kustomized = "spec.source.kustomize.images[0]"
    assert [(str(f.policy), f.rule, f.key) for f in found] == [
        ("ClusterImageUpdatePolicy/registries", "allowedRegistries", IMAGE_LIST),
        ("ClusterImageUpdatePolicy/registries", "allowedRegistries", kustomized),
        ("ClusterImageUpdatePolicy/other", "allowedRegistries", IMAGE_LIST),
        ("ClusterImageUpdatePolicy/other", "allowedRegistries", kustomized),
        ("ImageUpdatePolicy/argocd/team", "deniedTags", kustomized),
    ]
    assert all(str(f.policy) in f.text for f in found)
    assert [p.severity for p in problems(found)] == [
        "error",
        "error",
        "warning",
        "warning",
        "error",
    ]


def test_no_policies_or_no_images_mean_no_findings() -> None:
    assert check_application([], application(annotations=BREACH), config(BREACH)) == ()
    assert check_application([policy({"deniedTags": ["latest"]})], application(), None) == ()


def test_applications_configured_alike_are_judged_once_with_the_same_findings() -> None:
    policies = [
        policy({"allowedRegistries": ["ghcr.io"]}, name="registries"),
        policy({"allowedStrategies": ["semver"]}, name="strategies", action="Warn"),
    ]
    annotations = {"image-list": "web=nginx:1.25", "web.update-strategy": "digest"}
    memo = FindingsMemo()
    first = application("first", annotations=annotations, source=kustomize("nginx:latest"))
    second = application("second", annotations=annotations, source=kustomize("quay.io/x:1"))
    fresh = [check_application(policies, app, config(annotations)) for app in (first, second)]
    remembered = [
        check_application(policies, app, config(annotations), memo=memo) for app in (first, second)
    ]
    assert remembered == fresh
    assert len(memo) == 1  # the two differ only in their spec overrides, judged every time
    # A different strategy annotation is judged afresh (its key is named in the finding).
    other = {"image-list": "web=nginx:1.25", "update-strategy": "digest"}
    found = check_application(policies, application(annotations=other), config(other), memo=memo)
    assert found == check_application(policies, application(annotations=other), config(other))
    assert len(memo) == 2


def test_the_findings_memo_is_bounded_oldest_first() -> None:
    policies = [policy({"allowedRegistries": ["ghcr.io"]})]
    memo = FindingsMemo(limit=2)
    for image in ("nginx", "redis", "ghcr.io/acme/web"):
        annotations = {"image-list": f"web={image}"}
        check_application(
            policies, application(annotations=annotations), config(annotations), memo=memo
        )
    assert len(memo) == 2
