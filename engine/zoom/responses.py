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
        """The response of `operation` at `path` with `query`: the kept one, else `fetch()` (kept if shared)."""
        if not self.shared(operation):
            return fetch()
        key = _key(operation, path, query)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self.hits += 1
                entry[1] -= 1
                if entry[1] <= 0:
                    del self._entries[key]
        if entry is not None:
            if isinstance(entry[0], ZoomApiError):
                raise entry[0]
            return entry[0]  # type: ignore[no-any-return]
        later = self.later_readers[key[0]]
        try:
            value = fetch()
        except ZoomApiError as exc:
            if exc.status in (403, 404):
                with self._lock:
                    self._entries[key] = [exc, later]
            raise
        with self._lock:
            self._entries[key] = [value, later]
        return value
