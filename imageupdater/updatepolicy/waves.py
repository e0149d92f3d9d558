"""Rollout waves (``spec.rollout``): who is in a policy's first wave, and whether the rest of
its Applications may take a version yet.

Owns the pure decisions; the reconciler (``reconciler.waves``) gathers their inputs from
every Application it knows:

* :func:`first_wave`: the first wave among the Applications a policy matches — those its
  selector picks, or a stable pick of ``count`` of them (``percent``: that share, rounded
  up, at least one). The pick orders Applications by a hash of ``namespace/name``, so it
  does not depend on listing order and moves little when Applications come and go.
* :func:`wave_verdict`: for one image (``host/repository``) and the version a rest-wave
  Application would move to, read from the first wave's ``last-written`` records:
  ``released`` when every first-wave Application using the image has run that version
  Healthy through its soak (record ``verified``), ``stopped`` when one of them had it rolled
  back, ``waiting`` otherwise — each with the words a log line, an Event and the policy's
  status show.

A first-wave update is watched for the soak exactly like a ``rollbackOnDegraded`` update
(``updatepolicy.rollback``): the rollback and the verification are that machinery's. Pure:
no I/O, no clock.
"""

from __future__ import annotations

__all__ = [
    "MAX_ROLLOUTS",
    "MemberImage",
    "RolloutStatus",
    "WaveVerdict",
    "first_wave",
    "rollout_status",
    "same_version",
    "wave_verdict",
]

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from imageupdater.choice import RunningVersion
from imageupdater.updatepolicy.matching import AppFacts
from imageupdater.updatepolicy.model import Rollout
from imageupdater.updatepolicy.rollback import WrittenImage

MAX_ROLLOUTS = 20  # entries of status.rollouts (the CRD's bound)
_NAMED = 3  # Applications a message names before "and N more"

WaveState = Literal["released", "waiting", "stopped"]


def _key(facts: AppFacts) -> str:
    return f"{facts.namespace}/{facts.name}"


def _rank(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def first_wave(rollout: Rollout, members: Iterable[AppFacts]) -> frozenset[str]:
    """The ``namespace/name`` of the first-wave Applications among ``members`` (the
    Applications the policy matches)."""
    found = list(members)
    if rollout.selector is not None:
        return frozenset(_key(f) for f in found if rollout.selector.matches(f.labels))
    if not found:
        return frozenset()
    if rollout.count is not None:
        size = rollout.count
    else:
        size = max(1, math.ceil(len(found) * (rollout.percent or 0) / 100))
    ranked = sorted((_key(f) for f in found), key=_rank)
    return frozenset(ranked[:size])


@dataclass(frozen=True, slots=True)
class MemberImage:
    """One first-wave Application's image of the repository in question, and its
    last-written record (None: the updater has written nothing for it yet)."""

    app: str
    record: WrittenImage | None


@dataclass(frozen=True, slots=True)
class WaveVerdict:
    state: WaveState
    message: str
    soaking: tuple[str, ...] = ()  # first-wave Applications still inside their soak
    pending: tuple[str, ...] = ()  # first-wave Applications that have not run it yet


def same_version(written: str | None, version: RunningVersion) -> bool:
    """Whether a record's version is ``version``: the same tag, and the same digest when
    both name one (the digest strategy moves the digest under one tag)."""
    parsed = RunningVersion.parse(written)
    if parsed is None or parsed.tag != version.tag:
        return False
    return parsed.digest is None or version.digest is None or parsed.digest == version.digest


def _named(apps: Sequence[str]) -> str:
    shown = ", ".join(apps[:_NAMED])
    return shown + (f" and {len(apps) - _NAMED} more" if len(apps) > _NAMED else "")


def wave_verdict(
    image: str, version: RunningVersion, members: Sequence[MemberImage]
) -> WaveVerdict:
    """Whether the rest may move ``image`` to ``version`` (see the module's words)."""
    shown = f"{image}:{version}" if version.tag else f"{image}{version}"
    if not members:
        return WaveVerdict(
            "waiting",
            f"no Application of the first wave uses {image}, so nothing can soak {shown}; "
            "put one in the first wave (or hold this image)",
        )
    rolled = sorted(
        m.app
        for m in members
        if m.record is not None
        and m.record.state == "rolled-back"
        and same_version(m.record.previous, version)
    )
    if rolled:
        return WaveVerdict(
            "stopped",
            f"the first wave rolled {shown} back ({_named(rolled)}); the rest do not get it "
            "(release the first wave's hold once a fixed version is out)",
        )
    verified = [
        m.app
        for m in members
        if m.record is not None
        and m.record.state == "verified"
        and same_version(m.record.version, version)
    ]
    if len(verified) == len(members):
        return WaveVerdict("released", f"{shown} ran Healthy through the soak in the first wave")
    soaking = tuple(
        sorted(
            m.app
            for m in members
            if m.record is not None
            and m.record.state == "watching"
            and same_version(m.record.version, version)
        )
    )
    pending = tuple(sorted({m.app for m in members} - set(verified) - set(soaking)))
    parts = []
    if soaking:
        parts.append(f"{shown} is soaking in {_named(soaking)}")
    if pending:
        have = "has" if len(pending) == 1 else "have"
        it = "it" if soaking else shown
        parts.append(f"{_named(pending)} {have} not run {it} Healthy through the soak yet")
    return WaveVerdict(
        "waiting", f"waiting for the first wave: {'; '.join(parts)}", soaking, pending
    )


class RolloutStatus(TypedDict, total=False):
    """One entry of a policy's ``status.rollouts``."""

    image: str
    version: str
    phase: Literal["FirstWave", "Released", "Stopped"]
    firstWave: list[str]
    waiting: int
    message: str


_PHASES: dict[WaveState, Literal["FirstWave", "Released", "Stopped"]] = {
    "waiting": "FirstWave",
    "released": "Released",
    "stopped": "Stopped",
}


def rollout_status(
    image: str,
    version: RunningVersion,
    verdict: WaveVerdict,
    first: Iterable[str],
    waiting: int,
) -> RolloutStatus:
    """The status entry for one (image, version) the rest wanted this cycle."""
    return {
        "image": image,
        "version": str(version),
        "phase": _PHASES[verdict.state],
        "firstWave": sorted(first)[:100],
        "waiting": waiting,
        "message": verdict.message,
    }
