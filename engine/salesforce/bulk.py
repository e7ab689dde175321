"""Bulk API 2.0 upsert: records -> CSV ingest job -> per-record results matched back by external id.

The CSV is what Salesforce reads: UTF-8, comma-separated, CRLF row ends, RFC 4180 quoting. Values:

    None or ""                  ``#N/A``, which sets the field to null (an empty cell would mean "unchanged")
    a key absent from a record  an empty cell: unchanged, as an absent key is in sObject Collections
    True / False                ``true`` / ``false``
    datetime (aware) / date     ``2026-01-05T10:00:00.000+00:00`` / ``2026-01-05``
    {"Rel__r": {"Ext__c": v}}   a ``Rel__r.Ext__c`` column: the parent found by its external id
    {"Rel__r": None}            every ``Rel__r.*`` cell of that row ``#N/A``: the lookup cleared

Result rows come back in any order: they are matched by the external id cell (and, between records that share
one, by the whole row). A record that appears in no result set fails with the job's state as its code.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.util import call_salesforce

from engine.errors import RemoteError, SalesforceApiError
from engine.salesforce.auth import Connection, Sleep

NULL = "#N/A"
MAX_JOB_BYTES = 100_000_000  # Salesforce takes at most 100 MB of CSV per job (150 MB base64)
MAX_POLL_INTERVAL = 30.0
FIRST_POLL_INTERVAL = 0.1  # seconds before the second poll; the first is at once
MAX_WAIT = 4 * 3600.0  # seconds of polling (as asked of `sleep`) before the job is aborted
MAX_POLLS = 20_000
TERMINAL = ("JobComplete", "Failed", "Aborted")
RESULT_KINDS = ("successfulResults", "failedResults", "unprocessedrecords")
_ERROR_SPLIT = re.compile(r"(?<=--)\s+(?=[A-Z][A-Z0-9_]*:)")
UNKNOWN_CODE = "UNKNOWN"  # the code of a failure Salesforce gave no code for
NO_REASON = "Salesforce gave no reason"  # the message of a failure it gave no error for


@dataclass(frozen=True)
class UpsertResult:
    """The outcome of one record; ``errors`` holds (statusCode or errorCode, message) pairs.

    ``superseded``: the record was not sent, because a later record of the same call has its key
    (the last listed wins); the rest is that later record's outcome.
    """

    external_id: str
    success: bool
    created: bool
    id: str | None
    errors: tuple[tuple[str, str], ...] = ()
    superseded: bool = False

    @classmethod
    def failed(cls, external_id: str, code: str, message: str) -> UpsertResult:
        return cls(external_id, False, False, None, ((code, message),))


# ------------------------------------------------------------------------------------------ values


def wire_datetime(value: datetime | date) -> str:
    """Salesforce's datetime form (milliseconds, explicit offset) or a plain date."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime: give Salesforce an aware datetime (or a string with an offset)")
        return value.isoformat(timespec="milliseconds")
    return value.isoformat()


def csv_cell(value: Any) -> str:
    if value is None or value == "":
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return wire_datetime(value)
    if isinstance(value, int | float | str):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} to a Salesforce CSV cell")


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def encode_rows(records: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The CSV header (columns in first-seen order) and one list of cells per record."""
    flat = [_flatten(r) for r in records]
    seen: dict[str, None] = {}
    for row in flat:
        seen.update(dict.fromkeys(row))
    names = list(seen)
    parents = {n for n in names if any(c.startswith(n + ".") for c in names)}
    columns = [n for n in names if n not in parents or any(row.get(n) is not None for row in flat)]
    rows = [[_cell(row, column, parents) for column in columns] for row in flat]
    return columns, rows


def _cell(row: Mapping[str, Any], column: str, parents: set[str]) -> str:
    if column in row:
        return csv_cell(row[column])
    relation, dot, _ = column.rpartition(".")
    while dot:
        if relation in parents and relation in row and row[relation] is None:
            return NULL
        relation, dot, _ = relation.rpartition(".")
    return ""


def csv_text(header: list[str], rows: Sequence[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def job_chunks(header: list[str], rows: list[list[str]], limit: int = MAX_JOB_BYTES) -> Iterator[list[int]]:
    """Row indices per job: one job unless the CSV would exceed Salesforce's 100 MB."""
    head = len(csv_text(header, []).encode())
    chunk: list[int] = []
    size = head
    for index, row in enumerate(rows):
        row_size = len(csv_text([], [row]).encode())
        if chunk and size + row_size > limit:
            yield chunk
            chunk, size = [], head
        chunk.append(index)
        size += row_size
    if chunk:
        yield chunk


# ----------------------------------------------------------------------------------------- results


def parse_error_cell(text: str) -> tuple[tuple[str, str], ...]:
    """``sf__Error`` cells read ``CODE:message:fields --``, several separated by spaces."""
    errors = []
    for part in _error_parts(text):
        code, _, rest = part.partition(":")
        rest = rest.strip()
        if rest.endswith("--"):
            rest = rest[:-2].rstrip()
            rest = rest.rpartition(":")[0] if ":" in rest else rest
        errors.append((code.strip() or UNKNOWN_CODE, rest.strip()))
    return tuple(errors) or ((UNKNOWN_CODE, NO_REASON),)


def _error_parts(text: str) -> list[str]:
    return [part for part in _ERROR_SPLIT.split(text.strip()) if part]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


class _Matcher:
    """Record indices by external id cell; several records with one key are told apart by their cells."""

    def __init__(self, header: list[str], rows: list[list[str]], indices: list[int], key_column: str) -> None:
        self.header = header
        self.rows = rows
        position = header.index(key_column)
        self.key_column = key_column
        self.pending: dict[str, list[int]] = {}
        for i in indices:
            self.pending.setdefault(rows[i][position], []).append(i)

    def take(self, row: Mapping[str, str]) -> int | None:
        candidates = self.pending.get(_get(row, self.key_column) or "", [])
        if not candidates:
            return None
        echoed = [_get(row, c) for c in self.header]
        chosen = next((i for i in candidates if self.rows[i] == echoed), candidates[0])
        candidates.remove(chosen)
        return chosen

    def left(self) -> list[int]:
        return [i for indices in self.pending.values() for i in indices]


def _get(row: Mapping[str, str], column: str) -> str | None:
    if column in row:
        return row[column]
    lowered = column.lower()
    return next((v for k, v in row.items() if k and k.lower() == lowered), None)


# --------------------------------------------------------------------------------------------- job


class BulkUpsert:
    """Upsert records through Bulk API 2.0 ingest jobs and return one UpsertResult per record, in order."""

    def __init__(self, connection: Connection, sobject: str, key_field: str, *, poll_interval: float,
                 sleep: Sleep, logger: logging.Logger) -> None:
        self.connection = connection
        self.sobject = sobject
        self.key_field = key_field
        self.poll_interval = poll_interval
        self._sleep = sleep
        self._log = logger

    def run(self, records: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[UpsertResult]:
        header, rows = encode_rows(records)
        results: dict[int, UpsertResult] = {}
        for indices in job_chunks(header, rows):
            text = csv_text(header, [rows[i] for i in indices])
            try:
                results.update(self._job(text, header, rows, indices, keys))
            except SalesforceApiError as exc:
                results.update({i: UpsertResult.failed(keys[i], exc.code or UNKNOWN_CODE, str(exc)) for i in indices})
        return [results[i] for i in range(len(records))]

    def _job(self, text: str, header: list[str], rows: list[list[str]], indices: list[int],
             keys: Sequence[str]) -> dict[int, UpsertResult]:
        job = self.connection.call("bulk job create", self._create, idempotent=False)
        job_id = str(job["id"])
        self._log.info("salesforce bulk job %s: upsert %d %s records", job_id, len(indices), self.sobject,
                       extra={"event": "salesforce.bulk_job", "job_id": job_id, "state": "Open",
                              "records": len(indices), "object": self.sobject})
        try:
            self.connection.call("bulk upload", lambda sf: self._upload(sf, job_id, text), idempotent=False)
            self.connection.call("bulk close", lambda sf: _set_state(sf, job_id, "UploadComplete"),
                                 idempotent=False)
        except RemoteError:
            self._abort(job_id)  # best effort: an Open job holds no data Salesforce would process
            raise
        info = self._wait(job_id)
        state = str(info.get("state"))
        self._log.info("salesforce bulk job %s: %s, %s processed, %s failed", job_id, state,
                       info.get("numberRecordsProcessed"), info.get("numberRecordsFailed"),
                       extra={"event": "salesforce.bulk_job", "job_id": job_id, "state": state,
                              "processed": info.get("numberRecordsProcessed"),
                              "failed": info.get("numberRecordsFailed"), "object": self.sobject})
        matcher = _Matcher(header, rows, indices, self.key_field)
        code = "BULK_JOB_" + state.upper() if state != "JobComplete" else "NOT_PROCESSED"
        unprocessed = UpsertResult.failed("", code, str(info.get("errorMessage") or
                                                        f"the bulk job ended {state} without processing this record"))
        results = self._collect(job_id, matcher, keys, unprocessed)
        results.update({i: replace(unprocessed, external_id=keys[i]) for i in matcher.left()})
        return results

    def _create(self, sf: Salesforce) -> Any:
        body = {"object": self.sobject, "operation": "upsert", "externalIdFieldName": self.key_field,
                "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "CRLF"}
        return sf.restful("jobs/ingest", method="POST", json=body)

    @staticmethod
    def _upload(sf: Salesforce, job_id: str, text: str) -> None:
        headers = dict(sf.headers) | {"Content-Type": "text/csv; charset=UTF-8", "Accept": "application/json"}
        call_salesforce(url=f"{sf.base_url}jobs/ingest/{job_id}/batches", method="PUT", session=sf.session,
                        headers=headers, data=text.encode("utf-8"))

    def _abort(self, job_id: str) -> Mapping[str, Any] | None:
        try:
            return self.connection.call("bulk abort", lambda sf: _set_state(sf, job_id, "Aborted"))
        except RemoteError as exc:
            self._log.info("salesforce bulk job %s: abort failed (%s)", job_id, exc.code or type(exc).__name__)
            return None

    def _wait(self, job_id: str) -> Mapping[str, Any]:
        # the first poll at once (a small job is often done by then), then waits growing from a tenth of a second
        interval = min(self.poll_interval, FIRST_POLL_INTERVAL)
        waited = 0.0
        info: Mapping[str, Any] = {}
        seen = "UploadComplete"
        for poll in range(MAX_POLLS):
            if poll:
                self._sleep(interval)
                waited += interval
                interval = min(interval * 1.5, max(self.poll_interval, MAX_POLL_INTERVAL))
            # restful gives None for an empty answer: no news, so keep polling
            info = self.connection.call("bulk poll", lambda sf: sf.restful(f"jobs/ingest/{job_id}") or {})
            state = str(info.get("state") or seen)
            if state != seen and state not in TERMINAL:
                self._log.info("salesforce bulk job %s: %s after %.1f s", job_id, state, waited,
                               extra={"event": "salesforce.bulk_job", "job_id": job_id, "state": state,
                                      "object": self.sobject})
            seen = state
            if info.get("state") in TERMINAL or waited >= MAX_WAIT:
                break
        if info.get("state") not in TERMINAL:
            self._log.warning("salesforce bulk job %s: still %s after %.0fs; aborting it", job_id,
                              info.get("state"), waited)
            info = self._abort(job_id) or info
        return info

    def _collect(self, job_id: str, matcher: _Matcher, keys: Sequence[str],
                 unprocessed: UpsertResult) -> dict[int, UpsertResult]:
        results: dict[int, UpsertResult] = {}
        unmatched = 0
        for kind in RESULT_KINDS:
            for row in read_csv(self._results(job_id, kind)):
                index = matcher.take(row)
                if index is None:
                    unmatched += 1
                    continue
                results[index] = _row_result(kind, row, keys[index], unprocessed)
        if unmatched:
            self._log.warning("salesforce bulk job %s: %d result rows matched no record sent", job_id, unmatched)
        return results

    def _results(self, job_id: str, kind: str) -> str:
        def fetch(sf: Salesforce) -> str:
            headers = dict(sf.headers) | {"Accept": "text/csv"}
            response = call_salesforce(url=f"{sf.base_url}jobs/ingest/{job_id}/{kind}/", method="GET",
                                       session=sf.session, headers=headers)
            return response.content.decode("utf-8-sig")  # Salesforce says text/csv without a charset

        try:
            return self.connection.call(f"bulk {kind}", fetch)
        except SalesforceApiError as exc:
            self._log.warning("salesforce bulk job %s: %s unavailable (%s)", job_id, kind, exc.code)
            return ""


def _set_state(sf: Salesforce, job_id: str, state: str) -> Mapping[str, Any] | None:
    """The job's info after the change, or None when Salesforce answered with nothing."""
    info: Mapping[str, Any] | None = sf.restful(f"jobs/ingest/{job_id}", method="PATCH", json={"state": state})
    return info


def _row_result(kind: str, row: Mapping[str, str], key: str, unprocessed: UpsertResult) -> UpsertResult:
    record_id = row.get("sf__Id") or None
    if kind == "successfulResults":
        return UpsertResult(key, True, (row.get("sf__Created") or "").lower() == "true", record_id)
    if kind == "failedResults":
        return UpsertResult(key, False, False, None, parse_error_cell(row.get("sf__Error") or ""))
    return replace(unprocessed, external_id=key)
