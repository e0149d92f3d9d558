"""How the annotation parser words and collects its findings.

Every message is read on its own, in one line, by ``kubectl`` users, ``image-updater lint``
users and in reconciler Events, so values are quoted (and shortened when long) the same way
everywhere.
"""

from __future__ import annotations

__all__ = ["PREFIX", "Collector", "full_key", "quote"]

from imageupdater.annotations.limits import Budget
from imageupdater.problems import Problem

PREFIX = "argocd-image-updater.argoproj.io/"

# Long enough for any sensible value, short enough that one line stays readable.
_MAX_SHOWN = 80


def full_key(suffix: str) -> str:
    return PREFIX + suffix


def quote(value: str) -> str:
    """``'value'``, shortened to a readable length, with control characters escaped."""
    shown = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 3] + "..."
    return repr(shown)


class Collector:
    """The problems of one ``parse`` call, in the order they were found, and what is left of
    its work budget."""

    __slots__ = ("budget", "problems")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.budget = Budget()

    def error(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, message, "error"))

    def warn(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, message, "warning"))

    @property
    def error_count(self) -> int:
        return sum(1 for problem in self.problems if problem.severity == "error")
