"""The Zoom operations and event subscriptions a mapping needs, and the narrowest OAuth scope of each.

``mapping_operations(mapping)`` lists every Zoom REST operation the sync calls for a mapping: its
``source.endpoint``, the ``include``s, the ``list`` call, and for the reverse flow the ``POST`` that
registers a person plus the ``GET`` of the same path that finds who is registered already.
``mapping_events(mapping)`` lists the webhook events that feed it. Each operation's scopes come
from Zoom's specification (``schemas/zoom/index.json``); ``narrowest_scope`` picks, of the
alternatives any one of which grants the operation, the account-wide one that grants least.
Events carry no scopes in Zoom's specifications, so a mapping declares the scope each of its event
subscriptions needs (``permissions.events``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from engine.language.loader import PathKey
from engine.language.model import Mapping
from engine.resources import schemas_dir
from engine.zoom.schemas import load_source_index


@dataclass(frozen=True)
class Operation:
    """One Zoom REST operation a mapping calls, where it is declared, and the scopes that grant it."""

    name: str  # "GET /meetings/{meetingId}"
    path: PathKey  # where the mapping declares it (for validate's messages)
    granular: str | None  # the narrowest granular scope, account-wide (None: the operation is not in the index)
    classic: str | None  # the narrowest classic scope


@dataclass(frozen=True)
class EventUse:
    """One webhook event that feeds a mapping, and where the mapping names it."""

    event: str
    path: PathKey


def _declared_operations(mapping: Mapping) -> Iterator[tuple[str, PathKey]]:
    source, target = mapping.source, mapping.target
    if source.system == "zoom":
        for listing in source.listings:
            yield listing.endpoint, (*listing.path, "endpoint")
        if source.endpoint:
            yield source.endpoint, ("source", "endpoint")
        for i, include in enumerate(source.include):
            yield include.endpoint, ("source", "include", i, "endpoint")
    if target.system == "zoom" and target.endpoint:
        yield target.endpoint, ("target", "endpoint")
        method, _, path = target.endpoint.partition(" ")
        if method != "GET" and _known(f"GET {path}"):
            # The reverse flow lists who is registered already (same path, GET) before it writes.
            yield f"GET {path}", ("target", "endpoint")


def mapping_operations(mapping: Mapping) -> list[Operation]:
    """Every Zoom operation the sync calls for `mapping`, once each, in the order it declares them."""
    seen: dict[str, Operation] = {}
    for name, path in _declared_operations(mapping):
        if name not in seen:
            granular, classic = operation_scopes(name)
            seen[name] = Operation(name, path, granular, classic)
    return list(seen.values())


def mapping_events(mapping: Mapping) -> list[EventUse]:
    """Every webhook event that feeds `mapping`: ``source.events``, then the fields' ``realtime`` events.

    (A field's ``events`` may only name events of ``source.events``.) An event Zoom's index does not
    know is left out: the Zoom checks report it, and it cannot be subscribed to.
    """
    found: dict[str, EventUse] = {}
    for i, event in enumerate(mapping.source.events):
        found.setdefault(event.event, EventUse(event.event, ("source", "events", i, "event")))
    for spec in mapping.enabled_fields:
        if spec.realtime:
            found.setdefault(spec.realtime, EventUse(spec.realtime, (*spec.path, "realtime")))
    if _has_index():
        index = load_source_index()
        return [use for use in found.values() if index.event(use.event) is not None]
    return list(found.values())


def _known(name: str) -> bool:
    return _has_index() and name in load_source_index().endpoints  # what endpoint(name) finds, unread


@cache
def _has_index() -> bool:
    return (schemas_dir() / "zoom" / "index.json").is_file()


def operation_scopes(name: str) -> tuple[str | None, str | None]:
    """The narrowest (granular, classic) scopes of the operation `name`; None where Zoom's index has none."""
    if not _has_index():
        return None, None  # no source schemas installed: nothing to derive scopes from
    endpoint = load_source_index().endpoint(name)
    if endpoint is None:
        return None, None
    writes = not name.startswith("GET ")
    return narrowest_scope(endpoint.scopes_granular, writes), narrowest_scope(endpoint.scopes_classic, writes)


def narrowest_scope(alternatives: Iterable[str], writes: bool) -> str | None:
    """Any one scope of `alternatives` grants the operation: the account-wide one that grants least
    (read-only for reads, the most specific resource name). zoomforce runs as a server-to-server
    OAuth app reading every user of the account, so it needs the ``:admin`` form."""
    options = list(alternatives)
    candidates = [s for s in options if writes or ":write" not in s] or options
    if not candidates:
        return None
    account_wide = [s for s in candidates if s.endswith(":admin")] or candidates
    return max(account_wide, key=lambda s: (len(s.split(":")[0]), -len(s), s))


@cache
def known_granular_scopes() -> frozenset[str]:
    """Every granular scope Zoom's specifications name for any operation (to check declared event scopes)."""
    if not _has_index():
        return frozenset()
    return load_source_index().granular_scopes()
