"""The ``record_hashes`` table: what Salesforce last confirmed of each record.

Per (entity, key): the SHA-256 of the mapped record last confirmed by Salesforce (see
:func:`payload_hash`), its Salesforce id, when it was written and, when the caller asked for it, a
snapshot of the record with its secrets redacted (for ``sync --dry-run`` diffs). A record whose
mapped form has the stored hash is not sent again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.secrets import redact
from engine.sync.state.database import Database, Key, columns, to_json
from engine.sync.state.dead_letters import DeadLetters


def payload_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a mapped record.

    Canonical: sorted keys, compact separators, UTF-8 without escaping (``ensure_ascii=False``).
    The record must be JSON (it is what is sent to Salesforce); anything else raises TypeError.
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(char in "0123456789abcdef" for char in text)


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
        snapshot = None if secret_fields is None else to_json(redact(payload, secret_fields))
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
        """What was last written (secrets as ``***``), when it was kept; None if it was not (or is unreadable)."""
        if not self.last_record:
            return None
        try:
            value = json.loads(self.last_record)
        except ValueError:
            return None  # only the dry run's "before" is lost: the hash still decides what is written
        return value if isinstance(value, dict) else None


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


class RecordHashes:
    """The record hashes and redacted snapshots of a store (``store.hashes``).

    Writing a record resolves its open dead letter, in the same transaction: hence ``dead_letters``.
    """

    def __init__(self, database: Database, dead_letters: DeadLetters):
        self._db = database
        self._dead_letters = dead_letters

    def get(self, entity: str, key: Key) -> str | None:
        """The hash last confirmed for the record, if any."""
        row = self._db.one("SELECT payload_hash FROM record_hashes WHERE entity = ? AND key = ?", (entity, str(key)))
        return str(row["payload_hash"]) if row else None

    def state(self, entity: str, key: Key) -> RecordState | None:
        row = self._db.one("SELECT * FROM record_hashes WHERE entity = ? AND key = ?", (entity, str(key)))
        return RecordState(**columns(RecordState, row)) if row else None

    def states(self, entity: str, keys: Iterable[Key]) -> dict[str, RecordState]:
        """The states of many records at once (one query per 500 keys), by key; unknown keys are absent."""
        wanted = list(dict.fromkeys(str(key) for key in keys))
        found: dict[str, RecordState] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.all(f"SELECT * FROM record_hashes WHERE entity = ? AND key IN ({marks})", (entity, *chunk))
            found.update({row["key"]: RecordState(**columns(RecordState, row)) for row in rows})
        return found

    def unchanged(self, entity: str, key: Key, payload: Mapping[str, Any]) -> bool:
        """True when ``payload`` is exactly what was last written for this record: skip the call."""
        return self.get(entity, key) == payload_hash(payload)

    def remember_written(self, entity: str, items: Iterable[WrittenLike], run_id: int | None) -> int:
        """Store the hash (and Salesforce id, when given) of records Salesforce confirmed.

        Items are :class:`WrittenItem` or ``(key, hash_or_payload[, salesforce_id])``. A known
        Salesforce id is kept when an item carries none. An open dead letter of a written key is
        resolved: the record is in Salesforce now. Returns how many items were stored.
        """
        with self._db.transaction():
            now = self._db.now()
            rows = [
                (entity, item.key, item.payload_hash, item.salesforce_id, now, run_id, item.snapshot)
                for item in map(_written, items)
            ]
            self._db.executemany(
                "INSERT INTO record_hashes (entity, key, payload_hash, salesforce_id, last_written_at, run_id, "
                "last_record) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entity, key) DO UPDATE SET "
                "payload_hash = excluded.payload_hash, "
                "salesforce_id = COALESCE(excluded.salesforce_id, record_hashes.salesforce_id), "
                "last_written_at = excluded.last_written_at, run_id = excluded.run_id, "
                "last_record = excluded.last_record",
                rows,
            )
            self._dead_letters.resolve_written(entity, [row[1] for row in rows], run_id, now)
            return len(rows)

    def forget_all(self) -> int:
        """Drop every stored hash (a rebind to another org): every record is written again; how many."""
        with self._db.transaction():
            return int(self._db.execute("DELETE FROM record_hashes").rowcount)

    def count(self, entity: str | None = None) -> int:
        where, params = (" WHERE entity = ?", (entity,)) if entity is not None else ("", ())
        row = self._db.one(f"SELECT COUNT(*) AS n FROM record_hashes{where}", params)
        return int(row["n"]) if row else 0

    def forget(self, entity: str, key: Key) -> bool:
        """Drop a record's hash so the next run writes it again; False when none was stored."""
        with self._db.transaction():
            cursor = self._db.execute("DELETE FROM record_hashes WHERE entity = ? AND key = ?", (entity, str(key)))
            return cursor.rowcount > 0
