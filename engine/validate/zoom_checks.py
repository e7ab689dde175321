"""Validation of what a mapping reads: every field path of every expression, resolved statically
against the official schema of where it is read from.

A Zoom source reads the record of its endpoint's response (``records`` says where a list's records
sit); each ``include`` adds another endpoint's response under its ``as`` name; a field with
``realtime: EVENT`` is read from that event notification's object; ``scope: parent`` fields read
the parent entity's record. The reverse flow reads Salesforce Contact or Lead fields from the target
catalog, and writes the request body of a Zoom endpoint. A path the schema lacks is an error with
the nearest names, unless the field declares it ``undocumented`` (then a warning).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import ExpressionError
from engine.language.expressions import FieldPath, compile_expression
from engine.language.loader import PathKey
from engine.language.model import PAYLOAD_OBJECT, EventSpec, FieldSpec, ListSpec, Mapping
from engine.language.plan import event_readers
from engine.suggest import did_you_mean
from engine.zoom.schemas import (
    EndpointSchema,
    Schema,
    SourceIndex,
    load_source_index,
    resolve_path,
    suggest_names,
)


@dataclass(frozen=True)
class SourceFinding:
    """What ``checks`` turns into a Finding: a path into the document, a message, a column offset."""

    path: PathKey
    message: str
    severity: str = "error"
    offset: int | None = None
    at_key: bool = False


def source_index() -> SourceIndex:
    return load_source_index()


# ---- where a mapping reads from -------------------------------------------------------------------


def _endpoint(index: SourceIndex, name: str, path: PathKey) -> tuple[EndpointSchema | None, list[SourceFinding]]:
    endpoint = index.endpoint(name)
    if endpoint is not None:
        return endpoint, []
    hint = did_you_mean(index.suggest_endpoint(name))
    message = f"'{name}' is not a Zoom endpoint of the official schemas (schemas/zoom){hint}"
    return None, [SourceFinding(path, message)]


def record_schema(mapping: Mapping, index: SourceIndex) -> tuple[Schema | None, list[SourceFinding]]:
    """The schema of one source record of `mapping` (of its first listing; includes merged in), and
    endpoint problems. With ``source.each``, the schema of an item of that list."""
    container, findings = container_schema(mapping, index)
    if container is None or mapping.source.each is None:
        return container, findings
    return _each_schema(mapping, container, findings), findings


def container_schema(mapping: Mapping, index: SourceIndex, listing: ListSpec | None = None
                     ) -> tuple[Schema | None, list[SourceFinding]]:
    """The schema of what a listing (default the first) or the source endpoint yields, includes merged in;
    before ``source.each`` splits it, so the schema of a record's parent when there is an `each`."""
    source = mapping.source
    if source.system != "zoom" or not source.endpoint:
        return None, []
    endpoint, findings = _endpoint(index, source.endpoint, ("source", "endpoint"))
    if endpoint is None:
        return None, findings
    base = _records_schema(endpoint, source.records, findings)
    chosen = listing or source.listing
    listed = _listed_schema(chosen, index, findings) if chosen is not None else None
    if listed is not None and chosen is not None and (not chosen.detail or chosen.name is not None):
        base = listed  # the sync maps the listed items themselves
    elif listed is not None:  # the listed summary, overlaid by the full record (as the sync joins them)
        base = {**base, "properties": {**listed.get("properties", {}), **base.get("properties", {})}}
    properties: dict[str, Any] = dict(base.get("properties", {}))
    for i, include in enumerate(source.include):
        included, problems = _endpoint(index, include.endpoint, ("source", "include", i, "endpoint"))
        findings.extend(problems)
        properties[include.name] = included.response if included else {}
    return {**base, "properties": properties}, findings


def _each_schema(mapping: Mapping, container: Schema, findings: list[SourceFinding]) -> Schema:
    each = str(mapping.source.each)
    found = resolve_path(container, [each])
    items = found.schema.get("items") if found.found and found.schema is not None else None
    if not isinstance(items, dict):
        hint = did_you_mean(list(found.suggestions))
        findings.append(SourceFinding(("source", "each"), f"'{each}' is not a list of records in {_described(mapping)}"
                                      f"{hint}"))
        return {}
    return items


def _listed_schema(listing: ListSpec, index: SourceIndex, findings: list[SourceFinding]) -> Schema | None:
    """The schema of one item of a listing."""
    listed, problems = _endpoint(index, listing.endpoint, (*listing.path, "endpoint"))
    findings.extend(problems)
    if listed is None:
        return None
    return _records_schema(listed, listing.records, findings, (*listing.path, "records"))


def _records_schema(
    endpoint: EndpointSchema,
    records: str | None,
    findings: list[SourceFinding],
    where: PathKey = ("source", "records"),
) -> Schema:
    """A record of `endpoint`: the items at `records` of a list response, else the whole response.

    A mapping may name ``records`` for an object endpoint too (``zoomforce map`` then accepts a
    list response); only a name the list response lacks is an error.
    """
    if records is None:
        return endpoint.response if endpoint.records is None else endpoint.record_schema()
    if endpoint.records is None:
        return endpoint.response
    found = resolve_path(endpoint.response, [records])
    if not found.found or found.schema is None:
        hint = did_you_mean(list(found.suggestions))
        findings.append(SourceFinding(where, f"{endpoint.name} has no '{records}' list of records{hint}"))
        return endpoint.record_schema()
    items: Schema = found.schema.get("items", found.schema)
    return items


# ---- resolving field paths ------------------------------------------------------------------------


def unresolved_paths(schema: Schema, expression: str) -> Iterator[tuple[FieldPath, str, list[str]]]:
    """(path, missing name, suggestions) for each path of `expression` that `schema` lacks.

    Only the first missing step of a path is reported: ``a.b.c`` with no ``a`` is one problem.
    """
    try:
        paths = compile_expression(expression).field_paths()
    except ExpressionError:
        return  # reported by the expression check
    reported: set[FieldPath] = set()
    for path in paths:
        resolution = resolve_path(schema, list(path))
        if resolution.found or resolution.failed_at is None:
            continue
        failed = tuple(path[: resolution.failed_at + 1])
        if failed in reported:
            continue
        reported.add(failed)
        yield failed, str(resolution.missing), list(resolution.suggestions)


def _offset(expression: str, name: str) -> int | None:
    at = expression.find(name)
    return at + 1 if at >= 0 else None


def _dotted(path: FieldPath) -> str:
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif step is None:
            parts.append("[]")
        else:
            parts.append(("." if parts else "") + step)
    return "".join(parts)


def path_findings(
    schema: Schema, expression: str, where: PathKey, described_as: str, undocumented: str | None = None
) -> Iterator[SourceFinding]:
    """Findings for the paths of `expression` missing from `schema` (warnings when undocumented)."""
    for failed, missing, suggestions in unresolved_paths(schema, expression):
        hint = did_you_mean(suggestions)
        if undocumented:
            message = f"'{_dotted(failed)}' is not in {described_as}; read anyway ({undocumented})"
            yield SourceFinding(where, message, "warning", _offset(expression, missing))
        else:
            message = f"unknown field '{_dotted(failed)}' in {described_as}{hint}"
            yield SourceFinding(where, message, "error", _offset(expression, missing))


def _event_schema(index: SourceIndex, name: str) -> Schema | None:
    event = index.event(name)
    return event.record_schema() if event is not None else None


def listing_findings(mapping: Mapping, index: SourceIndex) -> Iterator[SourceFinding]:
    """A listing's date window and filter: query parameters the list endpoint takes, paths its items have."""
    listing = mapping.source.listing
    if listing is None:
        return
    endpoint = index.endpoint(listing.endpoint)
    if endpoint is None:
        return  # already reported by record_schema
    where = ("source", "list", "window")
    for key, name in (("from", listing.window_from), ("to", listing.window_to)):
        if name and name not in endpoint.query_params:
            hint = did_you_mean(suggest_names(name, list(endpoint.query_params)))
            takes = ", ".join(endpoint.query_params) or "none"
            yield SourceFinding((*where, key), f"{endpoint.name} takes no query parameter '{name}' (it takes: "
                                f"{takes}){hint}")
    if (listing.window_incremental is False or listing.window_max_days) and not listing.windowed:
        yield SourceFinding(where, "a window needs the query parameters that bound it (from, to) or the record's "
                            "time to filter on (field)")
    items = _records_schema(endpoint, listing.records, [], ("source", "list", "records"))
    described = f"an item of {endpoint.name}"
    if listing.window_field:
        yield from path_findings(items, listing.window_field, (*where, "field"), described)
    if listing.filter:
        yield from path_findings(items, listing.filter, ("source", "list", "filter"), described)
    for number, signal in enumerate(listing.detail_signals):  # read from the listed item, before any detail
        yield from path_findings(items, signal, ("source", "list", "detail", "refresh_when_changed", number),
                                 described)


def zoom_source_findings(mapping: Mapping, mappings: dict[str, Mapping], index: SourceIndex) -> Iterator[SourceFinding]:
    """Every path a Zoom-source mapping reads, against its endpoints', events' or parent's schema."""
    schema, findings = record_schema(mapping, index)
    yield from findings
    yield from listing_findings(mapping, index)
    described = _described(mapping)
    parent_schema = _parent_schema(mapping, mappings, index)
    for event_index, event in enumerate(mapping.source.events):
        if index.event(event.event) is None:
            hint = did_you_mean(suggest_names(event.event, index.event_names()))
            yield SourceFinding(("source", "events", event_index, "event"), f"unknown Zoom event '{event.event}'{hint}")
    for spec in mapping.fields:
        yield from _field_findings(spec, schema, described, parent_schema, index)
    yield from _event_findings(mapping, index)
    yield from _listing_findings(mapping, index)
    for link in mapping.links:
        where = (*link.path, "from")
        if link.scope == "parent" and parent_schema is not None:
            yield from path_findings(parent_schema, link.source, where, "the parent record")
        elif link.scope == "record" and schema is not None:
            yield from path_findings(schema, link.source, where, described)
    if schema is not None:
        for i, include in enumerate(mapping.source.include):
            for name, value in include.params.items():
                if isinstance(value, str):
                    yield from path_findings(schema, value, ("source", "include", i, "params", name), described)
    if mapping.parent is not None and parent_schema is not None:
        parent_described = ("the record that holds it" if mapping.source.each is not None
                            else _described(mappings[mapping.parent.entity]))
        yield from path_findings(parent_schema, mapping.parent.source, ("parent", "from"), parent_described)


def _field_findings(
    spec: FieldSpec, schema: Schema | None, described: str, parent_schema: Schema | None, index: SourceIndex
) -> Iterator[SourceFinding]:
    where = (*spec.path, "from")
    if spec.realtime:
        event_schema = _event_schema(index, spec.realtime)
        if event_schema is None:
            hint = did_you_mean(suggest_names(spec.realtime, index.event_names()))
            yield SourceFinding((*spec.path, "realtime"), f"unknown Zoom event '{spec.realtime}'{hint}")
            return
        event_described = f"the {spec.realtime} event notification ({PAYLOAD_OBJECT})"
        yield from path_findings(event_schema, spec.source, where, event_described, spec.undocumented)
    elif spec.scope == "parent":
        if parent_schema is not None:
            yield from path_findings(parent_schema, spec.source, where, "the parent record", spec.undocumented)
    elif spec.scope == "record" and schema is not None:
        yield from path_findings(schema, spec.source, where, described, spec.undocumented)


def _event_record_schema(index: SourceIndex, event: EventSpec) -> Schema | None:
    """The schema of the record an event feeds (at `records`, default ``payload.object``)."""
    found = index.event(event.event)
    if found is None:
        return None
    if event.records == PAYLOAD_OBJECT:
        return found.record_schema()
    resolution = resolve_path(found.schema, event.records.split("."))
    return resolution.schema if resolution.found else None


def _event_findings(mapping: Mapping, index: SourceIndex) -> Iterator[SourceFinding]:
    """Every field an event delivers, read against that event's record; every event gives the key."""
    declared = {event.event: event for event in mapping.source.events}
    for spec in mapping.fields:
        for name in spec.events:
            if name not in declared:
                hint = did_you_mean(suggest_names(name, sorted(declared)))
                message = f"event '{name}' does not feed this entity (it is not in source.events){hint}"
                yield SourceFinding((*spec.path, "events", name), message)
    for position, event in enumerate(mapping.source.events):
        schema = _event_record_schema(index, event)
        if schema is None:
            if index.event(event.event) is not None:
                message = f"the {event.event} event has no '{event.records}' record"
                yield SourceFinding(("source", "events", position, "records"), message)
            continue
        described = f"the {event.event} event notification ({event.records})"
        for spec in mapping.enabled_fields:
            expression = event_readers(spec, mapping).get(event.event)
            if expression is None or spec.scope != "record" or (spec.realtime == event.event and not spec.events):
                continue  # not delivered by this event, or checked as the field's realtime source
            where = (*spec.path, "events", event.event) if event.event in spec.events else (*spec.path, "from")
            yield from path_findings(schema, expression, where, described, spec.undocumented)
        keys = mapping.target.upsert_keys
        if keys and not any(
            event.event in event_readers(spec, mapping) for spec in mapping.enabled_fields if spec.target in keys
        ):
            message = (f"event '{event.event}' gives no upsert key ({', '.join(keys)}): add "
                       f"`events: {{{event.event}: ...}}` to the key's field")
            yield SourceFinding(("source", "events", position, "event"), message)


def _described(mapping: Mapping) -> str:
    source = mapping.source
    main = source.listing.endpoint if source.listing is not None and not source.listing.detail else source.endpoint
    names = [main or "", *(f"{i.endpoint} (as {i.name})" for i in source.include)]
    return "the response of " + " + ".join(n for n in names if n)


def _listing_findings(mapping: Mapping, index: SourceIndex) -> Iterator[SourceFinding]:
    """A named listing's records: every field and link read from them, against that listing's schema."""
    for listing in mapping.source.listings:
        if listing.name is None:
            continue
        schema, findings = container_schema(mapping, index, listing)
        yield from (f for f in findings if f.path[:3] == listing.path[:3])
        if schema is None:
            continue
        if mapping.source.each is not None:
            schema = _each_schema(mapping, schema, [])
        described = f"the response of {listing.endpoint} (the listing '{listing.name}')"
        for spec in mapping.enabled_fields:
            if spec.scope != "record" or spec.realtime:
                continue
            given = listing.name in spec.lists
            text = spec.lists.get(listing.name) if given else spec.source
            if text is not None:
                where = (*spec.path, "lists", listing.name) if given else (*spec.path, "from")
                yield from path_findings(schema, text, where, described, spec.undocumented)
        for link in mapping.links:
            given = listing.name in link.lists
            text = link.lists.get(listing.name) if given else link.source
            if text is not None and link.scope == "record":
                where = (*link.path, "lists", listing.name) if given else (*link.path, "from")
                yield from path_findings(schema, text, where, described)


def _parent_schema(mapping: Mapping, mappings: dict[str, Mapping], index: SourceIndex) -> Schema | None:
    if mapping.source.each is not None:  # the record that holds the records is their parent
        schema, _ = container_schema(mapping, index)
        return schema
    parent_entity = mapping.parent.entity if mapping.parent else mapping.source.parent
    parent = mappings.get(parent_entity) if parent_entity else None
    if parent is None:
        return None
    schema, _ = record_schema(parent, index)
    return schema


def request_findings(mapping: Mapping, index: SourceIndex) -> Iterator[SourceFinding]:
    """A Zoom target (the reverse flow): every `to` must be a property of the request body."""
    target = mapping.target
    if target.system != "zoom" or not target.endpoint:
        return
    endpoint, problems = _endpoint(index, target.endpoint, ("target", "endpoint"))
    yield from problems
    if endpoint is None:
        return
    if endpoint.request is None:
        yield SourceFinding(("target", "endpoint"), f"{endpoint.name} takes no request body to write fields into")
        return
    properties = endpoint.request.get("properties", {})
    for spec in mapping.enabled_fields:
        resolution = resolve_path(endpoint.request, spec.target.split("."))
        if not resolution.found:
            hint = did_you_mean(suggest_names(spec.target, sorted(properties)))
            message = f"'{spec.target}' is not in the request body of {endpoint.name}{hint}"
            yield SourceFinding((*spec.path, "to"), message)
    if target.match_key and target.match_key not in properties:
        hint = did_you_mean(suggest_names(target.match_key, sorted(properties)))
        message = f"match key '{target.match_key}' is not in the request body of {endpoint.name}{hint}"
        yield SourceFinding(("target", "match_key"), message)
    for name in endpoint.request.get("required", []):
        if name not in {spec.target for spec in mapping.enabled_fields}:
            message = f"{endpoint.name} requires '{name}' in its body; no enabled field writes it"
            yield SourceFinding(("fields",), message)
    if target.listing is not None:
        yield from _target_list_findings(mapping, index, endpoint)


def _target_list_findings(mapping: Mapping, index: SourceIndex, written: EndpointSchema) -> Iterator[SourceFinding]:
    """A Zoom target's `list`: a GET of the same path parameters, its records, its `status` and the match key."""
    listing = mapping.target.listing
    assert listing is not None
    where: PathKey = ("target", "list")
    endpoint, problems = _endpoint(index, listing.endpoint, (*where, "endpoint"))
    yield from problems
    if endpoint is None:
        return
    if not endpoint.name.startswith("GET "):
        yield SourceFinding((*where, "endpoint"), f"{endpoint.name} does not list anything: 'list' takes a GET")
    if set(endpoint.path_params) != set(written.path_params):
        message = (f"{endpoint.name} takes the path parameters {sorted(endpoint.path_params)}, the target endpoint "
                   f"{sorted(written.path_params)}: the list must be of the same parent")
        yield SourceFinding((*where, "endpoint"), message)
    found = resolve_path(endpoint.response, [listing.records])
    if not found.found or "array" not in found.types:
        hint = did_you_mean(suggest_names(listing.records, sorted(endpoint.response.get("properties", {}))))
        yield SourceFinding((*where, "records"), f"{endpoint.name} has no '{listing.records}' list of records{hint}")
    elif mapping.target.match_key:
        item = resolve_path(endpoint.response, [listing.records, None, mapping.target.match_key])
        if not item.found:
            message = (f"match key '{mapping.target.match_key}' is not in the records of {endpoint.name}: the people "
                       "listed there could not be matched")
            yield SourceFinding(("target", "match_key"), message)
    if listing.statuses and "status" not in endpoint.query_params:
        yield SourceFinding((*where, "statuses"), f"{endpoint.name} takes no 'status' to read the list by")
    for name in listing.params:
        if name not in endpoint.query_params:
            hint = did_you_mean(suggest_names(name, list(endpoint.query_params)))
            yield SourceFinding((*where, "params", name), f"{endpoint.name} takes no query parameter '{name}'{hint}")
