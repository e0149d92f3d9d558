"""Leader election on a ``coordination.k8s.io/v1`` Lease, so replicas run with one writer.

The holder renews the Lease every ``retry_period``; others take it over once it has not
been renewed for ``lease_duration``. Writes are fenced locally: ``is_leader()`` turns False
as soon as the last successful renewal is older than ``renew_deadline`` (shorter than the
lease duration), so a replica that cannot reach the API server stops writing before anyone
else may start.

Each change of leadership is logged once, whatever caused it — taking the lease, losing it to
another holder, or the renew deadline passing while the API server did not answer — and sets
``changed``: "became the leader" when it starts, "lost the leader lease" when it ends.
"""

from __future__ import annotations

__all__ = ["LeaderElector", "lease_holder"]

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from imageupdater import kube
from imageupdater.errors import KubeConflict, KubeError

log = logging.getLogger("image_updater.reconciler")


def _format(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_holder(
    lease: Mapping[str, Any], now: dt.datetime, default_duration: float
) -> tuple[str, bool]:
    """Who holds ``lease`` ("" = nobody) and whether the holding is live by ``now``: renewed
    within its ``leaseDurationSeconds``."""
    spec = lease.get("spec") or {}
    holder = str(spec.get("holderIdentity") or "")
    renewed = _parse(spec.get("renewTime"))
    duration = float(spec.get("leaseDurationSeconds") or default_duration)
    live = bool(holder) and renewed is not None and (now - renewed).total_seconds() <= duration
    return holder, live


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class LeaderElector:
    def __init__(
        self,
        client: kube.KubeClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        monotonic: Callable[[], float] | None = None,
        annotations: Mapping[str, str] | None = None,
        role: str = "the leader",
        lease_noun: str = "the leader lease",
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs retry_period < renew_deadline < lease_duration")
        self._client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._clock = clock
        self._monotonic = monotonic or asyncio.get_event_loop().time
        self._renewed_at: float | None = None
        # Leadership as last announced (logged, ``changed`` set); ``is_leader()`` may turn
        # False by the clock alone, so transitions are found by comparing the two.
        self._leading = False
        # One attempt at a time: two at once (the loop, and a caller that wants the first
        # election settled) would race on the lease's resourceVersion and lose to themselves.
        self._attempting = asyncio.Lock()
        self.changed = asyncio.Event()
        self.transitions = 0
        # Written with every renewal (a shard lease records the shard count it was taken
        # under); anything else on the lease, a handoff request included, is not kept.
        self.annotations = dict(annotations or {})
        self.role = role  # "became <role>"
        self.lease_noun = lease_noun  # "lost <lease_noun>"
        # The lease as last read, before this replica's write: what others asked of it.
        self.observed: dict[str, Any] | None = None

    def is_leader(self) -> bool:
        return (
            self._renewed_at is not None
            and self._monotonic() - self._renewed_at < self.renew_deadline
        )

    def _body(self, existing: dict[str, Any] | None, acquire: bool) -> dict[str, Any]:
        now = _format(self._clock())
        spec: dict[str, Any] = dict((existing or {}).get("spec") or {})
        if acquire:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if existing else 0
            )
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=int(self.lease_duration),
            renewTime=now,
        )
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        if existing is not None:
            metadata["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    async def try_acquire_or_renew(self) -> bool:
        async with self._attempting:
            try:
                return await self._attempt()
            finally:
                self._announce()

    async def _attempt(self) -> bool:
        started = self._monotonic()
        try:
            lease = await self._client.get_or_none(kube.LEASES, self.namespace, self.name)
            self.observed = lease
            if lease is None:
                await self._client.create(kube.LEASES, self.namespace, self._body(None, True))
            else:
                holder, live = lease_holder(lease, self._clock(), self.lease_duration)
                if holder != self.identity and live:
                    self._renewed_at = None
                    return False
                await self._client.replace(
                    kube.LEASES, self.namespace, self._body(lease, holder != self.identity)
                )
        except KubeConflict:
            self._renewed_at = None
            return False
        except KubeError as exc:
            # Keep leading until the renew deadline passes: one failed renewal is not a loss.
            log.warning("leader election: cannot reach the lease: %s", exc)
            return self.is_leader()
        self._renewed_at = started
        return self.is_leader()

    def _announce(self) -> None:
        """Log and signal a change of leadership, once per change."""
        leading = self.is_leader()
        if leading == self._leading:
            return
        self._leading = leading
        if leading:
            self.transitions += 1
            log.info("became %s (lease %s/%s)", self.role, self.namespace, self.name)
        else:
            log.warning("lost %s %s/%s; writes stop", self.lease_noun, self.namespace, self.name)
        self.changed.set()

    async def run(self) -> None:
        """Keep acquiring or renewing until cancelled; on cancel, release the lease."""
        try:
            while True:
                await self.try_acquire_or_renew()
                await asyncio.sleep(self.retry_period)
        finally:
            await self.release()

    async def release(self) -> None:
        """Stop writing at once, then hand the lease back (when held) for others to take."""
        if self.is_leader():
            self._renewed_at = None
            self._leading = False
            log.info("releasing %s %s/%s", self.lease_noun, self.namespace, self.name)
            await asyncio.shield(self._release())

    async def _release(self) -> None:
        try:
            lease = await self._client.get_or_none(kube.LEASES, self.namespace, self.name)
            if (
                lease is not None
                and (lease.get("spec") or {}).get("holderIdentity") == self.identity
            ):
                body = self._body(lease, False)
                body["spec"]["holderIdentity"] = ""
                body["spec"]["leaseDurationSeconds"] = 1
                await self._client.replace(kube.LEASES, self.namespace, body)
        except KubeError as exc:
            log.debug("could not release the lease: %s", exc)
