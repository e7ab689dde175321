"""Where a state was written: the Salesforce org id and the Zoom account id, recorded at first use.

A state's record hashes say "Salesforce already holds this record". They are true of one org: a
state reused against a fresh org, a refreshed sandbox or another customer's org would skip every
record as unchanged and write nothing. So a run records, the first time it meets them, the ids of
the org and the account it talks to (``bind``), and a later run talking to another one refuses
(:class:`~engine.errors.StateBoundElsewhere`, exit 2) before reading anything, naming both ids.
``zoomforce sync --full-refresh --rebind`` records the new ids and forgets every hash and cursor in
one transaction (:meth:`engine.sync.state.store.StateStore.check_binding`).

Each id is bound on its own: ``serve`` knows only its org, a dry run without Salesforce only its
Zoom account; the other id is bound by the first run that knows it.

The interface is small (:class:`BindingStore`) so that another state backend can keep the same
rows its own way; :func:`check_binding` is the rule, the same for every backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from engine.errors import StateBoundElsewhere
from engine.sync.state.database import Database

SALESFORCE_ORG = "salesforce_org"
ZOOM_ACCOUNT = "zoom_account"
BOUND_NAMES = (SALESFORCE_ORG, ZOOM_ACCOUNT)


class BindingStore(Protocol):
    """What a state backend keeps of its binding: a few named ids."""

    def get(self) -> dict[str, str]: ...

    def bind(self, ids: Mapping[str, str], run_id: int | None = None) -> None: ...

    def replace(self, ids: Mapping[str, str], run_id: int | None = None) -> None: ...


def same_id(name: str, stored: str, current: str) -> bool:
    """Salesforce ids compare on their 15 case-sensitive characters (an 18-character id adds a checksum)."""
    if name == SALESFORCE_ORG:
        return stored[:15] == current[:15]
    return stored == current


def check_binding(path: str, stored: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """The ids of ``current`` not bound yet; StateBoundElsewhere when one differs from what is bound."""
    differing = {name for name, value in current.items()
                 if name in stored and not same_id(name, stored[name], value)}
    if differing:
        raise StateBoundElsewhere(path, dict(stored), {name: current[name] for name in current})
    return {name: value for name, value in current.items() if name not in stored and value}


class Binding:
    """The ``binding`` table of a SQLite state (``store.binding``)."""

    def __init__(self, database: Database):
        self._db = database

    def get(self) -> dict[str, str]:
        """The bound ids by name (``salesforce_org``, ``zoom_account``); empty for a state never bound."""
        return {row["name"]: row["value"] for row in self._db.all("SELECT name, value FROM binding ORDER BY name")}

    def bind(self, ids: Mapping[str, str], run_id: int | None = None) -> None:
        """Record the ids not bound yet; an id already bound is left as it is."""
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO binding (name, value, bound_at, run_id) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                [(name, value, self._db.now(), run_id) for name, value in ids.items() if value],
            )

    def replace(self, ids: Mapping[str, str], run_id: int | None = None) -> None:
        """Record ``ids`` over what was bound (a rebind)."""
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO binding (name, value, bound_at, run_id) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET value = excluded.value, bound_at = excluded.bound_at, run_id = excluded.run_id",
                [(name, value, self._db.now(), run_id) for name, value in ids.items() if value],
            )
