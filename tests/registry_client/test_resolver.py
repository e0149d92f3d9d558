"""resolve(): from an ImagePolicy to a Resolution, sharing requests between policies."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from devcluster.faultregistry import FaultRegistry, Kind
from imageupdater.errors import InvalidConstraint, RegistryUnavailable
from imageupdater.images import ImageRef
from imageupdater.platforms import Platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.resolver import Resolution, resolve
from imageupdater.strategies import Strategy
from imageupdater.tags import AllowTags, TagFilter

AMD64 = (Platform("linux", "amd64"),)
DAY = datetime(2024, 6, 1, tzinfo=UTC)


def conf_for(fault: FaultRegistry) -> RegistriesConf:
    host = fault.url.removeprefix("http://")
    text = f"registries:\n- name: fault\n  prefix: {host}\n  api_url: {fault.url}\n"
    return RegistriesConf.parse(text, source="test")


def policy(fault: FaultRegistry, name: str, **fields: object) -> ImagePolicy:
    image = ImageRef.parse(f"{fault.url.removeprefix('http://')}/{name}")
    return ImagePolicy(image=image, platforms=AMD64, **fields)  # type: ignore[arg-type]


FAST = ClientSettings(backoff=0.01, tls_cert_dir=None)


async def test_many_policies_on_one_repository_share_one_tag_list_request(
    fault_registry: FaultRegistry,
) -> None:
    for day, tag in enumerate(["1.0.0", "1.1.0", "2.0.0", "nightly"]):
        fault_registry.add_image("app", tag, created=DAY + timedelta(days=day))
    conf = conf_for(fault_registry)
    policies = [
        policy(fault_registry, "app"),
        policy(fault_registry, "app", constraint="~1.0"),
        policy(fault_registry, "app", strategy=Strategy.ALPHABETICAL),
        policy(fault_registry, "app", strategy=Strategy.NEWEST_BUILD),
    ] * 5
    async with RegistryClient(settings=FAST) as client:
        results = await asyncio.gather(*(resolve(p, client=client, conf=conf) for p in policies))
    assert [r.tag for r in results[:4]] == ["2.0.0", "1.0.0", "nightly", "nightly"]
    counts = fault_registry.counts()
    assert counts[Kind.TAGS] == 1
    assert counts[Kind.MANIFEST_GET] == 4 and counts[Kind.BLOB] == 4


async def test_a_semver_resolution_lists_the_allowed_candidates(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0.0", "1.5.0", "2.0.0", "latest", "1.6.0-rc.1"])
    tag_filter = TagFilter(AllowTags.parse("regexp:^1"), ())
    async with RegistryClient(settings=FAST) as client:
        result = await resolve(
            policy(fault_registry, "app", constraint="1.x", tag_filter=tag_filter),
            client=client,
            conf=conf_for(fault_registry),
        )
    assert result == Resolution(
        image=f"{fault_registry.url.removeprefix('http://')}/app",
        strategy=Strategy.SEMVER,
        constraint="1.x",
        tag="1.5.0",
        digest=None,
        candidates=("1.0.0", "1.5.0"),
    )
    assert fault_registry.count(Kind.MANIFEST_GET) == 0


async def test_semver_never_moves_below_the_current_version(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0.0", "1.5.0"])
    async with RegistryClient(settings=FAST) as client:
        result = await resolve(
            policy(fault_registry, "app", constraint="~1.0"),
            client=client,
            conf=conf_for(fault_registry),
            current_tag="1.9.0",
        )
    assert result.tag is None


async def test_a_bad_constraint_is_refused_before_any_request(
    fault_registry: FaultRegistry,
) -> None:
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(InvalidConstraint):
            await resolve(
                policy(fault_registry, "app", constraint="latest"),
                client=client,
                conf=conf_for(fault_registry),
            )
    assert fault_registry.log == ()


async def test_newest_build_drops_a_tag_whose_metadata_fails_with_a_warning(
    fault_registry: FaultRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    fault_registry.add_image("broken", "old", created=DAY)
    fault_registry.add_image("broken", "new", created=DAY + timedelta(days=1))
    # The first manifest served comes back truncated: that tag's metadata cannot be read.
    fault_registry.malformed(repository="broken", kinds=[Kind.MANIFEST_GET], times=1)
    caplog.set_level(logging.WARNING, logger="image_updater.resolver")
    async with RegistryClient(settings=FAST) as client:
        result = await resolve(
            policy(fault_registry, "broken", strategy=Strategy.NEWEST_BUILD),
            client=client,
            conf=conf_for(fault_registry),
        )
    assert result.tag in {"old", "new"}
    assert set(result.candidates) == {"old", "new"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipping tag" in warnings[0]
    skipped = "old" if result.tag == "new" else "new"
    assert f"skipping tag {skipped}" in warnings[0]


async def test_newest_build_raises_when_every_tag_fails(fault_registry: FaultRegistry) -> None:
    fault_registry.add_tags("app", ["a", "b"])
    fault_registry.fail(100, status=503, kinds=[Kind.MANIFEST_GET])
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(RegistryUnavailable, match="answered 503"):
            await resolve(
                policy(fault_registry, "app", strategy=Strategy.NEWEST_BUILD),
                client=client,
                conf=conf_for(fault_registry),
            )


async def test_digest_follows_one_tag_with_a_head_and_cached_metadata(
    fault_registry: FaultRegistry,
) -> None:
    digest = fault_registry.add_image("app", "latest", platforms=["linux/amd64", "linux/arm64"])
    fault_registry.add_tags("app", ["1.0", "2.0"])
    digest_policy = policy(fault_registry, "app", strategy=Strategy.DIGEST, constraint="latest")
    async with RegistryClient(settings=FAST) as client:
        first = await resolve(digest_policy, client=client, conf=conf_for(fault_registry))
        fault_registry.reset_log()
        again = await resolve(digest_policy, client=client, conf=conf_for(fault_registry))
    assert (first.tag, first.digest, first.candidates) == ("latest", digest, ("latest",))
    assert again == first
    assert fault_registry.log == ()  # the digest TTL has not passed: nothing to ask


async def test_digest_of_a_tag_the_filter_ignores_makes_no_request(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["latest"])
    paused = policy(
        fault_registry,
        "app",
        strategy=Strategy.DIGEST,
        constraint="latest",
        tag_filter=TagFilter(ignore=("*",)),
    )
    async with RegistryClient(settings=FAST) as client:
        result = await resolve(paused, client=client, conf=conf_for(fault_registry))
    assert (result.tag, result.candidates) == (None, ())
    assert fault_registry.log == ()


async def test_digest_without_a_tag_to_follow_is_invalid(fault_registry: FaultRegistry) -> None:
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(InvalidConstraint, match="digest"):
            await resolve(
                policy(fault_registry, "app", strategy=Strategy.DIGEST),
                client=client,
                conf=conf_for(fault_registry),
            )


@pytest.mark.parametrize(
    ("mode", "newest"),
    [
        pytest.param("latest-first", "a", id="latest-first"),
        pytest.param("latest-last", "c", id="latest-last"),
    ],
)
async def test_tagsortmode_dates_tags_by_list_position(
    fault_registry: FaultRegistry, mode: str, newest: str
) -> None:
    fault_registry.add_tags("app", ["a", "b", "c"])
    host = fault_registry.url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: f\n  prefix: {host}\n  api_url: {fault_registry.url}\n"
        f"  tagsortmode: {mode}\n",
        source="test",
    )
    async with RegistryClient(settings=FAST) as client:
        result = await resolve(
            policy(fault_registry, "app", strategy=Strategy.NEWEST_BUILD), client=client, conf=conf
        )
    assert result.tag == newest
    assert fault_registry.count(Kind.MANIFEST_GET) == fault_registry.count(Kind.BLOB) == 0
