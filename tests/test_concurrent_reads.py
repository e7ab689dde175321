"""Concurrent Zoom reads: the same records in the same order as a sequential run, within the rate limits.

The fan-out (each parent's children, each listed record's detail and includes) runs on a bounded
thread pool behind :class:`engine.zoom.throttle.Throttle`; here it reads the Zoom emulator over
real sockets, with latency, and must give exactly what the sequential reader gives, with the same
number of calls, while never having more requests in flight than its cap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import logs
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.errors import ConfigError
from engine.serving import RunningServer, start_in_thread
from engine.validate.mapping_set import MappingSet, load_mapping_set
from engine.zoom.client import RetryPolicy, ZoomClient, ZoomCredentials
from engine.zoom.reader import SourceFailure, SourceItem, Window, ZoomSource
from engine.zoom.schemas import load_source_index
from engine.zoom.throttle import Throttle, fan_out, labels_from_index
from tests.helpers import MAPPINGS

FAST_RETRY = RetryPolicy(max_attempts=12, backoff_base=0.01, backoff_max=0.05, max_wait=5.0)
TODAY = datetime.now(UTC).date()
WINDOW = Window(TODAY - timedelta(days=60), TODAY)
ORDER = ("users", "meetings", "webinars", "registrants", "participants", "panelists", "calls", "past_meetings")


@pytest.fixture(scope="module")
def zoom() -> Iterator[RunningServer]:
    app = zoom_app(ZoomEmulatorConfig(users=5, latency_ms=5))
    running = start_in_thread(app)
    yield running
    running.stop()
    close_app(app)


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


def _client(zoom: RunningServer) -> ZoomClient:
    credentials = ZoomCredentials("demo", "demo", "demo", api_url=f"{zoom.url}/v2", oauth_url=f"{zoom.url}/oauth/token")
    return ZoomClient(credentials, retry=FAST_RETRY)


def _read_all(source: ZoomSource, mapping_set: MappingSet) -> dict[str, list[Any]]:
    read: dict[str, list[Any]] = {}
    for entity in ORDER:
        mapping = mapping_set.get(entity)
        parents = [item.record for item in read.get(mapping.source.parent or "", []) if isinstance(item, SourceItem)]
        window = WINDOW if entity in ("past_meetings", "calls") else None  # dated histories need one
        read[entity] = list(source.read(mapping, parents if mapping.source.parent else None, window))
    return read


def _shape(items: list[SourceItem | SourceFailure]) -> list[Any]:
    return [(type(item).__name__, item.record, item.parent) for item in items]


class CountingThrottle(Throttle):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = self.most_in_flight = 0
        self._count = threading.Lock()

    def request(self, path: str) -> Any:
        outer = super().request(path)
        throttle = self

        class Counted:
            def __enter__(self) -> None:
                outer.__enter__()
                with throttle._count:
                    throttle.in_flight += 1
                    throttle.most_in_flight = max(throttle.most_in_flight, throttle.in_flight)

            def __exit__(self, *exc: Any) -> None:
                with throttle._count:
                    throttle.in_flight -= 1
                outer.__exit__(*exc)

        return Counted()


def test_concurrent_reads_give_the_sequential_records_in_order_with_the_same_calls(
        zoom: RunningServer, mapping_set: MappingSet) -> None:
    sequential_client = _client(zoom)
    sequential = _read_all(ZoomSource(sequential_client), mapping_set)
    concurrent_client = _client(zoom)
    index = load_source_index()
    throttle = CountingThrottle("business", 6, labels_from_index(index))
    concurrent_client.throttle = throttle
    concurrent = _read_all(ZoomSource(concurrent_client, index), mapping_set)

    assert {entity: _shape(items) for entity, items in concurrent.items()} == \
        {entity: _shape(items) for entity, items in sequential.items()}
    assert sum(len(items) for items in concurrent.values()) > 50
    assert concurrent_client.api_calls == sequential_client.api_calls
    assert 1 < throttle.most_in_flight <= 6


def test_fan_out_keeps_the_order_and_the_bound() -> None:
    running = most = 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002 * (n % 3))
        with lock:
            running -= 1
        return n * n

    assert list(fan_out(work, range(40), 4)) == [n * n for n in range(40)]
    assert most <= 4
    assert list(fan_out(work, range(5), 1)) == [0, 1, 4, 9, 16]


def test_a_read_in_a_worker_thread_logs_with_the_run_and_entity_of_its_caller() -> None:
    def context_of(n: int) -> tuple[int, dict[str, Any], str]:
        return n, dict(logs.current()), threading.current_thread().name

    with logs.bound(run_id=7, entity="meetings"):
        seen = list(fan_out(context_of, range(6), 3))
    assert [n for n, _, _ in seen] == list(range(6))
    assert all(fields == {"run_id": 7, "entity": "meetings"} for _, fields, _ in seen)
    assert any(name.startswith("zoomforce-read") for _, _, name in seen), "read in the pool's threads"


def test_a_label_waits_for_its_bucket_and_after_a_429() -> None:
    slept: list[float] = []
    throttle = Throttle("free", 2, {"GET /users/{userId}": "Light", "GET /report/users/{userId}/meetings": "HEAVY"},
                        sleep=slept.append)
    assert throttle.label_of("/users/abc") == "light"
    assert throttle.label_of("/report/users/abc/meetings?from=x") == "heavy"
    assert throttle.label_of("/no/such/path") == "medium"
    throttle.slow_down("/users/abc", 30.0)
    real = throttle._clock
    moments = iter([real(), real(), real() + 31.0] + [real() + 31.0] * 10)
    throttle._clock = lambda: next(moments)
    with throttle.request("/users/abc"):
        pass
    assert slept and slept[0] > 29.0  # the 429's wait is kept by the next request of that label


def test_an_unknown_plan_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="unknown Zoom plan 'gold'"):
        Throttle("gold")
