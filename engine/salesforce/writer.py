"""The Salesforce writer: upsert by external id, SOQL queries and Id look-ups, over simple-salesforce.

    upsert()     fewer than ``bulk_threshold`` records: sObject Collections (PATCH composite/sobjects/{Obj}/{Field},
                 ``batch_size`` records a call, allOrNone false); at or above it: one Bulk API 2.0 ingest job
                 (engine.salesforce.bulk). One UpsertResult per record, in the order given. Records that share
                 a key are sent once, the last listed (Salesforce fails every row of a job that repeats a key,
                 and a Collections call that repeats one): the others are ``superseded`` by it. Keys differing
                 only in case are the same key unless the org's describe says the field is case-sensitive.
                 A call Salesforce refuses as a whole (NOT_FOUND, JSON_PARSER_ERROR ...) fails each of its
                 records with that code; AuthenticationFailed, Unreachable and RetriesExhausted are raised, as
                 no record was written.
    match_upsert()  records without an external id, found by the fields that identify them
                 (engine.salesforce.matching): Collections update by Id, Collections create for the rest
    create_records(), update_records()  sObject Collections create (POST composite/sobjects) and update
                 (PATCH, by ``id``), 200 records a call, allOrNone false, locked rows retried
    query()      every record of a SOQL query, following nextRecordsUrl, without "attributes"
    find_ids()   value -> Id through chunked ``IN (...)`` queries, each value quoted and escaped for SOQL

Records are plain mappings of field API names. The same record means the same in both paths: ``None`` (or
``""``) writes null, an absent key leaves the field as it is, a parent is given by its external id as
``{"Rel__r": {"Parent_Ext__c": "123"}}``, datetimes as strings in a Salesforce format or aware datetimes.
Authentication, retries and counting live in engine.salesforce.auth.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from types import TracebackType
from typing import Any

from simple_salesforce import Salesforce

from engine import metrics
from engine.errors import SalesforceApiError
from engine.salesforce.auth import MAX_ATTEMPTS, Connection, SalesforceCredentials, Sleep, backoff_delay
from engine.salesforce.bulk import NO_REASON, UNKNOWN_CODE, BulkUpsert, UpsertResult, wire_datetime
from engine.salesforce.matching import match_upsert
from engine.salesforce.soql import query_chunks, soql_quote

__all__ = ["SalesforceCredentials", "SalesforceWriter", "UpsertResult", "soql_quote"]

LOGGER_NAME = "zoomforce.salesforce"
COLLECTION_LIMIT = 200
LOCKED = "UNABLE_TO_LOCK_ROW"
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _check_name(name: str, what: str) -> None:
    if not _NAME_RE.match(name):
        raise ValueError(f"not a Salesforce API name for {what}: {name!r}")


def _key_text(value: Any) -> str:
    return "" if value is None else str(value)


class SalesforceWriter:
    """Writes records to one org; ``api_calls`` counts the HTTP requests sent (polls and retries too, not OAuth)."""

    def __init__(self, credentials: SalesforceCredentials, *, timeout: float = 60.0, bulk_threshold: int = 2000,
                 batch_size: int = 200, poll_interval: float = 1.0, sleep: Sleep = time.sleep,
                 logger: logging.Logger | None = None) -> None:
        if not 1 <= batch_size <= COLLECTION_LIMIT:
            raise ValueError(f"batch_size must be between 1 and {COLLECTION_LIMIT}, got {batch_size}")
        self.credentials = credentials
        self.bulk_threshold = bulk_threshold
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._sleep = sleep
        self._log = logger or logging.getLogger(LOGGER_NAME)
        self._connection = Connection(credentials, timeout=timeout, sleep=sleep, logger=self._log)
        self._case_sensitive: dict[tuple[str, str], bool] = {}

    @property
    def api_calls(self) -> int:
        return self._connection.api_calls

    def authenticate(self) -> None:
        """Log in now (with client credentials): refused credentials fail before any record is read."""
        self._connection.client()

    def ping(self) -> None:
        """One cheap authenticated call (the API's resources): raises when Salesforce cannot be used now."""
        self._connection.call("ping", lambda sf: sf.restful(""))

    def org_id(self) -> str:
        """The id of the org written to (``00D...``): what a state is bound to."""
        return self._connection.org_id()

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> SalesforceWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # -- upsert

    def upsert(self, sobject: str, external_id_field: str,
               records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]:
        """Create or update each record by its external id; one result per record, in order."""
        _check_name(sobject, "the sObject")
        _check_name(external_id_field, "the external id field")
        keys = [_key_text(r.get(external_id_field)) for r in records]
        results: list[UpsertResult] = [
            UpsertResult.failed("", "MISSING_ARGUMENT", f"{external_id_field} not specified") for _ in records]
        last = self._last_of_each_key(sobject, external_id_field, keys)
        sendable = [i for i, key in enumerate(keys) if key and last[i] == i]
        chosen = [records[i] for i in sendable]
        chosen_keys = [keys[i] for i in sendable]
        bulk = bool(sendable) and len(sendable) >= self.bulk_threshold
        if bulk:
            runner = BulkUpsert(self._connection, sobject, external_id_field, poll_interval=self.poll_interval,
                                sleep=self._sleep, logger=self._log)
            outcome = runner.run(chosen, chosen_keys)
        else:
            outcome = self._collections(sobject, external_id_field, chosen, chosen_keys)
        for index, result in zip(sendable, outcome, strict=True):
            results[index] = result
        for index, key in enumerate(keys):
            if key and last[index] != index:
                results[index] = replace(results[last[index]], external_id=key, created=False, superseded=True)
        self._report(sobject, "bulk" if bulk else "collections", results)
        return results

    def _last_of_each_key(self, sobject: str, field: str, keys: Sequence[str]) -> list[int]:
        """For each record, the index of the last record with its key (itself when it is the last)."""
        last = {key: index for index, key in enumerate(keys) if key}
        folded: dict[str, set[str]] = {}
        for key in last:
            folded.setdefault(key.lower(), set()).add(key)
        if any(len(variants) > 1 for variants in folded.values()) and not self._key_is_case_sensitive(sobject, field):
            by_fold = {key.lower(): index for index, key in enumerate(keys) if key}
            return [by_fold[key.lower()] if key else index for index, key in enumerate(keys)]
        return [last[key] if key else index for index, key in enumerate(keys)]

    def _key_is_case_sensitive(self, sobject: str, field: str) -> bool:
        """Whether the org compares `field`'s values with case (an External ID marked "unique case-sensitive").

        Asked of the org's describe once per field, and only when keys differing in case meet.
        """
        wanted = (sobject, field.lower())
        if wanted not in self._case_sensitive:
            try:
                described = self.describe(sobject)
            except SalesforceApiError:
                described = {}
            fields = [f for f in described.get("fields") or [] if isinstance(f, Mapping)]
            found = next((f for f in fields if str(f.get("name", "")).lower() == field.lower()), {})
            self._case_sensitive[wanted] = bool(found.get("caseSensitive"))
        return self._case_sensitive[wanted]

    def _collections(self, sobject: str, field: str, records: Sequence[Mapping[str, Any]],
                     keys: Sequence[str]) -> list[UpsertResult]:
        results: dict[int, UpsertResult] = {}
        pending = list(range(len(records)))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            for start in range(0, len(pending), self.batch_size):
                chunk = pending[start:start + self.batch_size]
                answers = self._collection_call(sobject, field, [records[i] for i in chunk], [keys[i] for i in chunk])
                results.update(zip(chunk, answers, strict=True))
            pending = [i for i in pending if _locked(results[i])]
            if not pending or attempt == MAX_ATTEMPTS:
                break
            delay = backoff_delay(attempt)
            self._log.warning("salesforce upsert %s: %d records locked (%s); retrying them in %.1f s", sobject,
                              len(pending), LOCKED, delay,
                              extra={"event": "salesforce.retry", "service": "salesforce", "call": "collections upsert",
                                     "attempt": attempt, "wait_seconds": delay, "reason": LOCKED,
                                     "records": len(pending)})
            metrics.retry("salesforce", "locked")
            self._sleep(delay)
        return [results[i] for i in range(len(records))]

    def _collection_call(self, sobject: str, field: str, records: Sequence[Mapping[str, Any]],
                         keys: Sequence[str]) -> list[UpsertResult]:
        body = {"allOrNone": False,
                "records": [{"attributes": {"type": sobject}} | _json_record(r) for r in records]}
        path = f"composite/sobjects/{sobject}/{field}"
        try:
            answer = self._connection.call(
                "collections upsert", lambda sf: sf.restful(path, method="PATCH", json=body))
        except SalesforceApiError as exc:
            return [UpsertResult.failed(key, exc.code or UNKNOWN_CODE, str(exc)) for key in keys]
        if not isinstance(answer, list) or len(answer) != len(records):
            message = "Salesforce answered the collections upsert with something other than one result per record"
            return [UpsertResult.failed(key, "INVALID_RESPONSE", message) for key in keys]
        return [_collection_result(key, item) for key, item in zip(keys, answer, strict=True)]

    # -- records without an external id

    def match_upsert(self, sobject: str, fields: Sequence[str],
                     records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]:
        """Update the row each record's `fields` identify, or create it; one result per record, in order."""
        _check_name(sobject, "the sObject")
        for name in fields:
            _check_name(name, "a match field")
        results = match_upsert(self, sobject, fields, records)
        self._report(sobject, "collections by match", results)
        return results

    def create_records(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]:
        """sObject Collections create; one result per record, in order."""
        return self._collection_writes("collections create", "POST", sobject, records)

    def update_records(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]:
        """sObject Collections update, each record by its ``id``; one result per record, in order."""
        return self._collection_writes("collections update", "PATCH", sobject, records)

    def _collection_writes(self, what: str, method: str, sobject: str,
                           records: Sequence[Mapping[str, Any]]) -> list[UpsertResult]:
        _check_name(sobject, "the sObject")
        results: dict[int, UpsertResult] = {}
        pending = list(range(len(records)))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            for start in range(0, len(pending), self.batch_size):
                chunk = pending[start:start + self.batch_size]
                body = {"allOrNone": False,
                        "records": [{"attributes": {"type": sobject}} | _json_record(records[i]) for i in chunk]}
                answers = self._write_call(what, method, body, len(chunk))
                results.update(zip(chunk, answers, strict=True))
            pending = [i for i in pending if _locked(results[i])]
            if not pending or attempt == MAX_ATTEMPTS:
                break
            self._log.info("salesforce %s %s: %d records locked (%s); retrying them", what, sobject, len(pending),
                           LOCKED)
            self._sleep(backoff_delay(attempt))
        return [results[i] for i in range(len(records))]

    def _write_call(self, what: str, method: str, body: dict[str, Any], count: int) -> list[UpsertResult]:
        try:
            answer = self._connection.call(what, lambda sf: sf.restful("composite/sobjects", method=method,
                                                                       json=body))
        except SalesforceApiError as exc:
            return [UpsertResult.failed("", exc.code or UNKNOWN_CODE, str(exc)) for _ in range(count)]
        if not isinstance(answer, list) or len(answer) != count:
            message = f"Salesforce answered the {what} with something other than one result per record"
            return [UpsertResult.failed("", "INVALID_RESPONSE", message) for _ in range(count)]
        return [_collection_result("", item) for item in answer]

    def _report(self, sobject: str, path: str, results: Sequence[UpsertResult]) -> None:
        created = sum(r.success and r.created for r in results)
        updated = sum(r.success and not r.created and not r.superseded for r in results)
        superseded = sum(r.superseded for r in results)
        codes = Counter(r.errors[0][0] if r.errors else UNKNOWN_CODE for r in results
                        if not r.success and not r.superseded)
        detail = ", ".join(f"{code} {n}" for code, n in sorted(codes.items()))
        self._log.debug("salesforce upsert %s via %s: %d records, %d created, %d updated, %d failed%s, "
                       "%d superseded by a later record with the same key", sobject, path, len(results), created,
                       updated, sum(codes.values()), f" ({detail})" if detail else "", superseded)

    # -- reading

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record the query selects, page after page, as plain dicts without "attributes"."""
        page = self._connection.call("query", lambda sf: sf.query(soql))
        while True:
            for record in page.get("records") or []:
                yield _plain(record)
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._connection.call("query more", _more(str(next_url)))

    def describe(self, sobject: str) -> dict[str, Any]:
        """The org's describe of `sobject` (``GET sobjects/{sobject}/describe``)."""
        _check_name(sobject, "object")
        described = self._connection.call("describe", lambda sf: sf.restful(f"sobjects/{sobject}/describe"))
        if not isinstance(described, Mapping):  # restful gives None for an empty answer
            raise SalesforceApiError(f"describe {sobject}: Salesforce answered without a describe")
        return dict(described)

    def find_ids(self, sobject: str, field: str, values: Iterable[str]) -> dict[str, str]:
        """Map each value to the Id of the (oldest) record whose `field` equals it, case-insensitively."""
        _check_name(sobject, "the sObject")
        _check_name(field, "the field")
        wanted = list(dict.fromkeys(v for v in values if isinstance(v, str) and v))
        exact: dict[str, str] = {}
        folded: dict[str, str] = {}
        columns = "Id" if field.lower() == "id" else f"Id, {field}"
        for chunk in query_chunks(wanted, lambda value: len(soql_quote(value))):
            soql = (f"SELECT {columns} FROM {sobject} WHERE {field} IN ({', '.join(soql_quote(v) for v in chunk)}) "
                    "ORDER BY CreatedDate, Id")
            for record in self.query(soql):
                value = record.get(field) if field.lower() != "id" else record.get("Id")
                if isinstance(value, str):
                    exact.setdefault(value, str(record["Id"]))
                    folded.setdefault(value.lower(), str(record["Id"]))
        found = {v: exact.get(v) or folded.get(v.lower()) for v in wanted}
        self._log.debug("salesforce find_ids %s.%s: %d values, %d found", sobject, field, len(wanted),
                       sum(1 for v in found.values() if v))
        return {v: i for v, i in found.items() if i}


# --------------------------------------------------------------------------------------- helpers


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return wire_datetime(value)
    return value


def _json_record(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in record.items() if k != "attributes"}


def _collection_result(key: str, item: Any) -> UpsertResult:
    if not isinstance(item, Mapping):
        return UpsertResult.failed(key, "INVALID_RESPONSE", "Salesforce gave no result for this record")
    errors = tuple((str(e.get("statusCode") or e.get("errorCode") or UNKNOWN_CODE), str(e.get("message") or ""))
                   for e in item.get("errors") or [] if isinstance(e, Mapping))
    success = bool(item.get("success"))
    if not success and not errors:
        errors = ((UNKNOWN_CODE, NO_REASON),)
    return UpsertResult(key, success, success and bool(item.get("created")), item.get("id") or None, errors)


def _locked(result: UpsertResult) -> bool:
    return not result.success and bool(result.errors) and all(code == LOCKED for code, _ in result.errors)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _more(url: str) -> Any:
    def fetch(sf: Salesforce) -> Any:
        return sf.query_more(url, identifier_is_url=True)

    return fetch
