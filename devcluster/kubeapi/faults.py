"""Test hooks on the request path: the request log with counters, and fault injection."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from imageupdater.errors import InvalidInput

Verb = Literal["get", "list", "watch", "create", "update", "patch", "delete", "discovery"]
FaultStatus = Literal[409, 410, 429, 500]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    verb: Verb
    resource: str  # plural, "" for discovery
    subresource: str
    namespace: str
    name: str
    status: int
    method: str
    path: str


class RequestLog:
    """Every API request answered, in order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def count(
        self,
        *,
        verb: Verb | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many requests matched every given criterion."""
        return sum(
            1
            for r in self.records
            if (verb is None or r.verb == verb)
            and (resource is None or r.resource == resource)
            and (namespace is None or r.namespace == namespace)
            and (name is None or r.name == name)
            and (status is None or r.status == status)
        )

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class InvalidFault(InvalidInput):
    """A fault a test asked for that the emulator cannot inject."""


@dataclass(slots=True)
class Fault:
    verb: Verb | None
    resource: str | None
    name: str | None
    status: FaultStatus | None
    delay: float
    times: int

    def matches(self, verb: Verb, resource: str, name: str) -> bool:
        return (
            (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource == resource)
            and (self.name is None or self.name == name)
        )


class Faults:
    """Faults armed by tests; each fires on the next `times` matching requests, then disarms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(
        self,
        *,
        verb: Verb | None = None,
        resource: str | None = None,
        name: str | None = None,
        status: FaultStatus | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        if status is None and delay <= 0:
            raise InvalidFault("inject() needs a status (409, 410, 429, 500) or a positive delay")
        if status not in (None, 409, 410, 429, 500):
            raise InvalidFault(
                f"inject(status={status!r}): supported statuses are 409, 410, 429, 500"
            )
        if times < 1:
            raise InvalidFault(f"inject(times={times!r}): must be at least 1")
        with self._lock:
            self._faults.append(Fault(verb, resource, name, status, delay, times))

    def take(self, verb: Verb, resource: str, name: str) -> Fault | None:
        """The first armed fault matching this request, counted as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(verb, resource, name):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
