"""The ``detail_reads`` table: per entity and key, when a listed item was last read in detail, and the
hash of its ``detail.refresh_when_changed`` fields then (never their values).

A listing that declares ``detail: {refresh_when_changed: [...], max_age: 24h}`` reads an item in
detail again only when those fields changed or its last detail read is older than ``max_age``
(:meth:`engine.zoom.reader.ZoomSource.read`). A row is written once Salesforce holds what that
detail read gave (the record's hash confirmed), so a failed write is read in detail again; it names
the record written (its key in ``record_hashes``), and counts only while that record's hash is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.sync.state.database import Database


class DetailReads:
    """When each listed item was last read in detail (``store.detail_reads``)."""

    def __init__(self, database: Database):
        self._db = database

    def fresh(self, entity: str, since: str) -> dict[str, str]:
        """The keys of `entity` read in detail at or after `since` (UTC ISO time), each with its signal hash;
        only those whose record the state still holds as written (a forgotten hash reads it again)."""
        rows = self._db.all(
            "SELECT d.key AS key, d.signal_hash AS signal_hash FROM detail_reads d JOIN record_hashes h "
            "ON h.entity = d.entity AND h.key = d.record_key WHERE d.entity = ? AND d.read_at >= ?", (entity, since))
        return {str(row["key"]): str(row["signal_hash"]) for row in rows}

    def remember(self, entity: str, reads: Iterable[tuple[str, str, str]], read_at: str, run_id: int | None) -> int:
        """Record (listed key, signal hash, key of the record written) triples of `entity` as read at `read_at`."""
        rows = [(entity, str(key), signal, str(record), read_at, run_id) for key, signal, record in reads]
        if rows:
            with self._db.transaction():
                self._db.executemany(
                    "INSERT INTO detail_reads (entity, key, signal_hash, record_key, read_at, run_id) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entity, key) DO UPDATE SET "
                    "signal_hash = excluded.signal_hash, record_key = excluded.record_key, "
                    "read_at = excluded.read_at, run_id = excluded.run_id", rows)
        return len(rows)

    def forget_all(self) -> None:
        """Every item of every entity is read in detail again (the state is bound to another org)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM detail_reads")

    def forget(self, entity: str) -> None:
        """Every item of `entity` is read in detail again at the next run (``--full-refresh``)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM detail_reads WHERE entity = ?", (entity,))
