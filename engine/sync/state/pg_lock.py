"""The run lock of a PostgreSQL state: session advisory locks, one per (org, Zoom account, entity).

Several ``sync`` processes on several hosts share one PostgreSQL state. Each takes, on a connection
of its own, one ``pg_try_advisory_lock`` per entity it syncs, keyed by (Salesforce org, Zoom
account, entity): two runs syncing different accounts or different entities run side by side, two
whose work overlaps do not (the second exits 3, or waits ``--wait SECONDS``, as with the SQLite
lock). The server releases a session's advisory locks when the session ends, however it ends (a
crash, SIGKILL, a lost connection), so a stale lock cannot stop the next run. Keys are taken in
sorted order, and a run that cannot take them all gives back those it took, so two runs never wait
on each other in a cycle. A run of no entity in particular (all of them) takes the (org, account)
key exclusively, which every run of some entities holds shared: it runs alone on its account.

Who holds a key is written in ``run_locks`` by its holder, for the message a second run prints.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable

from engine.errors import LockHeld, StateError
from engine.sync.state.lock import POLL_SECONDS, LockHolder, _Context
from engine.sync.state.postgres import PostgresDatabase

LOG = logging.getLogger("zoomforce.state")
ALL_ENTITIES = "*"


def lock_key(org: str, account: str, entity: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of one (org, account, entity)."""
    digest = hashlib.sha256("\x1f".join((org, account, entity)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryRunLock(_Context):
    """The run lock of a PostgreSQL state for ``entities`` of (``org``, ``account``)."""

    def __init__(self, database: PostgresDatabase, command: str, *, org: str, account: str,
                 entities: Iterable[str], sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic):
        self._database = database
        self.command = command
        self.scopes = sorted({(org, account, entity) for entity in set(entities)})
        # The (org, account) key: shared by runs of some entities, exclusive for a run of all of them.
        whole = (org, account, ALL_ENTITIES)
        self._whole = (lock_key(*whole), "/".join(whole), not self.scopes)
        self._keys = sorted((lock_key(*scope), "/".join(scope)) for scope in self.scopes)
        self._sleep = sleep
        self._monotonic = monotonic
        self._session: PostgresDatabase | None = None
        self._blocked: int | None = None

    @property
    def held(self) -> bool:
        return self._session is not None

    def acquire(self, wait: float = 0.0) -> None:
        """Take every key, waiting up to ``wait`` seconds; LockHeld (exit 3) if one is still held then."""
        if self._session is not None:
            return
        session = PostgresDatabase(self._database.url, schema=self._database.schema)
        deadline = self._monotonic() + max(0.0, wait)
        told = False
        try:
            while not self._take_all(session):
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    holder = self._holder(session)
                    raise LockHeld(self._database.path, holder.describe() if holder else "holder unknown", wait)
                if not told:
                    LOG.info("state database %s: this work is in use by another run; waiting up to %g s",
                             self._database.path, wait, extra={"event": "lock.wait", "wait_seconds": wait})
                    told = True
                self._sleep(min(POLL_SECONDS, remaining))
            self._record(session)
        except BaseException:
            session.close()
            raise
        self._session = session

    def _take_all(self, session: PostgresDatabase) -> bool:
        whole, _, exclusive = self._whole
        with session.locked():
            take = f"SELECT pg_try_advisory_lock{'' if exclusive else '_shared'}(?) AS ok"
            row = session.execute(take, (whole,)).fetchone()
            if not (row and row["ok"]):
                self._blocked = whole
                return False
            for key, _ in self._keys:
                row = session.execute("SELECT pg_try_advisory_lock(?) AS ok", (key,)).fetchone()
                if not (row and row["ok"]):
                    self._blocked = key
                    session.execute("SELECT pg_advisory_unlock_all()")  # give back what was taken
                    return False
        return True

    def _record(self, session: PostgresDatabase) -> None:
        with session.transaction():
            session.executemany(
                "INSERT INTO run_locks (lock_key, scope, pid, host, started_at, command) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (lock_key) DO UPDATE SET scope = excluded.scope, pid = excluded.pid, "
                "host = excluded.host, started_at = excluded.started_at, command = excluded.command",
                [(key, scope, os.getpid(), socket.gethostname(), session.now(), self.command)
                 for key, scope in [*self._keys, self._whole[:2]]],
            )

    def _holder(self, session: PostgresDatabase) -> LockHolder | None:
        if self._blocked is None:
            return None
        row = session.one("SELECT pid, host, started_at, command FROM run_locks WHERE lock_key = ?", (self._blocked,))
        if row is None:
            return LockHolder(None, None, None, None)
        return LockHolder(row["pid"], row["host"], row["started_at"], row["command"])

    def holder(self) -> LockHolder | None:
        """Who holds the first of this lock's keys that another session holds; None when all are free."""
        session = self._session or PostgresDatabase(self._database.url, schema=self._database.schema)
        try:
            if self._session is not None:
                return LockHolder(os.getpid(), socket.gethostname(), None, self.command)
            if self._take_all(session):
                with session.locked():
                    session.execute("SELECT pg_advisory_unlock_all()")
                return None
            return self._holder(session)
        finally:
            if session is not self._session:
                session.close()

    def release(self) -> None:
        """Give every key back (closing the session does it too); safe to call twice."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            with session.locked():
                session.execute("SELECT pg_advisory_unlock_all()")
        except StateError:
            pass  # the session is gone: the server released its locks with it
        finally:
            session.close()
