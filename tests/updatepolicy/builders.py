"""Raw policy resources, Applications and candidates, written the way users write them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from imageupdater.annotations import PREFIX, parse
from imageupdater.policy import AppConfig
from imageupdater.tags import TagInfo
from imageupdater.updatepolicy import API_VERSION, Policy, parse_policy

NOW = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)  # a Wednesday

# Every field the parser knows, each with a valid value: the resource documentation's
# fullest example, also checked against the CRD schemas.
FULL_RULES: dict[str, Any] = {
    "allowedRegistries": ["ghcr.io", "*.example.com"],
    "allowedRepositories": ["ghcr.io/acme/*", "registry.example.com/team/*"],
    "deniedTags": ["latest", "*-rc*"],
    "allowedStrategies": ["semver", "digest"],
    "requiredConstraint": "<3",
    "maxBump": "minor",
    "minimumAge": "24h",
    "requireDigest": True,
    "updateWindows": [{"schedule": "0 9 * * 1-5", "duration": "8h", "timeZone": "Europe/Berlin"}],
    "rollbackOnDegraded": {"window": "15m"},
}
SELECTOR: dict[str, Any] = {
    "matchLabels": {"tier": "prod"},
    "matchExpressions": [
        {"key": "team", "operator": "In", "values": ["a", "b"]},
        {"key": "example.com/frozen", "operator": "DoesNotExist"},
    ],
}
FULL_CLUSTER_MATCH: dict[str, Any] = {
    "namespaces": ["team-*"],
    "namespaceSelector": SELECTOR,
    "applicationSelector": SELECTOR,
    "projects": ["default", "prod-*"],
    "names": ["web-*"],
}
FULL_NAMESPACED_MATCH: dict[str, Any] = {
    key: value
    for key, value in FULL_CLUSTER_MATCH.items()
    if key not in ("namespaces", "namespaceSelector")
}


def resource(
    rules: dict[str, Any] | None = None,
    *,
    kind: str = "ClusterImageUpdatePolicy",
    name: str = "p",
    namespace: str | None = None,
    action: str | None = None,
    match: dict[str, Any] | None = None,
    rollout: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    spec: dict[str, Any] = {"rules": copy.deepcopy(rules) if rules is not None else {}}
    if action is not None:
        spec["action"] = action
    if match is not None:
        spec["match"] = copy.deepcopy(match)
    if rollout is not None:
        spec["rollout"] = copy.deepcopy(rollout)
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


FULL_ROLLOUT: dict[str, Any] = {
    "firstWave": {"selector": {"matchLabels": {"wave": "canary"}}},
    "soak": "1h",
}


def full_resource(kind: str = "ClusterImageUpdatePolicy") -> dict[str, Any]:
    cluster = kind == "ClusterImageUpdatePolicy"
    return resource(
        FULL_RULES,
        kind=kind,
        namespace=None if cluster else "team-a",
        action="Warn",
        match=FULL_CLUSTER_MATCH if cluster else FULL_NAMESPACED_MATCH,
        rollout=FULL_ROLLOUT,
    )


def policy(rules: dict[str, Any] | None = None, **kwargs: Any) -> Policy:
    parsed = parse_policy(resource(rules, **kwargs))
    assert parsed.policy is not None, parsed.problems
    return parsed.policy


def application(
    name: str = "web",
    *,
    namespace: str = "argocd",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    project: str | None = "default",
    source: dict[str, Any] | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = {PREFIX + k: v for k, v in annotations.items()}
    if labels:
        metadata["labels"] = labels
    spec: dict[str, Any] = {}
    if project is not None:
        spec["project"] = project
    if source is not None:
        spec["source"] = source
    if sources is not None:
        spec["sources"] = sources
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": spec,
    }


def config(annotations: dict[str, str]) -> AppConfig:
    parsed = parse({PREFIX + k: v for k, v in annotations.items()})
    assert parsed.config is not None, parsed.problems
    return parsed.config


def tags(*names: str, created: datetime | None = None) -> list[TagInfo]:
    return [TagInfo(name, created=created) for name in names]


def aged(name: str, age: timedelta, now: datetime = NOW) -> TagInfo:
    return TagInfo(name, created=now - age)
