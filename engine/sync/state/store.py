"""The sync's state store: one SQLite file (default ``./zoomforce.db``), standard library only.

What it keeps, so that ``zoomforce sync`` is incremental, resumable and loses nothing, one part
(one module, one table) per concern, all over ONE connection (:mod:`.database`):

- ``store.runs`` (:mod:`.runs`): the history of runs (command, entities, options, status, summary);
- ``store.cursors`` (:mod:`.cursors`): per entity, an opaque string (an ISO time or an id) from
  which the next run reads;
- ``store.hashes`` (:mod:`.record_hashes`): per (entity, key), the SHA-256 of the mapped record last
  confirmed by Salesforce (see :func:`~.record_hashes.payload_hash`), its Salesforce id, when it was
  written and, when asked, a snapshot with its secrets redacted (for dry-run diffs);
- ``store.dead_letters`` (:mod:`.dead_letters`): records that could not be mapped or written,
  redacted, for ``zoomforce sync --retry-dead-letters``;
- ``store.inbox`` (:mod:`.inbox`): Zoom event notifications received by ``zoomforce serve``,
  deduplicated by event id and by body hash, processed in the background with leases and retries;
- ``store.binding`` (:mod:`.binding`): the Salesforce org and Zoom account the state was written for.

Two more things are about the state as a whole: :meth:`StateStore.run_lock` (one run at a time,
:mod:`.lock`) and :meth:`StateStore.snapshot` (a private in-memory copy for a dry run, which
therefore cannot write the file whatever it does).

Resuming without loss or duplicates rests on one rule: :meth:`StateStore.commit_batch` writes
the hashes of the records Salesforce confirmed *and* the cursor move in one transaction, and the
caller calls it only after Salesforce answered. A process killed before that commit re-reads the
batch on the next run (Salesforce upserts by external id, so re-sending is harmless); a process
killed after it skips the batch. There is no state in between.

Threads, durability, times and errors are the database's: see :mod:`.database`. Redaction is
:mod:`engine.secrets`s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from engine.sync.state.binding import Binding, check_binding
from engine.sync.state.cursors import Cursors
from engine.sync.state.database import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_PATH, Clock, Database
from engine.sync.state.dead_letters import DeadLetters
from engine.sync.state.detail_reads import DetailReads
from engine.sync.state.inbox import Inbox
from engine.sync.state.locations import is_url
from engine.sync.state.lock import FileRunLock, NoRunLock, RunLock
from engine.sync.state.record_hashes import RecordHashes, WrittenLike
from engine.sync.state.runs import Runs

# --------------------------------------------------------------------------------------------
# The store


class StateStore:
    """The state database, by part. Open with :meth:`open`; use as a context manager or call :meth:`close`.

    ``store.runs``, ``store.cursors``, ``store.hashes``, ``store.dead_letters`` and ``store.inbox``
    share the store's one connection, lock and transaction: calls of several parts inside one
    ``with store.transaction():`` commit together.
    """

    def __init__(self, database: Database, *, snapshot: bool = False):
        self._db = database
        self.is_snapshot = snapshot
        self.binding = Binding(database)
        self.runs = Runs(database)
        self.cursors = Cursors(database)
        self.dead_letters = DeadLetters(database)
        self.hashes = RecordHashes(database, self.dead_letters)
        self.inbox = Inbox(database)
        self.detail_reads = DetailReads(database)

    @classmethod
    def open(
        cls,
        path: Path | str = DEFAULT_PATH,
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        clock: Clock | None = None,
        schema: str | None = None,
    ) -> StateStore:
        """Open (creating if needed) and migrate the state at ``path``; ``":memory:"`` for tests.

        A ``postgresql://`` URL opens a PostgreSQL state (:mod:`.postgres`; ``schema``: the schema in
        it, for one account's state beside another's); anything else is a SQLite file.
        """
        if is_url(path):
            from engine.sync.state.postgres import PostgresDatabase  # deferred: psycopg only for a PostgreSQL state

            return cls(PostgresDatabase.connect(str(path), clock=clock, schema=schema))
        return cls(Database.open(path, busy_timeout_ms=busy_timeout_ms, clock=clock))

    @classmethod
    def snapshot(cls, path: Path | str = DEFAULT_PATH, *, clock: Clock | None = None,
                 schema: str | None = None) -> StateStore:
        """A private in-memory copy of the state at ``path`` (read, never written; see Database.snapshot).

        What a dry run works on: it may go through every code path of a real run, and still the
        file stays byte for byte as it was.
        """
        if is_url(path):
            from engine.sync.state import postgres  # deferred: psycopg only for a PostgreSQL state

            return cls(postgres.snapshot(str(path), clock=clock, schema=schema), snapshot=True)
        return cls(Database.snapshot(path, clock=clock), snapshot=True)

    def run_lock(self, command: str, *, org: str = "", account: str = "", entities: Sequence[str] = ()) -> RunLock:
        """The lock that one run at a time takes on this state (``sync``, ``dead-letters retry``).

        SQLite: one lock for the whole file. PostgreSQL: one session advisory lock per (``org``,
        ``account``, entity) of ``entities`` (none: all of them), so runs on other work go side by side.
        """
        if self._db.path == ":memory:" or self.is_snapshot:
            return NoRunLock()
        if self._db.dialect == "postgresql":
            from engine.sync.state.pg_lock import AdvisoryRunLock  # deferred: psycopg only for a PostgreSQL state
            from engine.sync.state.postgres import PostgresDatabase  # deferred: as above

            assert isinstance(self._db, PostgresDatabase)
            return AdvisoryRunLock(self._db, command, org=org, account=account, entities=entities)
        return FileRunLock(self._db.path, command)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    @property
    def path(self) -> str:
        return self._db.path

    @property
    def schema_version(self) -> int:
        return self._db.schema_version

    def close(self) -> None:
        """Close the connection; an open transaction is rolled back. Safe to call twice."""
        self._db.close()

    def checkpoint(self) -> bool:
        """Empty the write-ahead log into the file, so that no copy of a dropped row lingers in ``-wal``."""
        return self._db.checkpoint()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        """All writes in the block, of any part, commit together or not at all; blocks nest (savepoints).

        The outermost block takes the write lock at once (``BEGIN IMMEDIATE``), so it waits for
        another process's writer instead of failing half-way through. Any exception, including
        KeyboardInterrupt, rolls the block back and propagates.
        """
        return self._db.transaction()

    # ---- binding ---------------------------------------------------------------------------

    def check_binding(self, current: dict[str, str], *, rebind: bool = False, run_id: int | None = None) -> None:
        """Refuse ids other than the bound ones (StateBoundElsewhere, exit 2); bind those not bound yet.

        ``rebind``: record ``current`` over what was bound, and forget in the same transaction what the
        state knew of the old org: every record hash and every cursor (the records are read and written
        again, to the new org). Dead letters stay: they are records still missing.
        """
        with self._db.transaction():
            if rebind:
                self.binding.replace(current, run_id)
                self.hashes.forget_all()
                self.detail_reads.forget_all()
                for entity in self.cursors.all():
                    self.cursors.clear(entity)
                return
            fresh = check_binding(self.path, self.binding.get(), current)
            if fresh:
                self.binding.bind(fresh, run_id)

    # ---- checkpoint ------------------------------------------------------------------------

    def commit_batch(self, entity: str, written: Iterable[WrittenLike], cursor: str | None, run_id: int | None) -> None:
        """The checkpoint, in ONE transaction: the confirmed records' hashes and the cursor move.

        Call it only after Salesforce confirmed the batch. ``cursor=None`` leaves the cursor as is
        (a batch in the middle of a page). To file the batch's dead letters in the same commit,
        wrap both calls in ``with store.transaction():``.
        """
        with self._db.transaction():
            self.hashes.remember_written(entity, written, run_id)
            if cursor is not None:
                self.cursors.set(entity, cursor, run_id)
