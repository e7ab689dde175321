"""The sync's state store: one SQLite file (default ``./zoomforce.db``), standard library only.

What it keeps, so that ``zoomforce sync`` is incremental, resumable and loses nothing:

- ``runs``: the history of runs (command, entities, options, status, summary);
- ``cursors``: per entity, an opaque string (an ISO time or an id) from which the next run reads;
- ``record_hashes``: per (entity, key), the SHA-256 of the mapped record last confirmed by
  Salesforce (see :func:`payload_hash`), its Salesforce id and when it was written. Only hashes
  are stored, never the record, so no secret ever lands here through this table;
- ``dead_letters``: records that could not be mapped or written, redacted, for
  ``zoomforce sync --retry-dead-letters``;
- ``inbox``: Zoom event notifications received by ``zoomforce serve``, deduplicated by event id
  and by body hash, processed in the background with leases and retries.

Resuming without loss or duplicates rests on one rule: :meth:`StateStore.commit_batch` writes
the hashes of the records Salesforce confirmed *and* the cursor move in one transaction, and the
caller calls it only after Salesforce answered. A process killed before that commit re-reads the
batch on the next run (Salesforce upserts by external id, so re-sending is harmless); a process
killed after it skips the batch. There is no state in between.

Threads. A store holds ONE connection (``check_same_thread=False``) guarded by a re-entrant lock:
every call, and every ``with store.transaction():`` block as a whole, runs under that lock. This
is what lets an async webhook handler (``inbox_add``) and a worker thread (``inbox_claim`` ...)
share one store without ever meeting "database is locked" inside the process, and it also works
for ``":memory:"`` (each connection to ``":memory:"`` would be a different database). Writes in
SQLite are serialised by the file lock anyway, so a connection per thread would buy only
concurrent *reads*, which the sync does not need. Calls are short (milliseconds); an async handler
that must never block its loop calls the store through ``run_in_threadpool``. Other *processes*
(a ``serve`` beside a ``sync``) use their own store: write transactions start with
``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for the file lock, so they queue instead of
failing. Do not share a store across ``fork()``.

Every time is UTC ISO-8601 with milliseconds and a ``Z`` (fixed width, so text order is time
order). Every ``sqlite3`` error leaves this module as a :class:`~engine.errors.StateError` naming
the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from engine.errors import StateError
from engine.secrets import redact, scrub_message

DEFAULT_PATH = Path("zoomforce.db")
DEFAULT_BUSY_TIMEOUT_MS = 10_000

RunStatus = Literal["running", "ok", "partial", "failed", "interrupted"]
FINAL_RUN_STATUSES: frozenset[str] = frozenset({"ok", "partial", "failed", "interrupted"})
DeadLetterStatus = Literal["open", "resolved"]
InboxStatus = Literal["pending", "processing", "done", "dead"]
Key = str | int
Clock = Callable[[], datetime]

# Forward-only migrations: MIGRATIONS[n - 1] takes the file from schema version n - 1 to n
# (``PRAGMA user_version``). Append new versions; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            command TEXT NOT NULL,
            entities TEXT NOT NULL,
            options TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            summary TEXT,
            pid INTEGER,
            host TEXT
        )""",
        "CREATE INDEX runs_status ON runs (status)",
        """CREATE TABLE cursors (
            entity TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs (id)
        )""",
        """CREATE TABLE record_hashes (
            entity TEXT NOT NULL,
            key TEXT NOT NULL,
            payload_hash TEXT NOT NULL,
            salesforce_id TEXT,
            last_written_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs (id),
            PRIMARY KEY (entity, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            entity TEXT NOT NULL,
            key TEXT,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            record TEXT NOT NULL,
            source_index INTEGER,
            attempts INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
            run_id INTEGER REFERENCES runs (id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            resolved_at TEXT,
            resolved_run_id INTEGER REFERENCES runs (id)
        )""",
        # At most one OPEN dead letter per (entity, key); resolved ones are history.
        "CREATE UNIQUE INDEX dead_letters_open_key ON dead_letters (entity, key) WHERE status = 'open'",
        "CREATE INDEX dead_letters_status ON dead_letters (status, entity)",
        """CREATE TABLE inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            body_sha256 TEXT NOT NULL UNIQUE,
            event_type TEXT NOT NULL,
            body BLOB NOT NULL,
            received_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'processing', 'done', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            lease_until TEXT,
            last_error TEXT,
            finished_at TEXT
        )""",
        "CREATE INDEX inbox_ready ON inbox (status, next_attempt_at)",
    ),
    (
        # What was last written, secrets redacted, so that `sync --dry-run` can show the
        # field-level difference of a record it would update.
        "ALTER TABLE record_hashes ADD COLUMN last_record TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


# --------------------------------------------------------------------------------------------
# Pure helpers


def payload_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a mapped record.

    Canonical: sorted keys, compact separators, UTF-8 without escaping (``ensure_ascii=False``).
    The record must be JSON (it is what is sent to Salesforce); anything else raises TypeError.
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_iso(moment: datetime) -> str:
    """``2024-05-01T12:00:00.000Z``: UTC, milliseconds, fixed width. Naive times are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(char in "0123456789abcdef" for char in text)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        # os.kill(pid, 0) would terminate the process on Windows: we cannot probe, assume gone.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _describe(path: str, error: sqlite3.Error) -> str:
    """One line a person can act on, naming the file."""
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        hint = "it is locked by another process; wait for it to finish or stop it"
    elif "readonly" in lowered or "read-only" in lowered:
        hint = "it is read-only; check the permissions of the file and of its folder"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        hint = "it is corrupt or not a SQLite database; move it aside to start afresh"
    elif "unable to open" in lowered:
        hint = "it cannot be opened; check that its folder exists and is writable"
    elif "disk" in lowered and "full" in lowered:
        hint = "the disk is full"
    else:
        hint = ""
    detail = f"{hint} ({text})" if hint else text
    return f"state database {path}: {detail}"


# --------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class RunRecord:
    id: int
    command: str
    entities: list[str]
    options: dict[str, Any]
    status: RunStatus
    started_at: str
    finished_at: str | None
    summary: dict[str, Any] | None
    pid: int | None
    host: str | None


@dataclass(frozen=True)
class WrittenItem:
    """One record Salesforce confirmed: its upsert key, the hash of what was sent, its Id."""

    key: str
    payload_hash: str
    salesforce_id: str | None = None
    snapshot: str | None = None  # the record as written, secrets redacted, as JSON (for dry-run diffs)

    @classmethod
    def of(
        cls,
        key: Key,
        payload: Mapping[str, Any],
        salesforce_id: str | None = None,
        secret_fields: Iterable[str] | None = None,
    ) -> WrittenItem:
        """The item of a confirmed record; with `secret_fields`, a redacted snapshot is kept too."""
        snapshot = None if secret_fields is None else _json(redact(payload, secret_fields))
        return cls(str(key), payload_hash(payload), salesforce_id, snapshot)


WrittenLike = WrittenItem | tuple[Key, str | Mapping[str, Any]] | tuple[Key, str | Mapping[str, Any], str | None]


@dataclass(frozen=True)
class RecordState:
    entity: str
    key: str
    payload_hash: str
    salesforce_id: str | None
    last_written_at: str
    run_id: int | None
    last_record: str | None = None

    def snapshot(self) -> dict[str, Any] | None:
        """What was last written (secrets as ``***``), when it was kept."""
        return json.loads(self.last_record) if self.last_record else None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    entity: str
    key: str | None
    code: str
    message: str
    record: dict[str, Any]
    source_index: int | None
    attempts: int
    status: DeadLetterStatus
    run_id: int | None
    created_at: str
    updated_at: str
    resolved_at: str | None
    resolved_run_id: int | None


@dataclass(frozen=True)
class InboxEvent:
    id: int
    event_id: str
    event_type: str
    body: bytes
    body_sha256: str
    received_at: str
    status: InboxStatus
    attempts: int
    next_attempt_at: str
    lease_until: str | None
    last_error: str | None
    finished_at: str | None


def _written(item: WrittenLike) -> WrittenItem:
    if isinstance(item, WrittenItem):
        return item
    key, hashed, *rest = item
    salesforce_id = rest[0] if rest else None
    if isinstance(hashed, Mapping):
        return WrittenItem(str(key), payload_hash(hashed), salesforce_id)
    if not _is_sha256(hashed):
        raise ValueError(f"not a payload hash (64 lowercase hex digits): {hashed!r}")
    return WrittenItem(str(key), hashed, salesforce_id)


def _run_row(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        command=row["command"],
        entities=json.loads(row["entities"]),
        options=json.loads(row["options"]),
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        summary=json.loads(row["summary"]) if row["summary"] is not None else None,
        pid=row["pid"],
        host=row["host"],
    )


def _columns(cls: type, row: sqlite3.Row) -> dict[str, Any]:
    """The row's columns that ``cls`` has fields for (a later schema version may add columns)."""
    return {item.name: row[item.name] for item in fields(cls)}


def _dead_letter_row(row: sqlite3.Row) -> DeadLetter:
    values = _columns(DeadLetter, row)
    values["record"] = json.loads(values["record"])
    return DeadLetter(**values)


def _inbox_row(row: sqlite3.Row) -> InboxEvent:
    values = _columns(InboxEvent, row)
    values["body"] = bytes(values["body"])
    return InboxEvent(**values)


# --------------------------------------------------------------------------------------------
# The store


class StateStore:
    """The state database. Open with :meth:`open`; use as a context manager or call :meth:`close`."""

    def __init__(self, connection: sqlite3.Connection, path: str, clock: Clock = _utc_now):
        self._conn = connection
        self._path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0

    # ---- opening, closing, transactions ----------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str = DEFAULT_PATH,
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        clock: Clock | None = None,
    ) -> StateStore:
        """Open (creating if needed) and migrate the database at ``path``; ``":memory:"`` for tests."""
        name = str(path)
        try:
            connection = sqlite3.connect(
                name, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise StateError(_describe(name, error)) from error
        store = cls(connection, name, clock or _utc_now)
        try:
            store._configure(busy_timeout_ms)
            store._migrate()
        except BaseException:
            connection.close()
            raise
        return store

    def _configure(self, busy_timeout_ms: int) -> None:
        with self._locked():
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # Durability: with WAL, synchronous=NORMAL fsyncs the WAL at checkpoints, not at each
            # commit. A commit is still atomic, and survives a crash, Ctrl-C or kill -9 of this
            # process (it is in the OS's page cache). Only a power cut or OS crash can lose the
            # LAST few commits, and then a prefix of the commit history survives, never a part of
            # one. For checkpoints that is enough: a lost commit_batch means the batch is read and
            # upserted again by external id, which creates no duplicate. The inbox is different
            # (a 200 sent to Zoom cannot be taken back), so inbox_add commits with FULL.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            # Freed pages are overwritten: a dropped event body leaves no copy in the file.
            self._conn.execute("PRAGMA secure_delete = ON")

    def _migrate(self) -> None:
        if self._check_version() == SCHEMA_VERSION:
            return  # the usual case: no write lock taken at open
        with self.transaction():
            # Read again under the write lock: another process may have migrated meanwhile.
            for number in range(self._check_version() + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {number}")

    def _check_version(self) -> int:
        with self._locked():
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StateError(
                f"state database {self._path}: schema version {version} is newer than this "
                f"zoomforce supports ({SCHEMA_VERSION}); upgrade zoomforce"
            )
        return version

    @property
    def path(self) -> str:
        return self._path

    @property
    def schema_version(self) -> int:
        with self._locked():
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection; an open transaction is rolled back. Safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock and turn any sqlite3 error into a StateError naming the file."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as error:
                raise StateError(_describe(self._path, error)) from error

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes in the block commit together or not at all; blocks nest (savepoints).

        The outermost block takes the write lock at once (``BEGIN IMMEDIATE``), so it waits for
        another process's writer instead of failing half-way through. Any exception, including
        KeyboardInterrupt, rolls the block back and propagates.
        """
        with self._locked():
            savepoint = f"sp{self._depth}" if self._depth else None
            self._conn.execute(f"SAVEPOINT {savepoint}" if savepoint else "BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self._rollback(savepoint)
                raise
            self._depth -= 1
            self._commit(savepoint)

    def _commit(self, savepoint: str | None) -> None:
        try:
            self._conn.execute(f"RELEASE {savepoint}" if savepoint else "COMMIT")
        except sqlite3.Error:
            self._rollback(savepoint)
            raise

    def _rollback(self, savepoint: str | None) -> None:
        if not self._conn.in_transaction:
            return
        if savepoint:
            self._conn.execute(f"ROLLBACK TO {savepoint}")
            self._conn.execute(f"RELEASE {savepoint}")
        else:
            self._conn.execute("ROLLBACK")

    def _now(self) -> str:
        return utc_iso(self._clock())

    def _later(self, seconds: float) -> str:
        return utc_iso(self._clock() + timedelta(seconds=seconds))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._locked():
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._locked():
            return self._conn.execute(sql, params).fetchall()

    def _change(self, sql: str, params: Sequence[Any], what: str) -> None:
        """Run one UPDATE that must touch exactly one row; LookupError names ``what`` otherwise."""
        with self.transaction():
            if self._conn.execute(sql, params).rowcount != 1:
                raise LookupError(f"no {what} in state database {self._path}")

    # ---- runs ------------------------------------------------------------------------------

    def start_run(self, command: str, entities: Sequence[str], options: Mapping[str, Any]) -> int:
        """Record a run as ``running`` now; returns its id."""
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO runs (command, entities, options, status, started_at, pid, host) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (command, _json(list(entities)), _json(dict(options)), self._now(), os.getpid(), socket.gethostname()),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, status: RunStatus, summary: Mapping[str, Any]) -> None:
        if status not in FINAL_RUN_STATUSES:
            raise ValueError(f"a run finishes as one of {sorted(FINAL_RUN_STATUSES)}, not {status!r}")
        self._change(
            "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
            (status, self._now(), _json(dict(summary)), run_id),
            f"run {run_id}",
        )

    def run(self, run_id: int) -> RunRecord | None:
        row = self._one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run_row(row) if row else None

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        return [_run_row(row) for row in self._all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]

    def recover_interrupted_runs(self) -> list[int]:
        """Mark as ``interrupted`` the runs left ``running`` by a process that is gone; their ids.

        A run of this host whose process still lives (another ``sync`` or ``serve``) is left alone;
        so is a run started on another host, which cannot be probed.
        """
        host = socket.gethostname()
        with self.transaction():
            rows = self._conn.execute("SELECT id, pid, host FROM runs WHERE status = 'running'").fetchall()
            gone = [row["id"] for row in rows if row["host"] in (None, host) and not self._alive(row["pid"])]
            now = self._now()
            for run_id in gone:
                self._conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE id = ?", (now, run_id)
                )
        return gone

    @staticmethod
    def _alive(pid: int | None) -> bool:
        return pid is not None and _pid_alive(pid)

    # ---- cursors ---------------------------------------------------------------------------

    def get_cursor(self, entity: str) -> str | None:
        row = self._one("SELECT value FROM cursors WHERE entity = ?", (entity,))
        return str(row["value"]) if row else None

    def set_cursor(self, entity: str, value: str, run_id: int | None = None) -> None:
        with self.transaction():
            self._write_cursor(entity, value, run_id)

    def _write_cursor(self, entity: str, value: str, run_id: int | None) -> None:
        self._conn.execute(
            "INSERT INTO cursors (entity, value, updated_at, run_id) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (entity) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at, run_id = excluded.run_id",
            (entity, str(value), self._now(), run_id),
        )

    def clear_cursor(self, entity: str) -> None:
        """Forget where ``entity`` stopped: the next run reads it from the start (or ``--since``)."""
        with self.transaction():
            self._conn.execute("DELETE FROM cursors WHERE entity = ?", (entity,))

    def cursors(self) -> dict[str, str]:
        return {row["entity"]: row["value"] for row in self._all("SELECT entity, value FROM cursors ORDER BY entity")}

    # ---- record hashes ---------------------------------------------------------------------

    def record_hash(self, entity: str, key: Key) -> str | None:
        row = self._one("SELECT payload_hash FROM record_hashes WHERE entity = ? AND key = ?", (entity, str(key)))
        return str(row["payload_hash"]) if row else None

    def record_state(self, entity: str, key: Key) -> RecordState | None:
        row = self._one("SELECT * FROM record_hashes WHERE entity = ? AND key = ?", (entity, str(key)))
        return RecordState(**_columns(RecordState, row)) if row else None

    def record_states(self, entity: str, keys: Iterable[Key]) -> dict[str, RecordState]:
        """The states of many records at once (one query per 500 keys), by key; unknown keys are absent."""
        wanted = list(dict.fromkeys(str(key) for key in keys))
        found: dict[str, RecordState] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._all(f"SELECT * FROM record_hashes WHERE entity = ? AND key IN ({marks})", (entity, *chunk))
            found.update({row["key"]: RecordState(**_columns(RecordState, row)) for row in rows})
        return found

    def unchanged(self, entity: str, key: Key, payload: Mapping[str, Any]) -> bool:
        """True when ``payload`` is exactly what was last written for this record: skip the call."""
        return self.record_hash(entity, key) == payload_hash(payload)

    def remember_written(self, entity: str, items: Iterable[WrittenLike], run_id: int | None) -> int:
        """Store the hash (and Salesforce id, when given) of records Salesforce confirmed.

        Items are :class:`WrittenItem` or ``(key, hash_or_payload[, salesforce_id])``. A known
        Salesforce id is kept when an item carries none. An open dead letter of a written key is
        resolved: the record is in Salesforce now. Returns how many items were stored.
        """
        with self.transaction():
            return self._remember(entity, items, run_id)

    def _remember(self, entity: str, items: Iterable[WrittenLike], run_id: int | None) -> int:
        now = self._now()
        rows = [
            (entity, item.key, item.payload_hash, item.salesforce_id, now, run_id, item.snapshot)
            for item in map(_written, items)
        ]
        self._conn.executemany(
            "INSERT INTO record_hashes (entity, key, payload_hash, salesforce_id, last_written_at, run_id, "
            "last_record) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entity, key) DO UPDATE SET "
            "payload_hash = excluded.payload_hash, "
            "salesforce_id = COALESCE(excluded.salesforce_id, record_hashes.salesforce_id), "
            "last_written_at = excluded.last_written_at, run_id = excluded.run_id, "
            "last_record = excluded.last_record",
            rows,
        )
        self._conn.executemany(
            "UPDATE dead_letters SET status = 'resolved', resolved_at = ?, resolved_run_id = ?, updated_at = ? "
            "WHERE entity = ? AND key = ? AND status = 'open'",
            [(now, run_id, now, entity, row[1]) for row in rows],
        )
        return len(rows)

    def forget(self, entity: str, key: Key) -> bool:
        """Drop a record's hash so the next run writes it again; False when none was stored."""
        with self.transaction():
            cursor = self._conn.execute("DELETE FROM record_hashes WHERE entity = ? AND key = ?", (entity, str(key)))
            return cursor.rowcount > 0

    # ---- checkpoint ------------------------------------------------------------------------

    def commit_batch(self, entity: str, written: Iterable[WrittenLike], cursor: str | None, run_id: int | None) -> None:
        """The checkpoint, in ONE transaction: the confirmed records' hashes and the cursor move.

        Call it only after Salesforce confirmed the batch. ``cursor=None`` leaves the cursor as is
        (a batch in the middle of a page). To file the batch's dead letters in the same commit,
        wrap both calls in ``with store.transaction():``.
        """
        with self.transaction():
            self._remember(entity, written, run_id)
            if cursor is not None:
                self._write_cursor(entity, cursor, run_id)

    # ---- dead letters ----------------------------------------------------------------------

    def add_dead_letter(
        self,
        entity: str,
        key: Key | None,
        code: str,
        message: str,
        record: Mapping[str, Any],
        run_id: int | None,
        source_index: int | None = None,
        attempt: int = 1,
        *,
        secret_fields: Iterable[str],
    ) -> int:
        """File a record that failed; returns the dead letter's id.

        ``secret_fields`` is required: the record is redacted here (see :func:`redact`), and the
        secret values are scrubbed from ``message`` too. An OPEN dead letter of the same
        (entity, key) is updated (code, message, record, attempts) rather than duplicated; a
        record with no key always gets a new one.
        """
        safe = redact(record, secret_fields)
        message = scrub_message(message, record, secret_fields)
        text_key = None if key is None else str(key)
        with self.transaction():
            existing = self._open_dead_letter(entity, text_key)
            if existing is not None:
                self._update_dead_letter(existing, code, message, _json(safe), run_id, source_index, attempt)
                return existing
            return self._insert_dead_letter(entity, text_key, code, message, _json(safe), run_id, source_index, attempt)

    def _open_dead_letter(self, entity: str, key: str | None) -> int | None:
        if key is None:
            return None
        row = self._conn.execute(
            "SELECT id FROM dead_letters WHERE entity = ? AND key = ? AND status = 'open'", (entity, key)
        ).fetchone()
        return int(row["id"]) if row else None

    def _update_dead_letter(
        self, dead_id: int, code: str, message: str, record: str, run_id: int | None, index: int | None, attempt: int
    ) -> None:
        self._conn.execute(
            "UPDATE dead_letters SET code = ?, message = ?, record = ?, run_id = ?, "
            "source_index = COALESCE(?, source_index), attempts = MAX(attempts + 1, ?), updated_at = ? WHERE id = ?",
            (code, message, record, run_id, index, attempt, self._now(), dead_id),
        )

    def _insert_dead_letter(
        self,
        entity: str,
        key: str | None,
        code: str,
        message: str,
        record: str,
        run_id: int | None,
        index: int | None,
        attempt: int,
    ) -> int:
        now = self._now()
        cursor = self._conn.execute(
            "INSERT INTO dead_letters (entity, key, code, message, record, source_index, attempts, run_id, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entity, key, code, message, record, index, attempt, run_id, now, now),
        )
        return int(cursor.lastrowid or 0)

    def dead_letters(self, entity: str | None = None, status: DeadLetterStatus | None = "open") -> list[DeadLetter]:
        """Dead letters, oldest first; ``status=None`` for all of them."""
        where, params = self._dead_letter_filter(entity, status)
        rows = self._all(f"SELECT * FROM dead_letters{where} ORDER BY id", params)
        return [_dead_letter_row(row) for row in rows]

    def dead_letter(self, dead_id: int) -> DeadLetter | None:
        row = self._one("SELECT * FROM dead_letters WHERE id = ?", (dead_id,))
        return _dead_letter_row(row) if row else None

    @staticmethod
    def _dead_letter_filter(entity: str | None, status: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if entity is not None:
            clauses.append("entity = ?")
            params.append(entity)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def resolve_dead_letter(self, dead_id: int, run_id: int | None) -> None:
        """The replay of ``dead_id`` succeeded in run ``run_id``."""
        now = self._now()
        self._change(
            "UPDATE dead_letters SET status = 'resolved', resolved_at = ?, resolved_run_id = ?, updated_at = ? "
            "WHERE id = ?",
            (now, run_id, now, dead_id),
            f"dead letter {dead_id}",
        )

    def bump_dead_letter(self, dead_id: int, code: str, message: str) -> None:
        """The replay of ``dead_id`` failed again: one more attempt, the latest error kept."""
        self._change(
            "UPDATE dead_letters SET attempts = attempts + 1, code = ?, message = ?, updated_at = ? WHERE id = ?",
            (code, message, self._now(), dead_id),
            f"dead letter {dead_id}",
        )

    def dead_letter_count(self, entity: str | None = None, status: DeadLetterStatus | None = "open") -> int:
        where, params = self._dead_letter_filter(entity, status)
        row = self._one(f"SELECT COUNT(*) AS n FROM dead_letters{where}", params)
        return int(row["n"]) if row else 0

    def dead_letter_counts(self, status: DeadLetterStatus | None = "open") -> dict[str, int]:
        """Per entity, how many dead letters have ``status``."""
        where, params = self._dead_letter_filter(None, status)
        rows = self._all(f"SELECT entity, COUNT(*) AS n FROM dead_letters{where} GROUP BY entity", params)
        return {row["entity"]: int(row["n"]) for row in rows}

    # ---- inbox (webhooks) ------------------------------------------------------------------

    def inbox_add(self, event_id: str, event_type: str, body: bytes, received_at: datetime | None = None) -> bool:
        """Keep an event for processing; False, storing nothing, when its id or body was seen.

        Commits with ``synchronous=FULL``: once this returns True the event survives even a power
        cut, so answering 200 to Zoom is safe.
        """
        digest = hashlib.sha256(body).hexdigest()
        received = utc_iso(received_at) if received_at else self._now()
        with self._locked():
            if self._depth:  # inside the caller's transaction: its commit decides durability
                return self._insert_event(event_id, event_type, body, digest, received)
            self._conn.execute("PRAGMA synchronous = FULL")
            try:
                return self._insert_event(event_id, event_type, body, digest, received)
            finally:
                self._conn.execute("PRAGMA synchronous = NORMAL")

    def _insert_event(self, event_id: str, event_type: str, body: bytes, digest: str, received: str) -> bool:
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO inbox (event_id, body_sha256, event_type, body, received_at, next_attempt_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (event_id, digest, event_type, body, received, received),
            )
            return cursor.rowcount == 1

    def inbox_claim(self, limit: int, lease_seconds: float, max_attempts: int | None = None) -> list[InboxEvent]:
        """Take up to ``limit`` due events for processing, leased for ``lease_seconds``.

        Due: pending events whose ``next_attempt_at`` has come, and events whose worker's lease
        expired (it crashed or hung). Each claim counts as an attempt. With ``max_attempts``, an
        expired lease that already used them all goes to ``dead`` instead of being retried.
        """
        now = self._now()
        lease = self._later(lease_seconds)
        with self.transaction():
            if max_attempts is not None:
                self._bury_expired(now, max_attempts)
            rows = self._conn.execute(
                "SELECT id FROM inbox WHERE (status = 'pending' AND next_attempt_at <= ?) "
                "OR (status = 'processing' AND lease_until <= ?) ORDER BY next_attempt_at, id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            ids = [row["id"] for row in rows]
            self._conn.executemany(
                "UPDATE inbox SET status = 'processing', lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                [(lease, event_id) for event_id in ids],
            )
            return [self._event(event_id) for event_id in ids]

    def _bury_expired(self, now: str, max_attempts: int) -> None:
        self._conn.execute(
            "UPDATE inbox SET status = 'dead', finished_at = ?, lease_until = NULL, "
            "last_error = COALESCE(last_error, 'lease expired') || ' (no attempts left)' "
            "WHERE status = 'processing' AND lease_until <= ? AND attempts >= ?",
            (now, now, max_attempts),
        )

    def _event(self, event_id: int) -> InboxEvent:
        return _inbox_row(self._conn.execute("SELECT * FROM inbox WHERE id = ?", (event_id,)).fetchone())

    def inbox_event(self, event_id: int) -> InboxEvent | None:
        row = self._one("SELECT * FROM inbox WHERE id = ?", (event_id,))
        return _inbox_row(row) if row else None

    def inbox_done(self, event_id: int) -> None:
        """The event is in Salesforce: its body (payload values, perhaps credentials) is dropped.

        The row stays, with its id and body hash, so that a redelivery is still recognised.
        """
        self._change(
            "UPDATE inbox SET status = 'done', finished_at = ?, lease_until = NULL, body = X'' WHERE id = ?",
            (self._now(), event_id),
            f"inbox event {event_id}",
        )

    def inbox_requeue_dead(self) -> int:
        """Give every dead event a fresh round of attempts (after an outage longer than the retries)."""
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE inbox SET status = 'pending', attempts = 0, next_attempt_at = ?, finished_at = NULL "
                "WHERE status = 'dead' AND length(body) > 0",
                (self._now(),),
            )
            return int(cursor.rowcount)

    def inbox_failed(self, event_id: int, error: str, retry_after_seconds: float) -> None:
        """Processing failed; try again no sooner than ``retry_after_seconds`` from now (backoff)."""
        self._change(
            "UPDATE inbox SET status = 'pending', last_error = ?, next_attempt_at = ?, lease_until = NULL WHERE id = ?",
            (error, self._later(retry_after_seconds), event_id),
            f"inbox event {event_id}",
        )

    def inbox_dead(self, event_id: int, error: str) -> None:
        """Give up on an event (after the caller's N attempts); it stays for inspection."""
        self._change(
            "UPDATE inbox SET status = 'dead', last_error = ?, finished_at = ?, lease_until = NULL WHERE id = ?",
            (error, self._now(), event_id),
            f"inbox event {event_id}",
        )

    def inbox_pending_count(self) -> int:
        """Events not finished yet: pending (due or waiting for their retry) and in progress."""
        row = self._one("SELECT COUNT(*) AS n FROM inbox WHERE status IN ('pending', 'processing')")
        return int(row["n"]) if row else 0

    def inbox_counts(self) -> dict[str, int]:
        rows = self._all("SELECT status, COUNT(*) AS n FROM inbox GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}
