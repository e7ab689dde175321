"""The SOQL subset the Salesforce emulator answers, with Salesforce's error codes.

    SELECT f1, f2, Rel__r.Field | COUNT() | COUNT(f) FROM Obj
      [WHERE cond [AND cond ...] | cond [OR cond ...]]   (mixing AND and OR needs parentheses)
      [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

    cond: f = | != | <> | < | <= | > | >= literal, f [NOT] IN (literal, ...), f LIKE 'a%',
          NOT cond, ( ... )
    literal: 'text' (backslash escapes), 123, 1.5, true, false, null, 2026-01-05, 2026-01-05T10:00:00Z

Text comparisons are case-insensitive, as in SOQL. A syntax error is ``MALFORMED_QUERY``; an unknown
field or relationship ``INVALID_FIELD``; an unknown object ``INVALID_TYPE``; a literal of the
wrong kind for its field ``INVALID_FIELD`` ("... must be of type double and should not be enclosed
in quotes"), as Salesforce answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.emulators.salesforce.catalog import (
    DECIMAL_TYPES,
    NUMBER_TYPES,
    Catalog,
    FieldDef,
    ObjectDef,
    SfError,
    SfRequestError,
    format_value,
    normalize_id,
    parse_date_text,
    parse_datetime_text,
    record_attributes,
)

Record = dict[str, Any]
RowsOf = Callable[[str], list[Record]]
GetAny = Callable[[str], "tuple[ObjectDef, Record] | None"]

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
      |(?P<str>'(?:[^'\\]|\\.)*')
      |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
      |(?P<date>\d{4}-\d{2}-\d{2})(?![\w:])
      |(?P<num>[+-]?\d+(?:\.\d+)?)(?![\w.])
      |(?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)
      |(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)""",
    re.X,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\",
            "%": "\\%", "_": "\\_"}
_COMPARATORS = {"=", "!=", "<>", "<", "<=", ">", ">="}


# ----------------------------------------------------------------------------------------- syntax


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


@dataclass(frozen=True)
class Lit:
    kind: str  # str, num, bool, null, date, datetime
    value: Any
    pos: int


@dataclass(frozen=True)
class FieldRef:
    parts: tuple[str, ...]
    pos: int


@dataclass(frozen=True)
class Compare:
    ref: FieldRef
    op: str
    lit: Lit


@dataclass(frozen=True)
class InList:
    ref: FieldRef
    lits: tuple[Lit, ...]
    negate: bool


@dataclass(frozen=True)
class Like:
    ref: FieldRef
    lit: Lit


@dataclass(frozen=True)
class BoolOp:
    op: str
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


# A WHERE clause: conditions joined by AND or OR (never both unparenthesised), each maybe negated.
Condition = Compare | InList | Like
Node = BoolOp | Not | Condition


@dataclass(frozen=True)
class OrderKey:
    ref: FieldRef
    desc: bool
    nulls_first: bool


@dataclass
class Query:
    text: str
    count: bool = False
    count_field: FieldRef | None = None
    select: list[FieldRef] = field(default_factory=list)
    obj: str = ""
    obj_pos: int = 0
    where: Node | None = None
    order: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def _error_at(text: str, pos: int, code: str, detail: str) -> SfRequestError:
    line = " ".join(text.splitlines())
    message = f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{detail}"
    return SfRequestError(400, SfError(code, message))


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise _error_at(text, pos, "MALFORMED_QUERY", f"unexpected token: '{text[pos]}'")
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

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, token: Token | None = None) -> SfRequestError:
        token = token or self.tok
        shown = token.text or "<EOF>"
        return _error_at(self.text, token.pos, "MALFORMED_QUERY", f"unexpected token: '{shown}'")

    def expect_word(self, *words: str) -> Token:
        if not self.tok.is_word(*words):
            raise self.fail()
        return self.take()

    def expect_op(self, op: str) -> Token:
        if self.tok.kind != "op" or self.tok.text != op:
            raise self.fail()
        return self.take()

    def field_ref(self) -> FieldRef:
        token = self.tok
        if token.kind != "word" or token.is_word("FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE"):
            raise self.fail()
        self.take()
        return FieldRef(tuple(token.text.split(".")), token.pos)

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
        if self.tok.is_word("COUNT") and self.tokens[self.at + 1].text == "(":
            self.take()
            self.take()
            query.count = True
            if not (self.tok.kind == "op" and self.tok.text == ")"):
                query.count_field = self.field_ref()
            self.expect_op(")")
            return
        query.select.append(self.field_ref())
        while self.tok.kind == "op" and self.tok.text == ",":
            self.take()
            query.select.append(self.field_ref())

    def clauses(self, query: Query) -> None:
        if self.tok.is_word("WHERE"):
            self.take()
            query.where = self.expression()
        if self.tok.is_word("ORDER"):
            self.take()
            self.expect_word("BY")
            query.order = self.order_keys()
        if self.tok.is_word("LIMIT"):
            self.take()
            query.limit = self.count_value()
        if self.tok.is_word("OFFSET"):
            self.take()
            query.offset = self.count_value()

    def count_value(self) -> int:
        token = self.take()
        if token.kind != "num" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def order_keys(self) -> list[OrderKey]:
        keys = [self.order_key()]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.take()
            keys.append(self.order_key())
        return keys

    def order_key(self) -> OrderKey:
        ref = self.field_ref()
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
        if self.tok.kind == "op" and self.tok.text == "(":
            self.take()
            inner = self.expression()
            self.expect_op(")")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        ref = self.field_ref()
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
        while self.tok.kind == "op" and self.tok.text == ",":
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
        raise self.fail(token)


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), body)


def parse(text: str) -> Query:
    return _Parser(text).query()


# ---------------------------------------------------------------------------------------- binding


@dataclass(frozen=True)
class Bound:
    """A field path resolved against the catalog: relationship fields to follow, then the field."""

    steps: tuple[FieldDef, ...]
    final: FieldDef


class _Binder:
    def __init__(self, query: Query, catalog: Catalog) -> None:
        self.query = query
        self.catalog = catalog
        root = catalog.get(query.obj)
        if root is None:
            raise _error_at(query.text, query.obj_pos, "INVALID_TYPE",
                            f"sObject type '{query.obj}' is not supported. If you are attempting to use a "
                            "custom object, be sure to append the '__c' after the entity name. Please "
                            "reference your WSDL or the describe call for the appropriate names.")
        self.root = root

    def bind(self, ref: FieldRef) -> Bound:
        obj = self.root
        steps: list[FieldDef] = []
        for part in ref.parts[:-1]:
            rel = obj.relationship(part)
            parent = next((self.catalog.get(t) for t in rel.reference_to if self.catalog.get(t)), None) if rel else None
            if rel is None or parent is None:
                raise _error_at(self.query.text, ref.pos, "INVALID_FIELD",
                                f"Didn't understand relationship '{part}' in field path. If you are attempting "
                                "to use a custom relationship, be sure to append the '__r' after the custom "
                                "relationship name. Please reference your WSDL or the describe call for the "
                                "appropriate names.")
            steps.append(rel)
            obj = parent
        final = obj.field(ref.parts[-1])
        if final is None:
            raise _error_at(self.query.text, ref.pos, "INVALID_FIELD",
                            f"No such column '{ref.parts[-1]}' on entity '{obj.name}'. If you are attempting "
                            "to use a custom field, be sure to append the '__c' after the custom field name. "
                            "Please reference your WSDL or the describe call for the appropriate names.")
        return Bound(tuple(steps), final)

    def check_literal(self, bound: Bound, lit: Lit) -> None:
        expected = _literal_kind(bound.final)
        if lit.kind in ("null", expected):
            return
        type_name = {"str": "string", "num": "double" if bound.final.type in DECIMAL_TYPES else "int",
                     "bool": "boolean", "date": "date", "datetime": "dateTime"}[expected]
        quoted = "should be enclosed in quotes" if expected == "str" else "should not be enclosed in quotes"
        raise _error_at(self.query.text, lit.pos, "INVALID_FIELD",
                        f"value of filter criterion for field '{bound.final.name}' must be of type {type_name} "
                        f"and {quoted}")


def _literal_kind(field_def: FieldDef) -> str:
    kind = field_def.type
    if kind == "boolean":
        return "bool"
    if kind in NUMBER_TYPES:
        return "num"
    if kind in ("date", "datetime"):
        return kind
    return "str"


# --------------------------------------------------------------------------------------- executing


@dataclass
class _Context:
    get_any: GetAny
    bound: dict[FieldRef, Bound]


def _value(ctx: _Context, record: Record | None, bound: Bound) -> Any:
    for step in bound.steps:
        parent_id = record.get(step.name) if record else None
        found = ctx.get_any(parent_id) if parent_id else None
        record = found[1] if found else None
    return record.get(bound.final.name) if record else None


def _comparable(field_def: FieldDef, value: Any) -> Any:
    if isinstance(value, str) and field_def.type not in ("id", "reference"):
        return value.lower()
    if isinstance(value, str):
        return normalize_id(value) or value
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if right is None or left is None:
        same = left is None and right is None
        return same if op == "=" else (not same) if op == "!=" else False
    try:
        outcome: bool = {"=": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                         ">": left > right, ">=": left >= right}[op]
        return outcome
    except TypeError:
        return False


def _like(value: Any, pattern: str) -> bool:
    if not isinstance(value, str):
        return False
    regex = ""
    escaped = False
    for char in pattern:
        if escaped:
            regex += re.escape(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            regex += ".*" if char == "%" else "." if char == "_" else re.escape(char)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


def _matches(ctx: _Context, record: Record, node: Node) -> bool:
    if isinstance(node, BoolOp):
        results = (_matches(ctx, record, item) for item in node.items)
        return all(results) if node.op == "AND" else any(results)
    if isinstance(node, Not):
        return not _matches(ctx, record, node.item)
    bound = ctx.bound[node.ref]
    left = _comparable(bound.final, _value(ctx, record, bound))
    if isinstance(node, Compare):
        return _compare(node.op, left, _comparable(bound.final, node.lit.value))
    if isinstance(node, Like):
        return _like(_value(ctx, record, bound), node.lit.value)
    hit = any(_compare("=", left, _comparable(bound.final, lit.value)) for lit in node.lits)
    return hit != node.negate


def _conditions(node: Node | None) -> list[Condition]:
    if isinstance(node, BoolOp):
        return [c for item in node.items for c in _conditions(item)]
    if isinstance(node, Not):
        return _conditions(node.item)
    return [] if node is None else [node]


def _sort(ctx: _Context, rows: list[Record], order: list[OrderKey]) -> list[Record]:
    for key in reversed(order):
        bound = ctx.bound[key.ref]
        values = [(_comparable(bound.final, _value(ctx, row, bound)), row) for row in rows]
        present = [pair for pair in values if pair[0] is not None]
        absent = [pair[1] for pair in values if pair[0] is None]
        present.sort(key=lambda pair: pair[0], reverse=key.desc)
        ordered = [pair[1] for pair in present]
        rows = absent + ordered if key.nulls_first else ordered + absent
    return rows


def _emit(ctx: _Context, out: dict[str, Any], record: Record, bound: Bound, version: str) -> None:
    if not bound.steps:
        out[bound.final.name] = format_value(record.get(bound.final.name))
        return
    step = bound.steps[0]
    rel = step.relationship_name or step.name
    parent_id = record.get(step.name)
    found = ctx.get_any(parent_id) if parent_id else None
    if found is None:
        out[rel] = None
        return
    parent_obj, parent = found
    nested = out.get(rel) or {"attributes": record_attributes(parent_obj.name, parent["Id"], version)}
    out[rel] = nested
    _emit(ctx, nested, parent, Bound(bound.steps[1:], bound.final), version)


def execute(text: str, catalog: Catalog, rows_of: RowsOf, get_any: GetAny,
            version: str) -> tuple[int, list[dict[str, Any]]]:
    """Run `text` over the org: (totalSize, records as the REST query resource returns them)."""
    query = parse(text)
    binder = _Binder(query, catalog)
    refs = list(query.select) + [c.ref for c in _conditions(query.where)] + [k.ref for k in query.order]
    refs += [query.count_field] if query.count_field else []
    ctx = _Context(get_any, {ref: binder.bind(ref) for ref in refs})
    for cond in _conditions(query.where):
        for lit in (cond.lits if isinstance(cond, InList) else (cond.lit,)):
            binder.check_literal(ctx.bound[cond.ref], lit)
    rows = [r for r in rows_of(binder.root.name) if query.where is None or _matches(ctx, r, query.where)]
    rows = _sort(ctx, rows, query.order)[query.offset:]
    rows = rows if query.limit is None else rows[:query.limit]
    return _shape(ctx, query, binder.root, rows, version)


def _shape(ctx: _Context, query: Query, root: ObjectDef, rows: list[Record],
           version: str) -> tuple[int, list[dict[str, Any]]]:
    if query.count and query.count_field is None:
        return len(rows), []
    if query.count:
        assert query.count_field is not None
        bound = ctx.bound[query.count_field]
        total = sum(1 for r in rows if _value(ctx, r, bound) is not None)
        return 1, [{"attributes": {"type": "AggregateResult"}, "expr0": total}]
    records = []
    for row in rows:
        out: dict[str, Any] = {"attributes": record_attributes(root.name, row["Id"], version)}
        for ref in query.select:
            _emit(ctx, out, row, ctx.bound[ref], version)
        records.append(out)
    return len(records), records
