"""Reading ``spec.rollout`` of a policy: who is in the first wave, and how long it soaks.

Owns what the field accepts: ``firstWave`` with exactly one of ``count`` (a whole number of
Applications, at least 1), ``percent`` (1 to 99 of the Applications the policy matches,
rounded up) or ``selector`` (a label selector on the Applications), and ``soak`` (a positive
Go duration; 30m when left out). Every problem is keyed by its field path, like the rules'.
"""

from __future__ import annotations

__all__ = ["parse_rollout"]

from datetime import timedelta

from imageupdater.updatepolicy.fields import FIRST_WAVE_FIELDS, ROLLOUT_FIELDS
from imageupdater.updatepolicy.model import DEFAULT_SOAK, Rollout
from imageupdater.updatepolicy.parse_rules import duration_field
from imageupdater.updatepolicy.reading import Collector, child, describe, mapping, unknown_fields
from imageupdater.updatepolicy.selectors import LabelSelector, parse_selector

_ONE_OF = "exactly one of count (Applications), percent (1 to 99) or selector (labels)"


def parse_rollout(value: object, path: str, out: Collector) -> Rollout | None:
    """``spec.rollout`` (``value`` not None); None when anything in it is wrong."""
    raw = mapping(value, path, out)
    if raw is None:
        return None
    before = len(out.problems)
    unknown_fields(raw, path, ROLLOUT_FIELDS, out)
    soak: timedelta | None = DEFAULT_SOAK
    if "soak" in raw:
        soak = duration_field(raw["soak"], child(path, "soak"), out, positive=True)
        if soak is not None and soak < timedelta(seconds=1):
            out.error(child(path, "soak"), "must be at least 1s; accepted: e.g. '30m', '2h'")
            soak = None
    wave_path = child(path, "firstWave")
    if "firstWave" not in raw:
        out.error(wave_path, f"is missing; a rollout needs its first wave: {_ONE_OF}")
        return None
    first = _first_wave(raw["firstWave"], wave_path, out)
    if first is None or soak is None or any(p.severity == "error" for p in out.problems[before:]):
        return None
    count, percent, selector = first
    return Rollout(soak=soak, count=count, percent=percent, selector=selector)


def _first_wave(
    value: object, path: str, out: Collector
) -> tuple[int | None, int | None, LabelSelector | None] | None:
    raw = mapping(value, path, out)
    if raw is None:
        return None
    unknown_fields(raw, path, FIRST_WAVE_FIELDS, out)
    given = [name for name in FIRST_WAVE_FIELDS if name in raw]
    if len(given) != 1:
        found = f"found {', '.join(given)}" if given else "found none"
        out.error(path, f"needs {_ONE_OF}; {found}")
        return None
    (name,) = given
    if name == "selector":
        selector = parse_selector(raw["selector"], child(path, "selector"), out)
        return (None, None, selector) if selector is not None else None
    number = raw[name]
    low, high = (1, None) if name == "count" else (1, 99)
    if (
        not isinstance(number, int)
        or isinstance(number, bool)
        or number < low
        or (high is not None and number > high)
    ):
        accepted = "a whole number, at least 1" if high is None else "a whole number from 1 to 99"
        out.error(child(path, name), f"must be {accepted}, not {describe(number)}")
        return None
    return (number, None, None) if name == "count" else (None, number, None)
