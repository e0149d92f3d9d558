"""``LintFinding``: one line of ``image-updater lint`` output, and how it reads."""

from __future__ import annotations

__all__ = ["TEMPLATE_SKIPPED", "LintFinding", "LintSeverity", "template_skipped"]

from dataclasses import dataclass
from typing import Literal

# A note is neither an error nor a warning: lint says what it did not check, and why.
LintSeverity = Literal["error", "warning", "note"]

TEMPLATE_SKIPPED = "skipped: a Helm/Go template, not YAML until rendered"


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One line of lint output.

    ``app`` is ``"<namespace>/<name>"`` for a finding about an Application (or the
    ApplicationSet or ImageUpdater resource it names), ``""`` for one about the file itself
    (then ``line`` says where, 1-based, when known). A warning's message is printed after
    ``warning: ``; a note's message says for itself what was skipped (``skipped: ...``).
    """

    source: str
    message: str
    severity: LintSeverity = "error"
    app: str = ""
    key: str = ""
    line: int | None = None

    def __str__(self) -> str:
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        if not self.app:
            where = f"{self.source}:{self.line}" if self.line is not None else self.source
            return f"{where}: {message}"
        key = f"{self.key}: " if self.key else ""
        return f"{self.source}: {self.app}: {key}{message}"


def template_skipped(source: str) -> LintFinding:
    """The note for a file that is a Helm or Go template rather than YAML."""
    return LintFinding(source, TEMPLATE_SKIPPED, "note")
