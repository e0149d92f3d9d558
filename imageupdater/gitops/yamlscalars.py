"""Which plain YAML scalars another reader would not take as the string we mean.

One rule for every file the git write-back edits: a value whose plain form YAML 1.1 or 1.2
would read as a number, boolean, null, timestamp or sexagesimal (``1.20``, ``on``, ``yes``,
``0755``, ``null``, ``~``, ``1:30``) — or that plain style cannot carry at all — is written
quoted. Helm reads values files as YAML 1.1-ish (go-yaml v2/sigs.k8s.io), so ``1.20`` plain
would become the float 1.2 and an image tag would silently change.
"""

from __future__ import annotations

__all__ = ["needs_quotes"]

import re

_SPECIAL_WORDS = frozenset(
    {
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
        ".inf", "-.inf", "+.inf", ".nan", "=", "<<",
    }
)  # fmt: skip
# Integers (decimal, octal with 0 or 0o, hex, binary, with '_' as YAML 1.1 allows), floats
# (with optional exponent, leading dot), sexagesimal numbers and YAML timestamps.
_NUMBER = re.compile(
    r"""[-+]?(
        0b[01_]+ | 0o?[0-7_]+ | 0x[0-9a-f_]+ | [0-9][0-9_]* |
        ([0-9][0-9_]*)?\.[0-9_]*([e][-+]?[0-9]+)? | [0-9][0-9_]*([e][-+]?[0-9]+) |
        [1-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")
# Outside YAML's printable set (c-printable), or a line break of another kind than LF.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
    "|[\x85\u2028\u2029\r]|\ufeff"
)
# Characters that start something else than a plain scalar, or end one early.
_INDICATORS_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")


def needs_quotes(value: str) -> bool:
    """True when ``value`` written as a plain scalar would not read back as this string."""
    if value == "" or value != value.strip():
        return True
    if _NON_PRINTABLE.search(value):
        # Only a double-quoted scalar can carry these (escaped); a YAML reader refuses them raw.
        return True
    if value.lower() in _SPECIAL_WORDS:
        return True
    if _NUMBER.fullmatch(value) or _TIMESTAMP.fullmatch(value):
        return True
    if value[0] in _INDICATORS_FIRST and not (
        value[0] in "-?:" and len(value) > 1 and value[1] not in " \t"
    ):
        return True
    if "\t" in value:
        # YAML 1.2 allows tabs inside a plain scalar; PyYAML (and so many tools) do not.
        return True
    return ": " in value or " #" in value or value.endswith(":") or "\n" in value
