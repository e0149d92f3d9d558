"""Upstream's specificity score of an applicationRef (``calculateSpecificity``), exactly.

score = 1,000,000 when ``namePattern`` holds none of ``* ? [ ]``
      + the number of bytes (UTF-8, as Go's ``len``) left after deleting every ``[...]``
        group (leftmost, shortest, not across a line break: Go's ``\\[.*?]``) and every
        ``*`` and ``?``
      + 10,000 when ``labelSelectors`` is present (even ``{}``)
      + 100 for each ``matchLabels`` entry and each ``matchExpressions`` entry.

Examples: ``app-one`` 1,000,007; ``app-*`` 4; ``app-prod-*`` 9; ``app-v?`` 5; ``app-[abc]``
4; ``*`` 0; ``""`` 1,000,000. Refs are tried in descending score, ties in spec order.
"""

from __future__ import annotations

__all__ = ["specificity"]

from imageupdater.imageupdaters.selectors import LabelSelector

_EXACT = 1_000_000
_SELECTOR = 10_000
_PER_REQUIREMENT = 100


def specificity(name_pattern: str, selector: LabelSelector | None) -> int:
    score = 0 if any(char in name_pattern for char in "*?[]") else _EXACT
    literals = _without_sets(name_pattern).replace("*", "").replace("?", "")
    score += len(literals.encode("utf-8", "surrogatepass"))
    if selector is not None:
        score += _SELECTOR + _PER_REQUIREMENT * selector.size
    return score


def _without_sets(pattern: str) -> str:
    kept: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            close = pattern.find("]", i + 1)
            newline = pattern.find("\n", i + 1)
            if close != -1 and (newline == -1 or newline > close):
                i = close + 1
                continue
        kept.append(pattern[i])
        i += 1
    return "".join(kept)
