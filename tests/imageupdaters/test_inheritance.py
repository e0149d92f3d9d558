"""Settings inheritance spec → applicationRef → image (§2.2), with upstream's merge vectors
(mergeCommonUpdateSettings, mergeWBCSettings, mergeImagesVerification)."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.credentials import CredentialRef
from imageupdater.imageupdaters import CosignKey, FromResource, Verification, parse
from imageupdater.platforms import Platform
from imageupdater.policy import ImagePolicy, WriteBackConfig
from imageupdater.strategies import Strategy
from tests.imageupdaters.builders import config, image, parsed, ref, resource


def policy(
    spec: dict[str, Any] | None = None,
    at_ref: dict[str, Any] | None = None,
    at_image: dict[str, Any] | None = None,
    name: str = "ghcr.io/org/web:1.x",
) -> ImagePolicy:
    own = {"commonUpdateSettings": at_image} if at_image is not None else {}
    entry = ref("*", image("web", name, **own))
    if at_ref is not None:
        entry["commonUpdateSettings"] = at_ref
    extra = {"commonUpdateSettings": spec} if spec is not None else {}
    return config(resource(entry, **extra)).images[0]


def test_with_no_settings_anywhere_the_defaults_apply() -> None:
    got = policy()
    assert got.strategy is Strategy.SEMVER
    assert got.force_update is False
    assert got.tag_filter.keeps_every_tag
    assert got.pull_secret is None
    assert got.platforms == ()


@pytest.mark.parametrize(
    ("spec", "at_ref", "at_image", "strategy", "force", "allow"),
    [
        pytest.param(
            {"updateStrategy": "semver"}, None, None, "semver", False, None, id="spec-only"
        ),
        pytest.param(
            None,
            {"updateStrategy": "newest-build"},
            None,
            "newest-build",
            False,
            None,
            id="ref-only",
        ),
        pytest.param(
            {"updateStrategy": "semver", "allowTags": "regexp:^v1"},
            {"updateStrategy": "newest-build"},
            None,
            "newest-build",
            False,
            "^v1",
            id="ref-overrides-one-field-inherits-the-other",
        ),
        pytest.param(
            {"updateStrategy": "semver", "forceUpdate": False},
            {"forceUpdate": True, "allowTags": "regexp:^v1"},
            {"allowTags": "regexp:^rc"},
            "semver",
            True,
            "^rc",
            id="three-levels-last-non-nil-wins",
        ),
        pytest.param(
            {"updateStrategy": "digest"},
            {"allowTags": "regexp:^v"},
            {"forceUpdate": True},
            "digest",
            True,
            "^v",
            id="each-field-from-the-nearest-level-setting-it",
        ),
    ],
)
def test_common_update_settings_merge_field_by_field(
    spec: dict[str, Any] | None,
    at_ref: dict[str, Any] | None,
    at_image: dict[str, Any] | None,
    strategy: str,
    force: bool,
    allow: str | None,
) -> None:
    name = "ghcr.io/org/web:latest" if strategy == "digest" else "ghcr.io/org/web"
    got = policy(spec, at_ref, at_image, name=name)
    assert got.strategy is Strategy(strategy)
    assert got.force_update is force
    assert got.tag_filter.allow.pattern == allow


def test_lists_are_replaced_by_a_lower_level_never_merged() -> None:
    got = policy(
        {"ignoreTags": ["latest", "dev-*"], "platforms": ["linux/amd64"]},
        {"ignoreTags": ["*-rc*"]},
        {"platforms": ["linux/arm64", "linux/arm/v7"]},
    )
    assert got.tag_filter.ignore == ("*-rc*",)
    assert got.platforms == (Platform("linux", "arm64"), Platform("linux", "arm", "v7"))


def test_an_empty_list_at_a_lower_level_clears_the_inherited_one() -> None:
    got = policy({"ignoreTags": ["latest"]}, None, {"ignoreTags": []})
    assert got.tag_filter.ignore == ()


def test_an_empty_pull_secret_at_a_lower_level_means_no_credentials() -> None:
    assert policy({"pullSecret": "pullsecret:argocd/regcred"}).pull_secret == CredentialRef.parse(
        "pullsecret:argocd/regcred"
    )
    assert (
        policy({"pullSecret": "pullsecret:argocd/regcred"}, {"pullSecret": ""}).pull_secret is None
    )


def test_platforms_are_inherited_from_every_level_unlike_annotations() -> None:
    got = policy({"platforms": ["linux/arm64"], "updateStrategy": "newest-build"})
    assert got.platforms == (Platform("linux", "arm64"),)


def write_back(spec: dict[str, Any] | None, at_ref: dict[str, Any] | None) -> WriteBackConfig:
    entry = ref("*")
    if at_ref is not None:
        entry["writeBackConfig"] = at_ref
    extra = {"writeBackConfig": spec} if spec is not None else {}
    return config(resource(entry, **extra)).write_back


GIT = {"method": "git"}


@pytest.mark.parametrize(
    ("spec", "at_ref", "expected"),
    [
        pytest.param(None, None, {"method": "argocd"}, id="nothing-is-argocd"),
        pytest.param({}, {}, {"method": "argocd"}, id="empty-blocks-are-argocd"),
        pytest.param(
            GIT, None, {"method": "git", "git_credentials": "repocreds"}, id="spec-method"
        ),
        pytest.param(GIT, {}, {"method": "git"}, id="ref-without-method-inherits-it"),
        pytest.param(GIT, {"method": "argocd"}, {"method": "argocd"}, id="ref-method-overrides"),
        pytest.param(
            {"method": "git", "gitConfig": {"repository": "https://g/r.git", "branch": "main"}},
            {"gitConfig": {"branch": "release"}},
            {"method": "git", "repository": "https://g/r.git", "branch": "release"},
            id="git-fields-override-one-by-one",
        ),
        pytest.param(
            {"method": "git", "gitConfig": {"repository": "https://g/r.git", "branch": "main"}},
            {},
            {"repository": "https://g/r.git", "branch": "main"},
            id="git-config-inherited-whole-when-ref-has-none",
        ),
        pytest.param(
            {"method": "git"},
            {"gitConfig": {"repository": "https://g/app.git"}},
            {"method": "git", "repository": "https://g/app.git"},
            id="ref-git-config-alone",
        ),
        pytest.param(
            {"method": "git", "gitConfig": {"writeBackTarget": "helmvalues:global/values.yaml"}},
            {"gitConfig": {"writeBackTarget": "helmvalues:app/values.yaml"}},
            {"target_text": "helmvalues:app/values.yaml"},
            id="target-overridden",
        ),
        pytest.param(
            {"method": "git", "gitConfig": {"writeBackTarget": "helmvalues:global/values.yaml"}},
            {"gitConfig": {"branch": "app-branch"}},
            {"target_text": "helmvalues:global/values.yaml", "branch": "app-branch"},
            id="target-inherited",
        ),
        pytest.param(
            {"method": "git"},
            {"gitConfig": {"pullRequest": {"gitlab": {}}}},
            {"pull_request": "gitlab"},
            id="ref-pull-request-when-spec-has-none",
        ),
        pytest.param(
            {
                "method": "git",
                "gitConfig": {"pullRequest": {"github": {}, "labels": ["image-update"]}},
            },
            {"gitConfig": {"branch": "main"}},
            {"pull_request": "github", "pull_request_labels": ("image-update",)},
            id="spec-pull-request-and-labels-inherited",
        ),
        pytest.param(
            {"method": "git", "gitConfig": {"pullRequest": {"github": {}, "labels": ["global"]}}},
            {"gitConfig": {"pullRequest": {"github": {}, "labels": ["app"]}}},
            {"pull_request": "github", "pull_request_labels": ("app",)},
            id="ref-labels-replace-spec-labels",
        ),
        pytest.param(
            {"method": "git", "gitConfig": {"pullRequest": {"github": {}, "labels": ["global"]}}},
            {"gitConfig": {"pullRequest": {"github": {}}}},
            {"pull_request": "github", "pull_request_labels": ()},
            id="ref-pull-request-without-labels-drops-spec-labels",
        ),
        pytest.param(
            {"method": "git", "gitConfig": {"pullRequest": {"github": {}}}},
            {"gitConfig": {"pullRequest": {"gitlab": {}}}},
            {"pull_request": "gitlab"},
            id="ref-provider-replaces-spec-provider-wholesale",
        ),
        pytest.param(
            {
                "method": "git",
                "gitConfig": {"pullRequest": {"github": {}, "labels": [" a ", "a", "b"]}},
            },
            None,
            {"pull_request_labels": ("a", "b")},
            id="labels-trimmed-and-deduplicated-like-upstream",
        ),
        pytest.param(
            {"method": "git:secret:argocd/git-creds"},
            None,
            {"method": "git", "git_credentials": "secret:argocd/git-creds"},
            id="secret-credentials",
        ),
    ],
)
def test_write_back_merges_per_application_ref(
    spec: dict[str, Any] | None, at_ref: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    got = write_back(spec, at_ref)
    for name, value in expected.items():
        actual = got.target.text if name == "target_text" else getattr(got, name)
        assert actual == value, name


def verification(*blocks: dict[str, Any] | None) -> Verification | None:
    spec_block, ref_block, image_block = blocks
    own = {"imagesVerification": image_block} if image_block is not None else {}
    entry = ref("*", image("web", **own))
    if ref_block is not None:
        entry["imagesVerification"] = ref_block
    extra = {"imagesVerification": spec_block} if spec_block is not None else {}
    source = parsed(resource(entry, **extra)).refs[0].source
    assert isinstance(source, FromResource)
    return source.verification("web")


def key(name: str) -> dict[str, str]:
    return {"secretName": name, "key": "cosign.pub"}


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        pytest.param((None, None, None), None, id="no-block-anywhere-no-verification"),
        pytest.param(
            ({"enabled": True, "cosignKey": key("org")}, None, None),
            Verification(True, CosignKey("org", "cosign.pub")),
            id="spec-propagates",
        ),
        pytest.param(
            ({"cosignKey": key("org")}, None, {"cosignKey": key("image")}),
            Verification(True, CosignKey("image", "cosign.pub")),
            id="image-key-overrides-spec-key",
        ),
        pytest.param(
            ({"cosignKey": key("org")}, None, {"enabled": False}),
            Verification(False, None),
            id="image-opts-out",
        ),
        pytest.param(
            ({"cosignKey": key("g")}, {"cosignKey": key("app")}, {"cosignKey": key("image")}),
            Verification(True, CosignKey("image", "cosign.pub")),
            id="three-levels-image-wins",
        ),
        pytest.param(
            ({"cosignKey": key("g")}, {"cosignKey": key("app")}, None),
            Verification(True, CosignKey("app", "cosign.pub")),
            id="ref-over-spec",
        ),
        pytest.param(
            ({"enabled": False}, {"cosignKey": key("app")}, None),
            Verification(True, CosignKey("app", "cosign.pub")),
            id="a-present-block-defaults-enabled-true-as-the-crd-does",
        ),
    ],
)
def test_images_verification_merges_field_by_field(
    blocks: tuple[dict[str, Any] | None, ...], expected: Verification | None
) -> None:
    assert verification(*blocks) == expected


def test_an_error_at_spec_level_makes_every_ref_unusable_but_keeps_selection() -> None:
    result = parse(resource(ref("a"), ref("b"), commonUpdateSettings={"allowTags": "regexp:("}))
    assert result.updater is not None
    assert all(not isinstance(r.source, FromResource) for r in result.updater.refs)
    assert [p.key for p in result.errors] == ["spec.commonUpdateSettings.allowTags"]
