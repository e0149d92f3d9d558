"""The scale-out flags of ``run``: ``--shards`` and the Lease timings, parsed and checked.

Cheap to import (``image-updater --help`` and flag errors load it); what the flags drive
lives in ``reconciler.shards``. The Lease timings serve the leader election too, so a test
(or a cluster with a slow API server) sets them once for both.
"""

from __future__ import annotations

__all__ = ["LeaseTiming", "Sharding", "add_shard_flags", "sharding"]

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidInput

# The Deployment whose ``spec.replicas`` ``--shards auto`` reads (manifests/base/reconciler.yaml).
DEFAULT_WORKLOAD = "image-updater-reconciler"


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """client-go's leader-election timings: a holder renews every ``retry_period``, stops
    writing once its last renewal is ``renew_deadline`` old, and others may take the lease
    once it is ``duration`` old — the gap between the last two is the fencing margin."""

    duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclass(frozen=True, slots=True)
class Sharding:
    """``count`` shards (None: ``auto``, the replica count of ``workload``); 1 = not sharded,
    exactly as before scale-out existed (one replica, or leader election)."""

    count: int | None = 1
    workload: str = DEFAULT_WORKLOAD
    timing: LeaseTiming = field(default_factory=LeaseTiming)

    @property
    def sharded(self) -> bool:
        return self.count != 1


def add_shard_flags(add: Callable[..., object]) -> None:
    add(
        "--shards",
        default=None,
        help="split the Applications between N replicas, each shard owning a Lease; 'auto' "
        "= the replica count of --shards-workload (env IMAGE_UPDATER_SHARDS; default 1: "
        "not sharded); see docs/scale-out.md",
    )
    add(
        "--shards-workload",
        default=None,
        help="the Deployment whose spec.replicas --shards auto reads, in the Lease namespace "
        f"(env IMAGE_UPDATER_SHARDS_WORKLOAD; default {DEFAULT_WORKLOAD})",
    )
    for flag, env, default in (
        ("--lease-duration", "IMAGE_UPDATER_LEASE_DURATION", "15s"),
        ("--lease-renew-deadline", "IMAGE_UPDATER_LEASE_RENEW_DEADLINE", "10s"),
        ("--lease-retry-period", "IMAGE_UPDATER_LEASE_RETRY_PERIOD", "2s"),
    ):
        add(
            flag,
            default=None,
            help=f"leader-election and shard Lease timing (env {env}; default {default})",
        )


def _count(raw: str, where: str) -> int | None:
    if raw.strip().lower() == "auto":
        return None
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1 or str(count) != raw.strip():
        raise InvalidInput(
            f"{where} {raw!r}: expected a whole number of shards of at least 1, or auto"
        )
    return count


def _seconds(raw: str, where: str) -> float:
    try:
        seconds = parse_duration(raw)
    except (InvalidInput, ValueError) as exc:
        raise InvalidInput(f"{where} {raw!r}: {exc}") from exc
    if seconds <= 0:
        raise InvalidInput(f"{where} {raw!r}: must be longer than 0s")
    return seconds


def sharding(args: argparse.Namespace, env: Mapping[str, str]) -> Sharding:
    """The sharding the flags (or, without them, the environment) ask for."""
    if not hasattr(args, "shards"):
        return Sharding()  # a command without the flags (`webhook`): never sharded
    raw = args.shards
    where = "--shards"
    if raw is None and "IMAGE_UPDATER_SHARDS" in env:
        raw, where = env["IMAGE_UPDATER_SHARDS"], "IMAGE_UPDATER_SHARDS"
    count = 1 if raw is None else _count(raw, where)
    timings = []
    for attribute, flag, name, default in (
        ("lease_duration", "--lease-duration", "IMAGE_UPDATER_LEASE_DURATION", "15s"),
        (
            "lease_renew_deadline",
            "--lease-renew-deadline",
            "IMAGE_UPDATER_LEASE_RENEW_DEADLINE",
            "10s",
        ),
        ("lease_retry_period", "--lease-retry-period", "IMAGE_UPDATER_LEASE_RETRY_PERIOD", "2s"),
    ):
        value = getattr(args, attribute, None)
        if value is not None:
            timings.append(_seconds(value, flag))
        elif name in env:
            timings.append(_seconds(env[name], name))
        else:
            timings.append(parse_duration(default))
    duration, renew_deadline, retry_period = timings
    if not retry_period < renew_deadline < duration:
        raise InvalidInput(
            f"--lease-retry-period {retry_period:g}s, --lease-renew-deadline "
            f"{renew_deadline:g}s, --lease-duration {duration:g}s: each must be shorter than "
            "the next (a holder must stop writing before another may take its lease)"
        )
    if count != 1 and getattr(args, "once", False):
        # One cycle over the shards a replica happens to hold at start is no useful run.
        raise InvalidInput(f"{where} and --once do not go together: run one process without it")
    workload = getattr(args, "shards_workload", None) or env.get(
        "IMAGE_UPDATER_SHARDS_WORKLOAD", DEFAULT_WORKLOAD
    )
    return Sharding(count, workload, LeaseTiming(duration, renew_deadline, retry_period))
