"""The ``dead_letters`` table: records that could not be mapped or written, redacted.

They are kept for ``zoomforce sync --retry-dead-letters`` and ``zoomforce dead-letters``: at most
one OPEN dead letter per (entity, key), updated when the same record fails again, resolved when it
is written at last, or discarded by an operator with a reason (kept, marked, never deleted but by
``purge`` of what is no longer open). Every attempt's error is kept in ``dead_letter_attempts``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from engine.errors import StateError
from engine.secrets import redact, scrub_message
from engine.sync.state.database import Database, Key, columns, to_json, utc_iso

DeadLetterStatus = Literal["open", "resolved", "discarded"]
DEAD_LETTER_STATUSES: tuple[DeadLetterStatus, ...] = ("open", "resolved", "discarded")


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
    discarded_at: str | None = None
    discard_reason: str | None = None

    def as_json(self, *, evidence: bool = False) -> dict[str, Any]:
        """The letter as JSON (``zoomforce dead-letters list|show --format json``); the record on request."""
        out: dict[str, Any] = {
            "id": self.id, "entity": self.entity, "key": self.key, "code": self.code, "message": self.message,
            "status": self.status, "attempts": self.attempts, "source_index": self.source_index,
            "run_id": self.run_id, "created_at": self.created_at, "updated_at": self.updated_at,
            "resolved_at": self.resolved_at, "resolved_run_id": self.resolved_run_id,
            "discarded_at": self.discarded_at, "discard_reason": self.discard_reason,
        }
        if evidence:
            out["record"] = self.record
        return out


@dataclass(frozen=True)
class Attempt:
    """One failed attempt at a dead letter's record: when, the error, the run."""

    at: str
    code: str
    message: str
    run_id: int | None

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "code": self.code, "message": self.message, "run_id": self.run_id}


def _dead_letter_row(row: sqlite3.Row, path: str) -> DeadLetter:
    values = columns(DeadLetter, row)
    try:
        values["record"] = json.loads(values["record"])
    except (TypeError, ValueError) as exc:
        raise StateError(f"state database {path}: dead letter {values['id']} holds a record that is not JSON "
                         "(the file was altered?)") from exc
    return DeadLetter(**values)


class DeadLetters:
    """The dead letters of a store (``store.dead_letters``)."""

    def __init__(self, database: Database):
        self._db = database

    def add(
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

        ``secret_fields`` is required: the record is redacted here (see
        :func:`engine.secrets.redact`), and the secret values are scrubbed from
        ``message`` too. An OPEN dead letter of the same (entity, key) is updated (code, message,
        record, attempts) rather than duplicated; a record with no key always gets a new one.
        """
        safe = redact(record, secret_fields)
        message = scrub_message(message, record, secret_fields)
        text_key = None if key is None else str(key)
        with self._db.transaction():
            existing = self._open(entity, text_key)
            if existing is not None:
                self._update(existing, code, message, to_json(safe), run_id, source_index, attempt)
            else:
                existing = self._insert(entity, text_key, code, message, to_json(safe), run_id, source_index, attempt)
            self._attempt(existing, code, message, run_id)
            return existing

    def _attempt(self, dead_id: int, code: str, message: str, run_id: int | None) -> None:
        self._db.execute(
            "INSERT INTO dead_letter_attempts (dead_letter_id, at, code, message, run_id) VALUES (?, ?, ?, ?, ?)",
            (dead_id, self._db.now(), code, message, run_id),
        )

    def _open(self, entity: str, key: str | None) -> int | None:
        if key is None:
            return None
        row = self._db.execute(
            "SELECT id FROM dead_letters WHERE entity = ? AND key = ? AND status = 'open'", (entity, key)
        ).fetchone()
        return int(row["id"]) if row else None

    def _update(
        self, dead_id: int, code: str, message: str, record: str, run_id: int | None, index: int | None, attempt: int
    ) -> None:
        self._db.execute(
            "UPDATE dead_letters SET code = ?, message = ?, record = ?, run_id = ?, "
            "source_index = COALESCE(?, source_index), "
            "attempts = CASE WHEN attempts + 1 > ? THEN attempts + 1 ELSE ? END, updated_at = ? WHERE id = ?",
            (code, message, record, run_id, index, attempt, attempt, self._db.now(), dead_id),
        )

    def _insert(
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
        now = self._db.now()
        cursor = self._db.execute(
            "INSERT INTO dead_letters (entity, key, code, message, record, source_index, attempts, run_id, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (entity, key, code, message, record, index, attempt, run_id, now, now),
        )
        return int(cursor.fetchall()[0]["id"])

    def find(
        self, entity: str | None = None, status: DeadLetterStatus | None = "open", code: str | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[DeadLetter]:
        """Dead letters, oldest first; ``status=None`` for all of them, ``code`` and ``ids`` to narrow."""
        where, params = self._filter(entity, status, code, ids)
        rows = self._db.all(f"SELECT * FROM dead_letters{where} ORDER BY id", params)
        return [_dead_letter_row(row, self._db.path) for row in rows]

    def attempts(self, dead_id: int) -> list[Attempt]:
        """Every recorded attempt at the letter's record, oldest first."""
        rows = self._db.all(
            "SELECT at, code, message, run_id FROM dead_letter_attempts WHERE dead_letter_id = ? ORDER BY id",
            (dead_id,),
        )
        return [Attempt(row["at"], row["code"], row["message"], row["run_id"]) for row in rows]

    def get(self, dead_id: int) -> DeadLetter | None:
        row = self._db.one("SELECT * FROM dead_letters WHERE id = ?", (dead_id,))
        return _dead_letter_row(row, self._db.path) if row else None

    @staticmethod
    def _filter(
        entity: str | None, status: str | None, code: str | None = None, ids: Iterable[int] | None = None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("entity", entity), ("status", status), ("code", code)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if ids is not None:
            wanted = [int(i) for i in ids]
            clauses.append(f"id IN ({', '.join('?' * len(wanted))})" if wanted else "1 = 0")
            params.extend(wanted)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def resolve(self, dead_id: int, run_id: int | None) -> None:
        """The replay of ``dead_id`` succeeded in run ``run_id``."""
        now = self._db.now()
        self._db.change(
            "UPDATE dead_letters SET status = 'resolved', resolved_at = ?, resolved_run_id = ?, updated_at = ? "
            "WHERE id = ?",
            (now, run_id, now, dead_id),
            f"dead letter {dead_id}",
        )

    def resolve_written(self, entity: str, keys: Iterable[str], run_id: int | None, now: str) -> None:
        """The records of ``keys`` were written in run ``run_id``: their open dead letters are resolved.

        Call it inside the transaction that stores their hashes (``hashes.remember_written`` does).
        """
        self._db.executemany(
            "UPDATE dead_letters SET status = 'resolved', resolved_at = ?, resolved_run_id = ?, updated_at = ? "
            "WHERE entity = ? AND key = ? AND status = 'open'",
            [(now, run_id, now, entity, key) for key in keys],
        )

    def bump(self, dead_id: int, code: str, message: str, run_id: int | None = None) -> None:
        """The replay of ``dead_id`` failed again: one more attempt, the latest error kept."""
        with self._db.transaction():
            self._db.change(
                "UPDATE dead_letters SET attempts = attempts + 1, code = ?, message = ?, updated_at = ? WHERE id = ?",
                (code, message, self._db.now(), dead_id),
                f"dead letter {dead_id}",
            )
            self._attempt(dead_id, code, message, run_id)

    def discard(self, ids: Iterable[int], reason: str) -> list[int]:
        """Set the OPEN letters ``ids`` aside, with ``reason``: kept, marked ``discarded``; the ids changed."""
        wanted = [int(i) for i in ids]
        now = self._db.now()
        changed: list[int] = []
        with self._db.transaction():
            for dead_id in wanted:
                cursor = self._db.execute(
                    "UPDATE dead_letters SET status = 'discarded', discarded_at = ?, discard_reason = ?, "
                    "updated_at = ? WHERE id = ? AND status = 'open'",
                    (now, reason, now, dead_id),
                )
                if cursor.rowcount:
                    changed.append(dead_id)
        return changed

    def purge(self, before: datetime) -> int:
        """Delete the letters resolved or discarded before ``before`` (and their attempts); how many.

        Open letters are never purged: they are records still missing from their target.
        """
        cutoff = utc_iso(before)
        with self._db.transaction():
            cursor = self._db.execute(
                "DELETE FROM dead_letters WHERE status IN ('resolved', 'discarded') AND updated_at < ?", (cutoff,)
            )
            return int(cursor.rowcount)

    def oldest(self, status: DeadLetterStatus = "open") -> str | None:
        """When the oldest letter of ``status`` was first filed, if any."""
        row = self._db.one("SELECT MIN(created_at) AS at FROM dead_letters WHERE status = ?", (status,))
        return str(row["at"]) if row and row["at"] else None

    def count(self, entity: str | None = None, status: DeadLetterStatus | None = "open") -> int:
        where, params = self._filter(entity, status)
        row = self._db.one(f"SELECT COUNT(*) AS n FROM dead_letters{where}", params)
        return int(row["n"]) if row else 0

    def counts(self, status: DeadLetterStatus | None = "open") -> dict[str, int]:
        """Per entity, how many dead letters have ``status``."""
        where, params = self._filter(None, status)
        rows = self._db.all(f"SELECT entity, COUNT(*) AS n FROM dead_letters{where} GROUP BY entity", params)
        return {row["entity"]: int(row["n"]) for row in rows}
