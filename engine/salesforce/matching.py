"""Write records that have no external id: find each by the fields that together identify it, update or create.

A target that declares ``match`` (CampaignMember: ``CampaignId`` + ``ContactId``) cannot be upserted
by external id. ``match_upsert`` finds the existing rows with SOQL in batches (``WHERE A IN (...) AND
B IN (...)``, every value a SOQL literal from ``engine.salesforce.soql``, quoted and escaped; then
the exact combinations kept), updates those through sObject Collections (``PATCH
composite/sobjects``, by Id, the match fields left out: they are what identifies the row, and
CampaignMember's are create-only) and creates the rest (``POST composite/sobjects``). Records that
resolve to the same combination are written once, the later one's values over the earlier's, and
share the result; so a rerun, or two Zoom records of one person, never creates a duplicate. When
several rows already match, the oldest is updated. Text values compare as SOQL's ``=`` does,
without case.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from engine.salesforce.bulk import UpsertResult
from engine.salesforce.soql import query_chunks, soql_literal

Combination = tuple[Any, ...]


class RecordWriter(Protocol):
    """What the look-up and the writes need of the writer (``SalesforceWriter``)."""

    def query(self, soql: str) -> Iterator[dict[str, Any]]: ...

    def create_records(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]: ...

    def update_records(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]: ...


def comparable(value: Any) -> Any:
    """A value as the look-up compares it: text without case, numbers as numbers."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    return str(value).casefold()


def combination(record: Mapping[str, Any], fields: Sequence[str]) -> Combination:
    return tuple(comparable(record.get(name)) for name in fields)


def key_text(record: Mapping[str, Any], fields: Sequence[str]) -> str:
    """How results and the state name a matched record: ``CampaignId=701...;ContactId=003...``."""
    return ";".join(f"{name}={record.get(name)}" for name in fields)


def lookup_query(sobject: str, fields: Sequence[str], records: Sequence[Mapping[str, Any]]) -> str:
    """The SOQL that finds every existing row of `records`' combinations (and some others, filtered after)."""
    conditions = []
    for name in fields:
        literals = sorted({soql_literal(record.get(name)) for record in records})
        conditions.append(f"{name} IN ({', '.join(literals)})")
    return (f"SELECT Id, {', '.join(fields)} FROM {sobject} WHERE {' AND '.join(conditions)} "
            "ORDER BY CreatedDate, Id")


def find_existing(writer: RecordWriter, sobject: str, fields: Sequence[str],
                  records: Sequence[Mapping[str, Any]]) -> dict[Combination, str]:
    """Combination -> the Id of the oldest row that has it, for the combinations of `records`."""
    wanted = {combination(r, fields) for r in records}
    found: dict[Combination, str] = {}
    for chunk in query_chunks(records, lambda record: sum(len(soql_literal(record.get(name))) for name in fields)):
        for row in writer.query(lookup_query(sobject, fields, chunk)):
            key = combination(row, fields)
            if key in wanted:
                found.setdefault(key, str(row["Id"]))
    return found


def match_upsert(writer: RecordWriter, sobject: str, fields: Sequence[str],
                 records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]:
    """Update the rows that have each record's combination of `fields`, create the others; one result each."""
    groups: dict[Combination, list[int]] = {}
    merged: dict[Combination, dict[str, Any]] = {}
    for index, record in enumerate(records):
        key = combination(record, fields)
        groups.setdefault(key, []).append(index)
        merged.setdefault(key, {}).update(record)
    existing = find_existing(writer, sobject, fields, list(merged.values())) if merged else {}
    updates = [(key, record) for key, record in merged.items() if key in existing]
    creates = [(key, record) for key, record in merged.items() if key not in existing]
    outcome: dict[Combination, UpsertResult] = {}
    lowered = {name.lower() for name in fields}
    changing = []
    for key, record in updates:
        body = {k: v for k, v in record.items() if k.lower() not in lowered}
        if body:
            changing.append((key, {"id": existing[key], **body}))
        else:  # nothing but what identifies it: the row is as wanted already
            outcome[key] = UpsertResult(key_text(record, fields), True, False, existing[key])
    answers = writer.update_records(sobject, [body for _, body in changing])
    for (key, _), answer in zip(changing, answers, strict=True):
        outcome[key] = UpsertResult(key_text(merged[key], fields), answer.success, False,
                                    answer.id or existing[key], answer.errors)
    created = writer.create_records(sobject, [record for _, record in creates])
    for (key, record), answer in zip(creates, created, strict=True):
        outcome[key] = UpsertResult(key_text(record, fields), answer.success, answer.success, answer.id,
                                    answer.errors)
    results: list[UpsertResult] = [UpsertResult.failed("", "UNKNOWN", "")] * len(records)
    for key, indexes in groups.items():
        for index in indexes:
            results[index] = outcome[key]
    return results
