"""Zoom's rate limits kept from the client side: a token bucket per rate-limit label, and a cap on requests in flight.

Zoom limits each account per *label* (light, medium, heavy, resource-intensive; every endpoint has
one in ``schemas/zoom/index.json``), at rates that depend on the account's plan
(``rate_limits.json`` beside this module, from Zoom's documentation). :class:`Throttle` holds one
moving-window limiter per label (the ``limits`` library) and a semaphore of ``concurrency``
permits; :meth:`Throttle.request` blocks until both allow the request, then holds the permit for
the exchange. A 429 on a label (:meth:`Throttle.slow_down`) makes that label wait as long as Zoom
asked before the next request of any thread.

:func:`fan_out` runs a function over items on a bounded thread pool and yields the results in the
items' order, so that what reaches the writer is what a sequential run gives.
"""

from __future__ import annotations

import contextvars
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from engine.errors import ConfigError

RATE_LIMITS_FILE = Path(__file__).resolve().parent / "rate_limits.json"
DEFAULT_PLAN = "pro"
DEFAULT_CONCURRENCY = 8
LABELS = ("light", "medium", "heavy", "resource-intensive")
UNKNOWN_LABEL = "medium"  # an endpoint the index gives no label: the middle of the road
_PLACEHOLDER = re.compile(r"\\\{[^}]+\\\}")

T = TypeVar("T")
R = TypeVar("R")


@cache
def _plans() -> dict[str, dict[str, dict[str, int]]]:
    plans: dict[str, dict[str, dict[str, int]]] = json.loads(RATE_LIMITS_FILE.read_text(encoding="utf-8"))["plans"]
    return plans


def zoom_plans() -> list[str]:
    return sorted(_plans())


def _item(rate: dict[str, int]) -> RateLimitItem:
    if rate["per_seconds"] == 60:
        return RateLimitItemPerMinute(rate["requests"])
    return RateLimitItemPerSecond(rate["requests"], rate["per_seconds"])


class Throttle:
    """Per-label token buckets for one Zoom account and plan, and a cap on concurrent requests."""

    def __init__(self, plan: str = DEFAULT_PLAN, concurrency: int = DEFAULT_CONCURRENCY,
                 labels: dict[str, str] | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        if plan not in _plans():
            raise ConfigError(f"unknown Zoom plan {plan!r} (known: {', '.join(zoom_plans())})")
        if concurrency < 1:
            raise ConfigError(f"the concurrency must be 1 or more, got {concurrency}")
        self.plan = plan
        self.concurrency = concurrency
        self._items = {label: _item(rate) for label, rate in _plans()[plan].items()}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._permits = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._paused_until: dict[str, float] = {}
        self._sleep = sleep
        self._clock = clock
        self._routes = _routes(labels or {})
        self.waits: dict[str, float] = dict.fromkeys(LABELS, 0.0)  # seconds waited per label
        self.requests: dict[str, int] = dict.fromkeys(LABELS, 0)  # requests sent per label

    def window(self, label: str) -> tuple[int, float]:
        """(requests, per seconds) the label allows on this plan: that many may go at once, then wait."""
        item = self._items[label]
        return int(item.amount), float(item.get_expiry())

    def label_of(self, path: str) -> str:
        """The rate-limit label of a concrete request path (``/meetings/123`` -> light)."""
        clean = "/" + path.partition("?")[0].strip("/")
        for pattern, label in self._routes:
            if pattern.fullmatch(clean):
                return label
        return UNKNOWN_LABEL

    @contextmanager
    def request(self, path: str) -> Iterator[None]:
        """Wait for the label's bucket and a permit; hold the permit while the request runs."""
        label = self.label_of(path)
        self._take(label)
        with self._lock:
            self.requests[label] += 1
        with self._permits:
            yield

    def slow_down(self, path: str, seconds: float) -> None:
        """Zoom answered 429 for `path`: no request of its label goes out for `seconds`."""
        label = self.label_of(path)
        with self._lock:
            self._paused_until[label] = max(self._paused_until.get(label, 0.0), self._clock() + max(seconds, 0.0))

    def _take(self, label: str) -> None:
        item = self._items[label]
        while True:
            with self._lock:
                paused = self._paused_until.get(label, 0.0) - self._clock()
            if paused > 0:
                self._wait(label, paused)
                continue
            if self._limiter.hit(item, "zoom", label):
                return
            reset = self._limiter.get_window_stats(item, "zoom", label).reset_time
            self._wait(label, max(reset - self._clock(), 0.001))

    def _wait(self, label: str, seconds: float) -> None:
        with self._lock:
            self.waits[label] += seconds
        self._sleep(seconds)


def _routes(labels: dict[str, str]) -> list[tuple[re.Pattern[str], str]]:
    """(path pattern, label) per ``GET /path/{param}`` endpoint, the most literal paths first."""
    routes: list[tuple[int, re.Pattern[str], str]] = []
    for endpoint, label in labels.items():
        _, _, template = endpoint.partition(" ")
        pattern = re.compile(_PLACEHOLDER.sub("[^/]+", re.escape("/" + template.strip("/"))))
        routes.append((template.count("{"), pattern, _label_name(label)))
    return [(pattern, label) for _, pattern, label in sorted(routes, key=lambda route: route[0])]


def _label_name(text: str) -> str:
    name = text.strip().lower().replace("_", "-").replace(" ", "-")
    return name if name in LABELS else UNKNOWN_LABEL


def fan_out(work: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``work(item)`` for every item, up to `workers` at a time, yielded in the items' order.

    At most ``2 * workers`` items are taken ahead of the one being yielded, so a long listing is
    not read into memory. One worker (or fewer) runs everything in the caller's thread.
    """
    if workers <= 1:
        for item in items:
            yield work(item)
        return
    window: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zoomforce-read") as pool:
        try:
            for item in items:
                # each read runs in a copy of the caller's context: its log records keep the run and entity
                window.append(pool.submit(contextvars.copy_context().run, work, item))
                if len(window) >= 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


def labels_from_index(index: Any) -> dict[str, str]:
    """``{"GET /meetings/{meetingId}": "Light", ...}`` from a :class:`~engine.zoom.schemas.SourceIndex`."""
    found: dict[str, str] = {}
    for name in index.endpoint_names():
        schema = index.endpoint(name)
        if schema is not None and schema.rate_limit:
            found[name] = schema.rate_limit
    return found
