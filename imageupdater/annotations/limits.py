"""How much one Application's image-updater annotations may ask of a review.

Whoever can write an Application can make the webhook (and the reconciler, and ``lint``)
parse what they wrote, so each review's work is bounded here rather than by the API
server's 256 KiB annotation limit: 27 KiB of hostile annotations once pinned the event
loop for over 14 s. Each cap is far above what a real Application needs and is named in
the error that reports it, so a user who hits one knows what to change.
"""

from __future__ import annotations

__all__ = [
    "MAX_CONSTRAINTS_LENGTH",
    "MAX_CONSTRAINT_LENGTH",
    "MAX_GLOBS",
    "MAX_IMAGES",
    "MAX_IMAGE_LIST_LENGTH",
    "MAX_KEYS",
    "MAX_SUGGESTIONS",
    "MAX_TOTAL_LENGTH",
    "MAX_VALUE_LENGTH",
    "Budget",
]

from dataclasses import dataclass

MAX_KEYS = 256  # annotations under our prefix
MAX_TOTAL_LENGTH = 32 * 1024  # characters of their keys and values together
MAX_VALUE_LENGTH = 2048  # characters of one value other than image-list
MAX_IMAGE_LIST_LENGTH = 8192  # characters of image-list
MAX_IMAGES = 64  # image-list entries
MAX_CONSTRAINT_LENGTH = 128  # characters of one entry's constraint or tag (Docker's tag limit)
MAX_CONSTRAINTS_LENGTH = 1024  # characters of all entries' constraints together
MAX_GLOBS = 128  # ignore-tags globs, over every ignore-tags of the Application
# "Did you mean" compares strings pairwise; past this many look-ups per Application a typo
# is still reported, just without a suggestion.
MAX_SUGGESTIONS = 8


@dataclass(slots=True)
class Budget:
    """What is left of the per-Application work allowance while one ``parse`` runs."""

    suggestions: int = MAX_SUGGESTIONS
    globs: int = MAX_GLOBS
    constraint_length: int = MAX_CONSTRAINTS_LENGTH

    def take_suggestion(self) -> bool:
        if self.suggestions <= 0:
            return False
        self.suggestions -= 1
        return True

    def take_globs(self, count: int) -> bool:
        if count > self.globs:
            self.globs = 0
            return False
        self.globs -= count
        return True

    def take_constraint(self, length: int) -> bool:
        if length > self.constraint_length:
            self.constraint_length = 0
            return False
        self.constraint_length -= length
        return True
