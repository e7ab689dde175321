"""The pre-flight of ``sync`` and ``serve``: the org must have every object and field the mappings need.

At start, before Zoom is read and before anything is written, each object the enabled mappings of
the run write, link to or read is described once (``OrgDescribes`` keeps them for the run), and
compared with what the mappings need (``engine.validate.requirements``). Anything missing,
read-only or not an External ID where an upsert needs one refuses the run with ``PreflightFailed``:
one line per object or field, with the command that fixes it. So no record is ever dead-lettered
for a field the org does not have.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import PreflightFailed, SalesforceApiError
from engine.salesforce.catalog import ObjectCatalog, UnknownObject, catalog_document, load_catalog, object_from_dict
from engine.salesforce.writer import SalesforceWriter
from engine.validate.mapping_set import MappingSet
from engine.validate.requirements import Lookup, Missing, missing, needs

CREATE = ("create it: zoomforce catalog missing --out DIR, then sf project deploy start --source-dir DIR "
          "(or switch it off: enabled: false)")
FIXES = {
    "missing": CREATE,
    "absent": CREATE,
    "read-only": "give the integration user edit access to it (field-level security), or switch it off",
    "not an External ID": "mark it External ID in Setup, or upsert on another key",
}


class OrgDescribes:
    """The org's describes, each object asked for once; None for an object the org has not got."""

    def __init__(self, writer: SalesforceWriter) -> None:
        self.writer = writer
        self._cache: dict[str, ObjectCatalog | None] = {}

    def get(self, name: str) -> ObjectCatalog | None:
        key = name.lower()
        if key not in self._cache:
            try:
                describe = self.writer.describe(name)
            except SalesforceApiError as exc:
                if exc.status != 404 and exc.code != "NOT_FOUND":
                    raise
                self._cache[key] = None
            else:
                self._cache[key] = object_from_dict(catalog_document(describe, {"origin": "live describe"}))
        return self._cache[key]


def _declared(mapping_set: MappingSet) -> Lookup:
    def lookup(name: str) -> ObjectCatalog | None:
        try:
            return load_catalog(name, mapping_set.catalog_dir)
        except UnknownObject:
            return None

    return lookup


def gaps(mapping_set: MappingSet, entities: Iterable[str], describes: OrgDescribes) -> list[Missing]:
    """What the org lacks of what the enabled mappings of `entities` need."""
    declared = _declared(mapping_set)
    return missing(needs(mapping_set, entities, declared), describes.get, declared)


def line(gap: Missing) -> str:
    """One line a person acts on: what the org lacks, who needs it, and the fix."""
    return f"the org lacks {gap.text()}: {FIXES[gap.problem]}"


def preflight(mapping_set: MappingSet, entities: Iterable[str], describes: OrgDescribes) -> None:
    """Refuse (PreflightFailed) when the org lacks anything the enabled mappings of `entities` need."""
    found = gaps(mapping_set, entities, describes)
    if found:
        raise PreflightFailed([line(gap) for gap in found])
