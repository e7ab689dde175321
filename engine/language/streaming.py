"""Records read and mapped one at a time: what ``zoomforce map`` runs, in memory that stays flat.

:func:`iter_records` reads JSON Lines line by line and yields each record as its line is read;
any other input (one document, pretty-printed over several lines, or a first line that is not JSON
by itself) is read whole and split by :func:`engine.language.inputs.read_records`, exactly as
before. :func:`map_each` maps every record as it comes and hands it to a callback, keeping nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

from engine.errors import BadLine, RecordError
from engine.language.expressions import CompiledExpression
from engine.language.inputs import certified_records_of, read_certified_records
from engine.language.plan import MappedRecord, Plan, RunContext


def iter_records(lines: Iterable[str], records: CompiledExpression | None = None) -> Iterator[Any]:
    """The records of `lines` (a text split at line ends, newlines kept), JSON Lines streamed."""
    return (record for record, _ in iter_certified_records(lines, records))


def iter_certified_records(lines: Iterable[str], records: CompiledExpression | None = None
                           ) -> Iterator[tuple[Any, bool]]:
    """The records of `lines` (a text split at line ends, newlines kept), JSON Lines streamed, each with
    whether the document it is read from is certified (``safe_json.loads_certified``: no record check).

    The input is JSON Lines when its first non-blank line is JSON by itself and another non-blank
    line follows: a whole document would then not parse, which is what makes ``read_records`` read
    lines. Otherwise everything is read and handed to ``read_records``.
    """
    stream = iter(lines)
    head: list[str] = []
    first = second = None
    for line in stream:
        head.append(line)
        if line.strip():
            if first is None:
                first = line
            else:
                second = line
                break
    if first is None or second is None:
        yield from read_certified_records("".join(head), records)
        return
    try:
        found = certified_records_of(first, records)
    except json.JSONDecodeError:  # a document over several lines, or a bad first line: read it all
        yield from read_certified_records("".join(chain(head, stream)), records)
        return
    yield from found
    number = len(head) - 1 - head.index(first)  # as read_records counts: from the first non-blank line
    for line in chain(head[-1:], stream):
        number += 1
        if not line.strip():
            continue
        try:
            yield from certified_records_of(line, records)
        except json.JSONDecodeError as exc:
            yield BadLine(f"input line {number} is not JSON: {exc.msg} at column {exc.colno}"), False


def with_parents(records: Iterable[tuple[Any, bool]], each: str | None, parent: Any
                 ) -> Iterator[tuple[Any, Any, bool]]:
    """(record, its parent, certified) as they come: with `each`, the items of that list in every record
    that has it, the record as their parent (a record without it is one of the items, with `parent`).

    An item of a certified record is certified: it is part of the same document."""
    for record, certified in records:
        inner = record.get(each) if each is not None and isinstance(record, dict) else None
        if isinstance(inner, list):
            for item in inner:
                yield item, record, certified
        else:
            yield record, parent, certified


def map_each(
    plan: Plan,
    records: Iterable[tuple[Any, bool]],
    context: RunContext,
    on_record: Callable[[int, MappedRecord | RecordError], None],
    event: str | None = None,
    each: str | None = None,
) -> tuple[int, int]:
    """Map every record as it comes (``run_batch``'s rules, nothing kept); (records, failures).

    `records`: (record, certified) pairs (:func:`iter_certified_records`); a certified one is not checked again.
    `each` (``source.each``): the records are the items of that list, each with its holder as parent.
    """
    count = failed = 0
    for index, (record, parent, certified) in enumerate(with_parents(records, each, context.parent)):
        count += 1
        here = context if parent is context.parent else RunContext(parent=parent, run=context.run)
        outcome: MappedRecord | RecordError
        try:
            if isinstance(record, RecordError):
                raise record
            outcome = plan.map_record(record, here, certified, event)  # positional: no keyword work per record
        except RecordError as exc:
            outcome = exc.located(index, plan.entity)
            failed += 1
        on_record(index, outcome)
    return count, failed
