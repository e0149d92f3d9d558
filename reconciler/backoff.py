"""Exponential back-off with jitter for repositories that keep failing.

A repository whose resolution fails is retried on the next cycle at first; each further
consecutive failure doubles the pause (``base`` · 2ⁿ⁻¹, capped at ``ceiling``), spread by
±``jitter``/2 so that many failing repositories do not retry in lockstep, and never
shorter than a registry's ``Retry-After``. Nothing, jitter or ``Retry-After`` included,
pauses longer than ``ceiling``: a registry answering ``Retry-After: 86400`` must not switch
its images off for a day. One success clears it. The clock and the random
source are parameters, so tests decide time and chance.

A permanent failure (``failed(..., permanent=True)``: the caller passes ``not exc.transient``,
so a 401/403, a 404, a reachability refusal or a malformed answer) skips the ramp and pauses
for ``ceiling`` at once, jitter still spreading it below. Asking again after 30 s, 60 s,
2 min… cannot help: what cures it is a person (fixing credentials, pushing the image,
correcting the name), and until then every attempt spends registry quota, the scarce thing
with rate-limited registries, and logs the same error. The ceiling, not a longer schedule,
bounds how long a fix waits (30 min by default). Permanent failures count like any other:
a transient one that follows pauses by the count of consecutive failures, as usual.
"""

from __future__ import annotations

__all__ = ["RepositoryBackoff"]

import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _State:
    failures: int
    until: float


class RepositoryBackoff:
    def __init__(
        self,
        *,
        base: float = 30.0,
        ceiling: float = 1800.0,
        jitter: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.base = base
        self.ceiling = ceiling
        self.jitter = jitter
        self._clock = clock
        self._rng = rng
        self._states: dict[Hashable, _State] = {}

    def remaining(self, repository: Hashable) -> float:
        """Seconds until ``repository`` may be asked again (0 when it may be now)."""
        state = self._states.get(repository)
        return max(0.0, state.until - self._clock()) if state else 0.0

    def failures(self, repository: Hashable) -> int:
        state = self._states.get(repository)
        return state.failures if state else 0

    def failed(
        self, repository: Hashable, *, retry_after: float = 0.0, permanent: bool = False
    ) -> float:
        """Record a failure; returns the pause before the next attempt.

        ``permanent`` (retrying cannot help until someone acts) pauses for ``ceiling``
        whatever the count; otherwise the pause doubles with each consecutive failure.
        """
        state = self._states.get(repository)
        failures = (state.failures if state else 0) + 1
        pause = self.ceiling if permanent else min(self.ceiling, self.base * 2.0 ** (failures - 1))
        pause *= 1 - self.jitter / 2 + self.jitter * self._rng()
        pause = min(self.ceiling, max(pause, retry_after))
        self._states[repository] = _State(failures, self._clock() + pause)
        return pause

    def succeeded(self, repository: Hashable) -> None:
        self._states.pop(repository, None)
