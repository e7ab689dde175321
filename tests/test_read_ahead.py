"""Reading ahead (engine.sync.read_ahead): the entities of a run are read from Zoom at the same time,
and still written one after another, each in the order a sequential run gives.

The unit tests drive :class:`ReadAhead` with plain generators; the sync tests run the real runner
against the Zoom and Salesforce emulators (the fixtures of ``tests/test_sync.py``) with and without
a throttle, and compare what reaches Salesforce and the order of the Zoom requests.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.errors import ZoomApiError
from engine.sync.read_ahead import ReadAhead
from engine.sync.runner import SyncOptions, SyncRunner, default_entities, ordered_entities, written_entities
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet
from engine.zoom.reader import ZoomSource
from engine.zoom.responses import ResponseCache
from engine.zoom.schemas import load_source_index
from engine.zoom.throttle import Throttle, labels_from_index
from tests.test_sync import World, expected_counts, fresh, key_values, mapping_set, world  # noqa: F401

# ---- the read-ahead itself ----------------------------------------------------------------------


def _numbers(count: int, produced: list[int] | None = None) -> Generator[int, None, None]:
    for number in range(count):
        if produced is not None:
            produced.append(number)
        yield number


def _wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def test_each_stream_is_taken_whole_and_in_order_while_all_are_read_at_once() -> None:
    with ReadAhead[int](["a", "b", "c"], depth=1000) as ahead:
        produced: dict[str, list[int]] = {name: [] for name in "abc"}
        for name in "abc":
            ahead.start(name, lambda name=name: _numbers(500, produced[name]))  # type: ignore[misc]
        _wait_until(lambda: all(len(p) == 500 for p in produced.values()), "every stream read before any is taken")
        assert [list(ahead.take(name)) for name in "abc"] == [list(range(500))] * 3


def test_a_stream_started_twice_is_read_once() -> None:
    with ReadAhead[int](["a"], depth=10) as ahead:
        ahead.start("a", lambda: _numbers(3))
        ahead.start("a", lambda: _numbers(99))
        assert list(ahead.take("a")) == [0, 1, 2]


def test_a_producer_waits_while_its_queue_is_full() -> None:
    produced: list[int] = []
    with ReadAhead[int](["a"], depth=3) as ahead:
        ahead.start("a", lambda: _numbers(100, produced))
        _wait_until(lambda: len(produced) >= 4, "the queue filled")
        time.sleep(0.3)  # time to run ahead, if it could
        assert len(produced) == 4, "three queued and one waiting to be, no more"
        assert list(ahead.take("a")) == list(range(100))


def test_an_error_reaches_the_writer_after_what_was_read_before_it() -> None:
    def failing() -> Generator[int, None, None]:
        yield 1
        yield 2
        raise ZoomApiError("zoom HTTP 503: down", status=503)

    with ReadAhead[int](["a"], depth=10) as ahead:
        ahead.start("a", failing)
        taken: list[int] = []
        with pytest.raises(ZoomApiError, match="down"):
            for item in ahead.take("a"):
                taken.append(item)
        assert taken == [1, 2]


def test_closing_stops_a_producer_that_waits_and_closes_its_reads() -> None:
    closed = threading.Event()

    def endless() -> Generator[int, None, None]:
        try:
            number = 0
            while True:
                yield number
                number += 1
        finally:
            closed.set()

    ahead = ReadAhead[int](["a"], depth=2)
    ahead.start("a", endless)
    assert next(iter(ahead.take("a"))) == 0
    ahead.close()
    assert closed.is_set(), "the producer's generator was closed, so its fan-out cancels what it had not started"
    ahead.start("a", endless)  # after close: nothing starts
    assert not [thread for thread in threading.enumerate() if thread.name == "zoomforce-read-ahead-a"]


# ---- a response two readers ask for at once ------------------------------------------------------


def test_two_readers_asking_at_once_get_one_fetch() -> None:
    cache = ResponseCache({"GET /webinars/{webinarId}": 1})
    release = threading.Event()
    fetches: list[int] = []

    def fetch() -> dict[str, Any]:
        fetches.append(1)
        release.wait(10)
        return {"id": 1}

    got: list[Any] = []
    readers = [threading.Thread(target=lambda: got.append(cache.read("GET /webinars/{webinarId}", "/webinars/1",
                                                                       None, fetch))) for _ in range(2)]
    for reader in readers:
        reader.start()
    _wait_until(lambda: len(fetches) == 1, "the first reader fetches")
    time.sleep(0.1)  # the second one is waiting, not fetching
    release.set()
    for reader in readers:
        reader.join()
    assert fetches == [1] and got == [{"id": 1}, {"id": 1}]
    assert len(cache) == 0, "dropped once its later reader had it"


def test_a_failed_fetch_lets_the_waiting_reader_fetch_again() -> None:
    cache = ResponseCache({"GET /webinars/{webinarId}": 1})
    calls: list[int] = []

    def flaky() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise ZoomApiError("zoom HTTP 500", status=500)
        return {"id": 1}

    with pytest.raises(ZoomApiError):
        cache.read("GET /webinars/{webinarId}", "/webinars/1", None, flaky)
    assert cache.read("GET /webinars/{webinarId}", "/webinars/1", None, flaky) == {"id": 1}
    assert len(calls) == 2


# ---- a sync that reads ahead -------------------------------------------------------------------------

MEETING_DETAIL = re.compile(r"/v2/meetings/\d+$")
WEBINAR_LIST = re.compile(r"/v2/users/[^/]+/webinars$")


def _sync(emulated: World, mappings: MappingSet, state: Path, concurrency: int
          ) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """One first sync: the Zoom paths in the order they were sent, the entities in the order they were
    written, and what Salesforce then holds."""
    sent: list[str] = []
    http = httpx.Client(timeout=30.0, event_hooks={"request": [lambda request: sent.append(request.url.path)]})
    zoom, writer = emulated.zoom_client(http=http), emulated.writer()
    if concurrency > 1:
        zoom.throttle = Throttle("business", concurrency, labels_from_index(load_source_index()))
    done: list[str] = []

    def progress(entity: str, phase: str, counts: Any) -> None:
        if phase == "done":
            done.append(entity)

    try:
        with StateStore.open(state) as store:
            report = SyncRunner(mappings, store, ZoomSource(zoom), writer, progress=progress).run(SyncOptions())
    finally:
        zoom.close()
        writer.close()
        http.close()
    assert report.failed == 0
    held = {entity: sorted(key_values(emulated, entity)) for entity in expected_counts(emulated.account)}
    return sent, done, held


def test_a_throttled_sync_reads_entities_at_once_and_writes_what_a_sequential_one_writes(
        fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:  # noqa: F811 - the fixtures above
    sent_in_turn, done_in_turn, held_in_turn = _sync(fresh, mapping_set, tmp_path / "turn.db", concurrency=1)
    fresh.salesforce.post("reset")
    fresh.zoom.post("reset")
    sent_ahead, done_ahead, held_ahead = _sync(fresh, mapping_set, tmp_path / "ahead.db", concurrency=4)

    order = ordered_entities(mapping_set, written_entities(mapping_set, default_entities(mapping_set)))
    assert done_in_turn == done_ahead == [e for e in order if e in done_in_turn], "written in the run's order"
    assert held_ahead == held_in_turn and all(held_ahead.values())
    assert sorted(sent_ahead) == sorted(sent_in_turn), "the same requests, none added"

    def first_webinar_list_before_last_meeting_detail(sent: list[str]) -> bool:
        last_detail = max(i for i, path in enumerate(sent) if MEETING_DETAIL.search(path))
        first_list = min(i for i, path in enumerate(sent) if WEBINAR_LIST.search(path))
        return first_list < last_detail

    assert not first_webinar_list_before_last_meeting_detail(sent_in_turn), "in turn: the meetings, then the webinars"
    assert first_webinar_list_before_last_meeting_detail(sent_ahead), "ahead: the webinars are read with the meetings"
