"""Upstream v1.0–v1.3's CRD stores ``updateStrategy: semver`` and ``forceUpdate: false`` in
every present ``commonUpdateSettings``; inheritance must still work as users mean it."""

from __future__ import annotations

from typing import Any

from imageupdater.imageupdaters import parse
from imageupdater.strategies import Strategy
from tests.imageupdaters.builders import config, image, ref, resource

PERSISTED = {"updateStrategy": "semver", "forceUpdate": False}
DIGEST_IMAGE = "ghcr.io/org/web:latest"


def stored_ref(**settings: Any) -> dict[str, Any]:
    """An applicationRef as the old CRD stores it: the user wrote only ``settings``."""
    return ref("*", image("web", DIGEST_IMAGE), commonUpdateSettings={**PERSISTED, **settings})


def spec_digest(**more: Any) -> dict[str, Any]:
    return {"commonUpdateSettings": {"updateStrategy": "digest", "forceUpdate": True}, **more}


def test_a_stored_default_strategy_at_the_ref_level_inherits_the_spec_strategy() -> None:
    obj = resource(stored_ref(allowTags="regexp:^v"), **spec_digest())
    policy = config(obj).images[0]
    assert policy.strategy is Strategy.DIGEST
    assert policy.force_update is True
    assert policy.tag_filter.allow.pattern == "^v"


def test_without_a_record_of_what_was_applied_the_parse_warns_where_the_value_was_dropped() -> None:
    result = parse(resource(stored_ref(allowTags="regexp:^v"), **spec_digest()))
    assert not result.errors
    warned = {p.key: p.message for p in result.warnings}
    assert set(warned) == {
        "spec.applicationRefs[0].commonUpdateSettings.updateStrategy",
        "spec.applicationRefs[0].commonUpdateSettings.forceUpdate",
    }
    message = warned["spec.applicationRefs[0].commonUpdateSettings.updateStrategy"]
    assert (
        "updateStrategy 'digest' from spec.commonUpdateSettings.updateStrategy applies" in message
    )
    assert "kubectl apply" in message


def test_no_warning_when_the_inherited_value_is_the_default_anyway() -> None:
    entry = ref("*", image("web", "ghcr.io/org/web:1.x"), commonUpdateSettings=dict(PERSISTED))
    result = parse(resource(entry))
    assert result.problems == ()


def test_the_image_level_inherits_through_a_stored_ref_block_and_its_own() -> None:
    entry = ref(
        "*",
        image("web", DIGEST_IMAGE, commonUpdateSettings={**PERSISTED, "allowTags": "regexp:^1"}),
        commonUpdateSettings={**PERSISTED, "pullSecret": "pullsecret:argocd/creds"},
    )
    policy = config(resource(entry, **spec_digest())).images[0]
    assert policy.strategy is Strategy.DIGEST
    assert policy.force_update is True
    assert policy.tag_filter.allow.pattern == "^1"
    assert policy.pull_secret is not None


def test_the_applied_record_makes_an_explicit_semver_win_over_the_spec() -> None:
    written = {
        "applicationRefs": [
            {"namePattern": "*", "commonUpdateSettings": {"updateStrategy": "semver"}}
        ]
    }
    obj = resource(stored_ref(), applied=written, **spec_digest())
    obj["spec"]["applicationRefs"][0]["images"][0]["imageName"] = "ghcr.io/org/web:1.x"
    result = parse(obj)
    assert result.problems == ()
    policy = config(obj).images[0]
    assert policy.strategy is Strategy.SEMVER  # written: it counts
    assert policy.force_update is True  # not written: inherited, silently


def test_the_applied_record_of_an_image_is_found_by_alias_not_position() -> None:
    entries = [image("api", "ghcr.io/org/api:latest"), image("web", "ghcr.io/org/web:1.x")]
    stored = ref("*", *[{**e, "commonUpdateSettings": dict(PERSISTED)} for e in entries])
    written = {
        "applicationRefs": [
            {
                "namePattern": "*",
                "images": [
                    {"alias": "web", "commonUpdateSettings": {"updateStrategy": "semver"}},
                    {"alias": "api"},
                ],
            }
        ]
    }
    images = config(resource(stored, applied=written, **spec_digest())).images
    assert [(p.alias, p.strategy) for p in images] == [
        ("api", Strategy.DIGEST),
        ("web", Strategy.SEMVER),
    ]


def test_a_ref_missing_from_the_record_falls_back_to_reading_the_default_as_unset() -> None:
    written = {
        "applicationRefs": [
            {"namePattern": "other", "commonUpdateSettings": {"updateStrategy": "semver"}}
        ]
    }
    obj = resource(stored_ref(), ref("other"), applied=written, **spec_digest())
    assert config(obj).images[0].strategy is Strategy.DIGEST


def test_a_strategy_written_alone_is_explicit_since_the_old_crd_adds_both_fields() -> None:
    entry = ref(
        "*", image("web", "ghcr.io/org/web:1.x"), commonUpdateSettings={"updateStrategy": "semver"}
    )
    result = parse(resource(entry, **spec_digest()))
    assert result.problems == ()
    assert config(resource(entry, **spec_digest())).images[0].strategy is Strategy.SEMVER


def test_a_strategy_spelled_unlike_the_crd_default_is_explicit() -> None:
    settings = {"updateStrategy": "SemVer", "forceUpdate": False}
    entry = ref("*", image("web", "ghcr.io/org/web:1.x"), commonUpdateSettings=settings)
    result = parse(resource(entry, **spec_digest()))
    # The stored false next to it may still be the CRD's: it is read as not set.
    assert [p.key for p in result.problems] == [
        "spec.applicationRefs[0].commonUpdateSettings.forceUpdate"
    ]
    policy = config(resource(entry, **spec_digest())).images[0]
    assert (policy.strategy, policy.force_update) == (Strategy.SEMVER, True)


def test_force_update_false_alone_is_an_explicit_opt_out() -> None:
    entry = ref("*", image("web", DIGEST_IMAGE), commonUpdateSettings={"forceUpdate": False})
    assert config(resource(entry, **spec_digest())).images[0].force_update is False


def test_a_non_default_value_next_to_a_persisted_one_is_kept() -> None:
    entry = ref(
        "*",
        image("web", "ghcr.io/org/web"),
        commonUpdateSettings={"updateStrategy": "newest-build", "forceUpdate": False},
    )
    policy = config(resource(entry, **spec_digest())).images[0]
    assert policy.strategy is Strategy.NEWEST_BUILD
    assert policy.force_update is True  # the persisted false is read as unset


def test_the_spec_level_block_is_never_second_guessed() -> None:
    obj = resource(ref("*"), commonUpdateSettings=dict(PERSISTED))
    result = parse(obj)
    assert result.problems == ()
    assert config(obj).images[0].strategy is Strategy.SEMVER


def test_an_unreadable_record_is_no_evidence() -> None:
    obj = resource(stored_ref(), **spec_digest())
    obj["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{not json"
    }
    assert config(obj).images[0].strategy is Strategy.DIGEST
