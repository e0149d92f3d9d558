"""One rule of one policy against one value: the checks admission and the reconciler share.

Owns what each rule means for a value and the words of its breach: registries and
repositories are compared in ``ImageRef``'s normalised form (``nginx`` is registry
``docker.io``, repository ``docker.io/library/nginx``), tags by glob, a tag against the
required constraint (a tag that is no semantic version cannot satisfy one), and a candidate's
distance from the running version under ``maxBump``. Each check returns a :class:`Finding`, or
None when the value keeps the rule (or the policy does not have it).
"""

from __future__ import annotations

__all__ = [
    "Subject",
    "bump_finding",
    "bump_unmeasurable",
    "constraint_finding",
    "registry_finding",
    "repository_finding",
    "strategy_finding",
    "tag_finding",
]

from collections.abc import Iterable
from dataclasses import dataclass

from imageupdater.images import ImageRef
from imageupdater.strategies import Strategy
from imageupdater.updatepolicy.findings import Finding
from imageupdater.updatepolicy.model import Bump, Policy, RuleName
from imageupdater.updatepolicy.reading import quoted
from imageupdater.versions import Version


@dataclass(frozen=True, slots=True)
class Subject:
    """What a check is about, as the message names it (``"image 'web'"``), where it was found
    (``key``) and the image concerned."""

    label: str
    key: str = ""
    image: str = ""


def _finding(
    policy: Policy, rule: RuleName, value: str, message: str, allowed: str, subject: Subject
) -> Finding:
    return Finding(
        policy.ref, policy.action, rule, value, message, allowed, subject.key, subject.image
    )


def _listed(items: Iterable[object]) -> str:
    return ", ".join(quoted(str(item)) for item in items)


def normalised_name(image: ImageRef) -> str:
    """``host/repository`` as repository globs see it: ``docker.io/library/nginx``."""
    host, repository = image.identity()
    return f"{host}/{repository}"


def registry_finding(policy: Policy, image: ImageRef, subject: Subject) -> Finding | None:
    allowed = policy.rules.allowed_registries
    host = image.registry_host
    if allowed is None or any(g.matches(host) for g in allowed):
        return None
    return _finding(
        policy,
        "allowedRegistries",
        host,
        f"{subject.label} is from registry {quoted(host)}, which is not allowed",
        f"registries {_listed(allowed)}",
        subject,
    )


def repository_finding(policy: Policy, image: ImageRef, subject: Subject) -> Finding | None:
    allowed = policy.rules.allowed_repositories
    name = normalised_name(image)
    if allowed is None or any(g.matches(name) for g in allowed):
        return None
    return _finding(
        policy,
        "allowedRepositories",
        name,
        f"{subject.label} is repository {quoted(name)}, which is not allowed",
        f"repositories {_listed(allowed)}",
        subject,
    )


def tag_finding(policy: Policy, tag: str, subject: Subject) -> Finding | None:
    denied = policy.rules.denied_tags
    hit = next((g for g in denied if g.matches(tag)), None)
    if hit is None:
        return None
    return _finding(
        policy,
        "deniedTags",
        tag,
        f"{subject.label} has tag {quoted(tag)}, which the denied tag glob {quoted(hit.text)} "
        "matches",
        f"tags matching none of {_listed(denied)}",
        subject,
    )


def strategy_finding(policy: Policy, strategy: Strategy, subject: Subject) -> Finding | None:
    allowed = policy.rules.allowed_strategies
    if allowed is None or strategy in allowed:
        return None
    return _finding(
        policy,
        "allowedStrategies",
        strategy.value,
        f"{subject.label} uses update strategy {quoted(strategy.value)}, which is not allowed",
        f"update strategies {', '.join(s.value for s in allowed)}",
        subject,
    )


def constraint_finding(policy: Policy, tag: str, subject: Subject) -> Finding | None:
    constraint = policy.rules.required_constraint
    if constraint is None:
        return None
    version = Version.parse(tag)
    if version is not None and constraint.allows(version):
        return None
    why = (
        "is not a semantic version, so it cannot satisfy" if version is None else "does not satisfy"
    )
    return _finding(
        policy,
        "requiredConstraint",
        tag,
        f"{subject.label}: tag {quoted(tag)} {why} the required constraint "
        f"{quoted(constraint.text)}",
        f"versions satisfying {quoted(constraint.text)}",
        subject,
    )


def _bump_allowed(bump: Bump, running: Version) -> str:
    span = {
        Bump.PATCH: f"{running.major}.{running.minor}.x",
        Bump.MINOR: f"{running.major}.x",
        Bump.MAJOR: "any version",
    }[bump]
    return f"{span} (maxBump {bump.value} from the running {quoted(running.original)})"


def bump_finding(policy: Policy, running: Version, tag: str, subject: Subject) -> Finding | None:
    """Whether candidate ``tag`` stays within ``maxBump`` of the ``running`` version.

    ``patch`` keeps major and minor, ``minor`` keeps the major, ``major`` keeps nothing (any
    semantic version). A candidate that is no semantic version cannot be measured and is
    outside any bump.
    """
    bump = policy.rules.max_bump
    if bump is None:
        return None
    candidate = Version.parse(tag)
    if candidate is not None:
        same_major = candidate.major == running.major
        same_minor = same_major and candidate.minor == running.minor
        if (
            bump is Bump.MAJOR
            or (bump is Bump.MINOR and same_major)
            or (bump is Bump.PATCH and same_minor)
        ):
            return None
        part = "major" if not same_major else "minor"
        message = (
            f"{subject.label}: {quoted(tag)} changes the {part} version of the running "
            f"{quoted(running.original)}"
        )
    else:
        message = (
            f"{subject.label}: {quoted(tag)} is not a semantic version, so its bump from the "
            f"running {quoted(running.original)} cannot be measured"
        )
    return _finding(policy, "maxBump", tag, message, _bump_allowed(bump, running), subject)


def bump_unmeasurable(policy: Policy, running: str | None, subject: Subject) -> Finding | None:
    """The breach of a ``maxBump`` policy whose running version is unknown or no semantic
    version: nothing can be measured from it, so no candidate is within the bump."""
    bump = policy.rules.max_bump
    if bump is None:
        return None
    if running is not None and Version.parse(running) is not None:
        return None
    what = (
        "the running version is not known yet"
        if running is None
        else f"the running version {quoted(running)} is not a semantic version"
    )
    return _finding(
        policy,
        "maxBump",
        running or "",
        f"{subject.label}: {what}, so maxBump {bump.value} cannot measure a bump from it",
        "updates from a running semantic version (run a version tag such as '1.4.2' first)",
        subject,
    )
