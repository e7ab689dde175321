"""Validation of what a mapping writes (and, in the reverse flow, reads) in Salesforce, against the
target catalog in ``schemas/salesforce``: the object exists; every ``to`` is a field of it that can
be written, of a type that takes the field's value, long enough for its declared maximum; the upsert
keys are external ids; the parent relationship and the links point at the objects they claim.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine.errors import ConditionError, ExpressionError
from engine.language.conditions import comparisons, parse_condition
from engine.language.expressions import compile_expression
from engine.language.loader import PathKey
from engine.language.model import FieldSpec, Mapping
from engine.language.value_types import VALUE_TYPES
from engine.salesforce.catalog import ObjectCatalog, UnknownObject, load_catalog, type_accepts
from engine.suggest import did_you_mean
from engine.validate.zoom_checks import SourceFinding


def _object(name: str, where: PathKey, directory: Path | None) -> tuple[ObjectCatalog | None, list[SourceFinding]]:
    try:
        return load_catalog(name, directory), []
    except UnknownObject as exc:
        return None, [SourceFinding(where, str(exc))]


def unknown_field_message(name: str, catalog: ObjectCatalog) -> str:
    """A `to` the catalog lacks: the file looked in, the nearest names, and the two ways out."""
    hint = did_you_mean(catalog.suggest(name))
    where = catalog.path or f"{catalog.name}.json"
    return (f"'{name}' is not a field of {catalog.name} in {where}{hint}. If the org has it, refresh the catalog "
            f"(zoomforce catalog pull); if not, declare it in {where} (marked x-zoomforce-added) and create it "
            f"(zoomforce catalog missing --out DIR)")


def record_fields_read(spec: FieldSpec) -> list[str]:
    """The fields of the Salesforce record that a field of scope ``record`` reads (none for another scope,
    or an expression that does not compile: its own check reports it)."""
    if spec.scope != "record":
        return []
    try:
        paths = compile_expression(spec.source).field_paths()
    except ExpressionError:
        return []
    return sorted({p[0] for p in paths if p and isinstance(p[0], str)})


def value_type(spec: FieldSpec) -> str | None:
    """What the field writes: its declared type, else the expression's result type if it is known."""
    if spec.type is not None:
        return spec.type
    try:
        result = compile_expression(spec.source).result_type
    except ExpressionError:
        return None
    return result if result in VALUE_TYPES else None  # "any", "object", "array", "null" say nothing


def target_findings(mapping: Mapping, mappings: dict[str, Mapping], directory: Path | None) -> Iterator[SourceFinding]:
    """Every problem of a Salesforce target against its catalog."""
    target = mapping.target
    if target.system != "salesforce" or not target.object:
        return
    catalog, problems = _object(target.object, ("target", "object"), directory)
    yield from problems
    if catalog is None:
        return
    for spec in mapping.enabled_fields:
        yield from _field_findings(spec, catalog)
    yield from _upsert_key_findings(mapping, catalog)
    yield from _match_findings(mapping, catalog)
    yield from _parent_findings(mapping, catalog, mappings, directory)
    yield from _link_findings(mapping, catalog, directory)


def _field_findings(spec: FieldSpec, catalog: ObjectCatalog) -> Iterator[SourceFinding]:
    where = (*spec.path, "to")
    field = catalog.field(spec.target)
    if field is None:
        yield SourceFinding(where, unknown_field_message(spec.target, catalog))
        return
    if not (field.createable or field.updateable):
        yield SourceFinding(where, f"{catalog.name}.{field.name} is read-only ({field.type}); it cannot be written")
        return
    written = value_type(spec)
    if written is not None and not type_accepts(field.type, written):
        yield SourceFinding(
            (*spec.path, "type") if spec.type else where,
            f"{catalog.name}.{field.name} is a Salesforce {field.type} field; it cannot take a {written} value",
        )
    if spec.max_length is not None and field.length and spec.max_length > field.length:
        yield SourceFinding(
            (*spec.path, "max_length"),
            f"max_length {spec.max_length} exceeds the {field.length} characters of {catalog.name}.{field.name}",
        )


def _upsert_key_findings(mapping: Mapping, catalog: ObjectCatalog) -> Iterator[SourceFinding]:
    keys = mapping.target.upsert_keys
    for i, key in enumerate(keys):
        where: PathKey = ("target", "upsert_key", i) if len(keys) > 1 else ("target", "upsert_key")
        field = catalog.field(key)
        if field is None:
            yield SourceFinding(where, f"upsert key '{key}' is not a field of {catalog.name}"
                                + did_you_mean(catalog.external_ids() or catalog.suggest(key)))
        elif not field.external_id and field.name != "Id":
            known = ", ".join(catalog.external_ids()) or "none"
            yield SourceFinding(
                where,
                f"upsert key '{key}' is not an External ID field of {catalog.name} (its external ids: {known})",
            )


UNFILTERABLE = frozenset({"textarea", "encryptedstring", "base64"})  # SOQL cannot compare these in WHERE


def _match_findings(mapping: Mapping, catalog: ObjectCatalog) -> Iterator[SourceFinding]:
    """Each `match` field is a field of the object that a SOQL look-up can compare."""
    target = mapping.target
    for i, fields in enumerate(target.match):
        for j, name in enumerate(fields):
            where: PathKey = ("target", "match", i, j) if target.match_nested else ("target", "match", j)
            field = catalog.field(name)
            if field is None:
                yield SourceFinding(where, f"match field '{name}' is not a field of {catalog.name}"
                                    + did_you_mean(catalog.suggest(name)))
            elif field.type in UNFILTERABLE:
                yield SourceFinding(where, f"{catalog.name}.{field.name} is a {field.type} field: a SOQL look-up "
                                    "cannot compare it, so it cannot identify a record")


def _parent_findings(
    mapping: Mapping, catalog: ObjectCatalog, mappings: dict[str, Mapping], directory: Path | None
) -> Iterator[SourceFinding]:
    parent = mapping.parent
    if parent is None:
        return
    reference = catalog.by_relationship(parent.relationship)
    if reference is None:
        names = [f.relationship_name for f in catalog.fields.values() if f.relationship_name]
        hint = did_you_mean([n for n in names if n.lower().startswith("zoom_app")] or names)
        yield SourceFinding(("parent", "relationship"), f"{catalog.name} has no relationship '{parent.relationship}'"
                            + hint)
        return
    parent_mapping = mappings.get(parent.entity)
    parent_object = parent_mapping.target.object if parent_mapping else None
    if parent_object and parent_object.lower() not in {t.lower() for t in reference.reference_to}:
        yield SourceFinding(
            ("parent", "relationship"),
            f"{catalog.name}.{parent.relationship} points at {', '.join(reference.reference_to)}, "
            f"not at {parent_object} (the target of '{parent.entity}')",
        )
        return
    if parent_object:
        parent_catalog, problems = _object(parent_object, ("parent", "entity"), directory)
        yield from problems
        key = parent_catalog.field(parent.key) if parent_catalog else None
        if parent_catalog is not None and (key is None or not key.external_id):
            known = ", ".join(parent_catalog.external_ids()) or "none"
            yield SourceFinding(
                ("parent", "key"),
                f"'{parent.key}' is not an External ID field of {parent_object} (its external ids: {known})",
            )


def _link_findings(mapping: Mapping, catalog: ObjectCatalog, directory: Path | None) -> Iterator[SourceFinding]:
    for link in mapping.links:
        base: PathKey = ("links", link.index)
        field = catalog.field(link.target)
        if field is None:
            yield SourceFinding((*base, "to"), f"'{link.target}' is not a field of {catalog.name}"
                                + did_you_mean(catalog.suggest(link.target)))
        elif field.type != "reference" or link.object.lower() not in {t.lower() for t in field.reference_to}:
            points = ", ".join(field.reference_to) or "nothing"
            yield SourceFinding((*base, "to"), f"{catalog.name}.{field.name} is a {field.type} field pointing at "
                                f"{points}, not a lookup to {link.object}")
        linked, problems = _object(link.object, (*base, "object"), directory)
        yield from problems
        if linked is not None and linked.field(link.match) is None:
            yield SourceFinding((*base, "match"), f"'{link.match}' is not a field of {linked.name}"
                                + did_you_mean(linked.suggest(link.match)))


def salesforce_source_findings(mapping: Mapping, directory: Path | None) -> Iterator[SourceFinding]:
    """The reverse flow reads Contact or Lead fields: each path's first step must exist on every object."""
    if mapping.source.system != "salesforce":
        return
    catalogs: list[ObjectCatalog] = []
    for i, name in enumerate(mapping.source.objects):
        where: PathKey = ("source", "object", i) if len(mapping.source.objects) > 1 else ("source", "object")
        catalog, problems = _object(name, where, directory)
        yield from problems
        if catalog is not None:
            catalogs.append(catalog)
    for spec in mapping.fields:
        for name in record_fields_read(spec):
            for catalog in catalogs:
                if catalog.field(name) is None:
                    hint = did_you_mean(catalog.suggest(name))
                    at = spec.source.find(name)
                    yield SourceFinding((*spec.path, "from"), f"'{name}' is not a field of {catalog.name}{hint}",
                                        offset=at + 1 if at >= 0 else None)


def where_findings(mapping: Mapping, directory: Path | None) -> Iterator[SourceFinding]:
    """The reverse flow's ``source.where`` reads as a SOQL condition, on fields every source object has."""
    where = mapping.source.where
    if mapping.source.system != "salesforce" or where is None:
        return
    try:
        condition = parse_condition(where)
    except ConditionError as exc:
        yield SourceFinding(("source", "where"), f"'{where}' is not a condition zoomforce can read: {exc}",
                            offset=exc.column)
        return
    catalogs = [catalog for name in mapping.source.objects
                if (catalog := _object(name, ("source", "object"), directory)[0]) is not None]
    for comparison in comparisons(condition):
        head, _, rest = comparison.field.partition(".")
        for catalog in catalogs:
            if rest and catalog.by_relationship(head) is None:
                yield SourceFinding(("source", "where"), f"'{head}' is not a relationship of {catalog.name}",
                                    offset=comparison.column)
            elif not rest and catalog.field(head) is None:
                hint = did_you_mean(catalog.suggest(head))
                yield SourceFinding(("source", "where"), f"'{head}' is not a field of {catalog.name}{hint}",
                                    offset=comparison.column)
