"""The policy status as data: counts, bounded lists, and a Ready condition whose transition
time moves only when it flips."""

from __future__ import annotations

from datetime import timedelta

from imageupdater.updatepolicy import (
    Action,
    Finding,
    PolicyRef,
    parse_policy,
    policy_status,
    violation_record,
)
from imageupdater.updatepolicy.status import MAX_APPLICATIONS, MAX_VIOLATIONS

from .builders import NOW, resource

FINDING = Finding(
    PolicyRef("ClusterImageUpdatePolicy", "p"),
    Action.ENFORCE,
    "allowedRegistries",
    "docker.io",
    "image 'web' is from registry 'docker.io', which is not allowed",
    "registries 'ghcr.io'",
    image="docker.io/library/nginx",
)
VALID = parse_policy(resource({"allowedRegistries": ["ghcr.io"]}))
BROKEN = parse_policy(resource({"maxBump": "huge"}))


def test_a_violation_record_says_when_where_which_rule_and_what() -> None:
    assert violation_record(FINDING, "argocd/web", NOW) == {
        "time": "2025-03-12T12:00:00Z",
        "application": "argocd/web",
        "image": "docker.io/library/nginx",
        "rule": "allowedRegistries",
        "message": FINDING.text,
        "action": "Enforce",
    }


def test_matched_applications_are_counted_in_full_and_listed_up_to_the_bound() -> None:
    apps = [f"ns/app-{i:03}" for i in range(MAX_APPLICATIONS + 50)] + ["ns/app-000"]
    status = policy_status(VALID, generation=4, applications=reversed(apps), now=NOW)
    assert status["matchedApplications"] == MAX_APPLICATIONS + 50
    assert status["applications"] == sorted(set(apps))[:MAX_APPLICATIONS]
    assert status["observedGeneration"] == 4


def test_last_violations_are_newest_first_and_bounded() -> None:
    old = [violation_record(FINDING, f"ns/old-{i}", NOW - timedelta(hours=1)) for i in range(15)]
    first = policy_status(VALID, generation=1, applications=[], violations=old, now=NOW)
    new = [violation_record(FINDING, f"ns/new-{i}", NOW) for i in range(10)]
    second = policy_status(
        VALID, generation=1, applications=[], violations=new, previous=first, now=NOW
    )
    apps = [v["application"] for v in second["lastViolations"]]
    assert len(apps) == MAX_VIOLATIONS
    assert apps[:10] == [f"ns/new-{i}" for i in reversed(range(10))]
    assert apps[10:] == [f"ns/old-{i}" for i in reversed(range(15))][:10]


def test_ready_is_true_for_a_valid_policy_and_false_with_the_errors_otherwise() -> None:
    (ready,) = policy_status(VALID, generation=1, applications=[], now=NOW)["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Valid")
    (broken,) = policy_status(BROKEN, generation=2, applications=[], now=NOW)["conditions"]
    assert (broken["status"], broken["reason"]) == ("False", "InvalidSpec")
    assert "spec.rules.maxBump: 'huge' is not accepted" in broken["message"]
    assert broken["observedGeneration"] == 2


def test_the_transition_time_moves_only_when_ready_flips() -> None:
    first = policy_status(VALID, generation=1, applications=[], now=NOW)
    later = NOW + timedelta(hours=1)
    same = policy_status(VALID, generation=1, applications=[], previous=first, now=later)
    assert same["conditions"][0]["lastTransitionTime"] == "2025-03-12T12:00:00Z"
    flipped = policy_status(BROKEN, generation=2, applications=[], previous=same, now=later)
    assert flipped["conditions"][0]["lastTransitionTime"] == "2025-03-12T13:00:00Z"


def test_a_previous_status_of_any_shape_is_read_without_raising() -> None:
    previous = {"lastViolations": [{"time": 3}, "x", None], "conditions": "no"}
    status = policy_status(VALID, generation=1, applications=[], previous=previous, now=NOW)
    assert status["lastViolations"] == []
