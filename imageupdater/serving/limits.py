"""Limits a hardened server enforces, the counters of what it enforced, and the open-file
limit they are bounded by."""

from __future__ import annotations

__all__ = ["ServerLimits", "ServerStats", "connection_cap", "raise_fd_limit"]

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger("image_updater.serving")


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How long a client may take and how much of the server it may hold (seconds, counts)."""

    header_timeout: float = 10.0  # accept (or first byte after idling) -> complete head
    body_timeout: float = 10.0  # complete head -> complete body
    idle_timeout: float = 30.0  # response handed over -> next request's first byte
    handshake_timeout: float = 10.0  # TLS only: accept -> handshake done
    max_connections: int = 1000  # further bounded by the open-file limit minus fd_headroom
    max_in_flight: int = 128  # requests being handled at once, exempt paths not counted
    retry_after: int = 1  # seconds, sent with a shed request's 503
    exempt_paths: frozenset[str] = frozenset({"/healthz", "/readyz"})
    fd_headroom: int = 128  # descriptors kept for everything else: files, clients, watches
    backlog: int = 1024

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "idle_timeout", "handshake_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_connections < 1 or self.max_in_flight < 1:
            raise ValueError("max_connections and max_in_flight must be at least 1")


@dataclass(slots=True)
class ServerStats:
    """Counters of what the guards did, for tests, logs and metrics."""

    handshake_timeouts: int = 0
    header_timeouts: int = 0
    idle_timeouts: int = 0
    body_timeouts: int = 0
    shed_requests: int = 0
    shed_connections: int = 0
    refused_connections: int = 0


def raise_fd_limit() -> int:
    """Raise the open-file soft limit to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            # An unlimited hard limit may still exceed the kernel's nr_open: keep what we have.
            log.debug("cannot raise the open-file limit to %s: %s", hard, exc)
    return soft


def connection_cap(limits: ServerLimits, fd_soft_limit: int) -> int:
    """The connection cap in force: the configured one, never past the open-file limit."""
    if fd_soft_limit == resource.RLIM_INFINITY or fd_soft_limit < 0:
        return limits.max_connections
    return max(1, min(limits.max_connections, fd_soft_limit - limits.fd_headroom))
