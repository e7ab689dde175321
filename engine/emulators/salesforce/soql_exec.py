"""Running a parsed SOQL query (:mod:`engine.emulators.salesforce.soql`) over the emulator's org.

Names are bound to the catalog first, with Salesforce's answers: an unknown object is
``INVALID_TYPE``, an unknown field or relationship ``INVALID_FIELD``, a literal of the wrong kind
for its field ``INVALID_FIELD`` ("... must be of type double and should not be enclosed in
quotes"), a field neither grouped nor aggregated in an aggregate query ``MALFORMED_QUERY``
("Field must be grouped or aggregated"). Text comparisons are case-insensitive, as in SOQL, and
so is grouping.

An aggregate query (``COUNT(f)``, ``GROUP BY``) answers ``AggregateResult`` rows: each grouped
field under its name (or alias), each aggregate under its alias or ``expr0``, ``expr1`` ... in
the order of the SELECT list, and ``totalSize`` is the number of rows. ``COUNT()`` answers the
number of matching rows as ``totalSize`` and no records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from engine.emulators.salesforce.catalog import (
    DECIMAL_TYPES,
    NUMBER_TYPES,
    Catalog,
    FieldDef,
    ObjectDef,
    format_value,
    normalize_id,
    record_attributes,
)
from engine.emulators.salesforce.soql import (
    Aggregate,
    BoolOp,
    Compare,
    Condition,
    FieldRef,
    InList,
    Like,
    Lit,
    Node,
    Not,
    Operand,
    OrderKey,
    Query,
    error_at,
    parse,
)
from engine.emulators.salesforce.soql_dates import DayRange, date_range

Record = dict[str, Any]
RowsOf = Callable[[str], list[Record]]
GetAny = Callable[[str], "tuple[ObjectDef, Record] | None"]


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
            raise error_at(query.text, query.obj_pos, "INVALID_TYPE",
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
                raise error_at(self.query.text, ref.pos, "INVALID_FIELD",
                               f"Didn't understand relationship '{part}' in field path. If you are attempting "
                               "to use a custom relationship, be sure to append the '__r' after the custom "
                               "relationship name. Please reference your WSDL or the describe call for the "
                               "appropriate names.")
            steps.append(rel)
            obj = parent
        final = obj.field(ref.parts[-1])
        if final is None:
            raise error_at(self.query.text, ref.pos, "INVALID_FIELD",
                           f"No such column '{ref.parts[-1]}' on entity '{obj.name}'. If you are attempting "
                           "to use a custom field, be sure to append the '__c' after the custom field name. "
                           "Please reference your WSDL or the describe call for the appropriate names.")
        return Bound(tuple(steps), final)

    def check_literal(self, operand: Operand, bound: Bound | None, lit: Lit) -> None:
        if bound is None or isinstance(operand, Aggregate):  # COUNT(...) compares with numbers
            if lit.kind != "num":
                raise error_at(self.query.text, lit.pos, "INVALID_FIELD",
                               "value of filter criterion for an aggregate must be of type int and should not "
                               "be enclosed in quotes")
            return
        expected = _literal_kind(bound.final)
        if lit.kind in ("null", expected) or (lit.kind == "range" and expected in ("date", "datetime")):
            return
        type_name = {"str": "string", "num": "double" if bound.final.type in DECIMAL_TYPES else "int",
                     "bool": "boolean", "date": "date", "datetime": "dateTime"}[expected]
        quoted = "should be enclosed in quotes" if expected == "str" else "should not be enclosed in quotes"
        raise error_at(self.query.text, lit.pos, "INVALID_FIELD",
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
    today: date


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


def _in_range(op: str, value: Any, days: DayRange) -> bool:
    """A date or datetime against a date literal's days ``[start, end)``, as SOQL compares them."""
    if value is None:
        return op == "!="
    start: date | datetime
    end: date | datetime
    if isinstance(value, datetime):
        start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
        end = datetime(days[1].year, days[1].month, days[1].day, tzinfo=UTC)
    else:
        start, end = days
    inside = start <= value < end
    outcome: bool = {"=": inside, "!=": not inside, "<": value < start, "<=": value < end, ">": value >= end,
                     ">=": value >= start}[op]
    return outcome


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


# What a condition is evaluated over: a record (WHERE) or a group of records (HAVING).
Reader = Callable[[Operand], tuple[FieldDef | None, Any]]


def _matches(ctx: _Context, read: Reader, node: Node) -> bool:
    if isinstance(node, BoolOp):
        results = (_matches(ctx, read, item) for item in node.items)
        return all(results) if node.op == "AND" else any(results)
    if isinstance(node, Not):
        return not _matches(ctx, read, node.item)
    field_def, raw = read(node.ref)
    if isinstance(node, Like):
        return _like(raw, node.lit.value)
    lits = (node.lit,) if isinstance(node, Compare) else node.lits
    op = node.op if isinstance(node, Compare) else "="
    hit = any(_compare_lit(ctx, op, field_def, raw, lit) for lit in lits)
    return hit != node.negate if isinstance(node, InList) else hit


def _compare_lit(ctx: _Context, op: str, field_def: FieldDef | None, raw: Any, lit: Lit) -> bool:
    if lit.kind == "range":
        return _in_range(op, raw, date_range(lit.value, ctx.today))
    if field_def is None:  # an aggregate: a number
        return _compare(op, raw, lit.value)
    return _compare(op, _comparable(field_def, raw), _comparable(field_def, lit.value))


def _conditions(node: Node | None) -> Iterator[Condition]:
    if isinstance(node, BoolOp):
        for item in node.items:
            yield from _conditions(item)
    elif isinstance(node, Not):
        yield from _conditions(node.item)
    elif node is not None:
        yield node


def _refs(query: Query) -> Iterator[FieldRef]:
    """Every field path the query names, in any clause."""
    operands: list[Operand] = [s.ref for s in query.select] + list(query.aggregates) + list(query.group_by)
    operands += [c.ref for c in (*_conditions(query.where), *_conditions(query.having))]
    operands += [k.ref for k in query.order]
    for operand in operands:
        ref = operand.ref if isinstance(operand, Aggregate) else operand
        if ref is not None:
            yield ref


def execute(text: str, catalog: Catalog, rows_of: RowsOf, get_any: GetAny, version: str,
            now: datetime | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Run `text` over the org: (totalSize, records as the REST query resource returns them)."""
    query = parse(text)
    binder = _Binder(query, catalog)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    ctx = _Context(get_any, {ref: binder.bind(ref) for ref in _refs(query)}, today)
    for cond in (*_conditions(query.where), *_conditions(query.having)):
        ref = cond.ref.ref if isinstance(cond.ref, Aggregate) else cond.ref
        for lit in (cond.lits if isinstance(cond, InList) else (cond.lit,)):
            binder.check_literal(cond.ref, ctx.bound.get(ref) if ref else None, lit)
    _check_shape(query, ctx)
    rows = [r for r in rows_of(binder.root.name) if query.where is None or _matches(ctx, _record_reader(ctx, r),
                                                                                    query.where)]
    if query.count:
        return len(rows), []
    if query.aggregated:
        return _aggregate(ctx, query, rows)
    rows = _sort(ctx, rows, query.order)[query.offset:]
    rows = rows if query.limit is None else rows[:query.limit]
    return _shape(ctx, query, binder.root, rows, version)


def _record_reader(ctx: _Context, record: Record) -> Reader:
    def read(operand: Operand) -> tuple[FieldDef | None, Any]:
        assert isinstance(operand, FieldRef)  # aggregates only in HAVING
        bound = ctx.bound[operand]
        return bound.final, _value(ctx, record, bound)

    return read


def _check_shape(query: Query, ctx: _Context) -> None:
    """What makes an aggregate query malformed: a field neither grouped nor aggregated."""
    for cond in _conditions(query.where):
        if isinstance(cond.ref, Aggregate):
            raise error_at(query.text, cond.ref.pos, "MALFORMED_QUERY",
                           "Aggregate functions are not allowed in the WHERE clause; use HAVING")
    if any(s.alias for s in query.select) and not query.aggregated:
        raise error_at(query.text, query.select[0].ref.pos, "MALFORMED_QUERY",
                       "only aggregate expressions use field aliasing")
    if query.having is not None and not query.group_by:
        raise error_at(query.text, query.obj_pos, "MALFORMED_QUERY", "HAVING needs a GROUP BY")
    if not query.aggregated:
        return
    grouped = {_key(ref) for ref in query.group_by}
    for operand in [s.ref for s in query.select] + [k.ref for k in query.order]:
        if isinstance(operand, FieldRef) and _key(operand) not in grouped:
            raise error_at(query.text, operand.pos, "MALFORMED_QUERY",
                           f"Field must be grouped or aggregated: {operand.parts[-1]}")
    for ref in query.group_by:
        if ctx.bound[ref].final.type == "textarea":
            raise error_at(query.text, ref.pos, "INVALID_FIELD",
                           f"field '{ref.parts[-1]}' can not be grouped in a query call")


def _key(ref: FieldRef) -> tuple[str, ...]:
    return tuple(part.lower() for part in ref.parts)


def _aggregate(ctx: _Context, query: Query, rows: list[Record]) -> tuple[int, list[dict[str, Any]]]:
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for row in rows:
        key = tuple(_comparable(ctx.bound[ref].final, _value(ctx, row, ctx.bound[ref])) for ref in query.group_by)
        groups.setdefault(key, []).append(row)
    if not query.group_by:
        groups = {(): rows}  # no GROUP BY: one row over every match, even none
    results = [group for group in groups.values() if query.having is None
               or _matches(ctx, _group_reader(ctx, query, group), query.having)]
    results = _sort_groups(ctx, query, results)[query.offset:]
    results = results if query.limit is None else results[:query.limit]
    return len(results), [_aggregate_row(ctx, query, group) for group in results]


def _count(ctx: _Context, group: list[Record], aggregate: Aggregate) -> int:
    if aggregate.ref is None:
        return len(group)
    bound = ctx.bound[aggregate.ref]
    return sum(1 for row in group if _value(ctx, row, bound) is not None)


def _group_reader(ctx: _Context, query: Query, group: list[Record]) -> Reader:
    def read(operand: Operand) -> tuple[FieldDef | None, Any]:
        if isinstance(operand, Aggregate):
            return None, float(_count(ctx, group, operand))
        bound = ctx.bound[operand]
        return bound.final, _value(ctx, group[0], bound) if group else None

    return read


def _sort_groups(ctx: _Context, query: Query, groups: list[list[Record]]) -> list[list[Record]]:
    for key in reversed(query.order):
        values = [(_order_value(ctx, key, group), group) for group in groups]
        present = sorted((pair for pair in values if pair[0] is not None), key=lambda pair: pair[0],
                         reverse=key.desc)
        absent = [pair[1] for pair in values if pair[0] is None]
        ordered = [pair[1] for pair in present]
        groups = absent + ordered if key.nulls_first else ordered + absent
    return groups


def _order_value(ctx: _Context, key: OrderKey, group: list[Record]) -> Any:
    if isinstance(key.ref, Aggregate):
        return _count(ctx, group, key.ref)
    bound = ctx.bound[key.ref]
    return _comparable(bound.final, _value(ctx, group[0], bound)) if group else None


def _aggregate_row(ctx: _Context, query: Query, group: list[Record]) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for selected in query.select:
        bound = ctx.bound[selected.ref]
        out[selected.alias or bound.final.name] = format_value(_value(ctx, group[0], bound)) if group else None
    unnamed = 0
    for aggregate in query.aggregates:
        name = aggregate.alias
        if name is None:
            name, unnamed = f"expr{unnamed}", unnamed + 1
        out[name] = _count(ctx, group, aggregate)
    return out


def _sort(ctx: _Context, rows: list[Record], order: list[OrderKey]) -> list[Record]:
    for key in reversed(order):
        assert isinstance(key.ref, FieldRef)  # aggregates order only aggregate queries
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


def _shape(ctx: _Context, query: Query, root: ObjectDef, rows: list[Record],
           version: str) -> tuple[int, list[dict[str, Any]]]:
    records = []
    for row in rows:
        out: dict[str, Any] = {"attributes": record_attributes(root.name, row["Id"], version)}
        for selected in query.select:
            _emit(ctx, out, row, ctx.bound[selected.ref], version)
        records.append(out)
    return len(records), records
