"""The ``cursors`` table: per entity, an opaque string (an ISO time or an id) from which the next run reads."""

from __future__ import annotations

from engine.sync.state.database import Database


class Cursors:
    """Where each entity's reading stopped (``store.cursors``)."""

    def __init__(self, database: Database):
        self._db = database

    def get(self, entity: str) -> str | None:
        row = self._db.one("SELECT value FROM cursors WHERE entity = ?", (entity,))
        return str(row["value"]) if row else None

    def set(self, entity: str, value: str, run_id: int | None = None) -> None:
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO cursors (entity, value, updated_at, run_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (entity) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at, run_id = excluded.run_id",
                (entity, str(value), self._db.now(), run_id),
            )

    def clear(self, entity: str) -> None:
        """Forget where ``entity`` stopped: the next run reads it from the start (or ``--since``)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM cursors WHERE entity = ?", (entity,))

    def all(self) -> dict[str, str]:
        """Every entity's cursor, by entity."""
        rows = self._db.all("SELECT entity, value FROM cursors ORDER BY entity")
        return {row["entity"]: row["value"] for row in rows}
