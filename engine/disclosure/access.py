"""Least privilege, shown: the Zoom scopes, operations and event subscriptions, and the Salesforce
object and field access, that the enabled mappings need, each with what needs it.

Zoom: every operation the sync calls (``engine.zoom.scopes``) and the narrowest scope that grants
it; per scope, the operations and event subscriptions that need it, the items read through them,
and the mappings' justifications. Salesforce: read, create and edit on each object written; read
on each object read, searched by a link, or pointed at by a parent relation; per field, read for
what is read or matched on, read and edit for what is written. A required field has no field
permission in Salesforce (it is always readable and editable), so it is listed as such and left out
of the permission set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.disclosure.model import EventSubscription, FieldAccess, Item, ObjectAccess, Operation, ScopeGrant
from engine.disclosure.reading import read_fields
from engine.errors import UnknownObject
from engine.language.conditions import condition_fields, parse_condition
from engine.language.model import Mapping
from engine.salesforce.catalog import ObjectCatalog, load_catalog
from engine.zoom.scopes import mapping_events, mapping_operations


def zoom_access(
    mappings: Sequence[Mapping], items: Sequence[Item], language: str
) -> tuple[tuple[ScopeGrant, ...], tuple[Operation, ...], tuple[EventSubscription, ...]]:
    operations: dict[str, Operation] = {}
    for mapping in mappings:
        for op in mapping_operations(mapping):
            known = operations.get(op.name)
            entities = (*known.entities, mapping.entity) if known else (mapping.entity,)
            operations[op.name] = Operation(op.name, op.granular, op.classic, tuple(dict.fromkeys(entities)))
    events: dict[str, EventSubscription] = {}
    for mapping in mappings:
        for use in mapping_events(mapping):
            known_event = events.get(use.event)
            scope = (known_event.scope if known_event else None) or mapping.permissions.events.get(use.event)
            entities = (*known_event.entities, mapping.entity) if known_event else (mapping.entity,)
            labels = [i.label for i in items if use.event in i.realtime]
            events[use.event] = EventSubscription(use.event, scope, tuple(dict.fromkeys(entities)),
                                                  tuple(dict.fromkeys(labels)))
    scopes: dict[str, ScopeGrant] = {}
    for name in sorted({op.scope for op in operations.values() if op.scope} | {e.scope for e in events.values()
                                                                                if e.scope}):
        ops = [op for op in operations.values() if op.scope == name]
        subscriptions = [e for e in events.values() if e.scope == name]
        names = {op.operation for op in ops}
        labels = [item.label for item in items
                  if any(f.source.endpoint in names or f.target.object in names for f in item.fields)]
        labels += [label for e in subscriptions for label in e.fields]
        texts = [m.permissions.scopes[name].get(language) for m in mappings if name in m.permissions.scopes
                 and language in m.permissions.scopes[name].by_language]
        scopes[name] = ScopeGrant(
            scope=name,
            classic=tuple(sorted({op.classic for op in ops if op.classic})),
            operations=tuple(sorted(names)),
            events=tuple(sorted(e.event for e in subscriptions)),
            fields=tuple(dict.fromkeys(labels)),
            justifications=tuple(dict.fromkeys(texts)),
        )
    return (
        tuple(scopes.values()),
        tuple(operations[name] for name in sorted(operations)),
        tuple(events[name] for name in sorted(events)),
    )


@dataclass
class _Needs:
    read: bool = False
    create: bool = False
    edit: bool = False


@dataclass
class _FieldNeeds:
    read: bool = False
    edit: bool = False
    reasons: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


class _Salesforce:
    def __init__(self, catalog_dir: Path | None) -> None:
        self.catalog_dir = catalog_dir
        self.objects: dict[str, _Needs] = {}
        self.fields: dict[tuple[str, str], _FieldNeeds] = {}
        self._catalogs: dict[str, ObjectCatalog | None] = {}

    def catalog(self, name: str) -> ObjectCatalog | None:
        if name not in self._catalogs:
            try:
                self._catalogs[name] = load_catalog(name, self.catalog_dir)
            except UnknownObject:
                self._catalogs[name] = None  # validate reports it; the field is listed with its name as given
        return self._catalogs[name]

    def canonical(self, sobject: str, name: str) -> str:
        catalog = self.catalog(sobject)
        found = catalog.field(name) if catalog else None
        return found.name if found else name

    def need_object(self, name: str, *, write: bool = False) -> None:
        needs = self.objects.setdefault(name, _Needs())
        needs.read = True
        needs.create = needs.create or write
        needs.edit = needs.edit or write

    def need_field(
        self, sobject: str, name: str, reason: str, *, edit: bool = False, category: str | None = None
    ) -> None:
        needs = self.fields.setdefault((sobject, self.canonical(sobject, name)), _FieldNeeds())
        needs.read = True
        needs.edit = needs.edit or edit
        if reason not in needs.reasons:
            needs.reasons.append(reason)
        if category and category not in needs.categories:
            needs.categories.append(category)

    def need_path(self, sobject: str, path: str, reason: str, category: str | None = None) -> None:
        """A field read through relationships (``Account.Industry``): each hop's reference and the field."""
        head, _, rest = path.partition(".")
        if not rest:
            self.need_field(sobject, head, reason, category=category)
            return
        catalog = self.catalog(sobject)
        reference = catalog.by_relationship(head) if catalog else None
        if reference is None or not reference.reference_to:
            return  # validate reports it
        self.need_field(sobject, reference.name, reason)
        self.need_object(reference.reference_to[0])
        self.need_path(reference.reference_to[0], rest, reason, category)

    def relationship_field(self, sobject: str, relationship: str) -> str:
        catalog = self.catalog(sobject)
        found = catalog.by_relationship(relationship) if catalog else None
        return found.name if found else relationship.removesuffix("__r") + "__c"

    def permissionable(self, sobject: str, name: str) -> bool:
        """Whether Salesforce has a field permission for it: not for a required field (not nillable,
        a checkbox aside), which every user with the object can read and edit."""
        catalog = self.catalog(sobject)
        found = catalog.field(name) if catalog else None
        return found is None or found.nillable or found.type == "boolean"


def salesforce_access(
    mappings: Iterable[Mapping], mapping_set: dict[str, Mapping], catalog_dir: Path | None = None
) -> tuple[tuple[ObjectAccess, ...], tuple[FieldAccess, ...]]:
    needs = _Salesforce(catalog_dir)
    for mapping in mappings:
        target = mapping.target
        if target.system == "salesforce" and target.object:
            needs.need_object(target.object, write=True)
            for spec in mapping.enabled_fields:
                needs.need_field(target.object, spec.target, "written", edit=True, category=spec.category)
            if mapping.parent:
                relation = needs.relationship_field(target.object, mapping.parent.relationship)
                needs.need_field(target.object, relation, "relationship", edit=True)
                parent = mapping_set.get(mapping.parent.entity)
                if parent is not None and parent.target.object:
                    needs.need_object(parent.target.object)
                    needs.need_field(parent.target.object, mapping.parent.key, "parent_key")
            for link in mapping.links:
                needs.need_field(target.object, link.target, "written", edit=True)
                needs.need_object(link.object)
                needs.need_field(link.object, link.match, "matched")
        if mapping.source.system == "salesforce":
            where = condition_fields(parse_condition(mapping.source.where)) if mapping.source.where else []
            for sobject in mapping.source.objects:
                needs.need_object(sobject)
                for spec in mapping.enabled_fields:
                    for name in read_fields(mapping, [spec]):
                        needs.need_path(sobject, name, "read", spec.category)
                for name in where:
                    needs.need_path(sobject, name, "selects")
    objects = tuple(ObjectAccess(name, n.read, n.create, n.edit) for name, n in sorted(needs.objects.items()))
    fields = tuple(
        FieldAccess(f"{sobject}.{name}", sobject, name, n.read, n.edit, needs.permissionable(sobject, name),
                    tuple(n.reasons), tuple(n.categories))
        for (sobject, name), n in sorted(needs.fields.items())
    )
    return objects, fields
