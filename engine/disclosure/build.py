"""The privacy disclosure, built from the loaded mapping model (never from a second list).

``build_disclosure(mapping_set, language)`` gives a language-resolved document: one section per
``disclosure.section`` (entities sharing a section share it), each item an enabled field of an
enabled mapping, plus the permissions the enabled mappings need. Renderers (Markdown, HTML, JSON,
Fides) live in ``engine.disclosure.render``; the diff between two mapping folders in
``engine.disclosure.diff``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError
from engine.language.expressions import compile_expression
from engine.language.messages import catalog_languages, message_catalog
from engine.language.model import FieldSpec, Mapping, Text
from engine.language.plan import event_readers
from engine.resources import schemas_dir
from engine.validate.mapping_set import MappingSet
from engine.zoom.schemas import load_source_index


@dataclass(frozen=True)
class Item:
    entity: str
    label: str
    source: str
    source_system: str
    source_endpoint: str
    target_system: str
    target_object: str
    target_field: str
    category: str
    secret: bool
    realtime: str | None
    description: str | None
    also_rest: bool = False  # read from a REST response too (the event updates it sooner)
    credential_link: bool = False  # a link shown in Salesforce whose credential (pwd=, tk=) is kept out of logs


@dataclass
class Section:
    key: str
    order: int
    title: str
    when: str | None
    shown_on: str | None
    purpose: str | None
    data_use: str | None
    data_subjects: list[str]
    direction: str  # "zoom_to_salesforce" or "salesforce_to_zoom"
    entities: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


@dataclass
class Permissions:
    zoom_scopes: list[str]
    zoom_classic_scopes: list[str]
    zoom_endpoints: list[str]
    zoom_events: list[str]
    salesforce_writes: dict[str, list[str]]
    salesforce_reads: dict[str, list[str]]


@dataclass
class Disclosure:
    language: str
    messages: dict[str, str]
    sections: list[Section]
    permissions: Permissions

    @property
    def zoom_sections(self) -> list[Section]:
        return [s for s in self.sections if s.direction == "zoom_to_salesforce"]

    @property
    def salesforce_sections(self) -> list[Section]:
        return [s for s in self.sections if s.direction == "salesforce_to_zoom"]


def _text(value: Text | None, language: str) -> str | None:
    return None if value is None else value.get(language)


def _item(mapping: Mapping, spec: FieldSpec, language: str) -> Item:
    source, target = mapping.source, mapping.target
    events = list(event_readers(spec, mapping))
    realtime = ", ".join(events) if events else (
        source.events[0].event if source.events and not source.endpoint else None
    )
    source_where = _source_of(mapping, spec, realtime)
    return Item(
        entity=mapping.entity,
        label=spec.label.get(language),
        source=spec.source,
        source_system=source.system,
        source_endpoint=source_where,
        target_system=target.system,
        target_object=target.object or target.endpoint or "",
        target_field=spec.target,
        category=spec.category,
        secret=spec.secret,
        realtime=realtime,
        description=_text(spec.description, language),
        also_rest=bool(realtime) and not spec.realtime and bool(source.endpoint),
        credential_link=spec.type == "credential_url" and not spec.secret,
    )


def _source_of(mapping: Mapping, spec: FieldSpec, realtime: str | None) -> str:
    """Where a field's value is read: the object(s), the event, or the endpoint its path starts in."""
    source = mapping.source
    if source.system == "salesforce":
        return " / ".join(source.objects)
    if spec.realtime:
        return spec.realtime
    heads = {p[0] for p in compile_expression(spec.source).field_paths() if p}
    for include in source.include:
        if include.name in heads:
            return include.endpoint
    return source.endpoint or realtime or ""


def _enabled_mappings(mapping_set: MappingSet) -> list[Mapping]:
    return sorted(
        (m for m in mapping_set.mappings.values() if m.enabled and m.disclosure is not None),
        key=lambda m: (m.disclosure.order if m.disclosure else 0, m.entity),
    )


def _sections(mappings: Iterable[Mapping], language: str) -> list[Section]:
    sections: dict[str, Section] = {}
    for mapping in mappings:
        spec = mapping.disclosure
        assert spec is not None
        section = sections.get(spec.section)
        if section is None:
            section = Section(
                key=spec.section,
                order=spec.order,
                title=spec.title.get(language),
                when=_text(spec.when, language),
                shown_on=_text(spec.shown_on, language),
                purpose=_text(spec.purpose, language),
                data_use=spec.data_use,
                data_subjects=list(spec.data_subjects),
                direction="salesforce_to_zoom" if mapping.source.system == "salesforce" else "zoom_to_salesforce",
            )
            sections[spec.section] = section
        section.entities.append(mapping.entity)
        section.items.extend(_item(mapping, f, language) for f in mapping.enabled_fields)
        events = [e.event for e in mapping.source.events] + [f.realtime for f in mapping.enabled_fields if f.realtime]
        events += [name for f in mapping.enabled_fields for name in f.events]
        section.events.extend(e for e in events if e and e not in section.events)
    return sorted(sections.values(), key=lambda s: (s.order, s.key))


def zoom_endpoints(mappings: Iterable[Mapping]) -> list[str]:
    """Every Zoom operation the enabled mappings call."""
    found: set[str] = set()
    for mapping in mappings:
        source, target = mapping.source, mapping.target
        if source.system == "zoom":
            found.update(e for e in [source.endpoint, *(i.endpoint for i in source.include)] if e)
            found.update(listing.endpoint for listing in source.listings)
        if target.system == "zoom" and target.endpoint:
            found.add(target.endpoint)
    return sorted(found)


def zoom_scopes(endpoints: Iterable[str]) -> list[str]:
    """The least-privilege granular OAuth scopes for those operations, account-wide.

    zoomforce runs as a server-to-server OAuth app reading every user of the account, so of the
    granular scopes Zoom's specification offers per operation it needs the ``:admin`` one.
    """
    return sorted({s for name in endpoints for s in _scope_choice(name)[0]})


def zoom_classic_scopes(endpoints: Iterable[str]) -> list[str]:
    """The narrowest classic scope per operation, for apps created before granular scopes."""
    return sorted({s for name in endpoints for s in _scope_choice(name)[1]})


def _scope_choice(name: str) -> tuple[list[str], list[str]]:
    if not (schemas_dir() / "zoom" / "index.json").is_file():
        return [], []  # no source schemas installed: nothing to derive scopes from

    endpoint = load_source_index().endpoint(name)
    if endpoint is None:
        return [], []
    writes = not name.startswith("GET ")
    return _narrowest(endpoint.scopes_granular, writes), _narrowest(endpoint.scopes_classic, writes)


def _narrowest(alternatives: Iterable[str], writes: bool) -> list[str]:
    """Any one scope of ``alternatives`` grants the operation: pick the account-wide one that
    grants least (read-only for reads, the most specific resource name)."""
    candidates = [s for s in alternatives if writes or ":write" not in s] or list(alternatives)
    if not candidates:
        return []
    account_wide = [s for s in candidates if s.endswith(":admin")] or candidates
    return [max(account_wide, key=lambda s: (len(s.split(":")[0]), -len(s), s))]


def _permissions(mappings: list[Mapping]) -> Permissions:
    writes: dict[str, set[str]] = {}
    reads: dict[str, set[str]] = {}
    events: set[str] = set()
    for mapping in mappings:
        fields = [f for f in mapping.enabled_fields]
        if mapping.target.system == "salesforce" and mapping.target.object:
            written = writes.setdefault(mapping.target.object, set())
            written.update(f.target for f in fields)
            if mapping.parent:
                written.add(mapping.parent.relationship.removesuffix("__r") + "__c")
            written.update(link.target for link in mapping.links)
            for link in mapping.links:
                reads.setdefault(link.object, set()).add(link.match)
        if mapping.source.system == "salesforce":
            for name in mapping.source.objects:
                reads.setdefault(name, set()).update(_salesforce_fields(fields))
        events.update(e.event for e in mapping.source.events)
        events.update(f.realtime for f in fields if f.realtime)
    endpoints = zoom_endpoints(mappings)
    return Permissions(
        zoom_scopes=zoom_scopes(endpoints),
        zoom_classic_scopes=zoom_classic_scopes(endpoints),
        zoom_endpoints=endpoints,
        zoom_events=sorted(events),
        salesforce_writes={k: sorted(v) for k, v in sorted(writes.items())},
        salesforce_reads={k: sorted(v) for k, v in sorted(reads.items())},
    )


def _salesforce_fields(fields: Iterable[FieldSpec]) -> set[str]:
    """The Salesforce fields that `fields` read (the first step of each path)."""
    names: set[str] = set()
    for spec in fields:
        for path in compile_expression(spec.source).field_paths():
            if path and isinstance(path[0], str):
                names.add(path[0])
    return names


def build_disclosure(mapping_set: MappingSet, language: str) -> Disclosure:
    """The disclosure of the enabled mappings in `language`."""
    if language not in catalog_languages():
        known = ", ".join(sorted(catalog_languages()))
        raise ConfigError(f"no disclosure messages for language '{language}' (available: {known})")
    mappings = _enabled_mappings(mapping_set)
    for mapping in mappings:
        if language not in mapping.languages:
            raise ConfigError(f"{mapping.file}: mapping '{mapping.entity}' has no '{language}' texts")
    return Disclosure(
        language=language,
        messages=message_catalog()[language],
        sections=_sections(mappings, language),
        permissions=_permissions(mappings),
    )


def disclosure_json(disclosure: Disclosure) -> dict[str, Any]:
    """The JSON export (schemas/disclosure.schema.json)."""
    return {
        "language": disclosure.language,
        "title": disclosure.messages["document_title"],
        "sections": [
            {
                "key": s.key,
                "entity": s.entities[0],
                "entities": s.entities,
                "title": s.title,
                "when": s.when,
                "shown_on": s.shown_on,
                "purpose": s.purpose,
                "direction": s.direction,
                "data_use": s.data_use,
                "data_subjects": s.data_subjects,
                "events": s.events,
                "items": [
                    {
                        "entity": i.entity,
                        "label": i.label,
                        "source": {"system": i.source_system, "endpoint": i.source_endpoint, "expression": i.source},
                        "target": {"system": i.target_system, "object": i.target_object, "field": i.target_field},
                        "category": i.category,
                        "secret": i.secret,
                        "credential_link": i.credential_link,
                        "realtime": i.realtime,
                    }
                    for i in s.items
                ],
            }
            for s in disclosure.sections
        ],
        "permissions": {
            "zoom_scopes": disclosure.permissions.zoom_scopes,
            "zoom_classic_scopes": disclosure.permissions.zoom_classic_scopes,
            "zoom_endpoints": disclosure.permissions.zoom_endpoints,
            "zoom_events": disclosure.permissions.zoom_events,
            "salesforce_writes": disclosure.permissions.salesforce_writes,
            "salesforce_reads": disclosure.permissions.salesforce_reads,
        },
    }
