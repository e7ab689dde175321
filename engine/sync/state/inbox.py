"""The ``inbox`` table: Zoom event notifications received by ``zoomforce serve``.

Events are deduplicated by event id and by body hash, and processed in the background with
leases and retries: a worker claims due events (leased for a while), then marks each done,
failed (due again later) or dead. A done event's body is dropped; its row stays, so that a
redelivery is still recognised.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from engine.sync.state.database import Database, columns, utc_iso

InboxStatus = Literal["pending", "processing", "done", "dead"]


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


def _inbox_row(row: sqlite3.Row) -> InboxEvent:
    values = columns(InboxEvent, row)
    values["body"] = bytes(values["body"])
    return InboxEvent(**values)


class Inbox:
    """The webhook events of a store (``store.inbox``)."""

    def __init__(self, database: Database):
        self._db = database

    def add(self, event_id: str, event_type: str, body: bytes, received_at: datetime | None = None) -> bool:
        """Keep an event for processing; False, storing nothing, when its id or body was seen.

        Commits with ``synchronous=FULL``: once this returns True the event survives even a power
        cut, so answering 200 to Zoom is safe.
        """
        digest = hashlib.sha256(body).hexdigest()
        received = utc_iso(received_at) if received_at else self._db.now()
        with self._db.durable():
            return self._insert(event_id, event_type, body, digest, received)

    def _insert(self, event_id: str, event_type: str, body: bytes, digest: str, received: str) -> bool:
        with self._db.transaction():
            cursor = self._db.execute(
                "INSERT INTO inbox (event_id, body_sha256, event_type, body, received_at, next_attempt_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (event_id, digest, event_type, body, received, received),
            )
            return cursor.rowcount == 1

    def claim(self, limit: int, lease_seconds: float, max_attempts: int | None = None) -> list[InboxEvent]:
        """Take up to ``limit`` due events for processing, leased for ``lease_seconds``.

        Due: pending events whose ``next_attempt_at`` has come, and events whose worker's lease
        expired (it crashed or hung). Each claim counts as an attempt. With ``max_attempts``, an
        expired lease that already used them all goes to ``dead`` instead of being retried.
        """
        now = self._db.now()
        lease = self._db.later(lease_seconds)
        with self._db.transaction():
            if max_attempts is not None:
                self._bury_expired(now, max_attempts)
            rows = self._db.execute(
                "SELECT id FROM inbox WHERE (status = 'pending' AND next_attempt_at <= ?) "
                "OR (status = 'processing' AND lease_until <= ?) ORDER BY next_attempt_at, id LIMIT ?"
                + self._db.skip_locked,
                (now, now, limit),
            ).fetchall()
            ids = [row["id"] for row in rows]
            self._db.executemany(
                "UPDATE inbox SET status = 'processing', lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                [(lease, event_id) for event_id in ids],
            )
            return [self._event(event_id) for event_id in ids]

    def _bury_expired(self, now: str, max_attempts: int) -> None:
        self._db.execute(
            "UPDATE inbox SET status = 'dead', finished_at = ?, lease_until = NULL, "
            "last_error = COALESCE(last_error, 'lease expired') || ' (no attempts left)' "
            "WHERE status = 'processing' AND lease_until <= ? AND attempts >= ?",
            (now, now, max_attempts),
        )

    def _event(self, event_id: int) -> InboxEvent:
        return _inbox_row(self._db.execute("SELECT * FROM inbox WHERE id = ?", (event_id,)).fetchone())

    def get(self, event_id: int) -> InboxEvent | None:
        row = self._db.one("SELECT * FROM inbox WHERE id = ?", (event_id,))
        return _inbox_row(row) if row else None

    def done(self, event_id: int) -> None:
        """The event is in Salesforce: its body (payload values, perhaps credentials) is dropped.

        The row stays, with its id and body hash, so that a redelivery is still recognised.
        """
        self._db.change(
            "UPDATE inbox SET status = 'done', finished_at = ?, lease_until = NULL, body = ? WHERE id = ?",
            (self._db.now(), b"", event_id),
            f"inbox event {event_id}",
        )

    def release(self, event_ids: Iterable[int]) -> int:
        """Give back events claimed but not processed (a replica stopping): due again at once, the claim not counted.

        Only events still leased are given back; how many were.
        """
        released = 0
        with self._db.transaction():
            for event_id in event_ids:
                cursor = self._db.execute(
                    "UPDATE inbox SET status = 'pending', lease_until = NULL, attempts = attempts - 1 "
                    "WHERE id = ? AND status = 'processing'",
                    (event_id,),
                )
                released += int(cursor.rowcount)
        return released

    def extend(self, event_ids: Iterable[int], lease_seconds: float) -> int:
        """Renew the lease of events still being processed to ``lease_seconds`` from now; how many were renewed.

        A worker whose batch takes longer than its lease (Salesforce slow, retrying) keeps it this way,
        so that another replica does not take the same events meanwhile.
        """
        until = self._db.later(lease_seconds)
        renewed = 0
        with self._db.transaction():
            for event_id in event_ids:
                cursor = self._db.execute(
                    "UPDATE inbox SET lease_until = ? WHERE id = ? AND status = 'processing'", (until, event_id))
                renewed += int(cursor.rowcount)
        return renewed

    def requeue_dead(self) -> int:
        """Give every dead event a fresh round of attempts (after an outage longer than the retries)."""
        with self._db.transaction():
            cursor = self._db.execute(
                "UPDATE inbox SET status = 'pending', attempts = 0, next_attempt_at = ?, finished_at = NULL "
                "WHERE status = 'dead' AND length(body) > 0",
                (self._db.now(),),
            )
            return int(cursor.rowcount)

    def failed(self, event_id: int, error: str, retry_after_seconds: float) -> None:
        """Processing failed; try again no sooner than ``retry_after_seconds`` from now (backoff)."""
        self._db.change(
            "UPDATE inbox SET status = 'pending', last_error = ?, next_attempt_at = ?, lease_until = NULL WHERE id = ?",
            (error, self._db.later(retry_after_seconds), event_id),
            f"inbox event {event_id}",
        )

    def dead(self, event_id: int, error: str) -> None:
        """Give up on an event (after the caller's N attempts): its body is dropped, its row stays.

        What it held is the processor's to keep first, as dead letters (the worker's ``bury``);
        the row, with its id, body hash and last error, still recognises a redelivery.
        """
        self._db.change(
            "UPDATE inbox SET status = 'dead', last_error = ?, finished_at = ?, lease_until = NULL, body = ? "
            "WHERE id = ?",
            (error, self._db.now(), b"", event_id),
            f"inbox event {event_id}",
        )

    def dead_with_body(self, limit: int = 100) -> list[InboxEvent]:
        """Dead events that still hold a body: buried by an expired lease, or by an earlier zoomforce."""
        rows = self._db.all("SELECT * FROM inbox WHERE status = 'dead' AND length(body) > 0 ORDER BY id LIMIT ?",
                            (limit,))
        return [_inbox_row(row) for row in rows]

    def pending_count(self) -> int:
        """Events not finished yet: pending (due or waiting for their retry) and in progress."""
        row = self._db.one("SELECT COUNT(*) AS n FROM inbox WHERE status IN ('pending', 'processing')")
        return int(row["n"]) if row else 0

    def oldest_waiting(self) -> str | None:
        """When the oldest event not finished yet (pending or in progress) was received, if any."""
        row = self._db.one("SELECT MIN(received_at) AS at FROM inbox WHERE status IN ('pending', 'processing')")
        return str(row["at"]) if row and row["at"] else None

    def counts(self) -> dict[str, int]:
        """How many events have each status."""
        rows = self._db.all("SELECT status, COUNT(*) AS n FROM inbox GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}
