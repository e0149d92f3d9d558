"""resolve() under update policies: the candidates are judged between the tag filter and the
strategy, for every strategy; creation times are read only as far as a minimumAge needs;
a deferral is reported only for a candidate the strategy would move to; choices under
policies that do not depend on time are remembered under those policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devcluster.faultregistry import FaultRegistry, Kind
from imageupdater.choice import RunningVersion
from imageupdater.images import ImageRef
from imageupdater.platforms import Platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.resolver import Resolution, SelectionMemo, resolve
from imageupdater.strategies import Strategy
from imageupdater.updatepolicy import PolicyFilter, PolicySet, parse_policy
from tests.updatepolicy.builders import resource

AMD64 = (Platform("linux", "amd64"),)
DAY = datetime(2024, 6, 1, tzinfo=UTC)
FAST = ClientSettings(backoff=0.01, tls_cert_dir=None)


def conf_for(fault: FaultRegistry) -> RegistriesConf:
    host = fault.url.removeprefix("http://")
    text = f"registries:\n- name: fault\n  prefix: {host}\n  api_url: {fault.url}\n"
    return RegistriesConf.parse(text, source="test")


def image(fault: FaultRegistry, name: str = "app", **fields: Any) -> ImagePolicy:
    ref = ImageRef.parse(f"{fault.url.removeprefix('http://')}/{name}")
    return ImagePolicy(image=ref, platforms=AMD64, **fields)


def judged_by(
    *rules: dict[str, Any], running: str | None = "1.4.0", now: datetime = DAY, action: str = ""
) -> PolicyFilter:
    policies = []
    for index, rule in enumerate(rules):
        parsed = parse_policy(resource(rule, name=f"p{index}", action=action or None))
        assert parsed.policy is not None, parsed.problems
        policies.append(parsed.policy)
    version = RunningVersion.parse(running) if running is not None else None
    return PolicyFilter(PolicySet(tuple(policies)), version, now)


def seed(fault: FaultRegistry, ages: dict[str, timedelta], now: datetime = DAY) -> None:
    for tag, age in ages.items():
        fault.add_image("app", tag, created=now - age)


async def run(
    fault: FaultRegistry,
    policy: ImagePolicy,
    policies: PolicyFilter | None,
    current: str | None = "1.4.0",
    memo: SelectionMemo | None = None,
) -> Resolution:
    async with RegistryClient(settings=FAST) as client:
        return await resolve(
            policy,
            client=client,
            conf=conf_for(fault),
            current_tag=current,
            memo=memo,
            policies=policies,
        )


OLD = timedelta(days=30)


async def test_max_bump_minor_takes_2_0_out_before_semver_chooses_so_1_4_moves_to_1_9(
    fault_registry: FaultRegistry,
) -> None:
    seed(fault_registry, {"1.4.0": OLD, "1.9.0": OLD, "2.0.0": OLD, "2.1.0": OLD})
    found = await run(fault_registry, image(fault_registry), judged_by({"maxBump": "minor"}))
    assert found.tag == "1.9.0"
    assert found.decision is not None
    assert {f.candidate.name for f in found.decision.filtered} == {"2.0.0", "2.1.0"}
    assert "2.0.0" not in found.candidates and "1.9.0" in found.candidates
    assert fault_registry.counts()[Kind.MANIFEST_GET] == 0  # no metadata without minimumAge


STRATEGIES = [
    pytest.param({"strategy": Strategy.SEMVER}, "1.5.0", id="semver"),
    pytest.param({"strategy": Strategy.ALPHABETICAL}, "1.5.0", id="alphabetical"),
    pytest.param({"strategy": Strategy.NEWEST_BUILD}, "1.5.0", id="newest-build"),
]


@pytest.mark.parametrize(("fields", "expected"), STRATEGIES)
async def test_every_strategy_chooses_only_among_what_the_policies_keep(
    fault_registry: FaultRegistry, fields: dict[str, Any], expected: str
) -> None:
    seed(fault_registry, {"1.4.0": OLD, "1.5.0": timedelta(days=2), "1.6.0-rc1": timedelta(1)})
    policies = judged_by({"deniedTags": ["*-rc*"]})
    found = await run(fault_registry, image(fault_registry, **fields), policies)
    assert found.tag == expected


async def test_a_followed_tag_the_policies_deny_is_not_chosen(
    fault_registry: FaultRegistry,
) -> None:
    seed(fault_registry, {"latest": OLD})
    policy = image(fault_registry, strategy=Strategy.DIGEST, constraint="latest")
    found = await run(fault_registry, policy, judged_by({"deniedTags": ["latest"]}), "latest")
    assert found.tag is None
    without = await run(fault_registry, policy, None, "latest")
    assert without.tag == "latest" and without.digest is not None


async def test_minimum_age_reads_creation_times_only_above_the_running_version_best_first(
    fault_registry: FaultRegistry,
) -> None:
    seed(
        fault_registry,
        {
            "1.0.0": OLD,
            "1.4.0": OLD,
            "1.5.0": OLD,
            "1.6.0": timedelta(hours=50),
            "1.7.0": timedelta(hours=2),
        },
    )
    found = await run(fault_registry, image(fault_registry), judged_by({"minimumAge": "24h"}))
    assert found.tag == "1.6.0"
    # 1.7.0 (too young), then 1.6.0 (old enough): 1.5.0, 1.4.0 and 1.0.0 are never read.
    assert fault_registry.counts()[Kind.MANIFEST_GET] == 2
    assert found.deferral is not None
    assert found.deferral.until == DAY - timedelta(hours=2) + timedelta(hours=24)
    assert found.deferral.rule == "minimumAge"
    assert [c.name for c in found.deferral.candidates] == ["1.7.0"]


async def test_a_candidate_another_rule_takes_out_is_not_read_for_its_age(
    fault_registry: FaultRegistry,
) -> None:
    seed(fault_registry, {"1.4.0": OLD, "1.5.0": OLD, "2.0.0": timedelta(hours=1)})
    policies = judged_by({"minimumAge": "24h"}, {"maxBump": "minor"})
    found = await run(fault_registry, image(fault_registry), policies)
    assert found.tag == "1.5.0" and found.deferral is None
    assert fault_registry.counts()[Kind.MANIFEST_GET] == 1  # 1.5.0 only


async def test_a_closed_window_defers_only_when_there_is_something_to_move_to(
    fault_registry: FaultRegistry,
) -> None:
    seed(fault_registry, {"1.3.0": OLD, "1.4.0": OLD})
    closed = {"updateWindows": [{"schedule": "0 3 * * *", "duration": "1h"}]}
    noon = DAY + timedelta(hours=12)
    current = await run(fault_registry, image(fault_registry), judged_by(closed, now=noon))
    assert current.tag == "1.4.0" and current.deferral is None
    fault_registry.add_image("app", "1.5.0", created=DAY - OLD)
    newer = await run(fault_registry, image(fault_registry), judged_by(closed, now=noon))
    assert newer.tag == "1.4.0"  # stays
    assert newer.deferral is not None and newer.deferral.rule == "updateWindows"
    assert newer.deferral.until == DAY + timedelta(days=1, hours=3)


async def test_warn_and_audit_policies_filter_nothing(fault_registry: FaultRegistry) -> None:
    seed(fault_registry, {"1.4.0": OLD, "2.0.0": OLD})
    for action in ("Warn", "Audit"):
        policies = judged_by({"maxBump": "minor"}, action=action)
        found = await run(fault_registry, image(fault_registry), policies)
        assert found.tag == "2.0.0"
        assert found.decision is not None and found.decision.would_filter


async def test_require_digest_pins_the_chosen_tag_even_for_semver(
    fault_registry: FaultRegistry,
) -> None:
    seed(fault_registry, {"1.4.0": OLD})
    digest = fault_registry.add_image("app", "1.5.0", created=DAY - OLD)
    found = await run(fault_registry, image(fault_registry), judged_by({"requireDigest": True}))
    assert (found.tag, found.digest, found.pin_digest) == ("1.5.0", digest, True)


async def test_choices_under_timeless_policies_are_remembered_per_policy_set(
    fault_registry: FaultRegistry,
) -> None:
    seed(fault_registry, {"1.4.0": OLD, "1.9.0": OLD, "2.0.0": OLD})
    memo = SelectionMemo()
    policy = image(fault_registry)
    first = await run(fault_registry, policy, judged_by({"maxBump": "minor"}), memo=memo)
    again = await run(fault_registry, policy, judged_by({"maxBump": "minor"}), memo=memo)
    other = await run(fault_registry, policy, judged_by({"maxBump": "major"}), memo=memo)
    plain = await run(fault_registry, policy, None, memo=memo)
    assert (first.tag, again.tag, other.tag, plain.tag) == ("1.9.0", "1.9.0", "2.0.0", "2.0.0")
    assert again is first  # an equal policy set, parsed again, finds the remembered choice
    assert memo.hits == 1


async def test_choices_under_a_minimum_age_are_never_remembered(
    fault_registry: FaultRegistry,
) -> None:
    seed(fault_registry, {"1.4.0": OLD, "1.5.0": timedelta(hours=1)})
    memo = SelectionMemo()
    policy = image(fault_registry)
    young = await run(fault_registry, policy, judged_by({"minimumAge": "24h"}), memo=memo)
    later = DAY + timedelta(days=1)
    aged = await run(fault_registry, policy, judged_by({"minimumAge": "24h"}, now=later), memo=memo)
    assert (young.tag, aged.tag) == ("1.4.0", "1.5.0")  # stays, then moves
