"""The converter's own rules: exact selection, aliases, where settings go, packing into
resources, and the self-check catching a resource that would not do the same."""

from __future__ import annotations

import copy

import pytest

from imageupdater.imageupdaters import bind, parse
from imageupdater.imageupdaters.export import (
    ExportedRef,
    export_ref,
    image_updater,
    name_pattern,
    pack,
    verify,
)
from tests.migrate.helpers import NAMESPACE, OPERATOR_RULES, configured


def exported(name: str = "app", **pairs: str) -> ExportedRef:
    pairs.setdefault("image-list", "web=ghcr.io/org/web:1.x")
    return export_ref(name, configured(pairs))


@pytest.mark.parametrize(
    "name",
    ["shop", "web.prod", "a*b", "what?", "[abc]", "back\\slash", "x]y", "*"],
)
def test_the_name_pattern_selects_that_application_and_no_other(name: str) -> None:
    resource = image_updater("migrated", NAMESPACE, [exported(name)])
    updater = parse(resource).updater
    assert updater is not None
    assert bind(updater, {"metadata": {"name": name, "namespace": NAMESPACE}}) is not None
    for other in ("shop2", "ab", "axb", "whatx", "a", "backslash", "x]yz", "", name + "x"):
        if other != name:
            app = {"metadata": {"name": other, "namespace": NAMESPACE}}
            assert bind(updater, app) is None, (name, other)


def test_a_plain_name_is_written_as_it_is() -> None:
    assert name_pattern("web-prod.1") == "web-prod.1"


def test_an_image_without_alias_is_given_its_repository_name_made_unique() -> None:
    result = exported(**{"image-list": "web=org/app, one/web, two/web:1.x, org/app"})
    aliases = [image["alias"] for image in result.ref["images"]]
    assert aliases == ["web", "web-2", "web-3", "app"]
    notes = [n.message for n in result.notices]
    assert len(notes) == 3
    assert "image 'one/web' has no alias; it is given the alias 'web-2'" in notes[0]


def test_a_slash_in_an_alias_is_written_as_an_underscore_with_a_note() -> None:
    result = exported(**{"image-list": "org/db=postgres:16"})
    assert result.ref["images"][0]["alias"] == "org_db"
    assert result.expected.images[0].alias == "org_db"
    assert "cannot contain '/'" in result.notices[0].message


def test_settings_every_image_shares_go_on_the_application_ref() -> None:
    result = exported(
        **{
            "image-list": "a=org/a:1.x, b=org/b:2.x",
            "ignore-tags": "*-rc*",
            "a.allow-tags": "regexp:^1",
            "b.allow-tags": "regexp:^1",
            "b.force-update": "true",
        }
    )
    assert result.ref["commonUpdateSettings"] == {
        "allowTags": "regexp:^1",
        "ignoreTags": ["*-rc*"],
    }
    assert "commonUpdateSettings" not in result.ref["images"][0]
    assert result.ref["images"][1]["commonUpdateSettings"] == {"forceUpdate": True}


def test_default_values_are_not_written() -> None:
    result = exported(
        **{
            "update-strategy": "semver",
            "force-update": "false",
            "allow-tags": "any",
            "write-back-method": "argocd",
        }
    )
    assert result.ref == {
        "namePattern": "app",
        "images": [{"alias": "web", "imageName": "ghcr.io/org/web:1.x"}],
    }


def test_write_back_goes_on_each_application_ref() -> None:
    git = exported(
        "a",
        **{
            "write-back-method": "git:secret:argocd/creds",
            "git-branch": "release",
            "git-repository": "https://github.com/org/deploy.git",
            "write-back-target": "kustomization:prod",
            "git-pull-request": "gitlab",
            "git-pull-request-labels": "x, y",
        },
    )
    plain = exported("b")
    assert git.ref["writeBackConfig"] == {
        "method": "git:secret:argocd/creds",
        "gitConfig": {
            "repository": "https://github.com/org/deploy.git",
            "branch": "release",
            "writeBackTarget": "kustomization:prod",
            "pullRequest": {"gitlab": {}, "labels": ["x", "y"]},
        },
    }
    resource = image_updater("migrated", NAMESPACE, [git, plain])
    assert verify(resource, [git, plain]).exact
    assert "writeBackConfig" not in resource["spec"]


def test_labels_without_a_provider_are_dropped_with_a_note() -> None:
    result = exported(**{"write-back-method": "git", "git-pull-request-labels": "deps"})
    assert result.ref["writeBackConfig"] == {"method": "git"}
    assert result.expected.write_back.pull_request_labels == ()
    assert result.notices[0].key.endswith("/git-pull-request-labels")
    assert "no effect" in result.notices[0].message


def test_pack_keeps_one_resource_within_the_readers_caps() -> None:
    refs = [exported(f"app-{i:03}") for i in range(130)]
    runs = pack(refs)
    assert [len(run) for run in runs] == [128, 2]
    assert [r.application for run in runs for r in run] == [r.application for r in refs]
    for run in runs:
        resource = image_updater("migrated", NAMESPACE, run)
        assert verify(resource, run).exact


def test_pack_splits_by_images_and_by_size() -> None:
    image_list = ", ".join(f"i{n}=org/i{n}:1.x" for n in range(64))
    big = [exported(f"big-{i}", **{"image-list": image_list}) for i in range(9)]
    assert [len(run) for run in pack(big)] == [8, 1]  # 512 images at most
    small = [exported(f"s{i}") for i in range(5)]
    one = small[0].size
    assert [len(run) for run in pack(small, max_bytes=2 * one)] == [2, 2, 1]
    assert [len(run) for run in pack(small, max_bytes=1)] == [1, 1, 1, 1, 1]


def test_verify_finds_a_resource_that_would_update_differently() -> None:
    ref = exported("shop", **{"web.update-strategy": "digest", "image-list": "web=org/web:v1"})
    resource = image_updater("migrated", NAMESPACE, [ref])
    assert verify(resource, [ref]).exact
    changed = copy.deepcopy(resource)
    changed["spec"]["applicationRefs"][0]["commonUpdateSettings"]["updateStrategy"] = "semver"
    found = verify(changed, [ref])
    assert not found.exact
    assert found.mismatches[0].startswith("Application 'shop' reads back differently")


def test_verify_finds_a_resource_selecting_more_than_its_applications() -> None:
    ref = exported("shop")
    resource = image_updater("migrated", NAMESPACE, [ref])
    assert verify(resource, [ref], others=["blog"]).exact
    resource["spec"]["applicationRefs"][0]["namePattern"] = "*"
    found = verify(resource, [ref], others=["blog"])
    assert found.mismatches == (
        "Application 'blog', which is not migrated, is selected by spec.applicationRefs[0]",
    )
    resource["spec"]["applicationRefs"][0]["namePattern"] = "blog"
    found = verify(resource, [ref], others=["blog", "other"])
    assert found.mismatches == (
        "Application 'shop' is selected by no applicationRef, not by spec.applicationRefs[0] "
        "made for it",
        "Application 'blog', which is not migrated, is selected by spec.applicationRefs[0]",
    )


def test_verify_reports_what_the_reader_refuses() -> None:
    platforms = ", ".join(f"linux/arch{n}" for n in range(129))
    ref = exported(**{"web.platforms": platforms, "web.update-strategy": "newest-build"})
    found = verify(image_updater("migrated", NAMESPACE, [ref]), [ref], rules=OPERATOR_RULES)
    assert [p.key for p in found.errors] == [
        "spec.applicationRefs[0].commonUpdateSettings.platforms"
    ]
    assert "at most 128" in found.errors[0].message
