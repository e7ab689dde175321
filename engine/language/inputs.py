"""Read the records to map: one Zoom record, a Zoom API response, a JSON array, or JSON Lines.

A response is recognised by the mapping's ``source.records`` expression (``registrants``): when it
yields a list from the document, those are the records. With ``source.each`` (``recording_files``),
each of those holds the records in that list, and is their parent (``split_each``). A JSON Lines
line that is not JSON becomes a RecordError at its index, so the other lines are still mapped.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadLine, InputError
from engine.language.expressions import CompiledExpression, compile_expression
from engine.language.model import Mapping
from engine.language.safe_json import loads, loads_certified


def records_of(document: Any, records: CompiledExpression | None) -> list[Any]:
    if isinstance(document, list):
        return document
    if records is not None and isinstance(document, dict):
        found = records.evaluate(document)
        if isinstance(found, list):
            return found
    return [document]


def read_records(text: str, records: CompiledExpression | None = None) -> list[Any]:
    """The records in `text`; a bad JSON Lines line is a BadLine at its place."""
    return [record for record, _ in read_certified_records(text, records)]


def certified_records_of(text: str, records: CompiledExpression | None) -> list[tuple[Any, bool]]:
    """(record, certified) of every record of the JSON document `text` (see ``safe_json.loads_certified``):
    a record of a certified document needs no record check."""
    document, length = loads_certified(text)
    return [(record, length is not None) for record in records_of(document, records)]


def read_certified_records(text: str, records: CompiledExpression | None = None) -> list[tuple[Any, bool]]:
    """:func:`read_records`, each record with whether its document is certified (a BadLine is not)."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        return certified_records_of(stripped, records)
    except json.JSONDecodeError as whole_error:
        lines = [line for line in stripped.splitlines() if line.strip()]
        if len(lines) < 2:
            raise InputError(
                f"input is not JSON: {whole_error.msg} at line {whole_error.lineno} column {whole_error.colno}"
            ) from whole_error
    found: list[tuple[Any, bool]] = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.extend(certified_records_of(line, records))
        except json.JSONDecodeError as exc:
            found.append((BadLine(f"input line {number} is not JSON: {exc.msg} at column {exc.colno}"), False))
    return found


def read_event_records(text: str, mapping: Mapping, event_type: str, parent: Any) -> tuple[list[Any], Any]:
    """The records (and parent) of a Zoom event notification for `mapping`, as `source.events` places them.

    `text` is the whole event body (``{"event", "payload": {...}}``) or the bare record; a parent
    given on the command line wins over the one in the body.
    """

    spec = next((e for e in mapping.source.events if e.event == event_type), None)
    if spec is None:
        known = ", ".join(e.event for e in mapping.source.events) or "none"
        raise InputError(f"{mapping.entity}: event {event_type!r} does not feed this entity (its events: {known})")
    try:
        document = loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"input is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if isinstance(document, dict) and "payload" in document and "event" in document:
        if document["event"] != event_type:
            raise InputError(f"the input is a {document['event']!r} event, not {event_type!r}")
        found = compile_expression(spec.records).evaluate(document)
        if parent is None and spec.parent:
            parent = compile_expression(spec.parent).evaluate(document)
        records = found if isinstance(found, list) else [] if found is None else [found]
        return records, parent
    return (document if isinstance(document, list) else [document]), parent


def split_each(records: list[Any], each: str, parent: Any) -> tuple[list[Any], list[Any]]:
    """(records, their parents): the items of `each` in every record that has that list, the record as
    their parent; a record without it is taken as one of the items itself, with `parent`."""
    found: list[Any] = []
    parents: list[Any] = []
    for record in records:
        inner = record.get(each) if isinstance(record, dict) else None
        if isinstance(inner, list):
            found += inner
            parents += [record] * len(inner)
        else:
            found.append(record)
            parents.append(parent)
    return found, parents
