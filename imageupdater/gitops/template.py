"""A safe renderer for the subset of Go ``text/template`` that commit-message and branch
templates are written in (upstream §11.4).

``Template.parse(text, name=...)`` checks the whole template up front (syntax, unknown
functions, ``define``/``template``/``block``, arguments given to data fields, argument
counts); ``render(data)`` runs it over plain Python data: dicts with ``str`` keys (Go's
``map[string]interface{}``), lists and tuples, ``str``, ``int``, ``float``, ``bool`` and
``None``. Semantics follow Go's: a missing map key renders as ``<no value>``, maps range in
sorted key order, ``printf "%v"`` prints ``[a b]`` and ``map[k:v]``, truth is "not the zero
value", whitespace trimming is ``{{- `` and `` -}}``.

Templates come from tenants' ConfigMaps, so rendering is bounded: no Python evaluation, no
attribute access (only dict keys), at most :data:`MAX_OUTPUT` bytes of output, at most
:data:`MAX_STEPS` steps of work (actions, function calls, range iterations, and string
building in proportion to its size), and at most ``MAX_DEPTH`` nested blocks. Every failure
is a :class:`~imageupdater.errors.TemplateError` with the line and column of the action.
"""

from __future__ import annotations

__all__ = ["MAX_OUTPUT", "MAX_STEPS", "Record", "Template"]

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from urllib.parse import quote_plus

from imageupdater.errors import TemplateError
from imageupdater.gitops.template_parse import (
    Action,
    Bool,
    Break,
    Chain,
    Command,
    Continue,
    Dot,
    Field,
    Identifier,
    If,
    Nil,
    Node,
    Number,
    Operand,
    Pipe,
    Range,
    String,
    Text,
    Variable,
    With,
    go_quote,
    location,
    parse,
    source,
)

MAX_OUTPUT = 1 << 20  # bytes of rendered text (UTF-8)
MAX_STEPS = 1_000_000
_BYTES_PER_STEP = 16  # strings and lists built by functions cost a step per this many items


class Template:
    """A parsed template; immutable, so one instance may render concurrently."""

    __slots__ = ("_nodes", "_text", "name")

    def __init__(self, text: str, name: str, nodes: tuple[Node, ...]) -> None:
        self._text = text
        self._nodes = nodes
        self.name = name

    @classmethod
    def parse(cls, text: str, *, name: str = "template") -> Template:
        return cls(text, name, parse(text, name))

    def render(self, data: object) -> str:
        state = _State(self, data)
        state.walk(data if data is not None else _MISSING, self._nodes)
        return "".join(state.out)

    def __repr__(self) -> str:
        return f"Template(name={self.name!r})"


class Record(dict[str, object]):
    """Data that is a Go struct rather than a map: a field it does not have is an error, as
    it is for upstream's templates (its data are structs), so a typo such as ``.AppNmae``
    fails loudly instead of rendering ``<no value>``."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str, fields: Mapping[str, object]) -> None:
        super().__init__(fields)
        self.type_name = type_name


class _Missing:
    """Go's invalid reflect.Value: what a missing map key or an untyped nil evaluates to."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
_NO_FINAL = object()  # no value piped in from a previous pipeline stage
_BREAK, _CONTINUE = "break", "continue"


class _FuncError(Exception):
    """A builtin refused its arguments; the message is Go's."""


class _State:
    def __init__(self, template: Template, data: object) -> None:
        self.template = template
        self.out: list[str] = []
        self.size = 0
        self.steps = 0
        self.vars: list[list[object]] = [["$", data if data is not None else _MISSING]]

    # -- bookkeeping

    def fail(self, node: Node | Operand | Command, message: str) -> TemplateError:
        name = self.template.name
        line, column = location(self.template._text, node.pos)
        context = source(node)
        if len(context) > 20:
            context = context[:20] + "..."
        return TemplateError(
            f'template: {name}:{line}:{column}: executing "{name}" at <{context}>: {message}',
            line=line,
            column=column,
        )

    def step(self, node: Node | Operand | Command, cost: int = 1) -> None:
        self.steps += cost
        if self.steps > MAX_STEPS:
            raise self.fail(
                node, f"rendering stopped after {MAX_STEPS} steps: the template does too much work"
            )

    def write(self, node: Node, text: str) -> None:
        self.size += len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
        if self.size > MAX_OUTPUT:
            raise self.fail(node, f"output is larger than {MAX_OUTPUT} bytes")
        self.out.append(text)

    def var(self, node: Node | Operand, name: str) -> object:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.fail(node, f"undefined variable: {name}")

    def set_var(self, node: Node | Operand, name: str, value: object) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.fail(node, f"undefined variable: {name}")

    # -- walking

    def walk(self, dot: object, nodes: tuple[Node, ...]) -> str | None:
        for node in nodes:
            self.step(node)
            signal: str | None = None
            match node:
                case Text(text=text):
                    self.write(node, text)
                case Action(pipe=pipe):
                    value = self.pipeline(dot, pipe)
                    if not pipe.decl:
                        try:
                            text = _print_value(value)
                        except _FuncError as exc:
                            raise self.fail(node, str(exc)) from None
                        self.write(node, text)
                case If() | With():
                    signal = self.walk_if_or_with(dot, node)
                case Range():
                    signal = self.walk_range(dot, node)
                case Break():
                    return _BREAK
                case Continue():
                    return _CONTINUE
            if signal is not None:
                return signal
        return None

    def walk_if_or_with(self, dot: object, node: If | With) -> str | None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if _truth(value):
                return self.walk(value if isinstance(node, With) else dot, node.body)
            if node.orelse is not None:
                return self.walk(dot, node.orelse)
            return None
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: object, node: Range) -> str | None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            items = self.range_items(node, value)
            body_mark = len(self.vars)
            decl, ran = node.pipe.decl, False
            for index, elem in items:
                ran = True
                self.step(node)
                if node.pipe.is_assign:
                    self.set_var(node, decl[0], index if len(decl) > 1 else elem)
                    if len(decl) > 1:
                        self.set_var(node, decl[1], elem)
                elif decl:
                    self.vars[-1][1] = elem
                    if len(decl) > 1:
                        self.vars[-2][1] = index
                signal = self.walk(elem, node.body)
                del self.vars[body_mark:]
                if signal == _BREAK:
                    break
            if not ran and node.orelse is not None:
                return self.walk(dot, node.orelse)
            return None
        finally:
            del self.vars[mark:]

    def range_items(self, node: Range, value: object) -> Iterable[tuple[object, object]]:
        if value is _MISSING or value is None:
            return ()
        if isinstance(value, list | tuple):
            return enumerate(value)
        if isinstance(value, Mapping):
            self.step(node, 1 + len(value) // _BYTES_PER_STEP)
            return [(key, value[key]) for key in _sorted_keys(value)]
        if isinstance(value, int) and not isinstance(value, bool):
            if len(node.pipe.decl) > 1:
                raise self.fail(node, f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value))
        try:
            shown = _format_v(value)
        except _FuncError:
            shown = _go_type(value)
        raise self.fail(node, f"range can't iterate over {shown}")

    # -- evaluation

    def pipeline(self, dot: object, pipe: Pipe) -> object:
        value: object = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
            if value is None:  # Go digs a nil interface{} down to an invalid value
                value = _MISSING
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot: object, cmd: Command, final: object) -> object:
        self.step(cmd)
        first = cmd.args[0]
        if isinstance(first, Identifier):
            return self.call(dot, first, cmd.args[1:], final)
        if isinstance(first, Nil):
            raise self.fail(first, "nil is not a command")
        return self.operand(dot, first)

    def operand(self, dot: object, node: Operand) -> object:
        match node:
            case Field(names=names):
                return self.fields(node, dot, names)
            case Variable(name=name, names=names):
                return self.fields(node, self.var(node, name), names)
            case Chain(node=inner, names=names):
                if isinstance(inner, Nil):
                    raise self.fail(node, f"indirection through explicit nil in {source(node)}")
                return self.fields(node, self.operand(dot, inner), names)
            case Pipe():
                return self.pipeline(dot, node)
            case Identifier():
                return self.call(dot, node, (), _NO_FINAL)
            case Dot():
                return dot
            case Nil():
                return None
            case Bool(value=value) | Number(value=value) | String(value=value):
                return value

    def fields(self, node: Operand, receiver: object, names: tuple[str, ...]) -> object:
        for name in names:
            if receiver is _MISSING:
                return _MISSING
            if receiver is None:
                raise self.fail(node, f"nil pointer evaluating interface {{}}.{name}")
            if not isinstance(receiver, Mapping):
                raise self.fail(node, f"can't evaluate field {name} in type {_go_type(receiver)}")
            if isinstance(receiver, Record) and name not in receiver:
                raise self.fail(node, f"can't evaluate field {name} in type {receiver.type_name}")
            receiver = receiver.get(name, _MISSING)
        return receiver

    def arg(self, dot: object, node: Operand) -> object:
        value = self.operand(dot, node)
        return None if value is _MISSING else value

    def call(self, dot: object, node: Identifier, args: Sequence[Operand], final: object) -> object:
        self.step(node)
        name = node.name
        if name in ("and", "or"):
            value: object = None
            for arg in args:
                value = self.arg(dot, arg)
                if _truth(value) == (name == "or"):
                    return value
            if final is not _NO_FINAL:
                value = None if final is _MISSING else final
            return value
        values = [self.arg(dot, arg) for arg in args]
        if final is not _NO_FINAL:
            values.append(None if final is _MISSING else final)
        try:
            result = _FUNCS[name](values)
        except _FuncError as exc:
            raise self.fail(node, f"error calling {name}: {exc}") from None
        if isinstance(result, str | list):
            if len(result) > MAX_OUTPUT:
                raise self.fail(node, f"{name} made a value longer than {MAX_OUTPUT} characters")
            self.step(node, len(result) // _BYTES_PER_STEP)
        return result


# ---------------------------------------------------------------------------------------
# Values


def _truth(value: object) -> bool:
    if value is None or value is _MISSING:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | Mapping):
        return bool(value)
    return True


def _go_type(value: object) -> str:
    if value is None or value is _MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    return type(value).__name__


def _sort_key(key: object) -> tuple[int, float, str]:
    if isinstance(key, bool):
        return 0, float(key), ""
    if isinstance(key, int | float):
        return 1, float(key), ""
    if isinstance(key, str):
        return 2, 0.0, key
    return 3, 0.0, type(key).__name__


def _sorted_keys(mapping: Mapping[object, object]) -> list[object]:
    return sorted(mapping, key=_sort_key)


def _print_value(value: object) -> str:
    """What ``{{ pipeline }}`` writes."""
    if value is _MISSING or value is None:
        return "<no value>"
    return _format_v(value)


def _format_v(value: object) -> str:
    return _format(value, _Spec(), "v", top=True)


# ---------------------------------------------------------------------------------------
# Go's fmt, for the values templates see


class _Spec:
    __slots__ = ("minus", "plus", "precision", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.precision: int | None = None


def _pad(text: str, spec: _Spec, *, numeric: bool = False) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    if spec.minus:
        return text.ljust(spec.width)
    if spec.zero:
        sign = text[0] if numeric and text[:1] in ("+", "-", " ") else ""
        return sign + text[len(sign) :].rjust(spec.width - len(sign), "0")
    return text.rjust(spec.width)


def _bad_verb(verb: str, value: object) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_go_type(value)}={_format_v(value)})"


def _format(value: object, spec: _Spec, verb: str, *, top: bool = False) -> str:
    if verb == "T":
        return _pad(_go_type(value) if value is not None else "<nil>", spec)
    if value is None or value is _MISSING:
        if spec.sharp and verb == "v":
            return "<nil>" if top else "interface {}(nil)"
        return _pad("<nil>", spec) if verb == "v" or not top else _bad_verb(verb, None)
    if isinstance(value, bool):
        if verb in "vt":
            return _pad("true" if value else "false", spec)
        return _bad_verb(verb, value)
    if isinstance(value, int):
        return _format_int(value, spec, verb)
    if isinstance(value, float):
        return _format_float(value, spec, verb)
    if isinstance(value, str):
        return _format_str(value, spec, verb)
    if isinstance(value, list | tuple):
        if spec.sharp and verb == "v":
            return "[]interface {}{" + ", ".join(_format(v, spec, verb) for v in value) + "}"
        return "[" + " ".join(_format(v, spec, verb) for v in value) + "]"
    if isinstance(value, Mapping):
        keys = _sorted_keys(value)
        if spec.sharp and verb == "v":
            inner = ", ".join(
                f"{_format(k, spec, verb)}:{_format(value[k], spec, verb)}" for k in keys
            )
            return "map[string]interface {}{" + inner + "}"
        inner = " ".join(f"{_format(k, spec, verb)}:{_format(value[k], spec, verb)}" for k in keys)
        return "map[" + inner + "]"
    raise _FuncError(f"the template data holds a value of unsupported type {type(value).__name__}")


def _format_int(value: int, spec: _Spec, verb: str) -> str:
    if verb == "c":
        return _pad(_rune(value), spec)
    if verb == "q":
        return _pad(go_quote(_rune(value), "'", ascii_only=spec.plus), spec)
    if verb == "U":
        text = f"U+{value:04X}"
        if spec.sharp and 0 <= value <= 0x10FFFF and _rune(value).isprintable():
            text += f" '{_rune(value)}'"
        return _pad(text, spec)
    if verb in "eEfFgG":
        return _bad_verb(verb, value)
    bases = {"v": 10, "d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}
    if verb not in bases:
        return _bad_verb(verb, value)
    digits = format(abs(value), {2: "b", 8: "o", 10: "d", 16: "x"}[bases[verb]])
    if verb == "X":
        digits = digits.upper()
    if spec.precision is not None:
        digits = "" if spec.precision == 0 and value == 0 else digits.rjust(spec.precision, "0")
    prefix = ""
    if verb == "O" or (spec.sharp and verb == "o" and not digits.startswith("0")):
        prefix = "0o" if verb == "O" else "0"
    elif spec.sharp and verb in "xXb":
        prefix = "0" + verb
    sign = "-" if value < 0 else "+" if spec.plus else " " if spec.space else ""
    if spec.zero and spec.precision is None and spec.width and not spec.minus:
        digits = digits.rjust(spec.width - len(sign) - len(prefix), "0")
    return _pad(sign + prefix + digits, spec)


def _rune(value: int) -> str:
    return chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value < 0xE000 else "\ufffd"


def _format_float(value: float, spec: _Spec, verb: str) -> str:
    if verb not in "vbeEfFgGxX":
        return _bad_verb(verb, value)
    if math.isinf(value) or math.isnan(value):
        # Go always signs an infinity, and a NaN only when asked; neither is zero-padded.
        if math.isnan(value):
            text = ("+" if spec.plus else " " if spec.space else "") + "NaN"
        elif value > 0:
            text = (" " if spec.space and not spec.plus else "+") + "Inf"
        else:
            text = "-Inf"
        width = spec.width or 0
        return text.ljust(width) if spec.minus else text.rjust(width)
    prec = spec.precision
    if verb in "vgG" and prec is None:
        text = _shortest_g(value)
        if verb == "G":
            text = text.upper()
    elif verb in "gG":
        text = format(value, f".{prec}{verb}")
    elif verb in "eEfF":
        text = format(value, f".{6 if prec is None else prec}{verb}")
    elif verb in "xX":
        text = _hex_float(value, verb)
    else:  # 'b'
        mantissa, exponent = math.frexp(abs(value))
        text = f"{'-' if value < 0 else ''}{int(mantissa * 2**53)}p{exponent - 53:+d}"
    if not text.startswith("-"):
        text = ("+" if spec.plus else " " if spec.space else "") + text
    return _pad(text, spec, numeric=True)


def _shortest_g(value: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64): shortest digits, %e below 1e-4 or from 1e6."""
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # value = 0.digits x 10**point
    digits = digits.rstrip("0") or "0"
    exp = point - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= _G_EXP_LIMIT:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return neg + digits + "0" * (point - len(digits))
    return f"{neg}{digits[:point]}.{digits[point:]}"


_G_EXP_LIMIT = 6  # shortest %g (and so %v) of a float64 uses an exponent from 1e6 on


def _hex_float(value: float, verb: str) -> str:
    text = value.hex()  # -0x1.8000000000000p+1
    neg = text.startswith("-")
    mantissa, _, exponent = text.lstrip("-")[2:].partition("p")
    mantissa = mantissa.rstrip("0").rstrip(".")
    exp = int(exponent)
    result = f"{'-' if neg else ''}0x{mantissa}p{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return result.upper() if verb == "X" else result


def _format_str(value: str, spec: _Spec, verb: str) -> str:
    if verb in "vs":
        if spec.sharp and verb == "v":
            return _pad(go_quote(value), spec)
        text = value if spec.precision is None else value[: spec.precision]
        return _pad(text, spec)
    if verb == "q":
        text = value if spec.precision is None else value[: spec.precision]
        if spec.sharp and "`" not in text and all(c == "\t" or c.isprintable() for c in text):
            return _pad("`" + text + "`", spec)
        return _pad(go_quote(text, ascii_only=spec.plus), spec)
    if verb in "xX":
        data = value.encode("utf-8", "replace")
        if spec.precision is not None:
            data = data[: spec.precision]
        pieces = [f"{b:02x}" for b in data]
        if spec.sharp:
            pieces = ["0x" + p for p in pieces] if spec.space else ["0x" + "".join(pieces)]
        text = (" " if spec.space else "").join(pieces)
        return _pad(text.upper() if verb == "X" else text, spec)
    return _bad_verb(verb, value)


_MAX_WIDTH = 1_000_000  # Go's fmt ignores a larger width or precision


def _sprintf(format_: str, args: Sequence[object]) -> str:
    out: list[str] = []
    i, n, argnum = 0, len(format_), 0

    def number() -> int | None:
        nonlocal i
        start = i
        while i < n and format_[i].isdigit() and format_[i].isascii():
            i += 1
        if i == start:
            return None
        value = int(format_[start:i])
        return value if value <= _MAX_WIDTH else None

    while i < n:
        j = format_.find("%", i)
        if j < 0:
            out.append(format_[i:])
            break
        out.append(format_[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and format_[i] in "+-# 0":
            flag = format_[i]
            spec.plus |= flag == "+"
            spec.minus |= flag == "-"
            spec.sharp |= flag == "#"
            spec.space |= flag == " "
            spec.zero |= flag == "0"
            i += 1
        bad_width = False
        if i < n and format_[i] == "*":
            i += 1
            if argnum < len(args) and _is_int(args[argnum]):
                width = args[argnum]
                assert isinstance(width, int)
                if abs(width) > _MAX_WIDTH:
                    bad_width = True
                else:
                    spec.width, spec.minus = abs(width), spec.minus or width < 0
            else:
                bad_width = True
            argnum += 1
        else:
            spec.width = number()
        if bad_width:
            out.append("%!(BADWIDTH)")
        if i < n and format_[i] == ".":
            i += 1
            if i < n and format_[i] == "*":
                i += 1
                given = args[argnum] if argnum < len(args) else None
                argnum += 1
                if _is_int(given) and isinstance(given, int) and 0 <= given <= _MAX_WIDTH:
                    spec.precision = given
                else:
                    out.append("%!(BADPREC)")
            else:
                spec.precision = number() or 0
        spec.zero = spec.zero and not spec.minus
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = format_[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif argnum >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_format(args[argnum], spec, verb, top=True))
            argnum += 1
    if argnum < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{_go_type(a)}={_format_v(a)}" for a in args[argnum:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------
# Builtin functions; arities are checked at parse time (template_parse.BUILTINS)


def _sprint(args: Sequence[object]) -> str:
    out: list[str] = []
    previous_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not previous_string:
            out.append(" ")
        out.append(_format_v(arg))
        previous_string = is_string
    return "".join(out)


def _text_of(args: Sequence[object]) -> str:
    """Go's evalArgs: a lone string as is, anything else as print would write it."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(args)


def _printf(args: Sequence[object]) -> str:
    format_ = args[0]
    if not isinstance(format_, str):
        got = "nil" if format_ is None else _go_type(format_)
        raise _FuncError(f"wrong type for value; expected string; got {got}")
    return _sprintf(format_, args[1:])


def _kind(value: object) -> str | None:
    """Go's basicKind: the comparable kinds; None for nil, lists and maps."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return None


def _eq(args: Sequence[object]) -> bool:
    first, others = args[0], args[1:]
    if not others:
        raise _FuncError("missing argument for comparison")
    k1 = _kind(first)
    for other in others:
        k2 = _kind(other)
        if k1 != k2:
            if first is not None and other is not None:
                raise _FuncError("incompatible types for comparison")
            continue
        if k1 is None:  # neither is a basic value
            if first is None or other is None:
                if first is None and other is None:
                    return True
                continue
            raise _FuncError(
                f"non-comparable types {_format_v(first)}: {_go_type(first)}, "
                f"{_go_type(other)}: {_format_v(other)}"
            )
        if first == other:
            return True
    return False


def _lt(args: Sequence[object]) -> bool:
    a, b = args
    ka, kb = _kind(a), _kind(b)
    if ka is None or kb is None:
        raise _FuncError("invalid type for comparison")
    if ka != kb:
        raise _FuncError("incompatible types for comparison")
    if ka == "bool":
        raise _FuncError("invalid type for comparison")
    return bool(a < b)  # type: ignore[operator]


def _len(args: Sequence[object]) -> int:
    item = args[0]
    if isinstance(item, str):
        return len(item.encode("utf-8", "replace"))  # Go counts bytes
    if isinstance(item, list | tuple | Mapping):
        return len(item)
    raise _FuncError("len of untyped nil" if item is None else f"len of type {_go_type(item)}")


def _index_arg(index: object, size: int) -> int:
    if index is None:
        raise _FuncError("cannot index slice/array with nil")
    if not _is_int(index):
        raise _FuncError(f"cannot index slice/array with type {_go_type(index)}")
    assert isinstance(index, int)
    if not 0 <= index <= size:
        raise _FuncError(f"index out of range: {index}")
    return index


def _index(args: Sequence[object]) -> object:
    item = args[0]
    if item is None:
        raise _FuncError("index of untyped nil")
    for index in args[1:]:
        if item is None:
            raise _FuncError("index of nil pointer")
        if isinstance(item, str | list | tuple):
            size = len(item.encode("utf-8", "replace")) if isinstance(item, str) else len(item)
            i = _index_arg(index, size)
            if i == size:
                raise _FuncError(f"index out of range: {i}")
            item = item.encode("utf-8", "replace")[i] if isinstance(item, str) else item[i]
        elif isinstance(item, Mapping):
            if index is None:
                raise _FuncError("value is nil; should be of type string")
            if isinstance(index, list | tuple | Mapping):
                raise _FuncError(f"value has type {_go_type(index)}; should be string")
            item = item.get(index)
        else:
            raise _FuncError(f"can't index item of type {_go_type(item)}")
    return item


def _slice(args: Sequence[object]) -> object:
    item, indexes = args[0], args[1:]
    if item is None:
        raise _FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        data = item.encode("utf-8", "replace")
        size = len(data)
    elif isinstance(item, list | tuple):
        size = len(item)
    else:
        raise _FuncError(f"can't slice item of type {_go_type(item)}")
    bounds = [0, size]
    for i, index in enumerate(indexes):
        if i < 2:
            bounds[i] = _index_arg(index, size)
        else:
            bounds.append(_index_arg(index, size))
    for low, high in itertools.pairwise(bounds):
        if low > high:
            raise _FuncError(f"invalid slice index: {low} > {high}")
    low, high = bounds[0], bounds[1]
    if isinstance(item, str):
        return data[low:high].decode("utf-8", "replace")
    return list(item[low:high])


_HTML = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _html(args: Sequence[object]) -> str:
    return "".join(_HTML.get(c, c) for c in _text_of(args))


def _js(args: Sequence[object]) -> str:
    out: list[str] = []
    for c in _text_of(args):
        if c in _JS:
            out.append(_JS[c])
        elif c < " ":
            out.append(f"\\u00{ord(c):02X}")
        elif ord(c) >= 0x80 and not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(args: Sequence[object]) -> str:
    return quote_plus(_text_of(args), safe="", errors="replace")


_FUNCS: dict[str, Callable[[Sequence[object]], object]] = {
    "not": lambda a: not _truth(a[0]),
    "eq": _eq,
    "ne": lambda a: not _eq(a),
    "lt": _lt,
    "le": lambda a: _lt(a) or _eq(a),
    "gt": lambda a: not (_lt(a) or _eq(a)),
    "ge": lambda a: not _lt(a),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _sprint,
    "printf": _printf,
    "println": lambda a: " ".join(_format_v(x) for x in a) + "\n",
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
}
