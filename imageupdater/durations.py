"""Go duration strings (``90s``, ``1h30m``, ``500ms``), as upstream's flags and files use them."""

from __future__ import annotations

__all__ = ["format_duration", "parse_duration"]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration; ``0`` alone is allowed; raises ValueError naming the value."""
    original = text
    text = text.strip()
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if not text:
        raise ValueError(f"invalid duration {original!r}: expected e.g. '90s', '5m', '1h30m'")
    total = 0.0
    index = 0
    while index < len(text):
        start = index
        while index < len(text) and (text[index].isdigit() or text[index] == "."):
            index += 1
        number = text[start:index]
        unit_start = index
        while index < len(text) and not (text[index].isdigit() or text[index] == "."):
            index += 1
        unit = text[unit_start:index]
        if not number or number == "." or number.count(".") > 1 or unit not in _UNITS:
            raise ValueError(
                f"invalid duration {original!r}: expected a number and a unit "
                "(ns, us, ms, s, m, h), e.g. '90s', '5m', '1h30m'"
            )
        total += float(number) * _UNITS[unit]
    return sign * total


def format_duration(seconds: float) -> str:
    """A compact Go-style spelling, e.g. ``1h30m0s``; for messages."""
    whole = int(seconds)
    if whole != seconds or whole < 60:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{secs}s"
