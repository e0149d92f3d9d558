"""The reconciler's filter: each rule keeps and drops candidates, only Enforce filters, the
strictest policy wins, time defers, and what cannot be filtered is a standing violation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from imageupdater.choice import RunningVersion
from imageupdater.images import ImageRef
from imageupdater.policy import ImagePolicy
from imageupdater.strategies import Strategy, select
from imageupdater.tags import TagInfo
from imageupdater.updatepolicy import CandidateDecision, Policy, filter_candidates

from .builders import NOW, aged, policy, tags

WEB = ImagePolicy(ImageRef.parse("web=ghcr.io/acme/web"))
DIGEST_SHA = "sha256:" + "b" * 64


def run(
    policies: list[Policy],
    candidates: list[TagInfo],
    running: str | None = "1.4.0",
    image: ImagePolicy = WEB,
) -> CandidateDecision:
    version = RunningVersion.parse(running) if running is not None else None
    return filter_candidates(policies, image, version, candidates, NOW)


def kept(decision: CandidateDecision) -> list[str]:
    return [c.name for c in decision.kept]


RULES = [
    pytest.param({"deniedTags": ["*-rc*", "latest"]}, ["1.5.0", "1.6.0-rc1", "latest"], ["1.5.0"],
                 id="deniedTags"),
    pytest.param({"requiredConstraint": "<3"}, ["2.9.0", "3.0.0", "nightly"], ["2.9.0"],
                 id="requiredConstraint"),
    pytest.param({"maxBump": "minor"}, ["1.4.1", "1.9.0", "2.0.0"], ["1.4.1", "1.9.0"],
                 id="maxBump"),
    pytest.param({"allowedStrategies": ["semver"]}, ["1.5.0"], ["1.5.0"], id="strategy-allowed"),
    pytest.param({"allowedRegistries": ["ghcr.io"]}, ["1.5.0"], ["1.5.0"], id="registry-allowed"),
]  # fmt: skip


@pytest.mark.parametrize(("rules", "candidates", "expected"), RULES)
def test_an_enforce_rule_keeps_only_what_it_allows(
    rules: dict[str, Any], candidates: list[str], expected: list[str]
) -> None:
    decision = run([policy(rules)], tags(*candidates))
    assert kept(decision) == expected
    assert {f.candidate.name for f in decision.filtered} == set(candidates) - set(expected)
    assert decision.violations == ()


@pytest.mark.parametrize("action", ["Warn", "Audit"])
@pytest.mark.parametrize(("rules", "candidates", "expected"), RULES)
def test_warn_and_audit_filter_nothing_and_report_the_chosen_candidate(
    rules: dict[str, Any], candidates: list[str], expected: list[str], action: str
) -> None:
    decision = run([policy(rules, action=action)], tags(*candidates))
    assert kept(decision) == candidates
    assert decision.filtered == ()
    for candidate in tags(*candidates):
        findings = decision.findings_for(candidate)
        assert bool(findings) is (candidate.name not in expected), candidate
        assert all(f.action.value == action for f in findings)


def test_max_bump_minor_moves_1_4_to_1_9_rather_than_blocking_on_2_0() -> None:
    decision = run([policy({"maxBump": "minor"})], tags("1.4.0", "1.9.0", "2.0.0", "2.1.0"))
    chosen = select(Strategy.SEMVER, decision.kept, constraint=None, current="1.4.0")
    assert chosen is not None and chosen.name == "1.9.0"
    (out,) = {f.finding.message for f in decision.filtered if f.candidate.name == "2.0.0"}
    assert "'2.0.0' changes the major version of the running '1.4.0'" in out


@pytest.mark.parametrize(
    ("bump", "running", "candidate", "allowed"),
    [
        pytest.param("patch", "1.4.2", "1.4.9", True, id="patch-same-minor"),
        pytest.param("patch", "1.4.2", "1.4.3-rc.1", True, id="patch-prerelease"),
        pytest.param("patch", "1.4.2", "1.5.0", False, id="patch-minor-bump"),
        pytest.param("patch", "1.4.2", "2.0.0", False, id="patch-major-bump"),
        pytest.param("patch", "v1.4", "1.4.7", True, id="patch-lenient-running"),
        pytest.param("minor", "1.4.2", "1.9.0", True, id="minor-same-major"),
        pytest.param("minor", "1.4.2", "2.0.0", False, id="minor-major-bump"),
        pytest.param("minor", "0.9.0", "1.0.0", False, id="minor-zero-to-one"),
        pytest.param("minor", "2.0.0", "1.9.0", False, id="minor-down-a-major"),
        pytest.param("minor", "1.4.2", "v1.10", True, id="minor-lenient-candidate"),
        pytest.param("major", "1.4.2", "5.0.0", True, id="major-anything"),
        pytest.param("major", "1.4.2", "latest", False, id="major-needs-semver-candidate"),
        pytest.param("minor", "1.4.2", "nightly", False, id="minor-non-semver-candidate"),
    ],
)
def test_max_bump_measures_from_the_running_version(
    bump: str, running: str, candidate: str, allowed: bool
) -> None:
    decision = run([policy({"maxBump": bump})], tags(candidate), running=running)
    assert bool(decision.kept) is allowed


@pytest.mark.parametrize(
    ("running", "words"),
    [
        pytest.param("latest", "the running version 'latest' is not a semantic version", id="tag"),
        pytest.param(None, "the running version is not known yet", id="unknown"),
        pytest.param("@" + DIGEST_SHA, "the running version is not known yet", id="digest-only"),
    ],
)
def test_max_bump_without_a_running_semantic_version_is_a_violation_that_blocks(
    running: str | None, words: str
) -> None:
    decision = run([policy({"maxBump": "minor"})], tags("1.0.0", "2.0.0"), running=running)
    assert kept(decision) == []
    (violation,) = decision.violations
    assert violation.rule == "maxBump" and words in violation.message
    warned = run([policy({"maxBump": "minor"}, action="Warn")], tags("1.0.0"), running=running)
    assert kept(warned) == ["1.0.0"] and warned.violations[0].action.value == "Warn"


@pytest.mark.parametrize(
    ("rules", "image", "rule"),
    [
        pytest.param({"allowedRegistries": ["quay.io"]}, WEB, "allowedRegistries", id="registry"),
        pytest.param(
            {"allowedRepositories": ["ghcr.io/other/*"]}, WEB, "allowedRepositories", id="repo"
        ),
        pytest.param({"allowedStrategies": ["digest"]}, WEB, "allowedStrategies", id="strategy"),
    ],
)
def test_a_forbidden_image_is_a_standing_violation_and_enforce_keeps_nothing(
    rules: dict[str, Any], image: ImagePolicy, rule: str
) -> None:
    decision = run([policy(rules)], tags("1.5.0", "1.6.0"), image=image)
    assert kept(decision) == []
    assert [v.rule for v in decision.violations] == [rule]
    assert decision.findings_for(None) == decision.violations
    assert decision.deferral is None


def test_a_running_tag_that_breaks_a_rule_is_a_violation_but_moving_away_is_allowed() -> None:
    rules = {"deniedTags": ["latest"], "requiredConstraint": ">=1"}
    decision = run([policy(rules)], tags("1.0.0", "latest"), running="latest")
    assert kept(decision) == ["1.0.0"]
    assert [v.rule for v in decision.violations] == ["deniedTags", "requiredConstraint"]
    assert all("(running)" in v.message for v in decision.violations)


def test_the_strictest_enforce_policy_wins_and_every_one_is_named() -> None:
    minor = policy({"maxBump": "minor", "deniedTags": ["*-rc*"]}, name="minor")
    patch = policy({"maxBump": "patch"}, name="patch")
    candidates = tags("1.4.5", "1.4.6-rc1", "1.9.0", "2.0.0")
    decision = run([minor, patch], candidates)
    assert kept(decision) == ["1.4.5"]
    reasons = {(f.candidate.name, str(f.finding.policy), f.finding.rule) for f in decision.filtered}
    assert reasons == {
        ("1.4.6-rc1", "ClusterImageUpdatePolicy/minor", "deniedTags"),
        ("1.9.0", "ClusterImageUpdatePolicy/patch", "maxBump"),
        ("2.0.0", "ClusterImageUpdatePolicy/minor", "maxBump"),
        ("2.0.0", "ClusterImageUpdatePolicy/patch", "maxBump"),
    }


def test_require_digest_holds_if_any_enforce_policy_asks_and_warn_only_advises() -> None:
    candidates = tags("1.5.0")
    assert not run([policy({})], candidates).require_digest
    both = run([policy({}), policy({"requireDigest": True}, name="pin")], candidates)
    assert both.require_digest and both.findings_for(candidates[0]) == ()
    advised = run([policy({"requireDigest": True}, action="Warn")], candidates)
    assert not advised.require_digest
    (finding,) = advised.findings_for(candidates[0])
    assert finding.rule == "requireDigest" and finding.action.value == "Warn"
    assert advised.findings_for(None) == ()


def test_a_candidate_younger_than_the_minimum_age_waits_and_the_deferral_says_until_when() -> None:
    old, young = aged("1.5.0", timedelta(hours=48)), aged("1.6.0", timedelta(hours=2))
    decision = run([policy({"minimumAge": "24h"}, name="soak")], [old, young])
    assert kept(decision) == ["1.5.0"]
    deferral = decision.deferral
    assert deferral is not None
    assert deferral.until == NOW + timedelta(hours=22)
    assert (str(deferral.policy), deferral.rule) == ("ClusterImageUpdatePolicy/soak", "minimumAge")
    assert [c.name for c in deferral.candidates] == ["1.6.0"]
    assert "it becomes eligible at 2025-03-13T10:00:00+00:00" in deferral.message


def test_a_candidate_without_a_creation_time_is_never_taken_for_old() -> None:
    undated = TagInfo("1.6.0")
    decision = run([policy({"minimumAge": "24h"})], [aged("1.5.0", timedelta(days=3)), undated])
    assert kept(decision) == ["1.5.0"]
    (out,) = decision.filtered
    assert out.candidate is undated and out.eligible_at is None
    assert "has no known creation time" in out.finding.message
    assert decision.deferral is None  # waiting alone will not make it eligible
    (violation,) = decision.violations
    assert violation.rule == "minimumAge"
    assert "reported no creation time for 1 candidate(s) ('1.6.0')" in violation.message


def test_the_longest_hold_on_a_candidate_is_its_deferral() -> None:
    young = aged("1.6.0", timedelta(hours=1))
    decision = run(
        [policy({"minimumAge": "24h"}, name="day"), policy({"minimumAge": "48h"}, name="two")],
        [young],
    )
    assert decision.deferral is not None
    assert decision.deferral.until == NOW + timedelta(hours=47)
    assert str(decision.deferral.policy) == "ClusterImageUpdatePolicy/two"


def test_a_young_candidate_that_a_rule_refuses_for_good_is_not_deferred() -> None:
    young_rc = aged("1.6.0-rc1", timedelta(hours=1))
    decision = run([policy({"minimumAge": "24h", "deniedTags": ["*-rc*"]})], [young_rc])
    assert decision.deferral is None


def test_the_earliest_candidate_to_become_eligible_sets_the_deferral() -> None:
    first, second = aged("1.6.0", timedelta(hours=20)), aged("1.7.0", timedelta(hours=10))
    decision = run([policy({"minimumAge": "24h"})], [second, first])
    assert decision.deferral is not None
    assert decision.deferral.until == NOW + timedelta(hours=4)
    assert [c.name for c in decision.deferral.candidates] == ["1.7.0", "1.6.0"]


WEEKDAYS_BERLIN = [{"schedule": "0 9 * * 1-5", "duration": "8h", "timeZone": "Europe/Berlin"}]


def test_a_closed_update_window_defers_every_candidate_to_its_next_opening() -> None:
    saturday = NOW + timedelta(days=3)  # Saturday 2025-03-15 12:00 UTC
    decision = filter_candidates(
        [policy({"updateWindows": WEEKDAYS_BERLIN}, name="office")],
        WEB,
        RunningVersion("1.4.0"),
        tags("1.5.0"),
        saturday,
    )
    assert kept(decision) == []
    assert decision.deferral is not None
    assert decision.deferral.until.isoformat() == "2025-03-17T08:00:00+00:00"  # Mon 09:00 CET
    assert decision.deferral.rule == "updateWindows"
    assert "'0 9 * * 1-5' for 8h (Europe/Berlin)" in decision.deferral.message


def test_an_open_update_window_lets_candidates_through() -> None:
    decision = run([policy({"updateWindows": WEEKDAYS_BERLIN})], tags("1.5.0"))  # Wed 13:00 CET
    assert kept(decision) == ["1.5.0"] and decision.deferral is None


def test_age_and_window_together_defer_to_the_later_of_the_two() -> None:
    friday_evening = NOW + timedelta(days=2, hours=5)  # Fri 18:00 CET, window closed at 17:00
    young = TagInfo("1.5.0", created=friday_evening - timedelta(hours=1))
    decision = filter_candidates(
        [policy({"updateWindows": WEEKDAYS_BERLIN}), policy({"minimumAge": "72h"}, name="age")],
        WEB,
        RunningVersion("1.4.0"),
        [young],
        friday_evening,
    )
    assert decision.deferral is not None
    assert decision.deferral.until == friday_evening + timedelta(hours=71)
    assert decision.deferral.rule == "minimumAge"


def test_without_policies_every_candidate_is_kept() -> None:
    decision = run([], tags("1.0", "latest"))
    assert kept(decision) == ["1.0", "latest"]
    assert decision == CandidateDecision(kept=decision.kept)


def test_now_must_be_time_zone_aware() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        filter_candidates([], WEB, None, [], NOW.replace(tzinfo=None))
