"""Go ``time.ParseDuration`` syntax (``90s``, ``1h30m``, ``500ms``), as upstream writes durations.

``parse_duration`` raises ``ValueError`` with the reason and examples; callers that read a
file or a flag wrap it in their own ``InvalidInput`` subclass with the key or flag name.
"""

from __future__ import annotations

__all__ = ["parse_duration"]

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
    """Go ``time.ParseDuration`` syntax → seconds; negative durations are rejected."""

    def bad(reason: str) -> ValueError:
        return ValueError(
            f"{text!r} is not a Go duration ({reason}); "
            "expected e.g. '11h', '1h30m', '90s', '500ms'"
        )

    if text.startswith("-"):
        raise bad("it must not be negative")
    rest = text.removeprefix("+")
    if rest == "0":
        return 0.0
    if not rest:
        raise bad("it is empty")
    total = 0.0
    while rest:  # each pass consumes at least one character
        number_end = 0
        while number_end < len(rest) and (rest[number_end].isdigit() or rest[number_end] == "."):
            number_end += 1
        number = rest[:number_end]
        if not number.strip(".") or number.count(".") > 1 or not number.isascii():
            raise bad("expected a number")
        unit_end = number_end
        while unit_end < len(rest) and not (rest[unit_end].isdigit() or rest[unit_end] == "."):
            unit_end += 1
        unit = rest[number_end:unit_end]
        if not unit:
            raise bad("a number needs a unit: ns, us, ms, s, m or h")
        if unit not in _UNITS:
            raise bad(f"unknown unit {unit!r}; units are ns, us, ms, s, m, h")
        total += float(number) * _UNITS[unit]
        rest = rest[unit_end:]
    return total
