"""``useAnnotations: true``: the resource selects, the Application's annotations configure."""

from __future__ import annotations

from imageupdater.imageupdaters import (
    CosignKey,
    FromResource,
    UseAnnotations,
    Verification,
    bind,
    parse,
)
from tests.imageupdaters.builders import app, parsed, ref, resource

KEY = {"secretName": "cosign", "key": "cosign.pub"}


def test_a_ref_reading_annotations_is_a_distinct_result_with_no_settings_of_its_own() -> None:
    updater = parsed(resource(ref("web-*", useAnnotations=True)))
    binding = bind(updater, app("web-1"))
    assert binding is not None
    assert binding.source == UseAnnotations(verification=None)


def test_a_ref_reading_annotations_keeps_its_own_verification() -> None:
    obj = resource(ref("*", useAnnotations=True, imagesVerification={"cosignKey": KEY}))
    source = parsed(obj).refs[0].source
    assert source == UseAnnotations(Verification(True, CosignKey("cosign", "cosign.pub")))


def test_the_spec_level_verification_does_not_reach_a_ref_reading_annotations() -> None:
    # Upstream's tested behaviour ("global ImagesVerification is ignored at app level"),
    # kept for compatibility, with a warning so the images are not unverified in silence.
    obj = resource(ref("*", useAnnotations=True), imagesVerification={"cosignKey": KEY})
    result = parse(obj)
    assert result.updater is not None
    assert result.updater.refs[0].source == UseAnnotations(None)
    assert [p.key for p in result.warnings] == ["spec.imagesVerification"]


def test_the_spec_level_settings_are_ignored_by_a_ref_reading_annotations() -> None:
    obj = resource(
        ref("*", useAnnotations=True),
        commonUpdateSettings={"allowTags": "regexp:("},
    )
    result = parse(obj)
    assert [p.key for p in result.errors] == ["spec.commonUpdateSettings.allowTags"]
    assert result.updater is not None
    assert isinstance(result.updater.refs[0].source, UseAnnotations)


def test_use_annotations_false_or_left_out_reads_the_resource() -> None:
    for flag in ({"useAnnotations": False}, {}):
        source = parsed(resource(ref("*", **flag))).refs[0].source
        assert isinstance(source, FromResource)


def test_use_annotations_may_select_by_labels_like_any_ref() -> None:
    updater = parsed(
        resource(ref("*", useAnnotations=True, labelSelectors={"matchLabels": {"mode": "legacy"}}))
    )
    assert bind(updater, app("a", mode="legacy")) is not None
    assert bind(updater, app("a")) is None
