"""Kubernetes label selectors (``matchLabels`` + ``matchExpressions``): read strictly, matched.

Owns the ``metav1.LabelSelector`` semantics a policy's ``namespaceSelector`` and
``applicationSelector`` use: every ``matchLabels`` pair and every expression must hold;
``In`` wants the key with one of the values, ``NotIn`` the key absent or with none of them,
``Exists`` / ``DoesNotExist`` the key present / absent. An empty selector (``{}``) selects
everything. Reading checks what the API server checks: label key and value syntax, known
operators, values given exactly when the operator takes them.
"""

from __future__ import annotations

__all__ = [
    "OPERATORS",
    "REQUIREMENT_FIELDS",
    "SELECTOR_FIELDS",
    "LabelSelector",
    "Operator",
    "Requirement",
    "parse_selector",
]

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from imageupdater.patterns import compile_re2, fullmatches
from imageupdater.updatepolicy.reading import (
    Collector,
    child,
    describe,
    index,
    mapping,
    quoted,
    string_list,
    unknown_fields,
    value_shown,
)

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
OPERATORS: tuple[Operator, ...] = ("In", "NotIn", "Exists", "DoesNotExist")
SELECTOR_FIELDS = ("matchLabels", "matchExpressions")
REQUIREMENT_FIELDS = ("key", "operator", "values")

_NAME = compile_re2(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = compile_re2(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
)
_KEY_FORM = (
    "a label key is [prefix/]name: a name of at most 63 letters, digits, '-', '_' and '.', "
    "starting and ending with a letter or digit, after an optional DNS subdomain prefix"
)
_VALUE_FORM = (
    "a label value is empty or at most 63 letters, digits, '-', '_' and '.', "
    "starting and ending with a letter or digit"
)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case "In":
                return self.key in labels and labels[self.key] in self.values
            case "NotIn":
                return self.key not in labels or labels[self.key] not in self.values
            case "Exists":
                return self.key in labels
            case "DoesNotExist":
                return self.key not in labels


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed selector; ``match_labels`` as sorted pairs so the value stays hashable."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match_labels) and all(
            requirement.matches(labels) for requirement in self.expressions
        )


def parse_selector(value: object, path: str, out: Collector) -> LabelSelector | None:
    """Read a selector object; None (with problems in ``out``) when it is not a valid one."""
    raw = mapping(value, path, out)
    if raw is None:
        return None
    before = len(out.problems)
    unknown_fields(raw, path, SELECTOR_FIELDS, out)
    labels = _match_labels(raw.get("matchLabels"), child(path, "matchLabels"), out)
    expressions = _expressions(raw.get("matchExpressions"), child(path, "matchExpressions"), out)
    if len(out.problems) > before or labels is None or expressions is None:
        return None
    return LabelSelector(labels, expressions)


def _match_labels(value: object, path: str, out: Collector) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return ()
    raw = mapping(value, path, out)
    if raw is None:
        return None
    pairs: list[tuple[str, str]] = []
    for key, label in raw.items():
        where = child(path, key)
        key_ok = _check_key(key, where, out)
        if not isinstance(label, str):
            out.error(where, f"a label value must be a string, not {describe(label)}")
        elif not _valid_value(label):
            out.error(where, f"label value {quoted(label)} is not valid: {_VALUE_FORM}")
        elif key_ok:
            pairs.append((str(key), label))
    return tuple(sorted(pairs))


def _expressions(value: object, path: str, out: Collector) -> tuple[Requirement, ...] | None:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        out.error(
            path, f"must be a list of {{key, operator, values}} objects, not {describe(value)}"
        )
        return None
    found: list[Requirement] = []
    for position, item in enumerate(value):
        requirement = _requirement(item, index(path, position), out)
        if requirement is not None:
            found.append(requirement)
    return tuple(found)


def _requirement(value: object, path: str, out: Collector) -> Requirement | None:
    raw = mapping(value, path, out)
    if raw is None:
        return None
    before = len(out.problems)
    unknown_fields(raw, path, REQUIREMENT_FIELDS, out)
    key = raw.get("key")
    if key is None:
        out.error(child(path, "key"), "is missing; every expression names a label key")
    else:
        _check_key(key, child(path, "key"), out)
    operator = _operator(raw.get("operator"), child(path, "operator"), out)
    values: tuple[str, ...] | None = ()
    raw_values: Any = raw.get("values")
    values_path = child(path, "values")
    if operator in ("In", "NotIn"):
        values = string_list(
            raw_values if raw_values is not None else [],
            values_path,
            out,
            what="label values",
            empty=f"the operator {operator} needs at least one value",
        )
        for position, item in enumerate(values or ()):
            if not _valid_value(item):
                out.error(
                    index(values_path, position),
                    f"label value {quoted(item)} is not valid: {_VALUE_FORM}",
                )
    elif operator is not None and raw_values not in (None, [], ()):
        out.error(values_path, f"must be left out: the operator {operator} takes no values")
    if len(out.problems) > before or operator is None or values is None:
        return None
    return Requirement(str(key), operator, values)


def _operator(value: object, path: str, out: Collector) -> Operator | None:
    for operator in OPERATORS:
        if value == operator:
            return operator
    accepted = ", ".join(OPERATORS)
    if value is None:
        out.error(path, f"is missing; accepted: {accepted}")
        return None
    hint = ""
    if isinstance(value, str):
        folded = [o for o in OPERATORS if o.lower() == value.replace(" ", "").lower()]
        hint = f" (did you mean {folded[0]!r}?)" if folded else ""
    out.error(path, f"operator {value_shown(value)} is not accepted{hint}; accepted: {accepted}")
    return None


def _check_key(key: object, path: str, out: Collector) -> bool:
    if not isinstance(key, str):
        out.error(path, f"a label key must be a string, not {describe(key)}")
        return False
    if not _valid_key(key):
        out.error(path, f"label key {quoted(key)} is not valid: {_KEY_FORM}")
        return False
    return True


def _valid_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not (0 < len(prefix) <= 253 and fullmatches(_DNS_SUBDOMAIN, prefix)):
        return False
    return 0 < len(name) <= 63 and fullmatches(_NAME, name)


def _valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and fullmatches(_NAME, value))
