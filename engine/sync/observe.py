"""The metrics read from the state when they are exported: last success, the inbox, open dead letters.

``sync --metrics-file`` and ``serve``'s ``/metrics`` call :func:`observe_state` just before writing
or answering, so the gauges say what the state holds at that moment (a ``sync`` knows when an
earlier run last succeeded only from its state).
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine import metrics
from engine.sync.state.store import StateStore


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def observe_state(store: StateStore, now: datetime | None = None) -> None:
    """Set the state's gauges of :mod:`engine.metrics` from ``store``."""
    moment = (now or datetime.now(UTC)).timestamp()
    oldest = _epoch(store.inbox.oldest_waiting())
    metrics.observe_state(
        last_success=_epoch(store.runs.last_success()),
        inbox_depth=store.inbox.pending_count(),
        oldest_age=None if oldest is None else moment - oldest,
        open_letters=store.dead_letters.counts("open"),
    )
