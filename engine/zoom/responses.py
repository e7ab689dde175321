"""Each Zoom resource read once per run: the responses one mapping reads that another reads too.

Two mappings of a run may read the same operation with the same parameters: the webinars mapping
reads ``GET /webinars/{webinarId}`` in detail and the campaigns mapping reads it again per synced
webinar; the registrants and campaign_members mappings both list a webinar's approved registrants.
:class:`ResponseCache` keeps such a response, keyed by operation, path and query parameters, until
every later reader of that operation has had it, then drops it; nothing else is kept, and the whole
cache is dropped when the run ends (:meth:`engine.zoom.reader.ZoomSource.run`).

Memory stays bounded: only the operations that two or more of the run's mappings read are cached
(:func:`shared_operations`), and an entry is dropped after its last planned reader took it. An
answer of 403 or 404 is kept like a response (the second reader gets the same error, without a
call); any other failure is not kept. A cached response is shared, never copied: the reader and
the sync never change a source record in place.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from engine.errors import ZoomApiError
from engine.language.model import Mapping as EntityMapping

T = TypeVar("T")
Key = tuple[str, str, tuple[tuple[str, str], ...]]


def operations_read(mapping: EntityMapping) -> set[str]:
    """Every Zoom operation (``"GET /path/{param}"``) reading `mapping` calls: listings, detail, includes."""
    source = mapping.source
    if source.system != "zoom":
        return set()
    read = {listing.endpoint for listing in source.listings}
    if source.endpoint and (not source.listings or any(listing.detail for listing in source.listings)):
        read.add(source.endpoint)
    read |= {include.endpoint for include in source.include}
    return {" ".join(operation.split()) for operation in read}


def shared_operations(mappings: Iterable[EntityMapping]) -> dict[str, int]:
    """The operations more than one of `mappings` read, each with how many read it after the first."""
    counted: Counter[str] = Counter()
    for mapping in mappings:
        counted.update(operations_read(mapping))
    return {operation: n - 1 for operation, n in counted.items() if n > 1}


def _key(operation: str, path: str, query: Mapping[str, Any] | None) -> Key:
    return " ".join(operation.split()), path, tuple(sorted((str(k), str(v)) for k, v in (query or {}).items()))


class ResponseCache:
    """Responses of the shared operations of one run, each kept until its later readers have read it."""

    def __init__(self, later_readers: Mapping[str, int]):
        self.later_readers = dict(later_readers)
        self.hits = 0
        self._entries: dict[Key, list[Any]] = {}  # key -> [response or error, readers still to come]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def shared(self, operation: str) -> bool:
        return " ".join(operation.split()) in self.later_readers

    def read(self, operation: str, path: str, query: Mapping[str, Any] | None, fetch: Callable[[], T]) -> T:
        """The response of `operation` at `path` with `query`: the kept one, else `fetch()` (kept if shared).

        Two mappings read at the same time (:mod:`engine.sync.read_ahead`) may ask for the same key
        together: the first fetches it, the other waits for that response rather than asking again.
        """
        if not self.shared(operation):
            return fetch()
        key = _key(operation, path, query)
        flight = threading.Event()  # set once this reader's fetch, if it makes one, has ended
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:  # this reader fetches it; another one asking meanwhile waits
                    self._entries[key] = [flight, self.later_readers[key[0]]]
                    break
                kept = entry[0]
                if not isinstance(kept, threading.Event):
                    self.hits += 1
                    entry[1] -= 1
                    if entry[1] <= 0:
                        del self._entries[key]
            if not isinstance(kept, threading.Event):
                if isinstance(kept, ZoomApiError):
                    raise kept
                return kept  # type: ignore[no-any-return]
            kept.wait()  # fetched by another reader: kept, or failed and free to fetch again
        return self._fetch(key, flight, fetch)

    def _fetch(self, key: Key, flight: threading.Event, fetch: Callable[[], T]) -> T:
        later = self.later_readers[key[0]]
        try:
            value = fetch()
        except BaseException as exc:  # a 403 or 404 is kept like a response; any other failure is not
            with self._lock:
                if isinstance(exc, ZoomApiError) and exc.status in (403, 404):
                    self._entries[key] = [exc, later]
                else:
                    del self._entries[key]
            raise
        else:
            with self._lock:
                self._entries[key] = [value, later]
            return value
        finally:
            flight.set()  # a reader waiting for this fetch takes what it left
