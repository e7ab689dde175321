"""Read one entity's Zoom records as its mapping declares, with no entity-specific Python.

A mapping's ``source`` says everything: the list endpoint and its query parameters
(``source.list``), the date window it takes (``list.window``: the query parameters that bound it,
and/or a time of the listed record to keep only those in the window), whether each listed item is only a
summary to fetch in full (``list.detail`` with ``list.key``), the parent entity whose records fill
the path (``source.parent``: registrants are read per synced webinar), and the other endpoints
about the same subject joined under a name (``source.include``). Several listings feed one entity
in turn (registrants, then attendees), each item telling which it came from (``SourceItem.listing``);
with ``source.each``, every listed record holds the records in a list (a recorded meeting's
``recording_files``), each read with the record that holds it as its parent.

Path parameters are filled by expressions: those of a child's list endpoint over the parent
record (``list.params: {webinarId: id}``; ``id`` when not given), those of an include over the
record (``include.params``). Query parameters are literals.

A record whose detail or required include cannot be read becomes a :class:`SourceFailure` (kept as
a dead letter by the sync) and the others go on; an optional include that answers 404 or 403
leaves its name out. Transport failures that outlived the client's retries propagate: the run
stops, and what was committed stays committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from engine.errors import ExpressionError, ZoomApiError, ZoomNotFound
from engine.language.expressions import compiled_expression, evaluate_or_none
from engine.language.model import IncludeSpec, ListSpec
from engine.language.model import Mapping as EntityMapping
from engine.language.safe_json import CERTIFIED_LENGTH
from engine.zoom.client import Certified, ZoomClient, endpoint_path
from engine.zoom.responses import ResponseCache, shared_operations
from engine.zoom.schemas import SourceIndex, load_source_index
from engine.zoom.throttle import fan_out

LOG = logging.getLogger("zoomforce.source")
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
DEFAULT_PAGE_SIZE = 300
T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """The sync's date window, inclusive, in UTC dates (Zoom's ``from``/``to`` take dates); None: open."""

    since: date | None
    until: date | None

    def split(self, max_days: int | None) -> list[Window]:
        """Consecutive windows of at most ``max_days`` days each covering this one (an open one is not split)."""
        if not max_days or self.since is None or self.until is None:
            return [self]
        parts: list[Window] = []
        start = self.since
        while start <= self.until:
            end = min(self.until, start + timedelta(days=max_days - 1))
            parts.append(Window(start, end))
            start = end + timedelta(days=1)
        return parts

    def holds(self, value: Any) -> bool:
        """Whether a record's time (ISO-8601, or a date) falls in the window; a value that is no time does."""
        day = _day(value)
        if day is None:
            return True  # a record without a time (a recurring webinar with no fixed time) is not left out
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)


def _day(value: Any) -> date | None:
    """The UTC date of an ISO-8601 time or date, None for anything else."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).date() if moment.tzinfo is not None else moment.date()


@dataclass(frozen=True)
class SourceItem:
    """One source record (its includes joined in), the parent record it was read under, its listing's name."""

    record: dict[str, Any]
    parent: dict[str, Any] | None
    listing: str | None = None  # `as` of the listing it came from; None for the first
    signal: tuple[str, str] | None = None  # read in detail: its key and the hash of its listed signal fields
    # every part it is joined from (listed item, detail, includes) is of a certified response, and their
    # texts add up to at most safe_json.CERTIFIED_LENGTH: the record needs no record check
    checked: bool = False


@dataclass(frozen=True)
class SourceSkipped:
    """A listed item not read in detail: its signal fields are as at its last detail read, within max_age.

    `record` is the listed summary (what a child read under it needs); the sync counts it unchanged.
    """

    record: dict[str, Any]
    parent: dict[str, Any] | None
    key: str
    listing: str | None = None


def signal_hash(listing: ListSpec, listed: dict[str, Any], salt: str = "") -> str:
    """The hash of a listed item's ``refresh_when_changed`` values (kept in the state, never the values);
    `salt`: what else must be as it was (the sync gives the mapping's fingerprint: a changed mapping reads again)."""
    values = [salt, *(_evaluate(signal, listed) for signal in listing.detail_signals)]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SourceFailure:
    """A listed record that could not be read in full: kept as a dead letter, the batch goes on."""

    record: dict[str, Any]
    parent: dict[str, Any] | None
    code: str
    message: str
    listing: str | None = None


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """``"GET /users/{userId}"`` -> ``("GET", "/users/{userId}")``."""
    method, _, path = endpoint.partition(" ")
    return method.upper(), path


def placeholders(endpoint: str) -> list[str]:
    return _PLACEHOLDER.findall(split_endpoint(endpoint)[1])


def _evaluate(expression: str, document: Any) -> Any:
    try:
        return evaluate_or_none(compiled_expression(expression), document)
    except ExpressionError:
        return None


def path_values(endpoint: str, params: Mapping[str, Any], document: Any, default: str = "id") -> dict[str, Any]:
    """The path parameters of `endpoint`, each from its expression in `params` (else `default`)."""
    values: dict[str, Any] = {}
    for name in placeholders(endpoint):
        expression = params.get(name, default)
        values[name] = _evaluate(str(expression), document) if document is not None else None
    return values


def query_values(endpoint: str, params: Mapping[str, Any]) -> dict[str, Any]:
    names = set(placeholders(endpoint))
    return {name: value for name, value in params.items() if name not in names}


class ZoomSource:
    """Reads entities through one :class:`ZoomClient`, driven only by their mappings."""

    def __init__(self, client: ZoomClient, index: SourceIndex | None = None):
        self.client = client
        self.index = index or load_source_index()
        # reads in parallel when the client is throttled (engine.zoom.throttle), else one at a time
        self._workers = client.throttle.concurrency if client.throttle is not None else 1
        self.responses: ResponseCache | None = None  # during a run: what another mapping reads too

    @property
    def workers(self) -> int:
        """How many reads run at once: the throttle's concurrency, 1 without a throttle."""
        return self._workers

    @contextmanager
    def run(self, mappings: Iterable[EntityMapping]) -> Iterator[ResponseCache]:
        """One run reading `mappings`: a response one reads that another reads too is read once."""
        self.responses = ResponseCache(shared_operations(mappings))
        try:
            yield self.responses
        finally:
            self.responses = None

    def _cached(self, operation: str, path: str, query: Mapping[str, Any] | None, fetch: Callable[[], T]) -> T:
        responses = self.responses
        return fetch() if responses is None else responses.read(operation, path, query, fetch)

    # ---- one entity ------------------------------------------------------------------------

    def read(
        self, mapping: EntityMapping, parents: Sequence[dict[str, Any]] | None = None, window: Window | None = None,
        fresh: Mapping[str, str] | None = None, salt: str = "",
    ) -> Iterator[SourceItem | SourceFailure | SourceSkipped]:
        """Every record of `mapping`: per parent record when it has a parent entity.

        `fresh`: for a listing with ``detail.refresh_when_changed``, the keys read in detail within its
        max_age, each with the hash of its signal fields then; a listed item with the same hash now is
        a :class:`SourceSkipped`, and costs no call (`salt`: see :func:`signal_hash`).
        """
        if mapping.source.parent is not None:  # the parents' reads run concurrently, in the parents' order
            for items in fan_out(lambda parent: list(self._read_under(mapping, parent, window, fresh, salt)),
                                 parents or (), self._workers):
                yield from items
        else:
            yield from self._read_under(mapping, None, window, fresh, salt)

    def _read_under(
        self, mapping: EntityMapping, parent: dict[str, Any] | None, window: Window | None,
        fresh: Mapping[str, str] | None = None, salt: str = "",
    ) -> Iterator[SourceItem | SourceFailure | SourceSkipped]:
        if not mapping.source.listings:
            for item in self._read_direct(mapping, parent):
                yield from self._each(mapping, item)
            return
        for listing in mapping.source.listings:
            def whole(read: Certified, listing: ListSpec = listing
                      ) -> list[SourceItem | SourceFailure | SourceSkipped]:
                listed, length = read
                signal = None
                if listing.detail and listing.detail_signals and fresh is not None:
                    key = _evaluate(listing.key or "id", listed)
                    if key not in (None, ""):
                        signal = (str(key), signal_hash(listing, listed, salt))
                        if fresh.get(signal[0]) == signal[1]:  # as at its last detail read, within max_age
                            return [SourceSkipped(listed, parent, signal[0], listing.name)]
                items = self._detail(mapping, listing, read, parent) if listing.detail else iter(
                    [self._complete(mapping, listed, parent, length)])
                if signal is not None and mapping.source.each is None:  # remembered once its write is confirmed
                    items = (replace(item, signal=signal) if isinstance(item, SourceItem) else item for item in items)
                return [inner for item in items for inner in self._each(mapping, replace(item, listing=listing.name))]

            # each listed record's detail and includes are read concurrently; they come out in the list's order
            for items in fan_out(whole, self._listed(mapping, listing, parent, window), self._workers):
                yield from items

    def _each(self, mapping: EntityMapping, item: SourceItem | SourceFailure) -> Iterator[SourceItem | SourceFailure]:
        """With ``source.each``, the records inside `item` (its list at that key), `item` as their parent."""
        each = mapping.source.each
        if each is None or isinstance(item, SourceFailure):
            yield item
            return
        for inner in item.record.get(each) or ():
            if isinstance(inner, dict):  # a part of a record: certified with it
                yield SourceItem(inner, item.record, item.listing, checked=item.checked)

    def _listed(
        self, mapping: EntityMapping, listing: ListSpec, parent: dict[str, Any] | None, window: Window | None
    ) -> Iterator[Certified]:
        """The listed records, each with its page's certified length (None: not certified)."""
        path_params = path_values(listing.endpoint, listing.params, parent)
        if any(value in (None, "") for value in path_params.values()):
            LOG.warning("%s: a parent record has no value for the path of %s", mapping.entity, listing.endpoint)
            return
        path = endpoint_path(split_endpoint(listing.endpoint)[1], path_params)
        query = query_values(listing.endpoint, listing.params)
        records_key = listing.records or self._records_key(listing.endpoint)
        bounded = window is not None and listing.windowed
        windows = window.split(listing.window_max_days) if window is not None and bounded else [None]
        for part in windows:
            params = dict(query)
            if part is not None and listing.window_from and part.since is not None:
                params[listing.window_from] = part.since.isoformat()
            if part is not None and listing.window_to and part.until is not None:
                params[listing.window_to] = part.until.isoformat()
            for record, length in self._list_records(listing.endpoint, path, records_key, params):
                if listing.filter and not _evaluate(listing.filter, record):
                    continue
                if part is None or not listing.window_field or part.holds(_evaluate(listing.window_field, record)):
                    yield record, length

    def _list_records(self, endpoint: str, path: str, records_key: str | None, params: dict[str, Any]
                      ) -> Iterator[Certified]:
        if self.responses is not None and self.responses.shared(endpoint):  # another mapping lists it too: kept
            yield from self._cached(endpoint, path, params,
                                    lambda: list(self._list_uncached(endpoint, path, records_key, dict(params))))
            return
        yield from self._list_uncached(endpoint, path, records_key, params)

    def _list_uncached(self, endpoint: str, path: str, records_key: str | None, params: dict[str, Any]
                       ) -> Iterator[Certified]:
        if records_key is None:
            yield self.client.get_certified(path, params)
            return
        page_size = int(params.pop("page_size", DEFAULT_PAGE_SIZE))
        try:
            yield from self.client.paginate_certified(path, records_key, params, page_size=page_size,
                                                      by_page_number=self._pages_by_number(endpoint))
        except ZoomNotFound:
            LOG.debug("%s answered 404: nothing listed", path)

    def _pages_by_number(self, endpoint: str) -> bool:
        """Whether the endpoint's spec pages by ``page_number`` only (``GET /users/{userId}/webinars``)."""
        schema = self.index.endpoint(endpoint)
        return (schema is not None and "next_page_token" not in schema.query_params
                and "page_number" in schema.query_params)

    def _records_key(self, endpoint: str) -> str | None:
        schema = self.index.endpoint(endpoint)
        return schema.records if schema is not None else None

    def _read_direct(
        self, mapping: EntityMapping, parent: dict[str, Any] | None
    ) -> Iterator[SourceItem | SourceFailure]:
        """No list: the source endpoint itself, once (or once per parent record)."""
        endpoint = mapping.source.endpoint
        if not endpoint:
            return
        values = path_values(endpoint, {}, parent) if parent is not None else {}
        if any(value in (None, "") for value in values.values()):
            return
        path = endpoint_path(split_endpoint(endpoint)[1], values)
        try:
            response, length = self._cached(endpoint, path, None, lambda: self.client.get_certified(path))
        except ZoomNotFound:
            LOG.debug("%s: %s not found; nothing to read", mapping.entity, path)
            return
        records_key = mapping.source.records
        if records_key and isinstance(response.get(records_key), list):
            for record in response[records_key]:
                if isinstance(record, dict):
                    yield self._complete(mapping, record, parent, length)
        else:
            yield self._complete(mapping, response, parent, length)

    def _detail(
        self, mapping: EntityMapping, listing: ListSpec, read: Certified, parent: dict[str, Any] | None
    ) -> Iterator[SourceItem | SourceFailure]:
        listed, listed_length = read
        endpoint = mapping.source.endpoint
        assert endpoint
        key = _evaluate(listing.key or "id", listed)
        names = placeholders(endpoint)
        if key in (None, "") or len(names) != 1:
            yield SourceFailure(listed, parent, "MISSING_KEY", f"listed record has no '{listing.key or 'id'}'")
            return
        path = endpoint_path(split_endpoint(endpoint)[1], {names[0]: key})
        try:
            record, length = self._cached(endpoint, path, None, lambda: self.client.get_certified(path))
        except ZoomNotFound:
            LOG.debug("%s: %s disappeared between list and detail", mapping.entity, path)
            return
        except ZoomApiError as exc:
            if exc.status is not None and exc.status >= 500:
                raise
            yield SourceFailure(listed, parent, f"ZOOM_{exc.code or exc.status}", str(exc))
            return
        yield self._complete(mapping, {**listed, **record}, parent, _joined_length(listed_length, length))

    def _complete(
        self, mapping: EntityMapping, record: dict[str, Any], parent: dict[str, Any] | None, length: int | None
    ) -> SourceItem | SourceFailure:
        """`record` with every include joined in under its name; `length`: the certified length of what
        `record` is read from (None: not certified), to which each include's is added."""
        joined = dict(record)
        for include in mapping.source.include:
            try:
                value, included = self._include(include, record)
            except ZoomApiError as exc:
                if include.optional and exc.status in (403, 404):
                    continue
                if exc.status is not None and exc.status >= 500:
                    raise
                return SourceFailure(record, parent, f"ZOOM_{exc.code or exc.status}", str(exc))
            if value is not None:
                joined[include.name] = value
                length = _joined_length(length, included)
        return SourceItem(joined, parent, checked=length is not None)

    def _include(self, include: IncludeSpec, record: dict[str, Any]) -> tuple[dict[str, Any] | None, int | None]:
        """The include's document (None: its path has no value) and its certified length (None: not certified)."""
        values = path_values(include.endpoint, include.params, record)
        if any(value in (None, "") for value in values.values()):
            return None, 0
        path = endpoint_path(split_endpoint(include.endpoint)[1], values)
        query = query_values(include.endpoint, include.params)
        schema = self.index.endpoint(include.endpoint)
        if schema is not None and schema.records and schema.paginated:
            records = schema.records

            def every_page() -> Certified:
                items: list[dict[str, Any]] = []
                length: int | None = len(records) + 24  # the text of {"RECORDS": [], "total_records": N}
                for page, page_length in self.client.pages_certified(
                        path, records, query, by_page_number=self._pages_by_number(include.endpoint)):
                    items += page
                    length = _joined_length(length, page_length)
                return {records: items, "total_records": len(items)}, length

            return self._cached(include.endpoint, path, query, every_page)
        return self._cached(include.endpoint, path, query, lambda: self.client.get_certified(path, query or None))


def _joined_length(first: int | None, second: int | None) -> int | None:
    """The certified length of a record joined from two parts of those lengths: None when either is not
    certified, or when together they are longer than safe_json.CERTIFIED_LENGTH (the size bound would fail)."""
    if first is None or second is None or first + second > CERTIFIED_LENGTH:
        return None
    return first + second
