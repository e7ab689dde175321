"""What the enabled mappings need of a Salesforce org, and what an org (or a catalog) lacks of it.

    wanted = needs(mapping_set, entities)          # every object and field, with who needs it and where
    gaps = missing(wanted, org, declared)          # what `org` lacks; `declared` says how to create it

A mapping needs its target object; every field it writes (``to``), writable; its upsert keys and
its parent's key as External IDs; the lookup behind its parent relationship and its links; the
fields its links and ``match`` compare; and, in the reverse flow, the fields it reads. ``org`` and
``declared`` look an object up by name (None: not there): ``org`` is a live org's describes (the
sync's pre-flight, ``zoomforce catalog missing``) or a catalog folder, where objects and fields
marked ``x-zoomforce-absent`` count as missing; ``declared`` is the catalog the mappings were
validated against, whose definitions (type, length, flags) the missing fields are proposed with.
A field no catalog declares is proposed from its mapping: ``creates`` of its value type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.language.loader import PathKey
from engine.language.model import FieldSpec, Mapping
from engine.language.value_types import VALUE_TYPES
from engine.salesforce.catalog import ObjectCatalog, SalesforceField
from engine.salesforce.dx_source import field_kind
from engine.validate.mapping_set import MappingSet
from engine.validate.salesforce_checks import record_fields_read, value_type

Lookup = Callable[[str], ObjectCatalog | None]
MAX_TEXT = 255


@dataclass(frozen=True)
class Need:
    """One object or field a mapping needs, why, and where the mapping says so (``FILE:LINE:COL``)."""

    object: str
    field: str | None  # None: the object itself
    use: str  # "written", "upsert key", "matched on", "parent lookup", "parent key", "lookup", "read"
    entity: str
    at: str
    spec: FieldSpec | None = None
    path: PathKey = ()  # the key path in the mapping file that needs it (``("fields", 3, "to")``)
    reference_to: str | None = None  # the object a lookup points at
    external_id: bool = False
    writable: bool = False


@dataclass(frozen=True)
class Missing:
    """One object or field an org lacks (or has in a form the mappings cannot use)."""

    object: str
    field: str | None
    problem: str  # "missing", "absent" (declared, not in the org yet), "read-only", "not an External ID"
    needs: tuple[Need, ...]
    definition: SalesforceField | None = None  # a field's: declared in a catalog, or proposed from the mapping
    declared_object: ObjectCatalog | None = None  # an object's declaration (its label), when a catalog has one

    @property
    def name(self) -> str:
        return self.object if self.field is None else f"{self.object}.{self.field}"

    def uses(self) -> str:
        """``written by users (mappings/users.yaml:78:9)``, each use once."""
        seen: list[str] = []
        for need in self.needs:
            text = f"{_use_text(need)} {need.entity} ({need.at})"
            if text not in seen:
                seen.append(text)
        return "; ".join(seen)

    def text(self) -> str:
        """One line: what is missing, its definition, and who needs it."""
        what = "" if self.definition is None else f" [{field_kind(self.definition)}]"
        state = {"missing": "missing", "absent": "declared, not in the org yet", "read-only": "read-only",
                 "not an External ID": "not an External ID"}[self.problem]
        return f"{self.name}{what}: {state}; {self.uses()}"


def _use_text(need: Need) -> str:
    return {"written": "written by", "upsert key": "upsert key of", "matched on": "matched on by",
            "parent lookup": "parent lookup of", "parent key": "parent key of", "lookup": "lookup of",
            "link match": "compared by a link of", "read": "read by", "object": "target of"}.get(need.use, need.use)


# ---- what the mappings need ---------------------------------------------------------------------------


def _at(mapping: Mapping, path: PathKey) -> str:
    problem = mapping.document.problem(path, "")
    return f"{problem.file}:{problem.line}:{problem.column}"


def _need(mapping: Mapping, path: PathKey, obj: str, field: str | None, use: str, **options: Any) -> Need:
    """What `mapping` needs at `path` of its file."""
    return Need(obj, field, use, mapping.entity, _at(mapping, path), path=path, **options)


def needs(mapping_set: MappingSet, entities: Iterable[str] | None = None, declared: Lookup | None = None
          ) -> list[Need]:
    """Every object and field the enabled mappings (of `entities`, default all) need of the org."""
    chosen = set(entities) if entities is not None else None
    found: list[Need] = []
    for mapping in mapping_set.mappings.values():
        if not mapping.enabled or (chosen is not None and mapping.entity not in chosen):
            continue
        found += list(_target_needs(mapping, mapping_set, declared))
        found += list(_reverse_needs(mapping))
    return found


def _target_needs(mapping: Mapping, mapping_set: MappingSet, declared: Lookup | None) -> Iterator[Need]:
    target = mapping.target
    if target.system != "salesforce" or not target.object:
        return
    obj = target.object
    yield _need(mapping, ("target", "object"), obj, None, "object")
    for spec in mapping.enabled_fields:
        yield _need(mapping, (*spec.path, "to"), obj, spec.target, "written", spec=spec, writable=True)
    keys = target.upsert_keys
    for i, key in enumerate(keys):
        where: PathKey = ("target", "upsert_key", i) if len(keys) > 1 else ("target", "upsert_key")
        key_spec = next((f for f in mapping.enabled_fields if f.target.lower() == key.lower()), None)
        yield _need(mapping, where, obj, key, "upsert key", spec=key_spec, external_id=True)
    for i, fields in enumerate(target.match):
        for j, name in enumerate(fields):
            yield _need(mapping, _match_path(mapping, i, j), obj, name, "matched on")
    parent = mapping.parent
    if parent is not None:
        parent_mapping = mapping_set.mappings.get(parent.entity)
        parent_object = parent_mapping.target.object if parent_mapping is not None else None
        known = declared(obj) if declared is not None else None
        reference = known.by_relationship(parent.relationship) if known is not None else None
        name = reference.name if reference is not None else _field_of_relationship(parent.relationship)
        yield _need(mapping, ("parent", "relationship"), obj, name, "parent lookup",
                   reference_to=parent_object, writable=True)
        if parent_object:
            yield _need(mapping, ("parent", "key"), parent_object, parent.key, "parent key",
                       external_id=True)
    for link in mapping.links:
        base: PathKey = ("links", link.index)
        yield _need(mapping, (*base, "to"), obj, link.target, "lookup", reference_to=link.object,
                   writable=True)
        yield _need(mapping, (*base, "object"), link.object, None, "object")
        yield _need(mapping, (*base, "match"), link.object, link.match, "link match")


def _match_path(mapping: Mapping, i: int, j: int) -> PathKey:
    nested = len(mapping.target.match) > 1 or mapping.target.match_nested
    return ("target", "match", i, j) if nested else ("target", "match", j)


def _field_of_relationship(relationship: str) -> str:
    """The lookup field behind a relationship name: ``Foo__r`` is ``Foo__c``, ``Owner`` is ``OwnerId``."""
    if relationship.endswith("__r"):
        return relationship[:-3] + "__c"
    return relationship + "Id"


def _reverse_needs(mapping: Mapping) -> Iterator[Need]:
    if mapping.source.system != "salesforce":
        return
    for i, name in enumerate(mapping.source.objects):
        where: PathKey = ("source", "object", i) if len(mapping.source.objects) > 1 else ("source", "object")
        yield _need(mapping, where, name, None, "object")
        for spec in mapping.enabled_fields:
            for field_name in record_fields_read(spec):
                yield _need(mapping, (*spec.path, "from"), name, field_name, "read")


# ---- what the org lacks -----------------------------------------------------------------------------------


def missing(wanted: Iterable[Need], org: Lookup, declared: Lookup | None = None) -> list[Missing]:
    """What `org` lacks of `wanted`, one entry per object or field (in the order first needed)."""
    grouped: dict[tuple[str, str | None], list[Need]] = {}
    for need in wanted:
        grouped.setdefault((need.object.lower(), need.field.lower() if need.field else None), []).append(need)
    result: list[Missing] = []
    absent_objects: set[str] = set()
    for (obj_key, _), group in grouped.items():
        first = group[0]
        found = org(first.object)
        if found is None or found.absent:
            if obj_key not in absent_objects:
                absent_objects.add(obj_key)
                object_needs = [n for (o, _), g in grouped.items() if o == obj_key for n in g if n.field is None]
                known = declared(first.object) if declared is not None else None
                problem = "absent" if found is not None else "missing"
                result.append(Missing(first.object, None, problem, tuple(object_needs or group), None, known))
            if first.field is None:
                continue
            result.append(_field_gap(group, None, declared, "missing"))
            continue
        if first.field is None:
            continue
        field = found.field(first.field)
        if field is None or field.absent:
            result.append(_field_gap(group, found, declared, "absent" if field is not None else "missing"))
        elif any(n.writable for n in group) and not (field.createable or field.updateable):
            result.append(Missing(found.name, field.name, "read-only", tuple(group), field))
        elif any(n.external_id for n in group) and not field.external_id and field.name != "Id":
            result.append(Missing(found.name, field.name, "not an External ID", tuple(group), field))
    return result


def _field_gap(group: list[Need], found: ObjectCatalog | None, declared: Lookup | None, problem: str) -> Missing:
    first = group[0]
    assert first.field is not None
    known = declared(first.object) if declared is not None else None
    field = known.field(first.field) if known is not None else None
    definition = field if field is not None else _proposed(group)
    object_name = found.name if found is not None else (known.name if known is not None else first.object)
    return Missing(object_name, definition.name, problem, tuple(group), definition)


def _label(name: str) -> str:
    return name.removesuffix("__c").replace("_", " ").strip()


def _proposed(group: list[Need]) -> SalesforceField:
    """A field no catalog declares, as its mapping needs it: a lookup, an external id, or its value type's field."""
    first = group[0]
    assert first.field is not None
    reference = next((n.reference_to for n in group if n.reference_to), None)
    external = any(n.external_id for n in group)
    spec = next((n.spec for n in group if n.spec is not None), None)
    declared_type = value_type(spec) if spec is not None else None
    sf_type, length, scale = VALUE_TYPES[declared_type].creates if declared_type else ("string", MAX_TEXT, 0)
    if external and sf_type not in ("string", "double", "email"):
        sf_type, length, scale = "string", MAX_TEXT, 0
    if sf_type == "string" and spec is not None and spec.max_length:
        length = spec.max_length
        if length > MAX_TEXT:
            sf_type = "textarea"
    values = tuple(str(v) for v in spec.values.values()) if spec is not None and spec.values else ()
    if sf_type == "picklist" and not values:
        sf_type = "string"
    relationship = None
    if reference:
        sf_type, length, scale = "reference", 18, 0
        relationship = first.field[:-3] + "__r" if first.field.endswith("__c") else None
    return SalesforceField(
        name=first.field, type=sf_type, length=length, nillable=True, external_id=external, unique=external,
        id_lookup=external, reference_to=(reference,) if reference else (), relationship_name=relationship,
        createable=True, updateable=True, defaulted_on_create=False, label=_label(first.field),
        picklist_values=values, inferred=None, added="proposed from the mapping: no catalog declares it",
        precision=18 if sf_type == "double" else 0, scale=scale,
    )
