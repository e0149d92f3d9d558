"""Planning overrides: Helm parameters, Kustomize images, plugin env, and their patches."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from imageupdater.application import Application, SourceRef, select_source
from imageupdater.choice import ChosenImage, RunningVersion
from imageupdater.images import ImageRef
from imageupdater.plan import current_override, json_patch, merge_patch, plan_overrides
from imageupdater.policy import (
    HelmTarget,
    ImagePolicy,
    KustomizeTarget,
    PluginTarget,
    WriteBackConfig,
    WriteBackTarget,
)


def app(source: dict[str, Any] | None = None, **spec: Any) -> Application:
    body: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "guestbook", "namespace": "argocd", "resourceVersion": "42"},
        "spec": {"project": "default", **spec},
    }
    if source is not None:
        body["spec"]["source"] = source
    return body  # type: ignore[return-value]


def policy(ref: str, **kw: Any) -> ImagePolicy:
    return ImagePolicy(image=ImageRef.parse(ref), **kw)


def test_helm_defaults_set_image_name_and_image_tag_with_force_string() -> None:
    application = app(
        {"repoURL": "r", "helm": {"parameters": [{"name": "replicas", "value": "2"}]}}
    )
    plan = plan_overrides(
        application, SourceRef("Helm", None), [ChosenImage(policy("nginx"), "1.27.1")]
    )
    assert plan.new_source["helm"]["parameters"] == [
        {"name": "replicas", "value": "2"},
        {"name": "image.name", "value": "nginx", "forceString": True},
        {"name": "image.tag", "value": "1.27.1", "forceString": True},
    ]
    assert [(c.image, c.old, c.new) for c in plan.changes] == [
        ("nginx", None, RunningVersion("1.27.1"))
    ]


def test_helm_parameters_are_replaced_in_place_and_keep_their_order() -> None:
    params = [
        {"name": "web.tag", "value": "1.0.0", "forceString": True},
        {"name": "other", "value": "x"},
    ]
    application = app({"helm": {"parameters": params}})
    target = HelmTarget(name="web.repo", tag="web.tag")
    chosen = ChosenImage(policy("web=ghcr.io/acme/web", helm=target), "1.2.0")
    plan = plan_overrides(application, SourceRef("Helm", None), [chosen])
    assert plan.new_source["helm"]["parameters"] == [
        {"name": "web.tag", "value": "1.2.0", "forceString": True},
        {"name": "other", "value": "x"},
        {"name": "web.repo", "value": "ghcr.io/acme/web", "forceString": True},
    ]
    assert plan.changes[0].old == RunningVersion("1.0.0")


def test_a_helm_spec_parameter_gets_the_full_reference_with_digest() -> None:
    chosen = ChosenImage(
        policy("redis", helm=HelmTarget(spec="image.full")), "7.2", digest="sha256:" + "a" * 64
    )
    plan = plan_overrides(app({"helm": {}}), SourceRef("Helm", None), [chosen])
    assert plan.new_source["helm"]["parameters"] == [
        {"name": "image.full", "value": "redis:7.2@sha256:" + "a" * 64, "forceString": True}
    ]


@pytest.mark.parametrize(
    ("existing", "ref", "target", "expected"),
    [
        pytest.param([], "nginx", None, ["nginx:1.27.1"], id="appended"),
        pytest.param(
            ["nginx:1.25.0", "redis:7"],
            "nginx",
            None,
            ["nginx:1.27.1", "redis:7"],
            id="replaced-by-name",
        ),
        pytest.param(
            ["old/name=nginx:1.0"], "nginx", "old/name", ["old/name=nginx:1.27.1"], id="renamed"
        ),
        pytest.param(
            ["localhost:5000/app:1"],
            "localhost:5000/app",
            None,
            ["localhost:5000/app:1.27.1"],
            id="registry-port-is-not-a-tag",
        ),
    ],
)
def test_kustomize_images_are_set_by_image_name(
    existing: list[str], ref: str, target: str | None, expected: list[str]
) -> None:
    kustomize = KustomizeTarget(name=target) if target else None
    chosen = ChosenImage(policy(ref, kustomize=kustomize), "1.27.1")
    plan = plan_overrides(
        app({"kustomize": {"images": existing}}), SourceRef("Kustomize", None), [chosen]
    )
    assert plan.new_source["kustomize"]["images"] == expected


def test_plugin_env_gets_name_and_tag_variables() -> None:
    chosen = ChosenImage(
        policy("myregistry/redis", plugin=PluginTarget(name="IMAGE_NAME", tag="IMAGE_TAG")), "7.0.0"
    )
    source = {"plugin": {"name": "helmfile", "env": [{"name": "IMAGE_TAG", "value": "6.0.0"}]}}
    plan = plan_overrides(app(source), SourceRef("Plugin", None), [chosen])
    assert plan.new_source["plugin"]["env"] == [
        {"name": "IMAGE_TAG", "value": "7.0.0"},
        {"name": "IMAGE_NAME", "value": "myregistry/redis"},
    ]
    assert current_override(plan.new_source, "Plugin", chosen.policy) == RunningVersion("7.0.0")


def test_planning_the_same_choice_twice_changes_nothing() -> None:
    application = app({"kustomize": {"images": []}})
    chosen = [ChosenImage(policy("nginx"), "1.27.1")]
    first = plan_overrides(application, SourceRef("Kustomize", None), chosen)
    applied = copy.deepcopy(application)
    applied["spec"]["source"] = first.new_source
    second = plan_overrides(applied, SourceRef("Kustomize", None), chosen)
    assert first.changed
    assert not second.changed
    assert second.changes == ()
    assert json_patch(applied, second) == []


def test_the_merge_patch_carries_the_resource_version_and_only_the_changed_block() -> None:
    application = app({"repoURL": "r", "kustomize": {"images": ["nginx:1.0"]}})
    plan = plan_overrides(
        application, SourceRef("Kustomize", None), [ChosenImage(policy("nginx"), "1.1")]
    )
    assert merge_patch(application, plan) == {
        "metadata": {"resourceVersion": "42"},
        "spec": {"source": {"kustomize": {"images": ["nginx:1.1"]}}},
    }


def test_a_multi_source_merge_patch_replaces_the_sources_list_with_one_source_changed() -> None:
    sources = [{"repoURL": "values", "ref": "values"}, {"repoURL": "chart", "helm": {}}]
    application = app(sources=sources)
    ref = select_source(application)
    assert ref == SourceRef("Helm", 1)
    plan = plan_overrides(application, ref, [ChosenImage(policy("nginx"), "2")])
    patch = merge_patch(application, plan)
    assert patch["spec"]["sources"][0] == sources[0]
    assert patch["spec"]["sources"][1]["helm"]["parameters"][1]["value"] == "2"


def test_the_json_patch_applies_to_give_the_planned_object() -> None:
    application = app({"repoURL": "r", "helm": {"parameters": [{"name": "x", "value": "1"}]}})
    plan = plan_overrides(application, SourceRef("Helm", None), [ChosenImage(policy("nginx"), "3")])
    patched = jsonpatch.apply_patch(application, json_patch(application, plan))
    assert patched["spec"]["source"] == plan.new_source
    empty = app({"repoURL": "r"})
    plan = plan_overrides(empty, SourceRef("Kustomize", None), [ChosenImage(policy("nginx"), "3")])
    patched = jsonpatch.apply_patch(empty, json_patch(empty, plan))
    assert patched["spec"]["source"]["kustomize"] == {"images": ["nginx:3"]}


def test_the_json_patch_applies_to_an_application_without_spec_or_source() -> None:
    bares: list[Any] = [{"metadata": {"name": "a"}}, {"metadata": {"name": "a"}, "spec": {}}]
    for bare in bares:
        plan = plan_overrides(
            bare, SourceRef("Kustomize", None), [ChosenImage(policy("nginx"), "3")]
        )
        patched = jsonpatch.apply_patch(bare, json_patch(bare, plan))
        assert patched["spec"]["source"]["kustomize"] == {"images": ["nginx:3"]}


@pytest.mark.parametrize(
    ("spec", "status", "write_back", "expected"),
    [
        pytest.param(
            {"source": {"helm": {}}}, {}, None, SourceRef("Helm", None), id="declared-helm"
        ),
        pytest.param(
            {"source": {"path": "x"}},
            {"sourceType": "Kustomize"},
            None,
            SourceRef("Kustomize", None),
            id="reported-kustomize",
        ),
        pytest.param(
            {"source": {"path": "x"}},
            {"sourceType": "Directory"},
            None,
            None,
            id="directory-unsupported",
        ),
        pytest.param({"source": {"chart": "nginx"}}, {}, None, SourceRef("Helm", None), id="chart"),
        pytest.param(
            {"source": {"path": "x"}},
            {},
            WriteBackConfig("git", target=WriteBackTarget.parse("kustomization")),
            SourceRef("Kustomize", None),
            id="git-target-forces-kustomize",
        ),
        pytest.param(
            {"sources": [{"path": "a"}, {"path": "b"}]},
            {"sourceTypes": ["Directory", "Kustomize"]},
            None,
            SourceRef("Kustomize", 1),
            id="multi-source-by-reported-type",
        ),
        pytest.param(
            {"sources": [{"path": "a"}]},
            {"sourceTypes": ["Directory"]},
            None,
            None,
            id="multi-source-unsupported",
        ),
    ],
)
def test_source_selection(
    spec: dict[str, Any],
    status: dict[str, Any],
    write_back: WriteBackConfig | None,
    expected: SourceRef | None,
) -> None:
    application: Any = {"metadata": {"name": "a"}, "spec": spec, "status": status}
    assert select_source(application, write_back) == expected
