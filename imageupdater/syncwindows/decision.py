"""Whether an automated image update may be written into an Application now, and if not, when.

Owns Argo CD's precedence among the windows that match an Application: an active deny blocks;
otherwise an active allow allows; otherwise any (inactive) allow blocks; otherwise the update
goes in. Our writes are automated syncs, so ``manualSync`` never unblocks them, and
``syncOverrun`` (about syncs already running) does not change the answer.
"""

from __future__ import annotations

__all__ = ["SyncDecision", "can_update"]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imageupdater.syncwindows.window import SyncWindow, as_utc

_MAX_DECISION_STEPS = 32


@dataclass(frozen=True, slots=True)
class SyncDecision:
    """Whether an update may be written now, why, and when to ask again if not."""

    allowed: bool
    reason: str
    retry_at: datetime | None  # earliest moment the answer becomes "allowed"; None when allowed


def can_update(
    windows: Sequence[SyncWindow], app: Mapping[str, Any], now: datetime
) -> SyncDecision:
    """Whether the windows let an automated update into ``app`` (a raw Application) at ``now``."""
    moment = as_utc(now)
    name, namespace, server, cluster = _destination(app)
    matching = [w for w in windows if w.matches(name, namespace, server, cluster)]
    if not matching:
        return SyncDecision(True, f"no sync window applies to Application {name!r}", None)
    allowed, reason = _judge(matching, moment)
    if allowed:
        return SyncDecision(True, reason, None)
    return SyncDecision(False, reason, _when_allowed(matching, moment))


def _allowed(states: Sequence[tuple[SyncWindow, bool]]) -> bool:
    if any(w.kind == "deny" and active for w, active in states):
        return False
    if any(w.kind == "allow" and active for w, active in states):
        return True
    return not any(w.kind == "allow" for w, _ in states)


def _judge(matching: Sequence[SyncWindow], moment: datetime) -> tuple[bool, str]:
    states = [(w, w.is_active(moment)) for w in matching]
    active_denies = [w for w, active in states if active and w.kind == "deny"]
    active_allows = [w for w, active in states if active and w.kind == "allow"]
    allows = [w for w, _ in states if w.kind == "allow"]
    if active_denies:
        end, window = max(((w.next_change(moment), w) for w in active_denies), key=_first)
        more = len(active_denies) - 1
        extra = f" (and {more} more active deny window{'s' if more > 1 else ''})" if more else ""
        return False, f"{window} is active {_until(end, window, moment)}{extra}"
    if active_allows:
        window = active_allows[0]
        return True, f"{window} is active {_until(window.next_change(moment), window, moment)}"
    if allows:
        start, window = min(((w.next_change(moment), w) for w in allows), key=_first)
        return (
            False,
            f"no allow window is active; {window} opens next at {_when(start, window, moment)}",
        )
    return True, "no deny window is active and no allow window applies"


def _when_allowed(matching: Sequence[SyncWindow], moment: datetime) -> datetime:
    """The first moment the decision turns to allowed, jumping a whole blocking span at a time.

    While denies are active the answer stays "no" until the last of them closes; while no allow
    is active it stays "no" until the first of them opens. The look-ahead is bounded: past it,
    or when a deny never closes, the answer is a moment at which to look again.
    """
    denies = [w for w in matching if w.kind == "deny"]
    allows = [w for w in matching if w.kind == "allow"]
    probe = moment
    for _ in range(_MAX_DECISION_STEPS):
        active_denies = [w for w in denies if w.is_active(probe)]
        if active_denies:
            probe, last = max(((w.next_change(probe), w) for w in active_denies), key=_first)
            if last.is_active(probe):
                break
        elif allows and not any(w.is_active(probe) for w in allows):
            probe = min(w.next_change(probe) for w in allows)
        else:
            break
    return probe


def _first(pair: tuple[datetime, SyncWindow]) -> datetime:
    return pair[0]


def _destination(app: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = app.get("metadata")
    spec = app.get("spec")
    destination = spec.get("destination") if isinstance(spec, Mapping) else None
    if not isinstance(destination, Mapping):
        destination = {}
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return (
        _text(name),
        _text(destination.get("namespace")),
        _text(destination.get("server")),
        _text(destination.get("name")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _until(end: datetime, window: SyncWindow, now: datetime) -> str:
    # A window that never closes reports a bounded horizon rather than an end.
    at_least = "at least " if window.is_active(end) else ""
    return f"{at_least}until {_when(end, window, now)}"


def _when(moment: datetime, window: SyncWindow, now: datetime) -> str:
    local = moment.astimezone(window.time_zone)
    clock = "%H:%M:%S" if local.second or local.microsecond else "%H:%M"
    if local.date() != now.astimezone(window.time_zone).date():
        clock = "%Y-%m-%d " + clock
    return f"{local.strftime(clock)} {local.tzname()}"
