"""Rollout waves in the reconciler: the inputs of ``updatepolicy.waves`` gathered from every
Application the controller knows, once per cycle, and its verdicts applied.

``Waves.plan()`` starts a cycle's :class:`WavePlan`: for each policy with a ``rollout``, the
Applications it matches among all those indexed (not only the ones this cycle runs: a push
cycle or a shard sees a few, the first wave is the policy's) and its first wave. Then, per
Application the cycle writes:

* a first-wave Application's updates are watched for the soak (its health gate is at least
  the soak), which is what verifies them or rolls them back (``reconciler.rollbacks``);
* a rest-wave Application's choice for an image moves only when ``wave_verdict`` releases
  that version; otherwise the image keeps what it runs, and a Normal ``RolloutWaiting`` (or
  a Warning ``RolloutStopped``) Event says why;
* every (image, version) a rest-wave Application asked for is noted on the policy's status
  (``status.rollouts``) through the reporter.
"""

from __future__ import annotations

__all__ = ["WavePlan", "Waves"]

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imageupdater.application import Application, app_key
from imageupdater.choice import ChosenImage, RunningVersion, outdated_choices
from imageupdater.policy import AppConfig, ImagePolicy
from imageupdater.updatepolicy import Policy, PolicyRef, PolicySet
from imageupdater.updatepolicy.checks import normalised_name
from imageupdater.updatepolicy.matching import app_facts
from imageupdater.updatepolicy.rollback import parse_last_written, record_key
from imageupdater.updatepolicy.waves import (
    MemberImage,
    RolloutStatus,
    WaveVerdict,
    first_wave,
    rollout_status,
    wave_verdict,
)
from imageupdater.updatepolicy_source import PolicySnapshot

WAITING_REASON = "RolloutWaiting"
STOPPED_REASON = "RolloutStopped"
ConfigOf = Callable[[Application], Awaitable[AppConfig | None]]


@dataclass(slots=True)
class _Rollout:
    policy: Policy
    first: frozenset[str]
    # (image, version) -> the verdict, and the rest-wave Applications that wanted it
    asked: dict[tuple[str, str], tuple[WaveVerdict, RunningVersion, set[str]]] = field(
        default_factory=dict
    )


class WavePlan:
    """One cycle's waves (see the module)."""

    def __init__(
        self,
        rollouts: Mapping[PolicyRef, _Rollout],
        index: Mapping[str, Application],
        config_of: ConfigOf,
    ) -> None:
        self._rollouts = rollouts
        self._index = index
        self._config_of = config_of
        self._members: dict[tuple[str, str], list[MemberImage]] = {}

    def __bool__(self) -> bool:
        return bool(self._rollouts)

    def _governing(self, policies: PolicySet | None) -> list[_Rollout | Policy]:
        """The rollouts of ``policies``; a policy whose rollout this plan does not know (it
        arrived during the cycle) stands for itself: it holds everything until next cycle."""
        if policies is None:
            return []
        return [self._rollouts.get(p.ref, p) for p in policies.policies if p.rollout is not None]

    def soak(self, key: str, policies: PolicySet | None) -> dt.timedelta | None:
        """The longest soak of the rollouts whose first wave ``key`` is in (None: none)."""
        soaks = [
            r.policy.rollout.soak
            for r in self._governing(policies)
            if isinstance(r, _Rollout) and key in r.first and r.policy.rollout is not None
        ]
        return max(soaks) if soaks else None

    async def admit(
        self,
        app: Application,
        policies: PolicySet | None,
        chosen: Sequence[ChosenImage],
        running: Mapping[ImagePolicy, RunningVersion | None],
    ) -> tuple[list[ChosenImage], list[WaveVerdict]]:
        """The choices the waves let through for ``app`` (an image held back keeps what it
        runs), and the verdicts that held something back."""
        key = app_key(app)
        governing = [
            r
            for r in self._governing(policies)
            if not isinstance(r, _Rollout) or key not in r.first
        ]
        if not governing or not chosen:
            return list(chosen), []
        kept: list[ChosenImage] = []
        held: list[WaveVerdict] = []
        for choice in chosen:
            now_running = running.get(choice.policy)
            if now_running is not None and now_running == choice.version:
                kept.append(choice)  # not moving: nothing to stage
                continue
            image = normalised_name(choice.policy.image)
            verdict = None
            for rollout in governing:
                if isinstance(rollout, Policy):
                    found = WaveVerdict(
                        "waiting",
                        f"the rollout of update policy {rollout.ref} is new since this cycle "
                        "began; its waves are judged from the next cycle",
                    )
                else:
                    found = await self._verdict(rollout, image, choice.version, key)
                if found.state != "released":
                    verdict = found
                    break
            if verdict is None:
                kept.append(choice)
                continue
            held.append(verdict)
            if now_running is not None and now_running.tag is not None:
                kept.append(ChosenImage(choice.policy, now_running.tag, now_running.digest))
        # As the cycle chose: every image's override once one moves, nothing when none does.
        return outdated_choices((running.get(c.policy), c) for c in kept), held

    async def _verdict(
        self, rollout: _Rollout, image: str, version: RunningVersion, key: str
    ) -> WaveVerdict:
        asked = rollout.asked.get((image, str(version)))
        if asked is None:
            members = await self._first_wave_images(rollout, image)
            asked = (wave_verdict(image, version, members), version, set())
            rollout.asked[(image, str(version))] = asked
        asked[2].add(key)
        return asked[0]

    async def _first_wave_images(self, rollout: _Rollout, image: str) -> list[MemberImage]:
        found: list[MemberImage] = []
        for member in sorted(rollout.first):
            cache_key = (member, image)
            if cache_key not in self._members:
                self._members[cache_key] = await self._images_of(member, image)
            found.extend(self._members[cache_key])
        return found

    async def _images_of(self, member: str, image: str) -> list[MemberImage]:
        app = self._index.get(member)
        if app is None:
            return []
        config = await self._config_of(app)
        if config is None:
            return []
        metadata: Any = app.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
        records = parse_last_written(annotations).record
        return [
            MemberImage(member, records.get(record_key(policy)))
            for policy in config.images
            if normalised_name(policy.image) == image
        ]

    def statuses(self) -> dict[PolicyRef, list[RolloutStatus]]:
        """What each rollout policy's status shows for this cycle's asks."""
        out: dict[PolicyRef, list[RolloutStatus]] = {}
        for rollout in self._rollouts.values():
            entries = [
                rollout_status(image, version, verdict, rollout.first, len(waiting))
                for (image, _), (verdict, version, waiting) in sorted(rollout.asked.items())
            ]
            out[rollout.policy.ref] = entries
        return out


class Waves:
    """Starts each cycle's :class:`WavePlan` from the Applications the controller indexes."""

    def __init__(self, population: Callable[[], Iterable[Application]] | None = None) -> None:
        # Set by the Controller that runs the cycle: its index is the population.
        self.population = population

    def plan(
        self, snapshot: PolicySnapshot, config_of: ConfigOf, apps: Iterable[Application]
    ) -> WavePlan:
        """``apps``: the cycle's own Applications, the population when no controller set
        one (``run --once`` lists them all)."""
        with_rollout = [p for p in snapshot.policies if p.rollout is not None]
        if not with_rollout:
            return WavePlan({}, {}, config_of)
        population = self.population() if self.population is not None else apps
        index = {app_key(app): app for app in population}
        matched: dict[PolicyRef, list[Application]] = {p.ref: [] for p in with_rollout}
        for app in index.values():
            for policy in snapshot.for_application(app):
                if policy.rollout is not None:
                    matched[policy.ref].append(app)
        rollouts = {}
        for policy in with_rollout:
            assert policy.rollout is not None
            first = first_wave(policy.rollout, (app_facts(a) for a in matched[policy.ref]))
            rollouts[policy.ref] = _Rollout(policy, first)
        return WavePlan(rollouts, index, config_of)
