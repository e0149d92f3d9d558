"""Label selectors (query-string and `metav1.LabelSelector` forms) and field selectors.

The grammar is kube-apiserver's: comma-separated requirements `k`, `!k`, `k=v`, `k==v`,
`k!=v`, `k in (a,b)`, `k notin (a,b)`. Keys and values are checked like the real server
(qualified names, 63-character segments); anything else is a SelectorError naming the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from imageupdater.errors import InvalidInput

Op = Literal["=", "!=", "in", "notin", "exists", "!"]

# Fixed server-side patterns (not user-supplied), so the stdlib engine is fine here.
_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_VALUE = re.compile(r"^(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_FIELDS = ("metadata.name", "metadata.namespace")


class SelectorError(InvalidInput):
    """A label or field selector that does not parse."""


def _check_key(key: str, where: str) -> None:
    prefix, _, name = key.rpartition("/")
    ok = bool(_NAME.match(name)) and (
        not prefix or (len(prefix) <= 253 and bool(_DNS_SUBDOMAIN.match(prefix)))
    )
    if not ok:
        raise SelectorError(
            f"invalid label key {key!r} in {where!r}: expected [dns-prefix/]name with a name of "
            "at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
        )


def _check_value(value: str, where: str) -> None:
    if not _VALUE.match(value):
        raise SelectorError(
            f"invalid label value {value!r} in {where!r}: expected at most 63 alphanumerics, "
            "'-', '_' or '.', starting and ending alphanumeric (or empty)"
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: Op
    values: tuple[str, ...] = ()  # sorted, de-duplicated

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        match self.op:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and labels[self.key] in self.values
            case "!=" | "notin":
                return not present or labels[self.key] not in self.values
        raise AssertionError(self.op)  # pragma: no cover - Op is exhaustive

    def __str__(self) -> str:
        match self.op:
            case "exists":
                return self.key
            case "!":
                return f"!{self.key}"
            case "=" | "!=":
                return f"{self.key}{self.op}{self.values[0]}"
        return f"{self.key} {self.op} ({','.join(self.values)})"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _requirement(part: str, text: str) -> Requirement:
    part = part.strip()
    if not part:
        raise SelectorError(f"invalid label selector {text!r}: empty requirement")
    if m := _SET.match(part):
        key = m["key"]
        if not m["values"].strip():
            raise SelectorError(
                f"invalid label selector {text!r}: {m['op']} needs at least one value"
            )
        values = [v.strip() for v in m["values"].split(",")]
        _check_key(key, text)
        for v in values:
            _check_value(v, text)
        op: Op = "in" if m["op"] == "in" else "notin"
        return Requirement(key, op, tuple(sorted(set(values))))
    for token, op in (("!=", "!="), ("==", "="), ("=", "=")):
        if token in part:
            key, _, value = part.partition(token)
            key, value = key.strip(), value.strip()
            _check_key(key, text)
            _check_value(value, text)
            return Requirement(key, op, (value,))
    if part.startswith("!"):
        key = part[1:].strip()
        _check_key(key, text)
        return Requirement(key, "!")
    _check_key(part, text)
    return Requirement(part, "exists")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a `labelSelector` query value; "" or None selects everything."""
    if not text or not text.strip():
        return LabelSelector()
    return LabelSelector(tuple(_requirement(p, text) for p in _split_top_level(text)))


_EXPR_OPS: dict[str, Op] = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_from_object(obj: Mapping[str, Any] | None, where: str) -> LabelSelector:
    """A `metav1.LabelSelector` (matchLabels + matchExpressions); None or {} selects everything."""
    if not obj:
        return LabelSelector()
    reqs: list[Requirement] = []
    for key, value in sorted((obj.get("matchLabels") or {}).items()):
        _check_key(key, where)
        _check_value(str(value), where)
        reqs.append(Requirement(key, "=", (str(value),)))
    for expr in obj.get("matchExpressions") or []:
        key, operator = expr.get("key", ""), expr.get("operator", "")
        _check_key(key, where)
        if operator not in _EXPR_OPS:
            raise SelectorError(
                f"{where}: matchExpressions operator {operator!r} is not one of "
                "In, NotIn, Exists, DoesNotExist"
            )
        values = tuple(sorted({str(v) for v in expr.get("values") or []}))
        if (operator in ("In", "NotIn")) != bool(values):
            raise SelectorError(
                f"{where}: matchExpressions for key {key!r} with operator {operator}: values must "
                + ("be non-empty" if operator in ("In", "NotIn") else "be empty")
            )
        reqs.append(Requirement(key, _EXPR_OPS[operator], values))
    return LabelSelector(tuple(reqs))


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[tuple[str, bool, str], ...] = ()  # (field, equal?, value)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        for field, equal, value in self.requirements:
            actual = meta.get(field.removeprefix("metadata."), "") or ""
            if (actual == value) != equal:
                return False
        return True


def parse_field_selector(text: str | None) -> FieldSelector:
    """Parse a `fieldSelector`; only metadata.name and metadata.namespace are served."""
    if not text or not text.strip():
        return FieldSelector()
    reqs = []
    for raw in text.split(","):
        part = raw.strip()
        for token, equal in (("!=", False), ("==", True), ("=", True)):
            if token in part:
                field, _, value = part.partition(token)
                field = field.strip()
                if field not in _FIELDS:
                    raise SelectorError(
                        f'field label not supported: "{field}" in fieldSelector {text!r}; '
                        f"supported: {', '.join(_FIELDS)}"
                    )
                reqs.append((field, equal, value.strip()))
                break
        else:
            raise SelectorError(
                f"invalid fieldSelector {text!r}: {part!r} is not <field>=<value> or "
                "<field>!=<value>"
            )
    return FieldSelector(tuple(reqs))
