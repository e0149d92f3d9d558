"""Where an image is written: Helm parameters, a Kustomize image, or plugin env vars."""

from __future__ import annotations

import pytest

from imageupdater.policy import HelmTarget, KustomizeTarget, PluginTarget
from tests.annotations.builders import key, only_error, only_problem, parse_suffixes


def with_image(**options: str) -> dict[str, str]:
    pairs = {"image-list": "web=nginx"}
    pairs.update(options)
    return pairs


@pytest.mark.parametrize(
    ("options", "helm", "kustomize", "plugin"),
    [
        pytest.param(
            {"web.helm.image-name": "web.image.repository", "web.helm.image-tag": "web.image.tag"},
            HelmTarget(name="web.image.repository", tag="web.image.tag"),
            None,
            None,
            id="helm-name-and-tag",
        ),
        pytest.param(
            {"web.helm.image-tag": "images[0].tag"},
            HelmTarget(tag="images[0].tag"),
            None,
            None,
            id="helm-tag-with-list-index",
        ),
        pytest.param(
            {"web.kustomize.image-name": "docker.io/org/web"},
            None,
            KustomizeTarget(name="docker.io/org/web"),
            None,
            id="kustomize-name",
        ),
        pytest.param(
            {"web.plugin.image-name": "IMAGE_NAME", "web.plugin.image-tag": "IMAGE_TAG"},
            None,
            None,
            PluginTarget(name="IMAGE_NAME", tag="IMAGE_TAG"),
            id="plugin-name-and-tag",
        ),
        pytest.param(
            {"web.plugin.image-spec": "IMAGE"},
            None,
            None,
            PluginTarget(spec="IMAGE"),
            id="plugin-spec",
        ),
    ],
)
def test_target_annotations_fill_the_image_targets(
    options: dict[str, str],
    helm: HelmTarget | None,
    kustomize: KustomizeTarget | None,
    plugin: PluginTarget | None,
) -> None:
    result = parse_suffixes(with_image(**options))
    assert result.problems == ()
    assert result.config is not None
    policy = result.config.images[0]
    assert (policy.helm, policy.kustomize, policy.plugin) == (helm, kustomize, plugin)


def test_an_image_without_target_annotations_has_no_targets() -> None:
    result = parse_suffixes(with_image())
    assert result.config is not None
    policy = result.config.images[0]
    assert (policy.helm, policy.kustomize, policy.plugin) == (None, None, None)


def test_helm_image_spec_makes_name_and_tag_ignored_with_a_warning() -> None:
    result = parse_suffixes(
        with_image(**{"web.helm.image-spec": "image.full", "web.helm.image-tag": "image.tag"})
    )
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (key("web.helm.image-tag"), "warning")
    assert problem.message == f"is ignored because '{key('web.helm.image-spec')}' is set"


@pytest.mark.parametrize(
    ("options", "problem_key", "message"),
    [
        pytest.param(
            {"web.helm.image-name": "image.name", "web.kustomize.image-name": "nginx"},
            "web.kustomize.image-name",
            "alias 'web' has both helm.* and kustomize.* targets; an image is written to "
            "exactly one of helm, kustomize or plugin",
            id="helm-and-kustomize",
        ),
        pytest.param(
            {"web.helm.image-tag": "image.tag", "web.plugin.image-name": "IMAGE"},
            "web.plugin.image-name",
            "alias 'web' has both helm.* and plugin.* targets; an image is written to "
            "exactly one of helm, kustomize or plugin",
            id="helm-and-plugin",
        ),
        pytest.param(
            {"web.plugin.image-tag": "TAG"},
            "web.plugin.image-tag",
            "a plugin target needs 'argocd-image-updater.argoproj.io/web.plugin.image-name' "
            "or '.plugin.image-spec' as well; the tag alone cannot be written",
            id="plugin-tag-alone",
        ),
        pytest.param(
            {"web.helm.image-tag": "image tag"},
            "web.helm.image-tag",
            "invalid Helm parameter name 'image tag': it contains whitespace, '=' or ','; "
            "expected a single name such as 'image.tag'",
            id="helm-name-with-space",
        ),
        pytest.param(
            {"web.kustomize.image-name": "a=b"},
            "web.kustomize.image-name",
            "invalid Kustomize image name 'a=b': it contains whitespace, '=' or ','; "
            "expected a single name such as 'docker.io/org/app'",
            id="kustomize-name-with-equals",
        ),
        pytest.param(
            {"web.plugin.image-name": "1IMAGE"},
            "web.plugin.image-name",
            "invalid plugin env var name '1IMAGE'; expected up to 253 letters, digits, '_', "
            "'.' or '-', not starting with a digit, e.g. 'IMAGE_TAG'",
            id="plugin-env-starting-with-digit",
        ),
    ],
)
def test_contradictory_or_malformed_targets_are_errors(
    options: dict[str, str], problem_key: str, message: str
) -> None:
    problem = only_error(parse_suffixes(with_image(**options)))
    assert problem.key == key(problem_key)
    assert problem.message == message
