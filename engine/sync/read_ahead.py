"""Reading ahead: the entities of a run are read from Zoom at the same time, and written in order.

A sync writes its entities one after another (parent before child), but nothing makes it *read*
them one after another: the calls and the users can be read together, and once the users are read,
their meetings, webinars and past meetings too. Read in turn, each entity keeps mostly one of Zoom's
rate-limit labels busy (the meetings' details are light, the webinars' reports heavy) while the
others idle; read together, the labels are busy at once and the run approaches the floor the rate
limits allow.

:class:`ReadAhead` runs one producer thread per entity, each filling a bounded queue the writer
takes from in the run's order, so the records reach the writer exactly as a sequential run gives
them. Every request still goes through the client's throttle (its token buckets and its cap on
requests in flight), so reading ahead adds no request and passes no limit. A queue holds at most
``depth`` items: an entity read faster than it is written waits, and memory stays bounded.

A producer's error (a daily limit, Zoom down) is handed to the writer in the queue, after the items
read before it, and raised when the writer reaches it. :meth:`ReadAhead.close` stops every producer
(each sees the stop between two items) and waits for them.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()  # a producer read its entity whole
_POLL_SECONDS = 0.1  # how often a producer waiting on a full queue looks for the stop


class _Raised:
    """A producer's exception, raised in the writer's thread when it reaches it."""

    def __init__(self, error: BaseException):
        self.error = error


class ReadAhead(Generic[T]):
    """Producers of named item streams, each read in its own thread into a queue of at most `depth` items."""

    def __init__(self, names: Iterable[str], depth: int):
        self._queues: dict[str, queue.Queue[object]] = {name: queue.Queue(maxsize=depth) for name in names}
        self._threads: list[threading.Thread] = []
        self._started: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self, name: str, produce: Callable[[], Generator[T, None, None]]) -> None:
        """Read `name` in a thread of its own (once: a later call does nothing), in a copy of the caller's context."""
        with self._lock:
            if name in self._started or self._stop.is_set():
                return
            self._started.add(name)
            context = contextvars.copy_context()
            thread = threading.Thread(target=context.run, args=(self._produce, name, produce),
                                      name=f"zoomforce-read-ahead-{name}", daemon=True)
            self._threads.append(thread)
        thread.start()

    def take(self, name: str) -> Iterator[T]:
        """The items of `name` in the order they were produced; blocks until each is read."""
        items = self._queues[name]
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop every producer and wait for it (a request in flight ends first)."""
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()

    def _produce(self, name: str, produce: Callable[[], Generator[T, None, None]]) -> None:
        try:
            with closing(produce()) as items:  # closing it cancels the reads it has not started
                for item in items:
                    if not self._put(name, item):
                        return
        except BaseException as exc:  # handed to the writer, who raises it in its own thread
            self._put(name, _Raised(exc))
            return
        self._put(name, _END)

    def _put(self, name: str, item: object) -> bool:
        """Queue `item`, waiting while the queue is full; False once the run stops."""
        while not self._stop.is_set():
            try:
                self._queues[name].put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False
