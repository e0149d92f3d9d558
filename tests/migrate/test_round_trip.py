"""Every annotation an ImageUpdater can express, migrated and read back by the reader the
webhook and ``run`` use: the same ``AppConfig`` (aliases aside, where one had to be given),
also as upstream's v1.0-v1.3 CRD stores the resource (defaults persisted in every block)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from imageupdater.imageupdaters import parse
from imageupdater.imageupdaters.export import export_ref, image_updater, verify
from imageupdater.imageupdaters.model import FromResource
from imageupdater.policy import AppConfig
from imageupdater.review import parse_configuration
from tests.migrate.helpers import (
    NAMESPACE,
    OPERATOR_RULES,
    annotations,
    configured,
    same_but_aliases,
    stored_by_old_crd,
)

DIGEST = "sha256:" + "ab" * 32

CASES: list[Any] = [
    # strategies and constraints
    pytest.param({"image-list": "web=ghcr.io/org/web"}, id="no-constraint"),
    pytest.param({"image-list": "web=ghcr.io/org/web:1.x"}, id="semver-default"),
    pytest.param(
        {"image-list": "a=nginx:~1.26, b=org/b:^2, c=org/c:>=1.2.3, d=org/d:1.2.x"},
        id="semver-constraints",
    ),
    pytest.param(
        {"image-list": "web=org/web:>=1.0 <2.0 || >=3.0"}, id="semver-constraint-with-spaces"
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.update-strategy": "newest-build"}, id="newest-build"
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.update-strategy": "alphabetical"}, id="alphabetical"
    ),
    pytest.param(
        {"image-list": "web=org/web:latest", "web.update-strategy": "digest"}, id="digest"
    ),
    pytest.param(
        {"image-list": "web=org/web", "update-strategy": "latest"},
        id="deprecated-latest-app-wide",
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.update-strategy": "name"}, id="deprecated-name"
    ),
    pytest.param(
        {"image-list": "web=org/web:1.x", "web.update-strategy": "SemVer"}, id="strategy-case"
    ),
    pytest.param(
        {"image-list": "web=org/web:1.x", "web.update-strategy": "semver"},
        id="explicit-semver",
    ),
    pytest.param(
        {
            "image-list": "a=org/a:1.x, b=org/b:stable",
            "update-strategy": "digest",
            "a.update-strategy": "semver",
        },
        id="image-back-to-semver-under-app-wide-digest",
    ),
    pytest.param(
        {
            "image-list": "a=org/a:1.x, b=org/b:stable, c=org/c:2.x",
            "update-strategy": "digest",
            "force-update": "true",
            "a.update-strategy": "semver",
            "a.force-update": "false",
            "c.update-strategy": "semver",
        },
        id="image-back-to-both-defaults",
    ),
    pytest.param(
        {"image-list": "web=org/web:1.x", "web.update-strategy": "alphabetical"},
        id="ignored-constraint",
    ),
    # force-update, spelled as Go's ParseBool reads it
    pytest.param({"image-list": "web=org/web", "force-update": "true"}, id="force-app-wide"),
    pytest.param({"image-list": "web=org/web", "web.force-update": "T"}, id="force-T"),
    pytest.param({"image-list": "web=org/web", "web.force-update": "1"}, id="force-1"),
    pytest.param({"image-list": "web=org/web", "web.force-update": "False"}, id="force-False"),
    pytest.param(
        {"image-list": "a=org/a, b=org/b", "force-update": "true", "b.force-update": "false"},
        id="force-app-wide-one-image-off",
    ),
    # tag filters
    pytest.param(
        {"image-list": "web=org/web", "web.allow-tags": "regexp:^v?[0-9]+\\.[0-9]+$"},
        id="allow-tags-regexp",
    ),
    pytest.param({"image-list": "web=org/web", "web.allow-tags": "any"}, id="allow-tags-any"),
    pytest.param(
        {"image-list": "web=org/web", "allow-tags": "REGEXP:^1"}, id="allow-tags-prefix-case"
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.tag-match": "regexp:^1"}, id="deprecated-tag-match"
    ),
    pytest.param(
        {
            "image-list": "a=org/a, b=org/b",
            "allow-tags": "regexp:^1",
            "b.allow-tags": "regexp:^2",
        },
        id="allow-tags-app-wide-and-per-image",
    ),
    pytest.param(
        {"image-list": "a=org/a, b=org/b", "allow-tags": "regexp:^1", "b.allow-tags": "any"},
        id="allow-tags-any-over-app-wide",
    ),
    pytest.param(
        {"image-list": "web=org/web", "ignore-tags": "latest, *-rc*, dev-?, [abc]*"},
        id="ignore-tags",
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.ignore-tags": "dev,,test, "},
        id="ignore-tags-empty-items",
    ),
    pytest.param(
        {"image-list": "a=org/a, b=org/b", "ignore-tags": "x*", "a.ignore-tags": "y*, z*"},
        id="ignore-tags-per-image-over-app-wide",
    ),
    # platforms (image-specific only in annotations)
    pytest.param(
        {
            "image-list": "web=org/web",
            "web.update-strategy": "newest-build",
            "web.platforms": "linux/amd64",
        },
        id="platform",
    ),
    pytest.param(
        {
            "image-list": "web=org/web:latest",
            "web.update-strategy": "digest",
            "web.platforms": "linux/amd64, linux/arm64/v8,linux/arm/v7, linux/amd64",
        },
        id="platforms-variant-and-repeat",
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.platforms": "linux/amd64"},
        id="platforms-without-effect",
    ),
    # credential references
    pytest.param(
        {"image-list": "web=org/web", "pull-secret": "pullsecret:argocd/regcred"},
        id="pullsecret",
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.pull-secret": "secret:argocd/creds#token"},
        id="secret-field",
    ),
    pytest.param({"image-list": "web=org/web", "web.pull-secret": "env:REGISTRY"}, id="env"),
    pytest.param(
        {"image-list": "web=org/web", "pull-secret": "ext:/app/scripts/creds.sh"}, id="ext"
    ),
    pytest.param(
        {
            "image-list": "a=org/a, b=org/b",
            "pull-secret": "pullsecret:argocd/one",
            "b.pull-secret": "secret:argocd/two#creds",
        },
        id="pull-secret-per-image-over-app-wide",
    ),
    # manifest targets
    pytest.param(
        {
            "image-list": "web=org/web",
            "web.helm.image-name": "web.image.repository",
            "web.helm.image-tag": "web.image.tag",
        },
        id="helm-name-and-tag",
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.helm.image-tag": "images[0].tag"}, id="helm-tag-only"
    ),
    pytest.param({"image-list": "web=org/web", "web.helm.image-spec": "web.image"}, id="helm-spec"),
    pytest.param(
        {
            "image-list": "web=org/web",
            "web.helm.image-spec": "web.image",
            "web.helm.image-name": "web.name",
        },
        id="helm-spec-and-name",
    ),
    pytest.param(
        {"image-list": "web=org/web", "web.kustomize.image-name": "docker.io/org/web"},
        id="kustomize",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "web.plugin.image-name": "IMAGE_NAME",
            "web.plugin.image-tag": "IMAGE_TAG",
        },
        id="plugin-name-and-tag",
    ),
    pytest.param({"image-list": "web=org/web", "web.plugin.image-spec": "IMAGE"}, id="plugin-spec"),
    # write-back
    pytest.param(
        {"image-list": "web=org/web", "write-back-method": "argocd"}, id="argocd-explicit"
    ),
    pytest.param({"image-list": "web=org/web", "write-back-method": "git"}, id="git"),
    pytest.param(
        {"image-list": "web=org/web", "write-back-method": "git:repocreds"}, id="git-repocreds"
    ),
    pytest.param(
        {"image-list": "web=org/web", "write-back-method": "git:secret:argocd/git-creds"},
        id="git-secret-namespaced",
    ),
    pytest.param(
        {"image-list": "web=org/web", "write-back-method": "git:secret:git-creds"},
        id="git-secret",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "write-back-method": "git",
            "git-branch": "main",
            "git-repository": "https://github.com/org/deploy.git",
            "write-back-target": "kustomization",
        },
        id="git-branch-repository-kustomization",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "write-back-method": "git",
            "git-branch": "main:image-updater-{{.SHA256}}",
            "git-repository": "git@github.com:org/deploy.git",
            "write-back-target": "kustomization:../../overlays/prod",
        },
        id="git-base-target-template",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "write-back-method": "git",
            "git-branch": ":updates",
            "write-back-target": "helmvalues",
        },
        id="git-target-only-helmvalues",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "write-back-method": "git",
            "write-back-target": "helmvalues:/charts/web/values-prod.yaml",
        },
        id="helmvalues-file",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "write-back-method": "git",
            "write-back-target": "config/.image-overrides.yaml",
        },
        id="custom-override-file",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "write-back-method": "git",
            "git-branch": "main",
            "git-pull-request": "github",
            "git-pull-request-labels": "images, automated",
        },
        id="pull-request-github-labels",
    ),
    pytest.param(
        {"image-list": "web=org/web", "write-back-method": "git", "git-pull-request": "gitlab"},
        id="merge-request-gitlab",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "git-branch": "main",
            "write-back-target": "kustomization",
        },
        id="git-settings-with-argocd",
    ),
    pytest.param(
        {
            "image-list": "web=org/web",
            "write-back-method": "git",
            "git-pull-request-labels": "x",
        },
        id="labels-without-provider-dropped",
    ),
    # image references and aliases
    pytest.param({"image-list": f"web=org/web@{DIGEST}"}, id="digest-pinned"),
    pytest.param(
        {"image-list": f"web=org/web:stable@{DIGEST}", "web.update-strategy": "digest"},
        id="tag-and-digest",
    ),
    pytest.param(
        {"image-list": "a=localhost:5000/org/a:1.x, b=docker.io/library/nginx, c=nginx"},
        id="registries-as-written",
    ),
    pytest.param({"image-list": "nginx:1.x, org/api"}, id="no-aliases"),
    pytest.param({"image-list": "one/web, two/web, web=three/web"}, id="made-up-aliases-unique"),
    pytest.param(
        {
            "image-list": "argoproj/argocd=quay.io/argoproj/argocd:2.x",
            "argoproj_argocd.allow-tags": "regexp:^v2",
        },
        id="alias-with-slash",
    ),
    pytest.param(
        {
            "image-list": "web=org/web:1.x, api=org/api:latest, db=postgres:16, cache=redis",
            "update-strategy": "digest",
            "web.update-strategy": "semver",
            "db.update-strategy": "semver",
            "cache.update-strategy": "newest-build",
            "ignore-tags": "*-rc*",
            "pull-secret": "pullsecret:argocd/regcred",
            "cache.platforms": "linux/arm64",
            "web.helm.image-spec": "web.image",
            "api.helm.image-name": "api.repo",
            "write-back-method": "git:secret:argocd/git",
            "git-branch": "main",
            "write-back-target": "helmvalues:values.yaml",
        },
        id="many-images-mixed",
    ),
]


@pytest.mark.parametrize("pairs", CASES)
def test_migrated_annotations_read_back_as_the_same_configuration(pairs: dict[str, str]) -> None:
    config = configured(pairs)
    exported = export_ref("app", config)
    resource = image_updater("migrated", NAMESPACE, [exported])
    checked = verify(resource, [exported], rules=OPERATOR_RULES)
    assert checked.exact, (checked.errors, checked.mismatches)
    assert same_but_aliases(exported.expected, config)
    # The same holds once the old CRD's API server persisted its defaults in every block.
    stored = verify(stored_by_old_crd(resource), [exported], rules=OPERATOR_RULES)
    assert stored.exact, (stored.errors, stored.mismatches)


def test_an_image_block_never_sets_a_default_strategy_or_force_back() -> None:
    config = configured(CASES_BY_ID["image-back-to-both-defaults"])
    ref = export_ref("app", config).ref
    assert "commonUpdateSettings" not in ref  # the three images share neither field
    blocks = [image.get("commonUpdateSettings", {}) for image in ref["images"]]
    assert blocks == [{}, {"updateStrategy": "digest", "forceUpdate": True}, {"forceUpdate": True}]


CASES_BY_ID: dict[str, dict[str, str]] = {case.id: case.values[0] for case in CASES}


# ---- any valid combination (hypothesis) ----

_ALIASES = ("web", "api", "a.b", "org/db", None)
_IMAGES = ("ghcr.io/org/web", "nginx", "localhost:5000/x/y", "docker.io/library/redis")
_CONSTRAINTS = (None, "1.x", "~1.2", "latest", "stable")
_OPTIONS: dict[str, tuple[str, ...]] = {
    "update-strategy": ("semver", "digest", "newest-build", "alphabetical", "latest", "name"),
    "force-update": ("true", "false", "1", "F"),
    "allow-tags": ("any", "regexp:^v?1", "regexp:[0-9]$"),
    "ignore-tags": ("latest", "*-rc*, dev", "a,,b"),
    "pull-secret": ("pullsecret:argocd/regcred", "secret:argocd/c#f", "env:CREDS"),
}
_IMAGE_ONLY: dict[str, tuple[str, ...]] = {
    "platforms": ("linux/amd64", "linux/arm64/v8, linux/amd64"),
}
# At most one target kind per image (two are an error the annotations already refuse).
_TARGETS: tuple[dict[str, str], ...] = (
    {},
    {"helm.image-spec": "image.spec"},
    {"helm.image-name": "image.n", "helm.image-tag": "image.t"},
    {"kustomize.image-name": "org/web"},
    {"plugin.image-name": "IMG", "plugin.image-tag": "TAG"},
)
_APP: dict[str, tuple[str, ...]] = {
    "write-back-method": ("argocd", "git", "git:secret:creds"),
    "git-branch": ("main", "main:up-{{.SHA256}}"),
    "git-repository": ("https://github.com/org/deploy.git",),
    "write-back-target": ("kustomization", "helmvalues:values.yaml", "overrides.yaml"),
    "git-pull-request": ("github", "gitlab"),
    "git-pull-request-labels": ("deps, images",),
}


@st.composite
def annotation_sets(draw: st.DrawFn) -> dict[str, str]:
    count = draw(st.integers(1, 4))
    entries: list[str] = []
    pairs: dict[str, str] = {}
    used: set[str] = set()
    for _ in range(count):
        alias = draw(st.sampled_from(_ALIASES))
        if alias is not None and alias in used:
            alias = None
        image = draw(st.sampled_from(_IMAGES))
        constraint = draw(st.sampled_from(_CONSTRAINTS))
        text = image + (f":{constraint}" if constraint else "")
        entries.append(f"{alias}={text}" if alias else text)
        if alias is None:
            continue
        used.add(alias)
        key = alias.replace("/", "_") if draw(st.booleans()) else alias
        for option, values in {**_OPTIONS, **_IMAGE_ONLY}.items():
            if draw(st.integers(0, 3)) == 0:
                pairs[f"{key}.{option}"] = draw(st.sampled_from(values))
        for option, value in draw(st.sampled_from(_TARGETS)).items():
            pairs[f"{key}.{option}"] = value
    for option, values in {**_OPTIONS, **_APP}.items():
        if draw(st.integers(0, 2)) == 0:
            pairs[option] = draw(st.sampled_from(values))
    pairs["image-list"] = ", ".join(entries)
    return pairs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotation_sets())
def test_any_valid_annotation_set_reads_back_the_same(pairs: dict[str, str]) -> None:
    result = parse_configuration(annotations(pairs), NAMESPACE, OPERATOR_RULES)
    assume(result.config is not None)  # annotations with errors are not migrated
    config: AppConfig = result.config
    exported = export_ref("app", config)
    resource = image_updater("migrated", NAMESPACE, [exported])
    for obj in (resource, stored_by_old_crd(resource)):
        checked = verify(obj, [exported], rules=OPERATOR_RULES)
        assert checked.exact, (pairs, checked.errors, checked.mismatches)
    read = parse(resource, rules=OPERATOR_RULES).updater
    assert read is not None
    source = read.refs[0].source
    assert isinstance(source, FromResource)
    assert same_but_aliases(source.config, config), pairs
