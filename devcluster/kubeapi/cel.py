"""The subset of CEL that webhook `matchConditions` may use against the emulator.

Supported: the variables `object`, `oldObject` (null on CREATE) and `request`; string (single
or double quoted), integer, `true`/`false`/`null` literals and `[...]` lists; field selection
`a.b`, indexing `a['k']` / `a[0]` / `m[k]` with any expression as the key; `has(a.b.c)`;
`size(x)` / `x.size()`; the string methods `startsWith`, `endsWith`, `contains` and `matches`
(RE2); the macros `exists(x, p)` and `all(x, p)` over a list's items or a map's keys (nested,
with the variable usable in keys and indexes: `m.exists(k, k in n && n[k] == m[k])`); the
operators `!`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `in` (map keys, list items), `&&`, `||` and
parentheses.

Semantics follow CEL as kube-apiserver runs it on dynamically typed objects: equality is
never an error (values of different types are unequal, `x == null` is true only for null,
ints and doubles compare by value, lists and maps element by element); selecting a field or
calling `has()` on null, a missing map key, an index out of range, ordering values of
different kinds and a non-bool operand of `!`, `&&` or `||` are run-time errors; `&&`/`||`
and the macros absorb errors the way CEL does (`false && <error>` is false, `true || <error>`
is true; `exists` is true if any item is, whatever the others raise). Type errors that a
real cluster finds at compile time (`null < 1` in literals) surface here at run time. Anything
else (`authorizer`, `params`, map literals, other macros, arithmetic, the ternary operator,
double literals) is refused at compile time with a message naming the expression and this
list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from imageupdater.errors import InvalidInput

SUPPORTED = (
    "variables object/oldObject/request; string/int/true/false/null/list literals; "
    "a.b, a['k'], m[k], has(), size(), "
    "startsWith/endsWith/contains/matches, exists(x, p)/all(x, p); "
    "! == != < <= > >= in && || ( )"
)
_MACROS = ("exists", "all")
VARIABLES = ("object", "oldObject", "request")
_METHODS = ("startsWith", "endsWith", "contains", "matches", "size")
_OPS2 = ("==", "!=", "<=", ">=", "&&", "||")
_OPS1 = "<>!.()[],"


class CelUnsupported(InvalidInput):
    """An expression outside the supported CEL subset (a compile-time error)."""


class CelEvalError(InvalidInput):
    """An expression failed at run time (no such key, wrong type)."""


Env = Mapping[str, Any]
Node = Callable[[Env], Any]


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "str" | "int" | "ident" | "op" | "end"
    value: Any


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            j, buf = i + 1, []
            while j < len(text) and text[j] != ch:
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= len(text):
                raise CelUnsupported(f"unterminated string literal in {text!r}")
            out.append(Token("str", "".join(buf)))
            i = j + 1
        elif ch.isdigit():
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            out.append(Token("int", int(text[i:j])))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(Token("ident", text[i:j]))
            i = j
        elif text[i : i + 2] in _OPS2:
            out.append(Token("op", text[i : i + 2]))
            i += 2
        elif ch in _OPS1:
            out.append(Token("op", ch))
            i += 1
        else:
            raise CelUnsupported(
                f"unsupported character {ch!r} in matchCondition expression {text!r}; "
                f"supported: {SUPPORTED}"
            )
    out.append(Token("end", None))
    return out


def _cel_type(v: Any) -> str:
    if v is None:
        return "null_type"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "map"
    if isinstance(v, list):
        return "list"
    return type(v).__name__


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality: never an error, numbers by value, containers deeply."""
    if _numeric(a) and _numeric(b):
        return bool(a == b)
    if _cel_type(a) != _cel_type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping):
        return len(a) == len(b) and all(
            (found := _find(b, k)) is not None and _equal(v, found[0]) for k, v in a.items()
        )
    return bool(a == b)


def _find(m: Mapping[Any, Any], key: Any) -> tuple[Any] | None:
    """The value under `key` (compared the CEL way: 1 and 1.0 are one key, true is not)."""
    if isinstance(key, str):
        return (m[key],) if key in m else None
    for k, v in m.items():
        if _equal(k, key):
            return (v,)
    return None


def _select(base: Any, key: Any) -> Any:
    if isinstance(base, Mapping):
        if (found := _find(base, key)) is None:
            raise CelEvalError(f"no such key: {key}")
        return found[0]
    if isinstance(base, list) and _cel_type(key) == "int":
        if not 0 <= key < len(base):
            raise CelEvalError(f"index out of range: {key}")
        return base[key]
    raise CelEvalError(f"no such key: {key!r} on {_cel_type(base)}")


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise CelEvalError(f"no such overload: {what} on {_cel_type(v)}")
    return v


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if op == "in":
        if isinstance(b, Mapping):
            return _find(b, a) is not None
        if isinstance(b, list):
            return any(_equal(a, x) for x in b)
        raise CelEvalError(f"no such overload: in on {_cel_type(b)}")
    # Ordering is defined within bool, string and the numbers (int and double together).
    if not (_numeric(a) and _numeric(b)) and (
        _cel_type(a) != _cel_type(b) or _cel_type(a) not in ("bool", "string")
    ):
        raise CelEvalError(f"no such overload: {_cel_type(a)} {op} {_cel_type(b)}")
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def _method(name: str, target: Any, args: list[Any]) -> Any:
    if name == "size":
        if args or not isinstance(target, (str, list, Mapping)):
            raise CelEvalError("no such overload: size")
        return len(target)
    if len(args) != 1 or not isinstance(target, str) or not isinstance(args[0], str):
        raise CelEvalError(f"no such overload: {name}")
    arg = args[0]
    if name == "startsWith":
        return target.startswith(arg)
    if name == "endsWith":
        return target.endswith(arg)
    if name == "contains":
        return arg in target
    try:
        return re2.search(arg, target) is not None
    except re2.error as exc:
        raise CelEvalError(f"invalid regular expression {arg!r}: {exc}") from exc


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0
        self.bound: list[str] = []  # macro variables in scope

    def unsupported(self, what: str) -> CelUnsupported:
        return CelUnsupported(
            f"{what} in matchCondition expression {self.text!r} is not in the emulator's "
            f"CEL subset; supported: {SUPPORTED}"
        )

    def peek(self) -> Token:
        return self.toks[self.pos]

    def take(self, value: str | None = None) -> Token:
        tok = self.toks[self.pos]
        if value is not None and tok.value != value:
            shown = "end of expression" if tok.kind == "end" else repr(tok.value)
            raise CelUnsupported(f"expected {value!r} but found {shown} in {self.text!r}")
        self.pos += 1
        return tok

    def parse(self) -> Node:
        node = self.or_()
        if self.peek().kind != "end":
            raise self.unsupported(f"{self.peek().value!r}")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek().value == "||":
            self.take()
            node = _logic(node, self.and_(), short=True)
        return node

    def and_(self) -> Node:
        node = self.rel()
        while self.peek().value == "&&":
            self.take()
            node = _logic(node, self.rel(), short=False)
        return node

    def rel(self) -> Node:
        left = self.unary()
        tok = self.peek()
        if tok.value in ("==", "!=", "<", "<=", ">", ">=", "in") and tok.kind in ("op", "ident"):
            op = self.take().value
            right = self.unary()
            return lambda env: _compare(op, left(env), right(env))
        return left

    def unary(self) -> Node:
        if self.peek().value == "!" and self.peek().kind == "op":
            self.take()
            inner = self.unary()
            return lambda env: not _bool(inner(env), "!")
        return self.member(self.primary())[0]

    def args(self) -> list[Node]:
        self.take("(")
        out: list[Node] = []
        while self.peek().value != ")":
            out.append(self.or_())
            if self.peek().value != ",":
                break
            self.take(",")
        self.take(")")
        return out

    def member(self, node: Node) -> tuple[Node, tuple[Node, str] | None]:
        """The selection chain after a primary, and its last field selection (for has())."""
        last: tuple[Node, str] | None = None
        while True:
            tok = self.peek()
            if tok.value == "." and tok.kind == "op":
                self.take()
                name = self.take()
                if name.kind != "ident":
                    raise self.unsupported(f"field {name.value!r}")
                if self.peek().value == "(" and name.value in _MACROS:
                    node, last = self.macro(name.value, node), None
                elif self.peek().value == "(":
                    if name.value not in _METHODS:
                        raise self.unsupported(f"the function {name.value}()")
                    node, last = _call(name.value, node, self.args()), None
                else:
                    node, last = _field(node, name.value), (node, name.value)
            elif tok.value == "[" and tok.kind == "op":
                self.take()
                index = self.or_()
                self.take("]")
                node, last = _index(node, index), None
            else:
                return node, last

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("str", "int"):
            return _const(tok.value)
        if tok.kind == "op" and tok.value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if tok.kind == "op" and tok.value == "[":
            items: list[Node] = []
            while self.peek().value != "]":
                items.append(self.or_())
                if self.peek().value != ",":
                    break
                self.take(",")
            self.take("]")
            return lambda env: [item(env) for item in items]
        if tok.kind == "ident":
            name = tok.value
            if name in ("true", "false", "null"):
                return _const({"true": True, "false": False, "null": None}[name])
            if self.peek().value == "(":
                return self.function(name)
            if name not in VARIABLES and name not in self.bound:
                raise self.unsupported(f"the variable {name!r}")
            return lambda env: env.get(name)
        shown = "end of expression" if tok.kind == "end" else repr(tok.value)
        raise self.unsupported(shown)

    def macro(self, name: str, target: Node) -> Node:
        """``target.exists(x, p)`` / ``target.all(x, p)``: ``p`` with ``x`` bound to each item."""
        self.take("(")
        var = self.take()
        if var.kind != "ident" or var.value in VARIABLES:
            raise self.unsupported(f"{name}() whose first argument is not a new variable name")
        self.take(",")
        self.bound.append(var.value)
        try:
            predicate = self.or_()
        finally:
            self.bound.pop()
        self.take(")")
        return _macro(name, target, var.value, predicate)

    def function(self, name: str) -> Node:
        if name == "has":
            self.take("(")
            _, last = self.member(self.primary())
            self.take(")")
            if last is None:
                raise self.unsupported("has() without a field selection argument")
            base, field = last
            return lambda env: _has(base(env), field)
        if name == "size":
            args = self.args()
            if len(args) != 1:
                raise self.unsupported("size() with other than one argument")
            return _call("size", args[0], [])
        raise self.unsupported(f"the function {name}()")


def _const(value: Any) -> Node:
    return lambda _env: value


def _logic(left: Node, right: Node, *, short: bool) -> Node:
    """`||` when short is True, else `&&`; an error on one side is absorbed by the other."""

    def run(env: Env) -> bool:
        try:
            lval: bool | CelEvalError = _bool(left(env), "||" if short else "&&")
        except CelEvalError as exc:
            lval = exc
        if lval is short:
            return short
        rval = _bool(right(env), "||" if short else "&&")
        if isinstance(lval, CelEvalError) and rval is not short:
            raise lval
        return rval

    return run


def _field(base: Node, name: str) -> Node:
    return lambda env: _select(base(env), name)


def _index(base: Node, index: Node) -> Node:
    return lambda env: _select(base(env), index(env))


def _call(name: str, target: Node, args: list[Node]) -> Node:
    return lambda env: _method(name, target(env), [a(env) for a in args])


def _macro(name: str, target: Node, var: str, predicate: Node) -> Node:
    wanted = name == "exists"  # the answer one item decides: exists on True, all on False

    def run(env: Env) -> bool:
        items = target(env)
        if isinstance(items, Mapping):
            items = list(items)
        if not isinstance(items, list):
            raise CelEvalError(f"no such overload: {name} on {_cel_type(items)}")
        error: CelEvalError | None = None
        for item in items:
            try:
                if _bool(predicate({**env, var: item}), name) is wanted:
                    return wanted
            except CelEvalError as exc:
                error = error or exc
        if error is not None:
            raise error
        return not wanted

    return run


def _has(base: Any, field: str) -> bool:
    if not isinstance(base, Mapping):
        raise CelEvalError(f"has() on {_cel_type(base)}")
    return field in base


@dataclass(frozen=True, slots=True)
class Program:
    expression: str
    run: Node

    def evaluate(self, env: Env) -> bool:
        """True or False; raises CelEvalError on a run-time error or a non-bool result."""
        result = self.run(env)
        if not isinstance(result, bool):
            raise CelEvalError(f"expression {self.expression!r} returned {result!r}, not a bool")
        return result


def compile_expression(text: str) -> Program:
    """Compile one matchCondition expression; CelUnsupported names what is outside the subset."""
    if not text.strip():
        raise CelUnsupported("matchCondition expression is empty")
    return Program(text, _Parser(text).parse())
