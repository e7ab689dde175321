"""The reverse flow's ``source.where``: a SOQL condition, read into a tree.

The condition goes to Salesforce as written; zoomforce reads it too, so that ``validate`` can check
its fields against the catalog and the disclosure can say in words whom the reverse flow selects
(every field it reads included). The grammar is SOQL's ``WHERE`` without subqueries:

    condition  := disjunct (OR disjunct)*
    disjunct   := conjunct (AND conjunct)*
    conjunct   := NOT conjunct | '(' condition ')' | comparison
    comparison := field ('=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | LIKE) value
                | field [NOT] IN '(' value, ... ')' | field (INCLUDES | EXCLUDES) '(' value, ... ')'
    field      := name ('.' name)*
    value      := 'text' | number | TRUE | FALSE | NULL | 2026-01-31 | 2026-01-31T00:00:00Z
                | a date literal (TODAY, LAST_N_DAYS:30, ...)

Keywords are case-insensitive. ``parse_condition`` raises ``ConditionError`` with the column of
the first character it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from engine.errors import ConditionError

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?)(?![\w.])
    | (?P<number>[+-]?\d+(?:\.\d+)?)(?![\w.])
    | (?P<operator><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::\d+)?)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "INCLUDES", "EXCLUDES", "TRUE", "FALSE", "NULL"}
_LIST_OPERATORS = {"IN": "in", "INCLUDES": "includes", "EXCLUDES": "excludes"}
_PERIODS = "DAYS|WEEKS|MONTHS|QUARTERS|YEARS|FISCAL_QUARTERS|FISCAL_YEARS"
_DATE_LITERAL = re.compile(
    rf"^(?:YESTERDAY|TODAY|TOMORROW|(?:LAST|THIS|NEXT)_(?:WEEK|MONTH|QUARTER|YEAR|FISCAL_QUARTER|FISCAL_YEAR)"
    rf"|(?:LAST|NEXT)_90_DAYS|(?:LAST|NEXT)_N_(?:{_PERIODS}):\d+|N_(?:{_PERIODS})_AGO:\d+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Literal:
    text: str  # as written
    kind: str  # string, number, boolean, null, date, date_literal

    @property
    def value(self) -> str:
        """The text a reader sees: a string without its quotes, a keyword in lower case."""
        if self.kind == "string":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        if self.kind in ("boolean", "null"):
            return self.text.lower()
        return self.text


@dataclass(frozen=True)
class Comparison:
    field: str
    operator: str  # =, !=, <, <=, >, >=, like, in, not in, includes, excludes
    values: tuple[Literal, ...]
    column: int  # 1-based, where the field starts


@dataclass(frozen=True)
class Junction:
    operator: str  # and, or
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    part: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "name" and upper in _KEYWORDS else None


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            raise ConditionError(text, f"unexpected character {text[column - 1]!r}", column=column)
        kind = match.lastgroup or ""
        found.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise ConditionError(self.text, "the condition ends too early", column=len(self.text) + 1)
        self.position += 1
        return token

    def fail(self, token: _Token | None, expected: str) -> ConditionError:
        if token is None:
            return ConditionError(self.text, f"expected {expected} at the end", column=len(self.text) + 1)
        return ConditionError(self.text, f"expected {expected}, got {token.text!r}", column=token.column)

    def condition(self) -> Condition:
        parts = [self.disjunct()]
        while (token := self.peek()) is not None and token.keyword == "OR":
            self.take()
            parts.append(self.disjunct())
        return parts[0] if len(parts) == 1 else Junction("or", tuple(parts))

    def disjunct(self) -> Condition:
        parts = [self.conjunct()]
        while (token := self.peek()) is not None and token.keyword == "AND":
            self.take()
            parts.append(self.conjunct())
        return parts[0] if len(parts) == 1 else Junction("and", tuple(parts))

    def conjunct(self) -> Condition:
        token = self.peek()
        if token is not None and token.keyword == "NOT":
            self.take()
            return Negation(self.conjunct())
        if token is not None and token.text == "(":
            self.take()
            inner = self.condition()
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise self.fail(closing, "')'")
            self.take()
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        field = self.take()
        if field.kind != "name" or field.keyword is not None or ":" in field.text:
            raise self.fail(field, "a field name")
        operator = self.take()
        if operator.kind == "operator":
            symbol = "!=" if operator.text == "<>" else operator.text
            return Comparison(field.text, symbol, (self.value(),), field.column)
        keyword = operator.keyword
        if keyword == "LIKE":
            value = self.value()
            if value.kind != "string":
                at = self.tokens[self.position - 1].column
                raise ConditionError(self.text, "LIKE takes a quoted pattern", column=at)
            return Comparison(field.text, "like", (value,), field.column)
        negated = False
        if keyword == "NOT":
            negated = True
            operator = self.take()
            keyword = operator.keyword
            if keyword != "IN":
                raise self.fail(operator, "IN after NOT")
        if keyword in _LIST_OPERATORS:
            name = _LIST_OPERATORS[keyword]
            return Comparison(field.text, f"not {name}" if negated else name, self.values(), field.column)
        raise self.fail(operator, "an operator (=, !=, <, <=, >, >=, LIKE, IN, NOT IN, INCLUDES, EXCLUDES)")

    def values(self) -> tuple[Literal, ...]:
        opening = self.take()
        if opening.text != "(":
            raise self.fail(opening, "'(' and a list of values")
        first = self.peek()
        if first is not None and first.kind == "name" and first.text.upper() == "SELECT":
            raise ConditionError(self.text, "subqueries are not supported in source.where", column=first.column)
        found = [self.value()]
        while (separator := self.take()).text == ",":
            found.append(self.value())
        if separator.text != ")":
            raise self.fail(separator, "',' or ')'")
        return tuple(found)

    def value(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal(token.text, "string")
        if token.kind == "number":
            return Literal(token.text, "number")
        if token.kind == "datetime":
            return Literal(token.text, "date")
        keyword = token.keyword
        if keyword in ("TRUE", "FALSE"):
            return Literal(token.text, "boolean")
        if keyword == "NULL":
            return Literal(token.text, "null")
        if token.kind == "name" and _DATE_LITERAL.match(token.text):
            return Literal(token.text, "date_literal")  # TODAY, LAST_N_DAYS:30, THIS_QUARTER ...
        error = self.fail(token, "a value (a quoted text, a number, TRUE, FALSE, NULL or a date)")
        if token.kind == "name" and keyword is None:
            raise ConditionError(self.text, f"{error}; a text needs quotes: '{token.text}'", column=token.column)
        raise error


def parse_condition(text: str) -> Condition:
    """The tree of a ``source.where`` condition; ConditionError (with a 1-based column) when it cannot be read."""
    parser = _Parser(text)
    if not parser.tokens:
        raise ConditionError(text, "the condition is empty", column=1)
    tree = parser.condition()
    rest = parser.peek()
    if rest is not None:
        raise parser.fail(rest, "AND, OR or the end of the condition")
    return tree


def comparisons(condition: Condition) -> Iterator[Comparison]:
    """Every comparison of the condition, in the order written."""
    if isinstance(condition, Comparison):
        yield condition
    elif isinstance(condition, Negation):
        yield from comparisons(condition.part)
    else:
        for part in condition.parts:
            yield from comparisons(part)


def condition_fields(condition: Condition) -> list[str]:
    """The fields the condition reads, once each, in the order written."""
    return list(dict.fromkeys(c.field for c in comparisons(condition)))
