"""The disclosure's items: one per source value and per Salesforce field, with every field that writes it.

Two fields of one mapping that read the same value (a call's id, kept in two fields) are one item;
two mappings that write the same Salesforce field (a meeting's start time, scheduled then actual)
are one item too. Items are the connected groups of fields under those two relations. Each is
listed in the section of its first field, in document order; another section whose mappings write
it mentions it under its own label (``Mention``). ``validate`` makes sure the fields of an item
agree on its category and secret flag (``check_one_kind_per_value``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.disclosure.model import Item, ItemField, Mention, SourceRef, TargetRef
from engine.language.expressions import compile_expression
from engine.language.model import FieldSpec, Mapping
from engine.language.plan import event_readers


@dataclass(frozen=True)
class _Entry:
    mapping: Mapping
    spec: FieldSpec
    section: str
    value: ItemField


def _source_endpoint(mapping: Mapping, spec: FieldSpec, realtime: tuple[str, ...]) -> str:
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
    return source.endpoint or ", ".join(realtime)


def item_field(mapping: Mapping, spec: FieldSpec, section: str, language: str) -> ItemField:
    source, target = mapping.source, mapping.target
    events = tuple(event_readers(spec, mapping))
    if not events and source.events and not source.endpoint:
        events = tuple(e.event for e in source.events)  # an entity fed by events only
    target_ref = TargetRef(target.system, target.object or target.endpoint or "", spec.target)
    return ItemField(
        key=f"{mapping.entity}:{target_ref.name}",
        entity=mapping.entity,
        section=section,
        label=spec.label.get(language),
        source=SourceRef(source.system, _source_endpoint(mapping, spec, events), spec.source),
        target=target_ref,
        realtime=events,
        also_rest=bool(events) and not spec.realtime and bool(source.endpoint),
        description=spec.description.get(language) if spec.description else None,
    )


class _Groups:
    """Union-find over the entries' positions."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        first, second = sorted((self.find(a), self.find(b)))
        self.parent[second] = first  # the earliest entry stays the group's root


@dataclass
class SectionItems:
    """What a section shows: the items it lists, those it mentions, and both in its fields' order."""

    items: list[Item]
    mentions: list[Mention]
    bullets: list[str]


def build_items(mappings: Sequence[Mapping], language: str) -> dict[str, SectionItems]:
    """Per section key, the items it lists and mentions, from `mappings` in document order."""
    entries = [
        _Entry(m, spec, m.disclosure.section, item_field(m, spec, m.disclosure.section, language))
        for m in mappings if m.disclosure is not None
        for spec in m.enabled_fields
    ]
    groups = _Groups(len(entries))
    by_target: dict[tuple[str, str, str], int] = {}
    by_value: dict[tuple[str, str, str | None, str], int] = {}
    for i, entry in enumerate(entries):
        target = entry.value.target
        written = (target.system, target.object.lower(), target.field.lower())
        if written in by_target:
            groups.join(by_target[written], i)
        by_target.setdefault(written, i)
        value = (entry.mapping.entity, entry.spec.source, entry.spec.realtime, entry.spec.scope)
        if value in by_value:
            groups.join(by_value[value], i)
        by_value.setdefault(value, i)
    members: dict[int, list[_Entry]] = {}
    for i, entry in enumerate(entries):
        members.setdefault(groups.find(i), []).append(entry)
    shown: dict[str, SectionItems] = {}
    for entry in entries:
        shown.setdefault(entry.section, SectionItems([], [], []))
    for root in sorted(members):
        group = members[root]
        first = group[0]
        item = Item(
            key=first.value.target.name,
            category=first.spec.category,
            secret=first.spec.secret,
            fields=tuple(entry.value for entry in group),
            credential_link=first.spec.type == "credential_url" and not first.spec.secret,
        )
        shown[first.section].items.append(item)
        for section in dict.fromkeys(entry.section for entry in group if entry.section != first.section):
            other = next(entry for entry in group if entry.section == section)
            shown[section].mentions.append(Mention(item.key, other.value.label, other.mapping.entity, first.section))
    key_of = {id(entry): members[groups.find(i)][0].value.target.name for i, entry in enumerate(entries)}
    for entry in entries:
        bullets = shown[entry.section].bullets
        if key_of[id(entry)] not in bullets:
            bullets.append(key_of[id(entry)])
    return shown
