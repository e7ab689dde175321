"""The inbox worker's leases on SQLite and PostgreSQL: renewed while a batch is slow, given back on stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.serve.worker import InboxWorker
from engine.sync.state.inbox import InboxEvent
from engine.sync.state.store import StateStore
from tests.helpers import wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "zoomforce.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def stores(location: str) -> Iterator[tuple[StateStore, StateStore]]:
    """Two stores on one state: the worker's, and another replica's."""
    with StateStore.open(location) as mine, StateStore.open(location) as theirs:
        yield mine, theirs


def test_a_slow_batch_keeps_its_events_by_renewing_their_leases(stores: tuple[StateStore, StateStore]) -> None:
    mine, theirs = stores
    mine.inbox.add("evt-1", "meeting.ended", b"{}")
    seen: list[InboxEvent] = []

    def slow(event: InboxEvent) -> None:  # takes longer than its lease: Salesforce retrying, say
        first = event.lease_until or ""
        wait_until(lambda: (theirs.inbox.get(event.id).lease_until or "") > first,  # type: ignore[union-attr]
                   "the worker to renew the lease", 30)
        assert theirs.inbox.claim(10, lease_seconds=60) == [], "another replica cannot take it meanwhile"
        seen.append(event)

    worker = InboxWorker(mine, slow, lease_seconds=1.5, idle_wait=0.05)
    assert worker.drain(60) == 1
    assert [event.attempts for event in seen] == [1] and mine.inbox.counts() == {"done": 1}


def test_a_stopping_worker_gives_back_what_it_took_at_once(stores: tuple[StateStore, StateStore]) -> None:
    mine, theirs = stores
    mine.inbox.add("evt-1", "meeting.ended", b"{}")
    processed: list[InboxEvent] = []
    worker = InboxWorker(mine, processed.append, lease_seconds=600)
    assert worker.stop()  # SIGTERM arrived: what is claimed from now on goes back
    assert worker.drain(10) == 0 and processed == []
    (event,) = theirs.inbox.claim(10, lease_seconds=60)
    assert (event.event_id, event.attempts) == ("evt-1", 1), "due again at once, the given-back claim not counted"
