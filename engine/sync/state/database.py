"""The state database: one SQLite file and the one connection every part of the store shares.

This module holds what is about the file rather than about any table's rows: opening it, its
pragmas, the schema migrations (``PRAGMA user_version``), the lock and the transaction helper that
every part uses, and the turning of ``sqlite3`` errors into :class:`~engine.errors.StateError`.

Threads. A store holds ONE connection (``check_same_thread=False``) guarded by a re-entrant lock:
every call, and every ``with store.transaction():`` block as a whole, runs under that lock. This
is what lets an async webhook handler (``inbox.add``) and a worker thread (``inbox.claim`` ...)
share one store without ever meeting "database is locked" inside the process, and it also works
for ``":memory:"`` (each connection to ``":memory:"`` would be a different database). Writes in
SQLite are serialised by the file lock anyway, so a connection per thread would buy only
concurrent *reads*, which the sync does not need. Calls are short (milliseconds); an async handler
that must never block its loop calls the store through ``run_in_threadpool``. Other *processes*
(a ``serve`` beside a ``sync``) use their own store: write transactions start with
``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for the file lock, so they queue instead of
failing. Do not share a store across ``fork()``.

Every time is UTC ISO-8601 with milliseconds and a ``Z`` (fixed width, so text order is time
order). Every ``sqlite3`` error leaves the store as a :class:`~engine.errors.StateError` naming
the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.errors import StateError
from engine.language.safe_json import well_formed_deep
from engine.resources import DEFAULT_STATE_PATH

DEFAULT_PATH = DEFAULT_STATE_PATH
DEFAULT_BUSY_TIMEOUT_MS = 10_000

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
    (
        # Dead letters an operator sets aside (`zoomforce dead-letters discard ID --reason TEXT`) are
        # kept, marked 'discarded' with the reason: the status CHECK grows, so the table is rebuilt.
        """CREATE TABLE dead_letters_v3 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            entity TEXT NOT NULL,
            key TEXT,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            record TEXT NOT NULL,
            source_index INTEGER,
            attempts INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'discarded')),
            run_id INTEGER REFERENCES runs (id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            resolved_at TEXT,
            resolved_run_id INTEGER REFERENCES runs (id),
            discarded_at TEXT,
            discard_reason TEXT
        )""",
        """INSERT INTO dead_letters_v3 (id, entity, key, code, message, record, source_index, attempts, status,
            run_id, created_at, updated_at, resolved_at, resolved_run_id)
           SELECT id, entity, key, code, message, record, source_index, attempts, status, run_id, created_at,
            updated_at, resolved_at, resolved_run_id FROM dead_letters""",
        "DROP TABLE dead_letters",
        "ALTER TABLE dead_letters_v3 RENAME TO dead_letters",
        "CREATE UNIQUE INDEX dead_letters_open_key ON dead_letters (entity, key) WHERE status = 'open'",
        "CREATE INDEX dead_letters_status ON dead_letters (status, entity)",
        # Every attempt of a dead letter, its error kept (`zoomforce dead-letters show ID`); a letter
        # written before this version has its latest attempt only.
        """CREATE TABLE dead_letter_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dead_letter_id INTEGER NOT NULL REFERENCES dead_letters (id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            run_id INTEGER REFERENCES runs (id)
        )""",
        "CREATE INDEX dead_letter_attempts_letter ON dead_letter_attempts (dead_letter_id, id)",
        """INSERT INTO dead_letter_attempts (dead_letter_id, at, code, message, run_id)
           SELECT id, updated_at, code, message, run_id FROM dead_letters""",
        # Where the state was written: the Salesforce org id and the Zoom account id, recorded at
        # first use; a run against another org or account refuses (engine.sync.state.binding).
        """CREATE TABLE binding (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            bound_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs (id)
        ) WITHOUT ROWID""",
    ),
    (
        # When a listed item was last read in detail, and the hash of its listed signal fields then
        # (engine.sync.state.detail_reads): within the listing's max_age, an unchanged one is not read again.
        """CREATE TABLE detail_reads (
            entity TEXT NOT NULL,
            key TEXT NOT NULL,
            signal_hash TEXT NOT NULL,
            record_key TEXT NOT NULL,
            read_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs (id),
            PRIMARY KEY (entity, key)
        ) WITHOUT ROWID""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


# --------------------------------------------------------------------------------------------
# Helpers the parts share


def utc_iso(moment: datetime) -> str:
    """``2024-05-01T12:00:00.000Z``: UTC, milliseconds, fixed width. Naive times are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def to_json(value: Any) -> str:
    """How the store writes a JSON column: sorted keys, UTF-8 kept, anything else as its ``str``.

    Lone surrogates become U+FFFD and nesting is cut at the limit (:func:`well_formed_deep`), so
    that whatever a hostile record held can be stored.
    """
    return json.dumps(well_formed_deep(value), sort_keys=True, ensure_ascii=False, default=str)


def columns(cls: type, row: sqlite3.Row) -> dict[str, Any]:
    """The row's columns that ``cls`` has fields for (a later schema version may add columns)."""
    return {item.name: row[item.name] for item in fields(cls)}


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
        hint = "the disk is full (or the file is over its size limit)"
    elif "disk i/o" in lowered:
        hint = "it cannot be written: the disk may be full or failing"
    else:
        hint = ""
    detail = f"{hint} ({text})" if hint else text
    return f"state database {path}: {detail}"


def _copy(file: Path, target: sqlite3.Connection, *, immutable: bool) -> None:
    """Copy the database ``file`` into ``target``, opening the file read-only (and as immutable: untouched)."""
    uri = file.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    source = sqlite3.connect(uri, uri=True, timeout=DEFAULT_BUSY_TIMEOUT_MS / 1000)
    try:
        source.backup(target)
    finally:
        source.close()


# --------------------------------------------------------------------------------------------
# The connection


class Database:
    """The one connection of a store, with its lock, its clock and its transaction helper.

    The parts (runs, cursors, ...) write SQL both backends run (``?`` placeholders, ``RETURNING``,
    ``ON CONFLICT``, no scalar ``MAX``, no blob literal): :class:`engine.sync.state.postgres.PostgresDatabase`
    is this interface over PostgreSQL. ``dialect`` says which one it is; ``skip_locked`` is what a
    claiming ``SELECT`` ends with so that concurrent claimers skip each other's rows (nothing for
    SQLite, whose writers are serialised by the file lock).
    """

    dialect = "sqlite"
    skip_locked = ""

    def __init__(self, connection: sqlite3.Connection, path: str, clock: Clock = _utc_now):
        self._conn = connection
        self._path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0

    # ---- opening, closing ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str = DEFAULT_PATH,
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        clock: Clock | None = None,
    ) -> Database:
        """Open (creating if needed) and migrate the database at ``path``; ``":memory:"`` for tests."""
        name = str(path)
        try:
            connection = sqlite3.connect(
                name, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise StateError(_describe(name, error)) from error
        database = cls(connection, name, clock or _utc_now)
        try:
            database._configure(busy_timeout_ms)
            database._migrate()
        except BaseException:
            connection.close()
            raise
        return database

    @classmethod
    def empty(cls, name: str, *, clock: Clock | None = None) -> Database:
        """A new, migrated in-memory database named ``name`` in messages (a PostgreSQL state's dry-run copy)."""
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        database = cls(memory, name, clock or _utc_now)
        database._configure(DEFAULT_BUSY_TIMEOUT_MS)
        database._migrate()
        return database

    @classmethod
    def snapshot(cls, path: Path | str = DEFAULT_PATH, *, clock: Clock | None = None) -> Database:
        """A private in-memory copy of the database at ``path``, migrated: what a dry run works on.

        The file is only read, and nothing is created beside it: with no ``-wal`` file beside it
        (no other process has it open) it is read as immutable, so not even the ``-shm`` and ``-wal``
        files a reader makes appear; otherwise it is read through them, read-only. A missing file
        gives an empty store. Whatever the caller writes lands in the copy and goes with it.
        """
        name = str(path)
        try:
            memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:  # pragma: no cover - an in-memory database always opens
            raise StateError(_describe(name, error)) from error
        try:
            file = Path(name)
            if name != ":memory:" and file.exists():
                live = Path(name + "-wal").exists() and Path(name + "-shm").exists()
                try:
                    _copy(file, memory, immutable=not live)
                except sqlite3.Error:
                    if not live:
                        raise
                    # a journal left by a process that died needs a writer to recover it: read the file alone
                    _copy(file, memory, immutable=True)
        except sqlite3.Error as error:
            memory.close()
            raise StateError(_describe(name, error)) from error
        database = cls(memory, name, clock or _utc_now)
        try:
            database._configure(DEFAULT_BUSY_TIMEOUT_MS)
            database._migrate()
        except BaseException:
            memory.close()
            raise
        return database

    def _configure(self, busy_timeout_ms: int) -> None:
        with self.locked():
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # Durability: with WAL, synchronous=NORMAL fsyncs the WAL at checkpoints, not at each
            # commit. A commit is still atomic, and survives a crash, Ctrl-C or kill -9 of this
            # process (it is in the OS's page cache). Only a power cut or OS crash can lose the
            # LAST few commits, and then a prefix of the commit history survives, never a part of
            # one. For checkpoints that is enough: a lost commit_batch means the batch is read and
            # upserted again by external id, which creates no duplicate. The inbox is different
            # (a 200 sent to Zoom cannot be taken back), so inbox.add commits with FULL (durable()).
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            # Freed pages are overwritten: a dropped event body leaves no copy in the file.
            self._conn.execute("PRAGMA secure_delete = ON")

    def _migrate(self) -> None:
        if self._check_version() == SCHEMA_VERSION:
            return  # the usual case: no write lock taken at open
        with self.transaction():
            # Read again under the write lock: another process may have migrated meanwhile.
            version = self._check_version()
            if version == 0 and self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                raise StateError(f"state database {self._path}: not a zoomforce state (it holds the tables of "
                                 "another program); give another --state")
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {number}")

    def _check_version(self) -> int:
        with self.locked():
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
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for tests and diagnostics; the parts go through the methods below."""
        return self._conn

    @property
    def schema_version(self) -> int:
        with self.locked():
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection; an open transaction is rolled back. Safe to call twice."""
        with self.locked():
            self._conn.close()

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the file and empty it (``wal_checkpoint(TRUNCATE)``).

        With ``secure_delete``, what a transaction removed (an event's body) is then gone from
        both files; False when another connection's read kept the log from being emptied.
        """
        with self.locked():
            row = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return row is None or int(row[0]) == 0

    # ---- the lock and transactions ---------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
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
        with self.locked():
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

    @contextmanager
    def durable(self) -> Iterator[None]:
        """Run the block under the lock with ``synchronous=FULL``: what it commits survives a power cut.

        Inside a caller's transaction nothing changes: that transaction's commit decides durability.
        """
        with self.locked():
            if self._depth:
                yield
                return
            self._conn.execute("PRAGMA synchronous = FULL")
            try:
                yield
            finally:
                self._conn.execute("PRAGMA synchronous = NORMAL")

    # ---- statements ------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement; call it inside :meth:`transaction` (writes) or :meth:`locked` (reads)."""
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        """One statement over many rows; call it inside :meth:`transaction`."""
        return self._conn.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self.locked():
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.locked():
            return self._conn.execute(sql, params).fetchall()

    def change(self, sql: str, params: Sequence[Any], what: str) -> None:
        """Run one UPDATE that must touch exactly one row; LookupError names ``what`` otherwise."""
        with self.transaction():
            if self._conn.execute(sql, params).rowcount != 1:
                raise LookupError(f"no {what} in state database {self._path}")

    # ---- time ------------------------------------------------------------------------------

    def now(self) -> str:
        return utc_iso(self._clock())

    def later(self, seconds: float) -> str:
        return utc_iso(self._clock() + timedelta(seconds=seconds))
