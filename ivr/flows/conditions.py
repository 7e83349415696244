"""The condition language of ``branch`` nodes: small, safe, never Python ``eval``.

    caller.count == 1
    balance.amount_due > 0 and not balance.paid
    outage is set or language == "en"

Operands are variable paths (``caller.count``), numbers, quoted strings and
``true``/``false``/``none``. Operators: ``== != < <= > >=``, ``and``, ``or``, ``not``,
``is set`` / ``is not set`` and parentheses. A comparison between values of different
types (a missing variable against a number) is simply false, never an error in a call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ivr.errors import IvrError

#: Conditions are one-liners for supervisors; anything longer belongs in a lookup.
MAX_CONDITION_LENGTH = 300

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+(?:\.\d+)?)
      | (?P<str>"[^"]*"|'[^']*')
      | (?P<op>==|!=|<=|>=|<|>|\(|\))
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "is", "set", "true", "false", "none"}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


class ConditionError(IvrError, ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset
        """0-based position in the condition text where the problem is."""


@dataclass(frozen=True, slots=True)
class Var:
    path: str
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Lit:
    value: Any


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Var | Lit
    right: Var | Lit


@dataclass(frozen=True, slots=True)
class IsSet:
    var: Var
    negate: bool


@dataclass(frozen=True, slots=True)
class Truthy:
    operand: Var | Lit


@dataclass(frozen=True, slots=True)
class Not:
    inner: Expr


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str
    """``and`` or ``or``."""
    parts: tuple[Expr, ...]


Expr = Compare | IsSet | Truthy | Not | BoolOp


@dataclass(frozen=True, slots=True)
class Condition:
    text: str
    expr: Expr

    def variables(self) -> list[Var]:
        found: list[Var] = []
        _collect(self.expr, found)
        return found

    def evaluate(self, resolve: Callable[[str], Any]) -> bool:
        return _eval(self.expr, resolve)


def _collect(expr: Expr, out: list[Var]) -> None:
    if isinstance(expr, Compare):
        out.extend(x for x in (expr.left, expr.right) if isinstance(x, Var))
    elif isinstance(expr, IsSet):
        out.append(expr.var)
    elif isinstance(expr, Truthy):
        if isinstance(expr.operand, Var):
            out.append(expr.operand)
    elif isinstance(expr, Not):
        _collect(expr.inner, out)
    else:
        for part in expr.parts:
            _collect(part, out)


def _value(operand: Var | Lit, resolve: Callable[[str], Any]) -> Any:
    return resolve(operand.path) if isinstance(operand, Var) else operand.value


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    numeric = (int, float)
    comparable = (isinstance(a, numeric) and isinstance(b, numeric)) or (
        isinstance(a, str) and isinstance(b, str)
    )
    if not comparable or isinstance(a, bool) or isinstance(b, bool):
        return False  # ordering a missing value or mixed types: false, not an exception
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _eval(expr: Expr, resolve: Callable[[str], Any]) -> bool:
    if isinstance(expr, Compare):
        return _compare(expr.op, _value(expr.left, resolve), _value(expr.right, resolve))
    if isinstance(expr, IsSet):
        present = resolve(expr.var.path) is not None
        return not present if expr.negate else present
    if isinstance(expr, Truthy):
        return bool(_value(expr.operand, resolve))
    if isinstance(expr, Not):
        return not _eval(expr.inner, resolve)
    if expr.op == "and":
        return all(_eval(p, resolve) for p in expr.parts)
    return any(_eval(p, resolve) for p in expr.parts)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    """num, str, op, word, kw, end."""
    text: str
    offset: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            stripped = len(text[pos:]) - len(text[pos:].lstrip())
            raise ConditionError(
                f"unexpected character {text[pos + stripped]!r}", pos + stripped
            )
        kind = match.lastgroup or ""
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "word" and raw in _KEYWORDS:
            kind = "kw"
        tokens.append(_Tok(kind, raw, start))
        pos = match.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, text: str) -> bool:
        if self.tok.kind == kind and self.tok.text == text:
            self.i += 1
            return True
        return False

    def fail(self, expected: str) -> ConditionError:
        found = "the end" if self.tok.kind == "end" else repr(self.tok.text)
        return ConditionError(f"expected {expected}, found {found}", self.tok.offset)

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.tok.kind != "end":
            raise self.fail("'and', 'or' or the end")
        return expr

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.accept("kw", "or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_expr(self) -> Expr:
        parts = [self.not_expr()]
        while self.accept("kw", "and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_expr(self) -> Expr:
        if self.accept("kw", "not"):
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Expr:
        if self.accept("op", "("):
            inner = self.or_expr()
            if not self.accept("op", ")"):
                raise self.fail("')'")
            return inner
        left = self.operand()
        if self.accept("kw", "is"):
            negate = self.accept("kw", "not")
            if not self.accept("kw", "set"):
                raise self.fail("'set' after 'is'")
            if not isinstance(left, Var):
                raise ConditionError("'is set' needs a variable on its left", self.tok.offset)
            return IsSet(left, negate)
        if self.tok.kind == "op" and self.tok.text in _COMPARE:
            op = self.take().text
            return Compare(op, left, self.operand())
        return Truthy(left)

    def operand(self) -> Var | Lit:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            return Lit(float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "str":
            self.i += 1
            return Lit(tok.text[1:-1])
        if tok.kind == "kw" and tok.text in ("true", "false", "none"):
            self.i += 1
            return Lit({"true": True, "false": False, "none": None}[tok.text])
        if tok.kind == "word":
            self.i += 1
            return Var(tok.text, tok.offset)
        raise self.fail("a variable, a number or a quoted text")


def parse_condition(text: str) -> Condition:
    """Parse a condition; raises :class:`ConditionError` with the offset of the problem."""
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"condition longer than {MAX_CONDITION_LENGTH} characters", 0)
    if not text.strip():
        raise ConditionError("empty condition", 0)
    return Condition(text, _Parser(text).parse())
