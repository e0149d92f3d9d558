"""Annotations → ImageUpdater → the same patches: with the same versions chosen, the
configuration read back from the migrated resource plans byte-identical overrides (merge
patch and JSONPatch) for Helm, Kustomize and plugin sources, and picks the same source."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.application import Application, select_source
from imageupdater.choice import ChosenImage
from imageupdater.imageupdaters import parse
from imageupdater.imageupdaters.export import export_ref, image_updater
from imageupdater.imageupdaters.model import FromResource
from imageupdater.plan import json_patch, merge_patch, plan_overrides
from imageupdater.policy import AppConfig
from tests.migrate.helpers import NAMESPACE, configured

DIGEST = "sha256:" + "cd" * 32


def app(source: dict[str, Any], kind: str) -> Application:
    body: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": NAMESPACE, "resourceVersion": "7"},
        "spec": {"project": "default", "source": source},
        "status": {"sourceType": kind},
    }
    return body  # type: ignore[return-value]


def migrated(config: AppConfig) -> AppConfig:
    resource = image_updater("migrated", NAMESPACE, [export_ref("shop", config)])
    updater = parse(resource).updater
    assert updater is not None
    source = updater.refs[0].source
    assert isinstance(source, FromResource)
    return source.config


def patches(application: Application, config: AppConfig) -> tuple[Any, Any]:
    source = select_source(application, config.write_back)
    assert source is not None
    chosen = [
        ChosenImage(policy, "2.0.0", DIGEST if policy.strategy.follows_digest else None)
        for policy in config.images
    ]
    plan = plan_overrides(application, source, chosen)
    return merge_patch(application, plan), json_patch(application, plan)


CASES = [
    pytest.param(
        {"repoURL": "r", "helm": {"parameters": [{"name": "replicas", "value": "2"}]}},
        "Helm",
        {
            "image-list": "nginx:1.x, web=ghcr.io/org/web:1.x, api=ghcr.io/org/api:stable",
            "web.helm.image-name": "web.repository",
            "web.helm.image-tag": "web.tag",
            "api.update-strategy": "digest",
            "api.helm.image-spec": "api.image",
        },
        id="helm",
    ),
    pytest.param(
        {"repoURL": "r", "kustomize": {"images": ["ghcr.io/org/web:1.0.0"]}},
        "Kustomize",
        {
            "image-list": "org/web=ghcr.io/org/web:1.x, redis",
            "org_web.kustomize.image-name": "ghcr.io/org/web",
        },
        id="kustomize",
    ),
    pytest.param(
        {"repoURL": "r", "plugin": {"env": [{"name": "IMAGE_TAG", "value": "1.0.0"}]}},
        "Plugin",
        {
            "image-list": "web=ghcr.io/org/web:1.x",
            "web.plugin.image-name": "IMAGE_NAME",
            "web.plugin.image-tag": "IMAGE_TAG",
        },
        id="plugin",
    ),
    pytest.param(
        {"repoURL": "r", "path": "overlays/prod"},
        "Directory",
        {
            "image-list": "web=ghcr.io/org/web:1.x",
            "write-back-method": "git",
            "write-back-target": "kustomization",
        },
        id="target-forces-kustomize",
    ),
]


@pytest.mark.parametrize(("source", "kind", "pairs"), CASES)
def test_the_migrated_resource_plans_the_same_patches(
    source: dict[str, Any], kind: str, pairs: dict[str, str]
) -> None:
    application = app(source, kind)
    config = configured(pairs)
    assert patches(application, migrated(config)) == patches(application, config)
    assert select_source(application, migrated(config).write_back) == select_source(
        application, config.write_back
    )
