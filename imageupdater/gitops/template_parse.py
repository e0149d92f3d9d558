"""Lexer and parser for the Go ``text/template`` subset of :mod:`imageupdater.gitops.template`.

It follows Go's ``text/template/parse`` closely (same tokens, same trimming rules, the same
error wording where it is clear), builds a tree of frozen nodes and refuses, at parse time,
what the renderer does not do: ``define``/``template``/``block``, unknown functions,
arguments given to data fields (method calls) and wrong argument counts for builtins.
Positions are character offsets into the template text; :func:`location` turns one into
the 1-based line and column a :class:`~imageupdater.errors.TemplateError` carries.
"""

from __future__ import annotations

__all__ = [
    "BUILTINS",
    "MAX_DEPTH",
    "MAX_TEMPLATE_SIZE",
    "Action",
    "Bool",
    "Break",
    "Chain",
    "Command",
    "Continue",
    "Dot",
    "Field",
    "Identifier",
    "If",
    "Nil",
    "Node",
    "Number",
    "Operand",
    "Pipe",
    "Range",
    "String",
    "Text",
    "Variable",
    "With",
    "go_quote",
    "location",
    "parse",
    "source",
]

import contextlib
import re
from dataclasses import dataclass
from enum import Enum, auto
from typing import NoReturn, TypeAlias

from imageupdater.errors import TemplateError

MAX_DEPTH = 100  # nested if/range/with blocks and parentheses together
MAX_TEMPLATE_SIZE = 1 << 20  # characters of template text

# name -> (least number of arguments, most or None for any number)
BUILTINS: dict[str, tuple[int, int | None]] = {
    "and": (1, None),
    "or": (1, None),
    "not": (1, 1),
    "eq": (1, None),
    "ne": (2, 2),
    "lt": (2, 2),
    "le": (2, 2),
    "gt": (2, 2),
    "ge": (2, 2),
    "len": (1, 1),
    "index": (1, None),
    "slice": (1, None),
    "print": (0, None),
    "printf": (1, None),
    "println": (0, None),
    "html": (0, None),
    "js": (0, None),
    "urlquery": (0, None),
}

_SPACE = " \t\r\n"
_KEYWORDS = frozenset(
    ["block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"]
)


# ---------------------------------------------------------------------------------------
# Nodes


@dataclass(frozen=True, slots=True)
class Text:
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Field:
    """``.A.B``: names looked up in turn, starting from dot."""

    pos: int
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """``$x.A.B``: the variable ``$x`` then the field names."""

    pos: int
    name: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dot:
    pos: int


@dataclass(frozen=True, slots=True)
class Nil:
    pos: int


@dataclass(frozen=True, slots=True)
class Bool:
    pos: int
    value: bool


@dataclass(frozen=True, slots=True)
class Number:
    pos: int
    value: int | float
    text: str


@dataclass(frozen=True, slots=True)
class String:
    pos: int
    value: str
    text: str  # as written, quotes included


@dataclass(frozen=True, slots=True)
class Identifier:
    """A builtin function's name."""

    pos: int
    name: str


@dataclass(frozen=True, slots=True)
class Chain:
    """``(pipeline).A.B`` or ``fn.A``: an operand followed by field names."""

    pos: int
    node: Operand
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Command:
    pos: int
    args: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Pipe:
    """``$x := cmd | cmd``; as an operand it is a parenthesised pipeline."""

    pos: int
    decl: tuple[str, ...]
    is_assign: bool
    cmds: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Action:
    pos: int
    pipe: Pipe


@dataclass(frozen=True, slots=True)
class If:
    pos: int
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...] | None


@dataclass(frozen=True, slots=True)
class With:
    pos: int
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...] | None


@dataclass(frozen=True, slots=True)
class Range:
    pos: int
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...] | None


@dataclass(frozen=True, slots=True)
class Break:
    pos: int


@dataclass(frozen=True, slots=True)
class Continue:
    pos: int


Operand: TypeAlias = (
    Field | Variable | Dot | Nil | Bool | Number | String | Identifier | Chain | Pipe
)
Node: TypeAlias = Text | Action | If | With | Range | Break | Continue


def source(node: Node | Operand | Command) -> str:
    """The node written back as template text (Go's ``Node.String``), for error context."""
    match node:
        case Text(text=text):
            return text
        case Field(names=names):
            return "".join("." + n for n in names)
        case Variable(name=name, names=names):
            return name + "".join("." + n for n in names)
        case Dot():
            return "."
        case Nil():
            return "nil"
        case Bool(value=value):
            return "true" if value else "false"
        case Number(text=text) | String(text=text):
            return text
        case Identifier(name=name):
            return name
        case Chain(node=inner, names=names):
            base = f"({source(inner)})" if isinstance(inner, Pipe) else source(inner)
            return base + "".join("." + n for n in names)
        case Command(args=args):
            return " ".join(f"({source(a)})" if isinstance(a, Pipe) else source(a) for a in args)
        case Pipe(decl=decl, is_assign=is_assign, cmds=cmds):
            head = f"{', '.join(decl)} {'=' if is_assign else ':='} " if decl else ""
            return head + " | ".join(source(c) for c in cmds)
        case Action(pipe=pipe):
            return "{{" + source(pipe) + "}}"
        case If() | With() | Range():
            word = type(node).__name__.lower()
            text = "{{" + word + " " + source(node.pipe) + "}}"
            text += "".join(source(n) for n in node.body)
            if node.orelse is not None:
                text += "{{else}}" + "".join(source(n) for n in node.orelse)
            return text + "{{end}}"
        case Break():
            return "{{break}}"
        case Continue():
            return "{{continue}}"


def location(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column (in characters) of offset ``pos`` in ``text``."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, column


def go_quote(text: str, quote: str = '"', *, ascii_only: bool = False) -> str:
    """Go's ``strconv.Quote`` (or ``QuoteRune`` with ``quote="'"``)."""
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable() and (not ascii_only or code < 0x80):
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code < 0xE000:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


_SHORT_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


# ---------------------------------------------------------------------------------------
# Lexer


class _T(Enum):
    ERROR = auto()
    TEXT = auto()
    LEFT = auto()  # {{
    RIGHT = auto()  # }}
    SPACE = auto()
    FIELD = auto()
    VARIABLE = auto()
    DOT = auto()
    IDENT = auto()
    KEYWORD = auto()
    BOOL = auto()
    NIL = auto()
    NUMBER = auto()
    CHAR_CONST = auto()
    STRING = auto()
    RAW_STRING = auto()
    PIPE = auto()
    LPAREN = auto()
    RPAREN = auto()
    DECLARE = auto()
    ASSIGN = auto()
    CHAR = auto()  # any other printable ASCII character, such as ","
    EOF = auto()


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _T
    val: str
    pos: int

    def __str__(self) -> str:  # Go's item.String, as used in "unexpected X in Y"
        if self.kind is _T.EOF:
            return "EOF"
        if self.kind in (_T.KEYWORD, _T.DOT, _T.NIL):
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()


def _describe(ch: str) -> str:  # Go's %#U
    code = f"U+{ord(ch):04X}"
    return f"{code} {ch!r}" if ch.isprintable() else code


class _Lexer:
    """Go's lexer, run to completion: a list of tokens ending in EOF or one ERROR."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[_Token] = []
        self.paren_depth = 0

    def run(self) -> list[_Token]:
        with contextlib.suppress(_LexStop):
            self._lex_text()
        return self.tokens

    def _emit(self, kind: _T, start: int, end: int | None = None) -> None:
        end = self.pos if end is None else end
        self.tokens.append(_Token(kind, self.text[start:end], start))

    def _error(self, message: str, pos: int) -> NoReturn:
        self.tokens.append(_Token(_T.ERROR, message, pos))
        raise _LexStop

    def _lex_text(self) -> None:
        text = self.text
        while True:
            start = self.pos
            x = text.find("{{", start)
            if x < 0:
                if start < len(text):
                    self.tokens.append(_Token(_T.TEXT, text[start:], start))
                self.tokens.append(_Token(_T.EOF, "", len(text)))
                return
            chunk = text[start:x]
            if self._left_trim_at(x + 2):
                chunk = chunk.rstrip(_SPACE)
            if chunk:
                self.tokens.append(_Token(_T.TEXT, chunk, start))
            self._lex_left_delim(x)

    def _left_trim_at(self, p: int) -> bool:
        return (
            self.text.startswith("-", p) and p + 1 < len(self.text) and self.text[p + 1] in _SPACE
        )

    def _right_delim_at(self, p: int) -> tuple[bool, bool]:
        """(is there a closing delimiter at p, does it trim) — ' -}}' or '}}'."""
        text = self.text
        if (
            p + 1 < len(text)
            and text[p] in _SPACE
            and text[p + 1] == "-"
            and text.startswith("}}", p + 2)
        ):
            return True, True
        return text.startswith("}}", p), False

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def _lex_left_delim(self, x: int) -> None:
        after = x + 2 + (2 if self._left_trim_at(x + 2) else 0)
        if self.text.startswith("/*", after):
            end = self.text.find("*/", after + 2)
            if end < 0:
                self._error("unclosed comment", x)
            self.pos = end + 2
            delim, trim = self._right_delim_at(self.pos)
            if not delim:
                self._error("comment ends before closing delimiter", x)
            self.pos += 4 if trim else 2
            if trim:
                self._skip_space()
            return
        self.tokens.append(_Token(_T.LEFT, "{{", x))
        self.pos = after
        self.paren_depth = 0
        self._lex_inside_action(x)

    def _lex_inside_action(self, action_start: int) -> None:
        text = self.text
        while True:
            delim, trim = self._right_delim_at(self.pos)
            if delim:
                if self.paren_depth:
                    self._error("unclosed left paren", self.pos)
                at = self.pos + (2 if trim else 0)
                self.tokens.append(_Token(_T.RIGHT, "}}", at))
                self.pos = at + 2
                if trim:
                    self._skip_space()
                return
            start = self.pos
            if start >= len(text):
                self._error("unclosed action", action_start)
            ch = text[start]
            self.pos += 1
            if ch in _SPACE:
                self._skip_space()
                # ' -}}' after spaces: leave its space for the delimiter check above.
                if self._right_delim_at(self.pos - 1) == (True, True):
                    self.pos -= 1
                    if self.pos == start:
                        continue
                self._emit(_T.SPACE, start)
            elif ch == "=":
                self._emit(_T.ASSIGN, start)
            elif ch == ":":
                if not text.startswith("=", self.pos):
                    self._error("expected :=", start)
                self.pos += 1
                self._emit(_T.DECLARE, start)
            elif ch == "|":
                self._emit(_T.PIPE, start)
            elif ch == '"':
                self._lex_quote(start, '"', _T.STRING, "unterminated quoted string")
            elif ch == "'":
                self._lex_quote(start, "'", _T.CHAR_CONST, "unterminated character constant")
            elif ch == "`":
                end = text.find("`", self.pos)
                if end < 0:
                    self._error("unterminated raw quoted string", start)
                self.pos = end + 1
                self._emit(_T.RAW_STRING, start)
            elif ch == "$":
                self._lex_field_or_variable(start, _T.VARIABLE)
            elif ch == "." and not (self.pos < len(text) and "0" <= text[self.pos] <= "9"):
                self._lex_field_or_variable(start, _T.FIELD)
            elif ch in "+-." or "0" <= ch <= "9":
                self.pos = start
                self._lex_number(start)
            elif _is_alnum(ch):
                self._lex_identifier(start)
            elif ch == "(":
                self.paren_depth += 1
                self._emit(_T.LPAREN, start)
            elif ch == ")":
                self.paren_depth -= 1
                if self.paren_depth < 0:
                    self._error("unexpected right paren", start)
                self._emit(_T.RPAREN, start)
            elif ord(ch) < 0x80 and ch.isprintable():
                self._emit(_T.CHAR, start)
            else:
                self._error(f"unrecognized character in action: {_describe(ch)}", start)

    def _lex_quote(self, start: int, quote: str, kind: _T, unterminated: str) -> None:
        text = self.text
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                self._error(unterminated, start)
            ch = text[self.pos]
            self.pos += 1
            if ch == "\\":
                if self.pos >= len(text) or text[self.pos] == "\n":
                    self._error(unterminated, start)
                self.pos += 1
            elif ch == quote:
                self._emit(kind, start)
                return

    def _at_terminator(self) -> bool:
        if self.pos >= len(self.text):
            return True
        ch = self.text[self.pos]
        return ch in _SPACE or ch in ".,|:()" or self.text.startswith("}}", self.pos)

    def _scan_word(self) -> None:
        while self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
            self.pos += 1
        if not self._at_terminator():
            self._error(f"bad character {_describe(self.text[self.pos])}", self.pos)

    def _lex_field_or_variable(self, start: int, kind: _T) -> None:
        if self._at_terminator():  # a lone "." or "$"
            self._emit(_T.DOT if kind is _T.FIELD else _T.VARIABLE, start)
            return
        self._scan_word()
        self._emit(kind, start)

    def _lex_identifier(self, start: int) -> None:
        self._scan_word()
        word = self.text[start : self.pos]
        if word in _KEYWORDS:
            kind = _T.KEYWORD
        elif word in ("true", "false"):
            kind = _T.BOOL
        elif word == "nil":
            kind = _T.NIL
        else:
            kind = _T.IDENT
        self._emit(kind, start)

    def _accept(self, chars: str) -> bool:
        if self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1
            return True
        return False

    def _accept_run(self, chars: str) -> None:
        while self._accept(chars):
            pass

    def _lex_number(self, start: int) -> None:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
            self.pos += 1
            self._error(f"bad number syntax: {go_quote(self.text[start : self.pos])}", start)
        self._emit(_T.NUMBER, start)


class _LexStop(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Literals

_OCTAL_INT = re.compile(r"[+-]?0[0-7_]+")
_INT64 = range(-(1 << 63), 1 << 63)


def _number(text: str) -> int | float:
    """A Go number literal's value: an int when it is an integer literal, else a float.

    Raises ValueError with Go's wording."""
    if text.endswith("i"):
        raise ValueError(f"complex numbers are not supported: {go_quote(text)}")
    value: int | float | None = None
    try:
        if _OCTAL_INT.fullmatch(text):
            sign, body = ("-", text[1:]) if text[0] in "+-" else ("", text)
            value = int(sign + "0o" + body[1:], 0)
        else:
            value = int(text, 0)
    except ValueError:
        pass
    if isinstance(value, int):
        if value not in _INT64:
            raise ValueError(f"integer overflow: {go_quote(text)}")
        return value
    try:
        is_hex = text.lstrip("+-")[:2] in ("0x", "0X")
        number = float.fromhex(text) if is_hex else float(text)
    except ValueError:
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f"integer overflow: {go_quote(text)}")
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"illegal number syntax: {go_quote(text)}")
    return number


_SIMPLE_UNESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def _unquote(body: str, quote: str) -> str:
    """Go's strconv.Unquote of the inside of a "..." or '...' literal. Bytes written as
    \\x or octal escapes that do not form UTF-8 become U+FFFD."""
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        i += 1
        if ch != "\\":
            out += ch.encode("utf-8", "surrogatepass")
            continue
        esc = body[i : i + 1]
        i += 1
        if esc in _SIMPLE_UNESCAPES:
            out += _SIMPLE_UNESCAPES[esc].encode()
        elif esc == quote:
            out += esc.encode()
        elif esc in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i : i + size]
            if len(digits) != size or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid syntax")
            i += size
            code = int(digits, 16)
            if esc == "x":
                out.append(code)
            elif code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise ValueError("invalid syntax")
            else:
                out += chr(code).encode()
        elif esc and esc in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise ValueError("invalid syntax")
            code = int(digits, 8)
            if code > 255:
                raise ValueError("invalid syntax")
            i += 2
            out.append(code)
        else:
            raise ValueError("invalid syntax")
    return out.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------
# Parser


class _End:
    def __str__(self) -> str:
        return "{{end}}"


class _Else:
    def __str__(self) -> str:
        return "{{else}}"


_ARG_START = frozenset(
    [
        _T.BOOL,
        _T.CHAR_CONST,
        _T.DOT,
        _T.FIELD,
        _T.IDENT,
        _T.NUMBER,
        _T.NIL,
        _T.RAW_STRING,
        _T.STRING,
        _T.VARIABLE,
        _T.LPAREN,
    ]
)


class _Parser:
    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.tokens = _Lexer(text).run()
        self.i = 0
        self.vars = ["$"]
        self.range_depth = 0
        self.depth = 0

    # -- errors and token access

    def error(self, message: str, pos: int) -> NoReturn:
        line, column = location(self.text, pos)
        raise TemplateError(
            f"template: {self.name}:{line}:{column}: {message}", line=line, column=column
        )

    def unexpected(self, token: _Token, context: str) -> NoReturn:
        self.error(f"unexpected {token} in {context}", token.pos)

    def peek(self) -> _Token:
        token = self.tokens[min(self.i, len(self.tokens) - 1)]
        if token.kind is _T.ERROR:
            self.error(token.val, token.pos)
        return token

    def next(self) -> _Token:
        token = self.peek()
        self.i += 1
        return token

    def backup(self) -> None:
        self.i -= 1

    def peek_non_space(self) -> _Token:
        token = self.next_non_space()
        self.backup()
        return token

    def next_non_space(self) -> _Token:
        token = self.next()
        while token.kind is _T.SPACE:
            token = self.next()
        return token

    def expect(self, kind: _T, context: str) -> _Token:
        token = self.next_non_space()
        if token.kind is not kind:
            self.unexpected(token, context)
        return token

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.error(f"template is nested more than {MAX_DEPTH} levels deep", pos)

    # -- structure

    def parse(self) -> tuple[Node, ...]:
        if len(self.text) > MAX_TEMPLATE_SIZE:
            raise TemplateError(
                f"template: {self.name}: template is longer than {MAX_TEMPLATE_SIZE} characters"
            )
        nodes: list[Node] = []
        while self.peek().kind is not _T.EOF:
            start = self.peek().pos
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                self.error(f"unexpected {node}", start)
            nodes.append(node)
        return tuple(nodes)

    def item_list(self, word: str, pos: int) -> tuple[tuple[Node, ...], _End | _Else]:
        nodes: list[Node] = []
        while self.peek_non_space().kind is not _T.EOF:
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                return tuple(nodes), node
            nodes.append(node)
        self.error(f"unexpected EOF: {{{{{word}}}}} has no matching {{{{end}}}}", pos)

    def text_or_action(self) -> Node | _End | _Else:
        token = self.next_non_space()
        if token.kind is _T.TEXT:
            return Text(token.pos, token.val)
        if token.kind is _T.LEFT:
            return self.action()
        self.unexpected(token, "input")

    def action(self) -> Node | _End | _Else:
        token = self.next_non_space()
        if token.kind is _T.KEYWORD:
            word = token.val
            if word in ("define", "template", "block"):
                self.error(
                    f"{{{{{word}}}}} is not supported: only a single template can be rendered",
                    token.pos,
                )
            if word in ("break", "continue"):
                after = self.next_non_space()
                if after.kind is not _T.RIGHT:
                    self.unexpected(after, f"{{{{{word}}}}}")
                if not self.range_depth:
                    self.error(f"{{{{{word}}}}} outside {{{{range}}}}", token.pos)
                return Break(token.pos) if word == "break" else Continue(token.pos)
            if word == "end":
                self.expect(_T.RIGHT, "end")
                return _End()
            if word == "else":
                peek = self.peek_non_space()
                if not (peek.kind is _T.KEYWORD and peek.val in ("if", "with")):
                    self.expect(_T.RIGHT, "else")
                return _Else()
            return self.control(word, token.pos)
        self.backup()
        pos = self.peek_non_space().pos
        return Action(pos, self.pipeline("command", _T.RIGHT))

    def control(self, word: str, pos: int) -> If | With | Range:
        self.enter(pos)
        mark = len(self.vars)
        pipe = self.pipeline(word, _T.RIGHT)
        if word == "range":
            self.range_depth += 1
        body, end = self.item_list(word, pos)
        if word == "range":
            self.range_depth -= 1
        orelse: tuple[Node, ...] | None = None
        if isinstance(end, _Else):
            peek = self.peek_non_space()
            if word in ("if", "with") and peek.kind is _T.KEYWORD and peek.val == word:
                self.next_non_space()
                orelse = (self.control(word, peek.pos),)  # its {{end}} ends us too
            else:
                orelse, end = self.item_list(word, pos)
                if not isinstance(end, _End):
                    self.error(f"expected end; found {end}", self.tokens[self.i - 1].pos)
        del self.vars[mark:]
        self.depth -= 1
        if word == "if":
            return If(pos, pipe, body, orelse)
        if word == "with":
            return With(pos, pipe, body, orelse)
        return Range(pos, pipe, body, orelse)

    # -- pipelines

    def pipeline(self, context: str, end: _T) -> Pipe:
        pos = self.peek_non_space().pos
        decl: list[str] = []
        is_assign = False
        while (token := self.peek_non_space()).kind is _T.VARIABLE:
            start = self.i
            self.next_non_space()
            after = self.next_non_space()
            if after.kind in (_T.DECLARE, _T.ASSIGN):
                is_assign = after.kind is _T.ASSIGN
                decl.append(token.val)
                break
            if after.kind is _T.CHAR and after.val == ",":
                decl.append(token.val)
                if context == "range" and len(decl) < 2:
                    if self.peek_non_space().kind in (_T.VARIABLE, _T.RIGHT, _T.RPAREN):
                        continue
                    self.error("range can only initialize variables", after.pos)
                self.error(f"too many declarations in {context}", after.pos)
            self.i = start  # $x is an operand, not a declaration
            break
        for name in decl:
            if is_assign and name not in self.vars:
                self.error(f"undefined variable {go_quote(name)}", pos)
        cmds: list[Command] = []
        while True:
            token = self.next_non_space()
            if token.kind is end:
                break
            if token.kind not in _ARG_START:
                self.unexpected(token, context)
            self.backup()
            cmds.append(self.command(context))
            if self.tokens[self.i - 1].kind is _T.PIPE:
                after = self.peek_non_space()
                if after.kind is end:
                    self.error("missing command after |", after.pos)
        if not is_assign:
            self.vars.extend(decl)
        pipe = Pipe(pos, tuple(decl), is_assign, tuple(cmds))
        self.check_pipeline(pipe, context, token.pos)
        return pipe

    def check_pipeline(self, pipe: Pipe, context: str, end_pos: int) -> None:
        if not pipe.cmds:
            self.error(f"missing value for {context}", end_pos)
        for stage, cmd in enumerate(pipe.cmds, start=1):
            first = cmd.args[0]
            given = len(cmd.args) - 1 + (stage > 1)  # a later stage gets the previous value
            for arg in cmd.args[1:]:  # a function named as an argument is called without any
                called = arg.node if isinstance(arg, Chain) else arg
                if isinstance(called, Identifier):
                    self.check_arity(called, 0)
            if isinstance(first, Identifier):
                self.check_arity(first, given)
                continue
            if stage > 1 and isinstance(first, Bool | Dot | Nil | Number | String):
                self.error(f"non executable command in pipeline stage {stage}", first.pos)
            if not given:
                continue
            if isinstance(first, Field | Chain) or (isinstance(first, Variable) and first.names):
                self.error(
                    f"{source(first)} is a data field, not a method: it takes no arguments"
                    " (method calls are not supported)",
                    first.pos,
                )
            self.error(f"can't give argument to non-function {source(first)}", first.pos)

    def check_arity(self, function: Identifier, given: int) -> None:
        least, most = BUILTINS[function.name]
        if given < least or (most is not None and given > most):
            want = f"at least {least}" if most is None else str(least)
            self.error(
                f"wrong number of args for {function.name}: want {want} got {given}",
                function.pos,
            )

    def command(self, context: str) -> Command:
        pos = self.peek_non_space().pos
        args: list[Operand] = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            token = self.next()
            if token.kind is _T.SPACE:
                continue
            if token.kind in (_T.RIGHT, _T.RPAREN):
                self.backup()
            elif token.kind is not _T.PIPE:
                self.unexpected(token, "operand")
            break
        if not args:
            self.error("empty command", pos)
        return Command(pos, tuple(args))

    def operand(self) -> Operand | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind is not _T.FIELD:
            return node
        names: list[str] = []
        while self.peek().kind is _T.FIELD:
            names.append(self.next().val[1:])
        match node:
            case Field():
                return Field(node.pos, node.names + tuple(names))
            case Variable():
                return Variable(node.pos, node.name, node.names + tuple(names))
            case Bool() | Number() | String() | Nil() | Dot():
                self.error(f"unexpected . after term {go_quote(source(node))}", node.pos)
            case _:
                return Chain(node.pos, node, tuple(names))

    def term(self) -> Operand | None:
        token = self.next_non_space()
        kind, val, pos = token.kind, token.val, token.pos
        if kind is _T.IDENT:
            if val == "call":
                self.error('function "call" is not supported', pos)
            if val not in BUILTINS:
                self.error(f"function {go_quote(val)} not defined", pos)
            return Identifier(pos, val)
        if kind is _T.DOT:
            return Dot(pos)
        if kind is _T.NIL:
            return Nil(pos)
        if kind is _T.VARIABLE:
            if val not in self.vars:
                self.error(f"undefined variable {go_quote(val)}", pos)
            return Variable(pos, val)
        if kind is _T.FIELD:
            return Field(pos, (val[1:],))
        if kind is _T.BOOL:
            return Bool(pos, val == "true")
        if kind is _T.NUMBER:
            try:
                return Number(pos, _number(val), val)
            except ValueError as exc:
                self.error(str(exc), pos)
        if kind is _T.CHAR_CONST:
            try:
                char = _unquote(val[1:-1], "'")
            except ValueError:
                self.error(f"malformed character constant: {val}", pos)
            if len(char) != 1:
                self.error(f"malformed character constant: {val}", pos)
            return Number(pos, ord(char), val)
        if kind is _T.LPAREN:
            self.enter(pos)
            pipe = self.pipeline("parenthesized pipeline", _T.RPAREN)
            self.depth -= 1
            return Pipe(pos, pipe.decl, pipe.is_assign, pipe.cmds)
        if kind is _T.STRING:
            try:
                return String(pos, _unquote(val[1:-1], '"'), val)
            except ValueError:
                self.error(f"invalid escape in quoted string {val}", pos)
        if kind is _T.RAW_STRING:
            return String(pos, val[1:-1].replace("\r", ""), val)
        self.backup()
        return None


def parse(text: str, name: str) -> tuple[Node, ...]:
    """The template's top-level nodes; raises TemplateError with line and column."""
    return _Parser(text, name).parse()
