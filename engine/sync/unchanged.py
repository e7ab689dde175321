"""Records that are unchanged whatever their links: they need no look-up in Salesforce either.

A link (``links`` in a mapping) fills a lookup field with the Id of the Contact or Lead whose
e-mail matches, found by a query. A record whose other fields are what was last written, with the
link values last written put back, hashes as it did then: it will not be written, so it needs no
query. Its link fields keep the values written last; they are looked up again when the record
changes, and on ``--full-refresh``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from engine.language.model import Mapping
from engine.language.plan import MappedRecord
from engine.sync.state.record_hashes import payload_hash
from engine.sync.state.store import StateStore


class _Pending(Protocol):
    key: str
    mapped: MappedRecord


def unchanged_positions(store: StateStore, mapping: Mapping, pending: Sequence[_Pending]) -> set[int]:
    """Positions in `pending` of records unchanged with their last links; those links are put back in them."""
    targets = [link.target for link in mapping.links]
    if not targets or not pending:
        return set()
    states = store.hashes.states(mapping.entity, (item.key for item in pending))
    unchanged: set[int] = set()
    for position, item in enumerate(pending):
        state = states.get(item.key)
        if state is None:
            continue
        written = state.snapshot() or {}
        restored: dict[str, Any] = {target: written[target] for target in targets if target in written}
        candidate = {**item.mapped.record, **restored}
        if payload_hash(candidate) == state.payload_hash:
            item.mapped.record.update(restored)
            unchanged.add(position)
    return unchanged
