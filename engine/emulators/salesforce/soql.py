"""The SOQL subset the Salesforce emulator answers: its syntax, parsed into a typed tree.

    SELECT item, ... FROM Obj
      [WHERE cond [AND cond ...] | cond [OR cond ...]]   (mixing AND and OR needs parentheses)
      [GROUP BY f, ...] [HAVING cond]
      [ORDER BY f | COUNT(f) [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

    item: f, Rel__r.Field, COUNT(f) [alias], or COUNT() alone
    cond: f = | != | <> | < | <= | > | >= literal, f [NOT] IN (literal, ...), f LIKE 'a%',
          NOT cond, ( ... ); in HAVING, COUNT(f) op number too
    literal: 'text' (backslash escapes), 123, 1.5, true, false, null, 2026-01-05,
             2026-01-05T10:00:00Z, a date literal (TODAY, LAST_N_DAYS:30 ...; see soql_dates)

A syntax error is ``MALFORMED_QUERY`` with Salesforce's caret and position; an OFFSET over 2,000
is ``NUMBER_OUTSIDE_VALID_RANGE``. What the names mean (fields, objects, types) is checked when
the query runs (:mod:`engine.emulators.salesforce.soql_exec`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.emulators.salesforce.catalog import SfError, SfRequestError, parse_date_text, parse_datetime_text
from engine.emulators.salesforce.soql_dates import is_date_literal

MAX_OFFSET = 2000  # "The maximum offset is 2,000 rows" (SOQL reference, OFFSET)

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
      |(?P<str>'(?:[^'\\]|\\.)*')
      |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
      |(?P<date>\d{4}-\d{2}-\d{2})(?![\w:])
      |(?P<num>[+-]?\d+(?:\.\d+)?)(?![\w.])
      |(?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)
      |(?P<nword>[A-Za-z_][A-Za-z0-9_]*:\d+)
      |(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)""",
    re.X,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\",
            "%": "\\%", "_": "\\_"}
_COMPARATORS = {"=", "!=", "<>", "<", "<=", ">", ">="}
_AGGREGATES = ("COUNT",)
_KEYWORDS = ("FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET",
             "BY", "ASC", "DESC", "NULLS")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


@dataclass(frozen=True)
class Lit:
    kind: str  # str, num, bool, null, date, datetime, range (a date literal; value is its text)
    value: Any
    pos: int


@dataclass(frozen=True)
class FieldRef:
    parts: tuple[str, ...]
    pos: int


@dataclass(frozen=True)
class Aggregate:
    """``COUNT(f)`` (``ref`` None: ``COUNT()``), with its alias when the query gives one."""

    function: str
    ref: FieldRef | None
    pos: int
    alias: str | None = None


Operand = FieldRef | Aggregate


@dataclass(frozen=True)
class Compare:
    ref: Operand
    op: str
    lit: Lit


@dataclass(frozen=True)
class InList:
    ref: Operand
    lits: tuple[Lit, ...]
    negate: bool


@dataclass(frozen=True)
class Like:
    ref: Operand
    lit: Lit


@dataclass(frozen=True)
class BoolOp:
    op: str
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


# A condition: comparisons joined by AND or OR (never both unparenthesised), each maybe negated.
Condition = Compare | InList | Like
Node = BoolOp | Not | Condition


@dataclass(frozen=True)
class OrderKey:
    ref: Operand
    desc: bool
    nulls_first: bool


@dataclass(frozen=True)
class Selected:
    """A plain field of the SELECT list, with its alias (aggregate queries only)."""

    ref: FieldRef
    alias: str | None = None


@dataclass
class Query:
    text: str
    count: bool = False  # SELECT COUNT() FROM ...: the number of rows, no records
    select: list[Selected] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    obj: str = ""
    obj_pos: int = 0
    where: Node | None = None
    group_by: list[FieldRef] = field(default_factory=list)
    having: Node | None = None
    order: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0

    @property
    def aggregated(self) -> bool:
        """Whether the query returns AggregateResult rows (aggregates or GROUP BY)."""
        return bool(self.aggregates or self.group_by)


def error_at(text: str, pos: int, code: str, detail: str) -> SfRequestError:
    line = " ".join(text.splitlines())
    message = f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{detail}"
    return SfRequestError(400, SfError(code, message))


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise error_at(text, pos, "MALFORMED_QUERY", f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(kind), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    # -- token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.at]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == op

    def fail(self, token: Token | None = None) -> SfRequestError:
        token = token or self.tok
        shown = token.text or "<EOF>"
        return error_at(self.text, token.pos, "MALFORMED_QUERY", f"unexpected token: '{shown}'")

    def expect_word(self, *words: str) -> Token:
        if not self.tok.is_word(*words):
            raise self.fail()
        return self.take()

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.fail()
        return self.take()

    def field_ref(self) -> FieldRef:
        token = self.tok
        if token.kind != "word" or token.is_word(*_KEYWORDS):
            raise self.fail()
        self.take()
        return FieldRef(tuple(token.text.split(".")), token.pos)

    def at_aggregate(self) -> bool:
        return self.tok.is_word(*_AGGREGATES) and self.peek().kind == "op" and self.peek().text == "("

    def aggregate(self) -> Aggregate:
        name = self.take()
        self.expect_op("(")
        ref = None if self.is_op(")") else self.field_ref()
        self.expect_op(")")
        return Aggregate(name.text.upper(), ref, name.pos)

    def operand(self) -> Operand:
        return self.aggregate() if self.at_aggregate() else self.field_ref()

    def alias(self) -> str | None:
        if self.tok.kind == "word" and not self.tok.is_word(*_KEYWORDS):
            return self.take().text
        return None

    # -- grammar

    def query(self) -> Query:
        query = Query(self.text)
        self.expect_word("SELECT")
        self.select_list(query)
        self.expect_word("FROM")
        name = self.take()
        if name.kind != "word" or "." in name.text:
            raise self.fail(name)
        query.obj, query.obj_pos = name.text, name.pos
        self.clauses(query)
        if self.tok.kind != "end":
            raise self.fail()
        return query

    def select_list(self, query: Query) -> None:
        while True:
            if self.at_aggregate():
                start = self.tok
                item = self.aggregate()
                if item.ref is None:  # COUNT(): the only item there is
                    if query.select or query.aggregates or not self.tok.is_word("FROM"):
                        raise self.fail(start)
                    query.count = True
                    return
                query.aggregates.append(Aggregate(item.function, item.ref, item.pos, self.alias()))
            else:
                ref = self.field_ref()
                query.select.append(Selected(ref, self.alias()))
            if not self.is_op(","):
                return
            self.take()

    def clauses(self, query: Query) -> None:
        if self.tok.is_word("WHERE"):
            self.take()
            query.where = self.expression()
        if self.tok.is_word("GROUP"):
            self.take()
            self.expect_word("BY")
            query.group_by = [self.field_ref()]
            while self.is_op(","):
                self.take()
                query.group_by.append(self.field_ref())
        if self.tok.is_word("HAVING"):
            self.take()
            query.having = self.expression()
        if self.tok.is_word("ORDER"):
            self.take()
            self.expect_word("BY")
            query.order = self.order_keys()
        if self.tok.is_word("LIMIT"):
            self.take()
            query.limit = self.count_value()
        if self.tok.is_word("OFFSET"):
            self.take()
            at = self.tok
            query.offset = self.count_value()
            if query.offset > MAX_OFFSET:
                raise error_at(self.text, at.pos, "NUMBER_OUTSIDE_VALID_RANGE",
                               f"Maximum SOQL offset allowed is {MAX_OFFSET}")

    def count_value(self) -> int:
        token = self.take()
        if token.kind != "num" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def order_keys(self) -> list[OrderKey]:
        keys = [self.order_key()]
        while self.is_op(","):
            self.take()
            keys.append(self.order_key())
        return keys

    def order_key(self) -> OrderKey:
        ref = self.operand()
        desc = False
        if self.tok.is_word("ASC", "DESC"):
            desc = self.take().text.upper() == "DESC"
        nulls_first = not desc
        if self.tok.is_word("NULLS"):
            self.take()
            nulls_first = self.expect_word("FIRST", "LAST").text.upper() == "FIRST"
        return OrderKey(ref, desc, nulls_first)

    def expression(self) -> Node:
        items = [self.unary()]
        joiner: str | None = None
        while self.tok.is_word("AND", "OR"):
            op = self.tok.text.upper()
            if joiner and op != joiner:
                raise self.fail()
            joiner = op
            self.take()
            items.append(self.unary())
        return BoolOp(joiner, tuple(items)) if joiner else items[0]

    def unary(self) -> Node:
        if self.tok.is_word("NOT"):
            self.take()
            return Not(self.unary())
        if self.is_op("("):
            self.take()
            inner = self.expression()
            self.expect_op(")")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        ref = self.operand()
        token = self.tok
        if token.kind == "op" and token.text in _COMPARATORS:
            self.take()
            return Compare(ref, "!=" if token.text == "<>" else token.text, self.literal())
        if token.is_word("LIKE"):
            self.take()
            lit = self.literal()
            if lit.kind != "str":
                raise self.fail()
            return Like(ref, lit)
        negate = token.is_word("NOT")
        if negate:
            self.take()
        self.expect_word("IN")
        return InList(ref, self.literal_list(), negate)

    def literal_list(self) -> tuple[Lit, ...]:
        self.expect_op("(")
        lits = [self.literal()]
        while self.is_op(","):
            self.take()
            lits.append(self.literal())
        self.expect_op(")")
        return tuple(lits)

    def literal(self) -> Lit:
        token = self.take()
        if token.kind == "str":
            return Lit("str", _unescape(token.text[1:-1]), token.pos)
        if token.kind == "num":
            return Lit("num", float(token.text), token.pos)
        if token.kind == "date":
            return Lit("date", parse_date_text(token.text), token.pos)
        if token.kind == "datetime":
            return Lit("datetime", parse_datetime_text(token.text), token.pos)
        if token.is_word("TRUE", "FALSE"):
            return Lit("bool", token.text.upper() == "TRUE", token.pos)
        if token.is_word("NULL"):
            return Lit("null", None, token.pos)
        if token.kind in ("word", "nword") and is_date_literal(token.text):
            return Lit("range", token.text.upper(), token.pos)
        raise self.fail(token)


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), body)


def parse(text: str) -> Query:
    return _Parser(text).query()
