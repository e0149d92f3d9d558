"""Problems found in user configuration, in the one wording every surface shares.

The annotation parser, ``image-updater lint``, the admission webhook and the reconciler's
Events all print the same ``Problem`` text, so a user learns one vocabulary.
"""

from __future__ import annotations

__all__ = ["Problem", "Severity"]

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about one annotation (``key`` is the full annotation name, or "" for none)."""

    key: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message
