"""Remembered choices are reused only while the repository's tag list is the same list."""

from __future__ import annotations

import datetime as dt

from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater.images import ImageRef
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings
from imageupdater.service import ResolverService
from imageupdater.strategies import Strategy


def conf_for(registry: LocalRegistry) -> RegistriesConf:
    return RegistriesConf.parse(
        f"registries:\n- name: l\n  prefix: {registry.host}\n  api_url: {registry.url}\n",
        source="test",
    )


async def test_a_repeated_semver_choice_is_remembered_while_the_tag_list_is_cached(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    for tag in ("1.0.0", "1.1.0"):
        await seeder.push(unique_repo, tag, created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    policy = ImagePolicy(image=ImageRef.parse(f"{registry.host}/{unique_repo}"))
    async with ResolverService(conf_for(registry)) as service:
        first = await service.resolve(policy)
        second = await service.resolve(policy)
        other = await service.resolve(policy, "1.1.0")
    assert first.tag == second.tag == other.tag == "1.1.0"
    assert second is first
    assert (service.memo.hits, service.memo.misses) == (1, 2)


async def test_a_refreshed_tag_list_is_chosen_from_again(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "1.0.0", created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    policy = ImagePolicy(
        image=ImageRef.parse(f"{registry.host}/{unique_repo}"), strategy=Strategy.ALPHABETICAL
    )
    settings = ClientSettings(tag_list_ttl=0)
    async with ResolverService(conf_for(registry), settings=settings) as service:
        assert (await service.resolve(policy)).tag == "1.0.0"
        await seeder.push(unique_repo, "1.2.0", created=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
        assert (await service.resolve(policy)).tag == "1.2.0"
    assert service.memo.hits == 0
