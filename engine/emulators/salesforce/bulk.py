"""Bulk API 2.0 ingest jobs of the Salesforce emulator.

A job is created Open, takes one CSV upload, and is closed with ``UploadComplete``; a background
thread then waits ``delay / 2`` (state UploadComplete), marks it InProgress, waits ``delay / 2``,
and processes every row against the org (state JobComplete, or Failed when the file itself is
unusable). CSV semantics are Salesforce's: an empty cell leaves the field unchanged, ``#N/A``
sets it to null, ``Rel__r.ExtField__c`` columns reach a parent through its external id. Rows of
one job that share a key fail, every one of them (``DUPLICATE_EXTERNAL_ID`` for an upsert's
external id, ``DUPLICATE_VALUE`` for an update's Id), as Salesforce fails them, where writing
them in turn would let the last win. Result rows come back in a shuffled (seeded) order, as
Salesforce warns they may.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.emulators.salesforce.catalog import (
    ObjectDef,
    SfError,
    SfRequestError,
    format_datetime,
    make_id,
    not_found,
)
from engine.emulators.salesforce.store import USER_ID, Org, WriteResult

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
TERMINAL = ("JobComplete", "Failed", "Aborted")
MULTIPLE_UPLOADS = ("Found multiple contents for job: {id}, please 'Close' / 'Abort' / 'Delete' the current "
                    "Job then create a new Job and make sure you only do 'PUT' once on a given Job.")

# One CSV row: the header's column names or a record's cells. BulkIngest's signatures name this
# alias, not list[str], because its method ``list`` hides the builtin in the class body for mypy.
_Row = list[str]
_Rows = list[_Row]


def _job_error(status: int, code: str, message: str) -> SfRequestError:
    return SfRequestError(status, SfError(code, message))


@dataclass
class IngestJob:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    line_ending: str
    column_delimiter: str
    api_version: str
    created: datetime
    state: str = "Open"
    modified: datetime | None = None
    data: bytes | None = None
    error_message: str | None = None
    header: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    processing_ms: int = 0

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object, "createdById": USER_ID,
            "createdDate": format_datetime(self.created),
            "systemModstamp": format_datetime(self.modified or self.created), "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(self.api_version),
            "jobType": "V2Ingest", "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending, "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": len(self.successes) + len(self.failures),
            "numberRecordsFailed": len(self.failures), "retries": 0,
            "totalProcessingTime": self.processing_ms, "apiActiveProcessingTime": self.processing_ms,
            "apexProcessingTime": 0,
        }
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


class BulkIngest:
    """Every ingest job of the emulator; thread-safe."""

    def __init__(self, org: Org, delay: float = 0.0, seed: int = 1,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_processed: Callable[[int], None] = lambda rows: None) -> None:
        self.org = org
        self.delay = delay
        self.seed = seed
        self._clock = clock
        self._on_processed = on_processed  # called with the rows of each job processed (the batches it used)
        self._lock = threading.Lock()
        self._jobs: dict[str, IngestJob] = {}
        self._counter = itertools.count(1)

    # -- the REST resource

    def create(self, body: Any, version: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _job_error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        obj = self._job_object(body)
        operation = str(body.get("operation") or "")
        if operation not in OPERATIONS:
            raise _job_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        ext = self._job_external_id(obj, operation, body.get("externalIdFieldName"))
        line_ending = str(body.get("lineEnding") or "LF")
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        if line_ending not in LINE_ENDINGS or delimiter not in DELIMITERS:
            raise _job_error(400, "INVALIDJOB", "InvalidJob : Invalid lineEnding or columnDelimiter")
        if str(body.get("contentType") or "CSV") != "CSV":
            raise _job_error(400, "INVALIDJOB", "InvalidJob : Only contentType CSV is supported")
        job = IngestJob(make_id("750", next(self._counter)), obj.name, operation, ext, line_ending,
                        delimiter, version, self._clock())
        with self._lock:
            self._jobs[job.id] = job
        return job.info()

    def _job_object(self, body: dict[str, Any]) -> ObjectDef:
        name = str(body.get("object") or "")
        obj = self.org.catalog.get(name)
        if obj is None:
            raise _job_error(400, "INVALIDJOB", f"InvalidJob : Unable to find object: {name}")
        return obj

    @staticmethod
    def _job_external_id(obj: ObjectDef, operation: str, name: Any) -> str | None:
        if operation != "upsert":
            return None
        key = obj.field(str(name or ""))
        if key is None or not key.lookup_key:
            raise _job_error(400, "INVALIDJOB",
                             f"InvalidJob : Field name provided, {name} does not match an External ID, "
                             f"Salesforce Id, or indexed field for {obj.name}")
        return key.name

    def upload(self, job_id: str, data: bytes) -> None:
        with self._lock:
            job = self._job(job_id)
            if job.state != "Open":
                raise _job_error(409, "INVALIDJOBSTATE", f"Job is not open for uploads: {job.state}")
            if job.data is not None:
                raise _job_error(400, "BULK_API_ERROR", MULTIPLE_UPLOADS.format(id=job.id))
            job.data = data

    def set_state(self, job_id: str, body: Any) -> dict[str, Any]:
        state = body.get("state") if isinstance(body, dict) else None
        with self._lock:
            job = self._job(job_id)
            if state == "UploadComplete" and job.state == "Open":
                self._close(job)
            elif state == "Aborted" and job.state not in TERMINAL:
                job.state = "Aborted"
                job.modified = self._clock()
            else:
                raise _job_error(400, "INVALIDJOBSTATE",
                                 f"Unable to change the job state from {job.state} to {state}")
            return job.info()

    def info(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            return self._job(job_id).info()

    def list(self) -> dict[str, Any]:
        with self._lock:
            records = [job.info() for job in self._jobs.values()]
        return {"done": True, "records": records, "nextRecordsUrl": None}

    def delete(self, job_id: str) -> None:
        with self._lock:
            job = self._job(job_id)
            if job.state not in (*TERMINAL, "UploadComplete"):
                raise _job_error(400, "INVALIDJOBSTATE", f"Unable to delete a job in state {job.state}")
            del self._jobs[job_id]

    def results(self, job_id: str, kind: str) -> str:
        """``successfulResults``, ``failedResults`` or ``unprocessedrecords`` as CSV text."""
        with self._lock:
            job = self._job(job_id)
            if kind == "successfulResults":
                return _csv_text(["sf__Id", "sf__Created", *job.header], job.successes)
            if kind == "failedResults":
                return _csv_text(["sf__Id", "sf__Error", *job.header], job.failures)
            return _csv_text(*_unprocessed(job))

    def _job(self, job_id: str) -> IngestJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    # -- processing

    def _close(self, job: IngestJob) -> None:
        job.state = "UploadComplete"
        job.modified = self._clock()
        threading.Thread(target=self._run, args=(job,), name=f"bulk-{job.id}", daemon=True).start()

    def _run(self, job: IngestJob) -> None:
        time.sleep(self.delay / 2)
        with self._lock:
            if job.state != "UploadComplete":
                return
            job.state = "InProgress"
        time.sleep(self.delay / 2)
        started = time.monotonic()
        with self._lock:
            if job.state != "InProgress":
                return
            self._process(job)
            job.processing_ms = int((time.monotonic() - started) * 1000)
            job.modified = self._clock()

    def _process(self, job: IngestJob) -> None:
        try:
            header, rows = _read_csv(job)
            self._check_header(job, header)
        except SfRequestError as exc:
            job.state = "Failed"
            job.error_message = exc.errors[0].message
            return
        job.header = header
        rng = random.Random(f"{self.seed}:{job.id}")
        columns = {name: i for i, name in enumerate(header)}
        rows = [(row + [""] * len(header))[:len(header)] for row in rows]
        duplicates = self._duplicates(job, header, rows)
        for cells in rows:
            self._file(job, cells, self._write_row(job, header, cells, columns, duplicates))
        rng.shuffle(job.successes)
        rng.shuffle(job.failures)
        job.state = "JobComplete"
        self._on_processed(len(rows))

    def _check_header(self, job: IngestJob, header: _Row) -> None:
        obj = self.org.object(job.object)
        for name in header:
            if not _known_column(self.org, obj, name):
                raise _job_error(400, "INVALIDBATCH", f"InvalidBatch : Field name not found : {name}")
        if job.external_id_field and job.external_id_field.lower() not in {h.lower() for h in header}:
            raise _job_error(400, "INVALIDBATCH",
                             f"InvalidBatch : The External ID field {job.external_id_field} is missing")
        if job.operation in ("update", "delete", "hardDelete") and "id" not in {h.lower() for h in header}:
            raise _job_error(400, "INVALIDBATCH", "InvalidBatch : Field name not found : Id")

    def _duplicates(self, job: IngestJob, header: _Row, rows: _Rows) -> set[Any]:
        """The keys more than one row of the job gives: Salesforce fails every row that has one
        (an upsert's external id, an update's or delete's Id), instead of writing the last."""
        key = (job.external_id_field or "Id") if job.operation == "upsert" else "Id"
        if job.operation == "insert":
            return set()
        position = next((i for i, name in enumerate(header) if name.lower() == key.lower()), None)
        if position is None:
            return set()
        return self.org.duplicate_keys(job.object, key, [cells[position] for cells in rows])

    def _write_row(self, job: IngestJob, header: _Row, cells: _Row,
                   columns: dict[str, int], duplicates: set[Any]) -> WriteResult:
        body: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            if cell == "":
                continue
            value = None if cell == "#N/A" else cell
            relationship, dot, parent_field = name.partition(".")
            if dot:
                body[relationship] = None if value is None else {parent_field: value}
            else:
                body[name] = value
        operation = "delete" if job.operation == "hardDelete" else job.operation
        return self.org.bulk_row(operation, job.object, job.external_id_field, body, columns, duplicates)

    @staticmethod
    def _file(job: IngestJob, cells: _Row, result: WriteResult) -> None:
        if result.success:
            job.successes.append([result.id or "", "true" if result.created else "false", *cells])
        else:
            job.failures.append([result.id or "", " ".join(e.bulk() for e in result.errors), *cells])


def _unprocessed(job: IngestJob) -> tuple[list[str], list[list[str]]]:
    """Rows of an Aborted or Failed job that were never processed (none once the job completed)."""
    if job.state not in ("Aborted", "Failed") or job.successes or job.failures:
        return job.header, []
    try:
        return _read_csv(job)
    except SfRequestError:
        return job.header, []


def _known_column(org: Org, obj: ObjectDef, name: str) -> bool:
    relationship, dot, parent_field = name.partition(".")
    if not dot:
        return obj.field(name) is not None
    ref = obj.relationship(relationship)
    parents = [org.catalog.get(t) for t in (ref.reference_to if ref else [])]
    return any(p is not None and p.field(parent_field) is not None for p in parents)


def _read_csv(job: IngestJob) -> tuple[list[str], list[list[str]]]:
    if not job.data:
        raise _job_error(400, "INVALIDBATCH", "InvalidBatch : No data was uploaded for this job")
    text = job.data.decode("utf-8-sig")
    crlf = "\r\n" in text
    if crlf != (job.line_ending == "CRLF") and "\n" in text.rstrip("\r\n"):
        raise _job_error(400, "CLIENTINPUTERROR",
                         f"ClientInputError : LineEnding is invalid on user data. Current LineEnding setting "
                         f"is {job.line_ending}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter])
    rows = [row for row in reader if row]
    if not rows:
        raise _job_error(400, "INVALIDBATCH", "InvalidBatch : No header found in the CSV data")
    return rows[0], rows[1:]


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
