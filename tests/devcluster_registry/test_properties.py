"""Property tests for the stand-ins' pure parts: tag paging, path and scope parsing, images."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devcluster.faultregistry import Kind, tag_page
from devcluster.faultregistry.wire import classify
from devcluster.seeder import MEDIA_TYPES, Media, build_image, format_created
from devcluster.tokenserver import parse_scope
from imageupdater.errors import InvalidPlatform

TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
SEGMENTS = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
NAMES = st.lists(SEGMENTS, min_size=1, max_size=3).map("/".join)
LINK = re.compile(r'^</v2/(?P<name>.+)/tags/list\?last=(?P<last>[^&]+)&n=(?P<n>\d+)>; rel="next"$')


@given(tags=st.sets(TAGS, max_size=40), page_size=st.integers(1, 15))
def test_following_links_yields_every_tag_once_in_lexical_order(
    tags: set[str], page_size: int
) -> None:
    last, n, walked = "", None, []
    for _ in range(len(tags) + 2):
        page, link = tag_page("team/app", tags, n=n, last=last, cap=page_size)
        walked += page
        assert len(page) <= page_size
        if link is None:
            break
        match = LINK.match(link)
        assert match is not None
        last, n = match["last"], int(match["n"])
    assert walked == sorted(tags)


@given(n=st.integers(1, 50), pages=st.integers(1, 5))
def test_endless_pages_never_end_and_never_repeat(n: int, pages: int) -> None:
    last, seen = "", []
    for _ in range(pages):
        page, link = tag_page("x", (), n=n, last=last, cap=None, endless=True)
        assert link is not None and len(page) == n
        seen += page
        last = page[-1]
    assert len(set(seen)) == n * pages


@given(name=NAMES, reference=TAGS)
def test_manifest_and_blob_paths_split_into_repository_and_reference(
    name: str, reference: str
) -> None:
    assert classify("GET", f"/v2/{name}/manifests/{reference}") == (
        Kind.MANIFEST_GET,
        name,
        reference,
    )
    assert classify("HEAD", f"/v2/{name}/manifests/{reference}")[0] is Kind.MANIFEST_HEAD
    assert classify("GET", f"/v2/{name}/blobs/sha256:{reference}") == (
        Kind.BLOB,
        name,
        f"sha256:{reference}",
    )
    assert classify("GET", f"/v2/{name}/tags/list") == (Kind.TAGS, name, "")


@given(name=NAMES, actions=st.lists(st.sampled_from(["pull", "push", "delete", "*"]), min_size=1))
def test_a_scope_parses_back_into_its_parts(name: str, actions: list[str]) -> None:
    assert parse_scope(f"repository:{name}:{','.join(actions)}") == (
        "repository",
        name,
        tuple(actions),
    )


@pytest.mark.parametrize("scope", ["", "repository", "repository:name", ":name:pull"])
def test_a_malformed_scope_is_an_error_naming_it(scope: str) -> None:
    with pytest.raises(ValueError, match="expected 'type:name:action"):
        parse_scope(scope)


@given(when=st.datetimes(timezones=st.just(dt.UTC)))
def test_created_dates_are_rfc3339_utc_that_parse_back_exactly(when: dt.datetime) -> None:
    text = format_created(when)
    assert text.endswith("Z")
    assert dt.datetime.fromisoformat(text) == when


def platform_of(config: dict[str, str]) -> str:
    variant = config.get("variant")
    return f"{config['os']}/{config['architecture']}" + (f"/{variant}" if variant else "")


@given(
    tag=TAGS,
    platforms=st.lists(
        st.sampled_from(["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "windows/amd64"]),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    media=st.sampled_from(["docker", "oci"]),
    when=st.datetimes(timezones=st.just(dt.UTC)),
)
def test_built_images_are_reproducible_and_named_by_their_bytes(
    tag: str, platforms: list[str], media: Media, when: dt.datetime
) -> None:
    image = build_image("team/app", tag, created=when, platforms=platforms, media=media)
    again = build_image("team/app", tag, created=when, platforms=platforms, media=media)
    types = MEDIA_TYPES[media]
    assert image == again
    for blob in (*image.blobs, *image.children, image.top):
        assert blob.digest == "sha256:" + hashlib.sha256(blob.data).hexdigest()
    assert len(image.children) == (len(platforms) if len(platforms) > 1 else 0)
    configs = [json.loads(b.data) for b in image.blobs if b.media_type == types["config"]]
    assert [platform_of(c) for c in configs] == platforms


@pytest.mark.parametrize("platform", ["linux", "linux/", "/amd64", "a/b/c/d"])
def test_a_malformed_platform_is_an_error_naming_it(platform: str) -> None:
    with pytest.raises(InvalidPlatform, match=re.escape(repr(platform))):
        build_image("team/app", "1", platforms=[platform])


def test_index_false_with_several_platforms_is_an_error() -> None:
    with pytest.raises(ValueError, match="index=False cannot carry 2 platforms"):
        build_image("team/app", "1", platforms=["linux/amd64", "linux/arm64"], index=False)
