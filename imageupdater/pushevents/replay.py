"""Refusing replays of HMAC-signed bodies: a signature proves who wrote a body, not when,
so a captured delivery could be sent again and again. Bodies whose signature checked are
remembered (by SHA-256) for ``window`` seconds; the same body again is refused. The
shared-secret types carry no signature of the body, so their bodies are not remembered —
a legitimate second push of the same tag can produce the same payload. Pure: the caller
passes the time."""

from __future__ import annotations

__all__ = ["ReplayGuard"]

import hashlib
from collections import OrderedDict

from imageupdater.pushevents.model import refuse


class ReplayGuard:
    def __init__(self, *, window: float = 600.0, max_entries: int = 10_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # digest -> time first seen

    def check(self, source: str, body: bytes, now: float) -> None:
        """Refuse ``body`` if seen within the window; remember it otherwise."""
        while self._seen:
            oldest, when = next(iter(self._seen.items()))
            if now - when < self.window and len(self._seen) < self.max_entries:
                break
            del self._seen[oldest]
        key = hashlib.sha256(source.encode() + b"\0" + body).digest()
        if key in self._seen:
            refuse(
                f"{source} delivery: this signed body was delivered before (a replay); "
                "a new push sends a new body",
                "replayed",
                status=409,
            )
        self._seen[key] = now
