"""``applicationRefs[].labelSelectors``: a Kubernetes ``metav1.LabelSelector``, read strictly.

Owns reading a selector as ``metav1.LabelSelectorAsSelector`` would accept it (label key and
value syntax, the four operators, values given exactly when the operator takes them) and
matching it: every ``matchLabels`` pair and every expression must hold; ``In`` wants the key
with one of the values, ``NotIn`` the key absent or with none of them, ``Exists`` /
``DoesNotExist`` the key present / absent; an empty selector (``{}``) selects everything.
Upstream makes an invalid selector match nothing, silently; here it is an error.
"""

from __future__ import annotations

__all__ = ["LabelRequirement", "LabelSelector", "Operator", "parse_selector"]

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from imageupdater.annotations.report import Collector, quote
from imageupdater.imageupdaters import fields as f
from imageupdater.patterns import compile_re2, fullmatches

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
_OPERATORS: tuple[Operator, ...] = ("In", "NotIn", "Exists", "DoesNotExist")

_NAME = compile_re2(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = compile_re2(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
)
_KEY_FORM = (
    "a label key is [<DNS subdomain>/]<name>, the name at most 63 letters, digits, '-', '_' "
    "or '.', starting and ending with a letter or digit"
)
_VALUE_FORM = (
    "a label value is empty or at most 63 letters, digits, '-', '_' or '.', starting and "
    "ending with a letter or digit"
)


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """``match_labels`` as sorted pairs, so the value is hashable."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[LabelRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(
            key in labels and labels[key] == value for key, value in self.match_labels
        ) and all(requirement.matches(labels) for requirement in self.match_expressions)

    @property
    def size(self) -> int:
        """How many requirements it has (upstream's specificity counts them)."""
        return len(self.match_labels) + len(self.match_expressions)


def parse_selector(out: Collector, path: str, value: object) -> LabelSelector | None:
    """Read a selector object; None (with every problem in ``out``) when it is not valid."""
    raw = f.obj(out, path, value, ("matchLabels", "matchExpressions"))
    if raw is None:
        return None
    errors = out.error_count
    labels = _match_labels(out, f.at(path, "matchLabels"), raw.get("matchLabels"))
    expressions = _expressions(out, f.at(path, "matchExpressions"), raw.get("matchExpressions"))
    if out.error_count > errors or labels is None or expressions is None:
        return None
    return LabelSelector(labels, expressions)


def _match_labels(out: Collector, path: str, value: object) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        out.error(path, f"must be an object of label keys and values, not {f.describe(value)}")
        return None
    if len(value) > f.MAX_LIST_ITEMS:
        out.error(path, f"has {len(value)} labels; at most {f.MAX_LIST_ITEMS} are accepted")
        return None
    pairs: list[tuple[str, str]] = []
    for key, label in value.items():
        name = f.clean(key) if isinstance(key, str) else str(key)
        where = f.entry(path, name)
        key_ok = _check_key(out, where, name)
        text = f.string(out, where, label)
        if text is not None and not _valid_value(text):
            out.error(where, f"label value {quote(text)} is not valid: {_VALUE_FORM}")
        elif text is not None and key_ok:
            pairs.append((name, text))
    return tuple(sorted(pairs))


def _expressions(out: Collector, path: str, value: object) -> tuple[LabelRequirement, ...] | None:
    if value is None:
        return ()
    items = f.listing(out, path, value)
    if items is None:
        return None
    found = [_requirement(out, f.item(path, i), raw) for i, raw in enumerate(items)]
    if any(requirement is None for requirement in found):
        return None
    return tuple(r for r in found if r is not None)


def _requirement(out: Collector, path: str, value: object) -> LabelRequirement | None:
    raw = f.obj(out, path, value, ("key", "operator", "values"))
    if raw is None:
        return None
    errors = out.error_count
    key: str | None = None
    if "key" not in raw:
        out.error(f.at(path, "key"), "is missing; every expression names a label key")
    elif (key := f.string(out, f.at(path, "key"), raw["key"])) is not None:
        _check_key(out, f.at(path, "key"), key)
    operator = _operator(out, f.at(path, "operator"), raw.get("operator"))
    values_path = f.at(path, "values")
    values: tuple[str, ...] = ()
    raw_values = raw.get("values")
    if operator in ("In", "NotIn"):
        listed = f.string_list(out, values_path, [] if raw_values is None else raw_values)
        if listed is not None and not listed:
            out.error(values_path, f"the operator {operator} needs at least one value")
        for setting in listed or ():
            if not _valid_value(setting.value):
                out.error(
                    setting.path, f"label value {quote(setting.value)} is not valid: {_VALUE_FORM}"
                )
        values = tuple(s.value for s in listed or ())
    elif operator is not None and raw_values not in (None, [], ()):
        out.error(values_path, f"must be left out: the operator {operator} takes no values")
    if out.error_count > errors or key is None or operator is None:
        return None
    return LabelRequirement(key, operator, values)


def _operator(out: Collector, path: str, value: object) -> Operator | None:
    for operator in _OPERATORS:
        if value == operator:
            return operator
    accepted = ", ".join(_OPERATORS)
    if value is None:
        out.error(path, f"is missing; accepted: {accepted}")
        return None
    hint = ""
    if isinstance(value, str):
        folded = [o for o in _OPERATORS if o.lower() == value.replace(" ", "").lower()]
        hint = f"; did you mean '{folded[0]}'?" if folded else ""
    shown = quote(f.clean(value)) if isinstance(value, str) else f.describe(value)
    out.error(path, f"unknown operator {shown}{hint} (accepted: {accepted})")
    return None


def _check_key(out: Collector, path: str, key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    valid = (not slash or (0 < len(prefix) <= 253 and fullmatches(_DNS_SUBDOMAIN, prefix))) and (
        0 < len(name) <= 63 and fullmatches(_NAME, name)
    )
    if not valid:
        out.error(path, f"label key {quote(key)} is not valid: {_KEY_FORM}")
    return valid


def _valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and fullmatches(_NAME, value))
