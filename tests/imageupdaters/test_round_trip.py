"""One internal model, two readers: a resource and the equivalent annotations give equal
``AppConfig`` values (what ``image-updater migrate`` relies on)."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.annotations import PREFIX
from imageupdater.annotations import parse as parse_annotations
from imageupdater.policy import AppConfig
from tests.imageupdaters.builders import NAMESPACE, config, image, ref, resource


def from_annotations(pairs: dict[str, str]) -> AppConfig:
    result = parse_annotations({PREFIX + k: v for k, v in pairs.items()}, namespace=NAMESPACE)
    assert not result.errors, result.errors
    assert result.config is not None
    return result.config


CASES: list[Any] = [
    pytest.param(
        resource(ref("*", image("web", "ghcr.io/org/web:1.x"))),
        {"image-list": "web=ghcr.io/org/web:1.x"},
        id="one-image-defaults",
    ),
    pytest.param(
        resource(
            ref("*", image("web", "ghcr.io/org/web"), image("api", "nginx:~1.26")),
            commonUpdateSettings={
                "updateStrategy": "newest-build",
                "forceUpdate": True,
                "allowTags": "regexp:^[0-9]",
                "ignoreTags": ["latest", "*-rc*"],
                "pullSecret": "pullsecret:argocd/regcred",
            },
        ),
        {
            "image-list": "web=ghcr.io/org/web, api=nginx:~1.26",
            "update-strategy": "newest-build",
            "force-update": "true",
            "allow-tags": "regexp:^[0-9]",
            "ignore-tags": "latest, *-rc*",
            "pull-secret": "pullsecret:argocd/regcred",
        },
        id="application-wide-settings",
    ),
    pytest.param(
        resource(
            ref(
                "*",
                image(
                    "web",
                    "ghcr.io/org/web:latest",
                    commonUpdateSettings={
                        "updateStrategy": "digest",
                        "platforms": ["linux/amd64", "linux/arm64"],
                        "pullSecret": "secret:argocd/creds#token",
                    },
                    manifestTargets={
                        "helm": {"name": "web.image.repository", "tag": "web.image.tag"}
                    },
                ),
                image("db", "postgres:16", manifestTargets={"helm": {"spec": "db.image"}}),
                commonUpdateSettings={"allowTags": "regexp:^16"},
            )
        ),
        {
            "image-list": "web=ghcr.io/org/web:latest, db=postgres:16",
            "allow-tags": "regexp:^16",
            "web.update-strategy": "digest",
            "web.platforms": "linux/amd64,linux/arm64",
            "web.pull-secret": "secret:argocd/creds#token",
            "web.helm.image-name": "web.image.repository",
            "web.helm.image-tag": "web.image.tag",
            "db.helm.image-spec": "db.image",
        },
        id="per-image-settings-and-helm",
    ),
    pytest.param(
        resource(
            ref(
                "*",
                image(
                    "web", "ghcr.io/org/web:1.x", manifestTargets={"kustomize": {"name": "org/web"}}
                ),
                image(
                    "cmp",
                    "ghcr.io/org/cmp:2.x",
                    manifestTargets={"plugin": {"name": "IMAGE_NAME", "tag": "IMAGE_TAG"}},
                ),
            )
        ),
        {
            "image-list": "web=ghcr.io/org/web:1.x, cmp=ghcr.io/org/cmp:2.x",
            "web.kustomize.image-name": "org/web",
            "cmp.plugin.image-name": "IMAGE_NAME",
            "cmp.plugin.image-tag": "IMAGE_TAG",
        },
        id="kustomize-and-plugin-targets",
    ),
    pytest.param(
        resource(
            ref("*", writeBackConfig={"gitConfig": {"branch": "main:image-updater-{{.SHA256}}"}}),
            writeBackConfig={
                "method": "git:secret:argocd/git-creds",
                "gitConfig": {
                    "repository": "https://github.com/org/deploy.git",
                    "writeBackTarget": "kustomization:overlays/prod",
                },
            },
        ),
        {
            "image-list": "web=ghcr.io/org/web:1.x",
            "write-back-method": "git:secret:argocd/git-creds",
            "git-repository": "https://github.com/org/deploy.git",
            "git-branch": "main:image-updater-{{.SHA256}}",
            "write-back-target": "kustomization:overlays/prod",
        },
        id="git-write-back",
    ),
    pytest.param(
        resource(
            ref("*"),
            writeBackConfig={
                "method": "git",
                "gitConfig": {
                    "branch": "main",
                    "writeBackTarget": "helmvalues:values/prod.yaml",
                    "pullRequest": {"gitlab": {}, "labels": ["deps", "images"]},
                },
            },
        ),
        {
            "image-list": "web=ghcr.io/org/web:1.x",
            "write-back-method": "git",
            "git-branch": "main",
            "write-back-target": "helmvalues:values/prod.yaml",
            "git-pull-request": "gitlab",
            "git-pull-request-labels": "deps, images",
        },
        id="pull-request",
    ),
]


@pytest.mark.parametrize(("obj", "annotations"), CASES)
def test_a_resource_and_its_annotations_configure_an_application_identically(
    obj: dict[str, Any], annotations: dict[str, str]
) -> None:
    assert config(obj) == from_annotations(annotations)


def test_a_difference_in_any_setting_shows_in_the_comparison() -> None:
    obj = resource(
        ref("*", image("web", "ghcr.io/org/web:1.x")), commonUpdateSettings={"forceUpdate": True}
    )
    assert config(obj) != from_annotations({"image-list": "web=ghcr.io/org/web:1.x"})
