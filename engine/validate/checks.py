"""Second validation pass: what a mapping means. One small function per rule, in a table.

Each check takes a mapping (and the set it belongs to) and yields Findings: a path into the
document, a message, and whether to point at the key or at the value. Adding a rule is one
function and one entry in ``CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.describe import article, json_type
from engine.errors import ExpressionError
from engine.language.expressions import compile_expression
from engine.language.loader import PathKey
from engine.language.messages import catalog_languages, missing_messages
from engine.language.model import FieldSpec, Mapping, Text
from engine.language.value_types import VALUE_TYPES
from engine.suggest import suggestion
from engine.validate.salesforce_checks import salesforce_source_findings, target_findings, where_findings
from engine.validate.scope_checks import scope_findings
from engine.validate.taxonomy import data_categories, data_subjects, data_uses, is_credential
from engine.validate.zoom_checks import SourceFinding, request_findings, source_index, zoom_source_findings


@dataclass(frozen=True)
class Finding:
    path: PathKey
    message: str
    at_key: bool = False
    severity: str = "error"
    offset: int | None = None  # a column inside the value (an expression's syntax error)


@dataclass
class CheckContext:
    """What a check may look at beyond its own mapping."""

    mappings: dict[str, Mapping]
    known_entities: frozenset[str] = frozenset()
    catalog_dir: Path | None = None  # the Salesforce target catalog (default: the shipped one)
    languages: tuple[str, ...] = ()  # the project's languages: every mapping must declare them


Check = Callable[[Mapping, CheckContext], Iterator[Finding]]


# ---- expressions ----------------------------------------------------------------------------


def _expressions(mapping: Mapping) -> Iterator[tuple[PathKey, str]]:
    for spec in mapping.fields:
        yield (*spec.path, "from"), spec.source
    if mapping.source.records:
        yield ("source", "records"), mapping.source.records
    if mapping.parent:
        yield ("parent", "from"), mapping.parent.source
    for link in mapping.links:
        yield ("links", link.index, "from"), link.source
        for name, text in link.lists.items():
            if text is not None:
                yield ("links", link.index, "lists", name), text
    for spec in mapping.fields:
        for name, text in spec.lists.items():
            if text is not None:
                yield (*spec.path, "lists", name), text
    for i, include in enumerate(mapping.source.include):
        for name, value in include.params.items():
            if isinstance(value, str):
                yield ("source", "include", i, "params", name), value
    for listing in mapping.source.listings:
        if listing.window_field:
            yield (*listing.path, "window", "field"), listing.window_field
        if listing.filter:
            yield (*listing.path, "filter"), listing.filter


def check_expressions(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    for path, text in _expressions(mapping):
        try:
            compile_expression(text)
        except ExpressionError as exc:
            shown = text if len(text) <= 60 else text[:57] + "..."
            yield Finding(path, f"'{shown}': {exc}", offset=exc.column)


# ---- targets and keys -------------------------------------------------------------------------


def check_duplicate_targets(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    seen: dict[str, FieldSpec] = {}
    for spec in mapping.enabled_fields:
        key = spec.target.lower()
        if key in seen:
            first = seen[key]
            yield Finding(
                (*spec.path, "to"),
                f"'{spec.target}' is already written by fields[{first.index}] (from '{first.source}'); "
                "two fields cannot write the same target",
            )
        else:
            seen[key] = spec
    if mapping.parent and mapping.parent.relationship.lower() in seen:
        yield Finding(("parent", "relationship"), f"'{mapping.parent.relationship}' is also written by a field")


def check_upsert_key(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    target = mapping.target
    if target.system != "salesforce" or (target.match and not target.upsert_keys):
        return
    if not target.upsert_keys:
        yield Finding(("target",), "a Salesforce target needs 'upsert_key' (its external-id field), or 'match' "
                                   "(the fields that together identify a record) for an object without one")
        return
    written = {spec.target.lower(): spec for spec in mapping.enabled_fields}
    for i, key in enumerate(target.upsert_keys):
        path: PathKey = ("target", "upsert_key", i) if len(target.upsert_keys) > 1 else ("target", "upsert_key")
        spec = written.get(key.lower())
        disabled = [f for f in mapping.fields if not f.enabled and f.target.lower() == key.lower()]
        if spec is None and disabled:
            yield Finding(path, f"upsert key '{key}' is written only by a disabled field (fields[{disabled[0].index}])")
        elif spec is None:
            hint = suggestion(key, [s.target for s in mapping.enabled_fields])
            yield Finding(path, f"upsert key '{key}' is not written by any enabled field{hint}")
        elif spec.secret:
            yield Finding(path, f"upsert key '{key}' is a secret field; a key cannot be redacted")


def _written(mapping: Mapping) -> dict[str, str]:
    """Lower-cased target field -> how it is written, by the enabled fields and the links."""
    written = {spec.target.lower(): f"fields[{spec.index}]" for spec in mapping.enabled_fields}
    for link in mapping.links:
        written.setdefault(link.target.lower(), f"links[{link.index}]")
    return written


def _match_path(mapping: Mapping, i: int, j: int | None = None) -> PathKey:
    nested = mapping.target.match_nested
    base: PathKey = ("target", "match", i) if nested else ("target", "match")
    return base if j is None else (*base, j) if nested else ("target", "match", j)


def check_match(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """`match` fields must all be written, and agree with an `upsert_key` given beside them."""
    target = mapping.target
    if not target.match:
        return
    if target.system != "salesforce":
        yield Finding(("target", "match"), "match identifies Salesforce records; a Zoom target uses match_key",
                      at_key=True)
        return
    if target.upsert_keys and [list(fields) for fields in target.match] != [[key] for key in target.upsert_keys]:
        yield Finding(("target", "match"), f"match {[list(f) for f in target.match]} and upsert_key "
                      f"{list(target.upsert_keys)} disagree: give upsert_key for an object with an external id, "
                      "match for one without", at_key=True)
    written = _written(mapping)
    for i, fields in enumerate(target.match):
        for j, name in enumerate(fields):
            if name.lower() not in written:
                hint = suggestion(name, [*{s.target for s in mapping.enabled_fields}, *(link.target for link in
                                                                                          mapping.links)])
                yield Finding(_match_path(mapping, i, j), f"match field '{name}' is not written by any enabled "
                              f"field or link{hint}")


def check_links(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """Each link's `entity`, `unless_set`, `scope` and `lists` refer to what exists."""
    names = set(context.mappings) | context.known_entities
    listings = {listing.name for listing in mapping.source.listings if listing.name}
    before: set[str] = {spec.target.lower() for spec in mapping.enabled_fields}
    for link in mapping.links:
        base = link.path
        if link.entity is not None:
            other = context.mappings.get(link.entity)
            if link.entity not in names:
                yield Finding((*base, "entity"), f"no mapping for entity '{link.entity}'"
                              f"{suggestion(link.entity, sorted(names))}")
            elif other is not None and other.target.object and other.target.object.lower() != link.object.lower():
                yield Finding((*base, "entity"), f"'{link.entity}' writes {other.target.object}, not {link.object}")
            elif other is not None and mapping.enabled and not other.enabled:
                yield Finding((*base, "entity"), f"entity '{link.entity}' is disabled (enabled: false in "
                              f"{other.file}): this link would find nothing; disable this entity too, or enable it")
        if link.unless_set is not None and link.unless_set.lower() not in before:
            yield Finding((*base, "unless_set"), f"'{link.unless_set}' is written by no enabled field and by no "
                          "earlier link")
        if link.scope == "parent" and mapping.parent is None and not mapping.source.parent and not mapping.source.each:
            yield Finding((*base, "scope"), "scope is 'parent' but the mapping declares no parent")
        for name in link.lists:
            if name not in listings:
                yield Finding((*base, "lists", name), f"no listing is named '{name}' (source.list ... as)"
                              f"{suggestion(name, sorted(listings))}", at_key=True)
        before.add(link.target.lower())


def check_listings(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """Every listing after the first is named (and only those); a named listing reads no detail."""
    seen: set[str] = set()
    for listing in mapping.source.listings:
        where = listing.path
        if listing.index == 0 and listing.name is not None:
            yield Finding((*where, "as"), "the first listing's records are read with every field's `from`: it takes "
                          "no name", at_key=True)
        elif listing.index > 0 and listing.name is None:
            yield Finding(where, "a second or later listing needs a name (`as`) for fields to read its records by")
        elif listing.name in seen:
            yield Finding((*where, "as"), f"listing '{listing.name}' is named twice")
        if listing.name:
            seen.add(listing.name)
        if listing.index > 0 and listing.detail:
            yield Finding((*where, "detail"), "only the first listing can read `source.endpoint` for each item",
                          at_key=True)
    for spec in mapping.fields:
        for name in spec.lists:
            if name not in seen:
                yield Finding((*spec.path, "lists", name), f"no listing is named '{name}' (source.list ... as)"
                              f"{suggestion(name, sorted(seen))}", at_key=True)


def check_system_shape(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    source, target = mapping.source, mapping.target
    if source.system == "zoom" and not source.endpoint and not source.events:
        yield Finding(("source",), "a Zoom source needs 'endpoint' (e.g. GET /meetings/{meetingId}) or 'events'")
    if source.system == "salesforce" and not source.objects:
        yield Finding(("source",), "a Salesforce source needs 'object' (Contact or Lead)")
    if target.system == "salesforce" and not target.object:
        yield Finding(("target",), "a Salesforce target needs 'object' (the sObject API name)")
    if target.system == "zoom" and not target.endpoint:
        yield Finding(("target",), "a Zoom target needs 'endpoint' (e.g. POST /webinars/{webinarId}/registrants)")
    if target.system == "zoom" and target.match_key and target.listing is None:
        yield Finding(("target", "match_key"), "a Zoom target with a match_key needs 'list': the endpoint that lists "
                                               "what is there already (GET /webinars/{webinarId}/registrants)")
    if target.system == "salesforce" and target.listing is not None:
        yield Finding(("target", "list"), "'list' is for a Zoom target (the reverse flow); a Salesforce target "
                                          "upserts by its external id")
    if source.system == target.system:
        yield Finding(("target", "system"), f"source and target are both '{source.system}'")


# ---- fields: types, policies ------------------------------------------------------------------

def _value_fits(value: Any, declared: str) -> bool:
    """Whether a literal (a table value, a default) may be written as the value type `declared`."""
    return value is None or json_type(value) in VALUE_TYPES[declared].literals


def check_field_types(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    for spec in mapping.fields:
        yield from _field_type_findings(spec)


def _field_type_findings(spec: FieldSpec) -> Iterator[Finding]:
    declared = spec.type
    if declared is None:
        return
    try:
        result = compile_expression(spec.source).result_type
    except ExpressionError:
        return  # reported by check_expressions
    value_type = VALUE_TYPES[declared]
    if spec.values is None and result not in value_type.holds and result != "null":
        yield Finding((*spec.path, "type"), f"type '{declared}' cannot hold the {result} that '{spec.source}' yields")
    if spec.values is not None and not value_type.in_tables:
        yield Finding((*spec.path, "values"), f"a value table cannot produce type '{declared}'")
    if spec.values is not None:
        for key, value in spec.values.items():
            if not _value_fits(value, declared):
                yield Finding((*spec.path, "values", key), f"table value {value!r} is not {article(declared)}")
    if spec.max_length is not None and not value_type.text:
        yield Finding((*spec.path, "max_length"), f"max_length applies to text, not to type '{declared}'", True)
    if spec.has_default and not _value_fits(spec.default, declared):
        yield Finding((*spec.path, "default"), f"default {spec.default!r} is not {article(declared)}")


def check_missing_policy(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    for spec in mapping.fields:
        if spec.on_missing == "default" and not spec.has_default:
            yield Finding((*spec.path, "on_missing"), "on_missing is 'default' but the field gives no 'default'")
        if spec.has_default and spec.on_missing != "default":
            yield Finding(
                (*spec.path, "default"),
                f"'default' is given but on_missing is '{spec.on_missing}'; the default would never be used",
            )
    if mapping.source.system == "salesforce" and any(f.scope == "parent" for f in mapping.fields):
        yield Finding(("source",), "the reverse flow has no parent record; scope 'parent' is not available")


def check_scope_parent(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    has_parent = mapping.parent is not None or mapping.source.parent is not None or mapping.source.each is not None
    for spec in mapping.fields:
        if spec.scope == "parent" and not has_parent:
            yield Finding((*spec.path, "scope"), "scope is 'parent' but the mapping declares no parent")


# ---- languages, taxonomy, secrets -------------------------------------------------------------


def _texts(mapping: Mapping) -> Iterator[tuple[PathKey, Text]]:
    if mapping.description:
        yield ("description",), mapping.description
    disclosure = mapping.disclosure
    if disclosure:
        for name in ("title", "when", "shown_on", "purpose"):
            text = getattr(disclosure, name)
            if text is not None:
                yield ("disclosure", name), text
    for spec in mapping.fields:
        yield (*spec.path, "label"), spec.label
        if spec.description:
            yield (*spec.path, "description"), spec.description
    for link in mapping.links:
        if link.label:
            yield ("links", link.index, "label"), link.label
    for scope, justification in mapping.permissions.scopes.items():
        yield ("permissions", "scopes", scope), justification


def check_translations(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    for path, text in _texts(mapping):
        for language in mapping.languages:
            if language not in text.by_language:
                yield Finding(path, f"missing the '{language}' translation (languages: {', '.join(mapping.languages)})")
        for language in text.by_language:
            if language not in mapping.languages:
                yield Finding(
                    (*path, language),
                    f"'{language}' is not one of this file's languages ({', '.join(mapping.languages)})",
                    at_key=True,
                    severity="warning",
                )


def check_project_languages(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """The project publishes its disclosure in `context.languages`: every mapping must give its texts in them."""
    missing = [language for language in context.languages if language not in mapping.languages]
    if missing:
        them = "it" if len(missing) == 1 else "them"
        yield Finding(("languages",), f"the project's languages include {', '.join(missing)} (zoomforce.yaml): "
                      f"add {them} to this file's languages ({', '.join(mapping.languages)}) and give every text "
                      f"in {them}")


def check_disclosure_languages(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """Every language of a mapping needs the disclosure's fixed sentences too."""

    for language in mapping.languages:
        missing = missing_messages(language)
        if language not in catalog_languages():
            known = ", ".join(sorted(catalog_languages()))
            yield Finding(("languages",), f"the disclosure has no messages in '{language}' (available: {known})")
        elif missing:
            yield Finding(("languages",), f"the '{language}' disclosure messages lack: {', '.join(missing)}")


def check_categories(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    known = data_categories()
    for spec in mapping.fields:
        if spec.category not in known:
            hint = suggestion(spec.category, known)
            yield Finding((*spec.path, "category"), f"'{spec.category}' is not a Fides data category{hint}")
    disclosure = mapping.disclosure
    if disclosure and disclosure.data_use and disclosure.data_use not in data_uses():
        hint = suggestion(disclosure.data_use, data_uses())
        yield Finding(("disclosure", "data_use"), f"'{disclosure.data_use}' is not a Fides data use{hint}")
    for i, subject in enumerate(disclosure.data_subjects if disclosure else ()):
        if subject not in data_subjects():
            hint = suggestion(subject, data_subjects())
            yield Finding(("disclosure", "data_subjects", i), f"'{subject}' is not a Fides data subject{hint}")


def check_secrets(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """A credential is secret, or a link whose credentials are masked (``type: credential_url``)."""
    for spec in mapping.fields:
        if is_credential(spec.category) and not spec.secret and spec.type != "credential_url":
            yield Finding(
                (*spec.path, "category"),
                f"category '{spec.category}' is a credential: the field must say 'secret: true' "
                "(or, for a link whose query carries it, 'type: credential_url')",
            )
        if spec.credential_params and spec.type != "credential_url":
            yield Finding((*spec.path, "credential_params"),
                          "credential_params names the credential parameters of a link: give 'type: credential_url'",
                          at_key=True)


# ---- across files ----------------------------------------------------------------------------


def check_parent_entity(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    names = sorted(context.known_entities | set(context.mappings))
    if mapping.parent and mapping.parent.entity not in names:
        hint = suggestion(mapping.parent.entity, names)
        yield Finding(("parent", "entity"), f"no mapping for parent entity '{mapping.parent.entity}'{hint}")
    if mapping.source.parent and mapping.source.parent not in names:
        hint = suggestion(mapping.source.parent, names)
        yield Finding(("source", "parent"), f"no mapping for parent entity '{mapping.source.parent}'{hint}")
    if not mapping.enabled:
        return
    # An enabled entity cannot stand on a disabled one: the sync would read (and write) the parent
    # that the disclosure, which leaves disabled mappings out, does not mention.
    reported: set[str] = set()
    for where, parent in ((("source", "parent"), mapping.source.parent),
                          (("parent", "entity"), mapping.parent.entity if mapping.parent else None)):
        parent_mapping = context.mappings.get(parent) if parent else None
        if parent and parent_mapping is not None and not parent_mapping.enabled and parent not in reported:
            reported.add(parent)
            yield Finding(where, f"parent entity '{parent}' is disabled (enabled: false in {parent_mapping.file}); "
                          f"disable this entity too, or enable it")


def _kind(spec: FieldSpec) -> tuple[str, bool]:
    return spec.category, spec.secret


def _kind_findings(spec: FieldSpec, other: FieldSpec, where: str) -> Iterator[Finding]:
    if spec.category != other.category:
        yield Finding((*spec.path, "category"), f"category '{spec.category}' here, but '{other.category}' in {where}: "
                      "one value, or one Salesforce field, holds one kind of data")
    if spec.secret != other.secret:
        here = "a secret here" if spec.secret else "not a secret here"
        yield Finding((*spec.path, "secret") if spec.secret else (*spec.path, "to"),
                      f"{here}, but secret: {str(other.secret).lower()} in {where}: "
                      "the same value is a secret everywhere or nowhere")


def check_one_kind_per_value(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """The disclosure lists one item per source value and per Salesforce field: each has one category
    and one secret flag, whichever field or mapping writes it."""
    seen: dict[tuple[str, str | None, str], FieldSpec] = {}
    for spec in mapping.enabled_fields:
        key = (spec.source, spec.realtime, spec.scope)
        first = seen.setdefault(key, spec)
        if first is not spec and _kind(first) != _kind(spec):
            yield from _kind_findings(spec, first, f"fields[{first.index}], which reads the same value")
    if mapping.target.system != "salesforce" or not mapping.enabled:
        return
    for other in sorted(context.mappings.values(), key=lambda m: m.entity):
        if other.entity >= mapping.entity or not other.enabled or other.target.object != mapping.target.object:
            continue  # each pair is reported once, in the file of the entity that sorts last
        written = {f.target.lower(): f for f in other.enabled_fields}
        for spec in mapping.enabled_fields:
            found = written.get(spec.target.lower())
            if found is not None and _kind(found) != _kind(spec):
                where = f"fields[{found.index}] of {other.entity}, which writes the same field"
                yield from _kind_findings(spec, found, where)


# ---- against the official schemas and the target catalog -------------------------------------------


def _findings(found: Iterator[SourceFinding]) -> Iterator[Finding]:
    for item in found:
        yield Finding(item.path, item.message, at_key=item.at_key, severity=item.severity, offset=item.offset)


def check_zoom_source(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    if mapping.source.system == "zoom":
        yield from _findings(zoom_source_findings(mapping, context.mappings, source_index()))


def check_zoom_target(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    yield from _findings(request_findings(mapping, source_index()))


def _against_the_org(mapping: Mapping, found: Iterator[SourceFinding]) -> Iterator[Finding]:
    """Findings against the Salesforce catalog: a disabled mapping's are warnings (its org may lack its
    objects and fields until it is enabled: --without-additions, a pulled catalog)."""
    for finding in _findings(found):
        if not mapping.enabled and finding.severity == "error":
            yield replace(finding, severity="warning",
                          message=f"{finding.message} (the mapping is disabled: fix this before enabling it)")
        else:
            yield finding


def check_salesforce_target(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    yield from _against_the_org(mapping, target_findings(mapping, context.mappings, context.catalog_dir))


def check_salesforce_source(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    yield from _against_the_org(mapping, salesforce_source_findings(mapping, context.catalog_dir))
    yield from _against_the_org(mapping, where_findings(mapping, context.catalog_dir))


def _parent_edges(mapping: Mapping) -> Iterator[tuple[PathKey, str]]:
    if mapping.source.parent:
        yield ("source", "parent"), mapping.source.parent
    if mapping.parent is not None and mapping.parent.entity != mapping.source.parent:
        yield ("parent", "entity"), mapping.parent.entity


def _path_between(edges: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The entities from `start` to `goal` along parent edges (breadth first), or None."""
    came: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        current = queue.pop(0)
        if current == goal:
            path = [current]
            while came[path[-1]] is not None:
                path.append(str(came[path[-1]]))
            return path[::-1]
        for parent in sorted(edges.get(current, ())):
            if parent not in came:
                came[parent] = current
                queue.append(parent)
    return None


def check_parent_cycle(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    """The parent edge (``source.parent``, ``parent.entity``) that closes a cycle, taking the files in order.

    The sync reads and writes a parent before its children, so a cycle has no order; the edge
    reported is the first one, in file order, whose addition makes the cycle.
    """
    edges: dict[str, set[str]] = {}
    for other in context.mappings.values():
        for path, parent in _parent_edges(other):
            loop = _path_between(edges, parent, other.entity) if parent in context.mappings else None
            if loop is not None:
                if other is mapping:
                    cycle = " -> ".join([other.entity, *loop])
                    yield Finding(path, f"the parents form a cycle: {cycle}; a parent is synced before its children")
                continue  # the closing edge is left out: each cycle is reported once
            edges.setdefault(other.entity, set()).add(parent)


def check_scope_justifications(mapping: Mapping, context: CheckContext) -> Iterator[Finding]:
    yield from _findings(scope_findings(mapping))


CHECKS: tuple[Check, ...] = (
    check_system_shape,
    check_expressions,
    check_duplicate_targets,
    check_upsert_key,
    check_match,
    check_links,
    check_listings,
    check_field_types,
    check_missing_policy,
    check_scope_parent,
    check_translations,
    check_project_languages,
    check_disclosure_languages,
    check_categories,
    check_secrets,
    check_parent_entity,
    check_parent_cycle,
    check_one_kind_per_value,
    check_zoom_source,
    check_zoom_target,
    check_salesforce_target,
    check_salesforce_source,
    check_scope_justifications,
)
