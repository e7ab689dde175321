"""The Salesforce target catalog: what each sObject zoomforce writes or reads looks like.

One JSON file per object in ``schemas/salesforce/<ObjectApiName>.json``, in the shape of an sObject
describe cut down to the properties zoomforce acts on (see ``FIELD_KEYS``). The shipped files are
built by ``scripts/build_salesforce_catalog.py``; most of the ``zoom_app`` managed package is
inferred (its types are not public) and every such field says why in ``x-zoomforce-inferred``.
``write_catalog`` replaces a file with the describe of a live org. ``load_catalog`` raises
``engine.errors.UnknownObject`` (importable from here too) for an object without a file.

This module reads only the catalog folder (``engine.resources.schemas_dir() / "salesforce"``, or
the folder given), never the reference material the build script reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.errors import UnknownObject as UnknownObject  # re-exported: importable from here too
from engine.language.value_types import VALUE_TYPES
from engine.resources import schemas_dir
from engine.suggest import close_matches

# The describe properties a catalog keeps for each field, in the order they are written.
FIELD_KEYS: tuple[str, ...] = (
    "name", "label", "type", "length", "nillable", "externalId", "unique", "idLookup", "referenceTo",
    "relationshipName", "createable", "updateable", "defaultedOnCreate", "picklistValues", "precision", "scale",
)
# zoomforce's own annotations on a field: why it was inferred, or why zoomforce added it to the org.
INFERRED_KEY = "x-zoomforce-inferred"
ADDED_KEY = "x-zoomforce-added"
OBJECT_META_KEY = "x-zoomforce"

_FIELD_DEFAULTS: dict[str, Any] = {
    "label": None, "type": "string", "length": 0, "nillable": True, "externalId": False, "unique": False,
    "idLookup": False, "referenceTo": [], "relationshipName": None, "createable": True, "updateable": True,
    "defaultedOnCreate": False, "picklistValues": [], "precision": 0, "scale": 0,
}

def type_accepts(sf_type: str, value_type: str) -> bool:
    """Whether a zoomforce value of `value_type` can be written to a Salesforce field of `sf_type`.

    Text fields take any text-like value, and integers too (Zoom meeting ids are kept as text);
    number fields take integers and numbers; booleans, dates and datetimes only themselves;
    references and ids take ids or plain strings (``VALUE_TYPES[...].salesforce`` says which).
    Unknown types accept nothing.
    """
    found = VALUE_TYPES.get(value_type)
    return found is not None and sf_type in found.salesforce


# ------------------------------------------------------------------------------------------ model


@dataclass(frozen=True)
class SalesforceField:
    """One field of a catalog object, with zoomforce's notes on where its definition came from."""

    name: str
    type: str
    length: int
    nillable: bool
    external_id: bool
    unique: bool
    id_lookup: bool
    reference_to: tuple[str, ...]
    relationship_name: str | None
    createable: bool
    updateable: bool
    defaulted_on_create: bool
    label: str
    picklist_values: tuple[str, ...]
    inferred: str | None
    added: str | None = None  # set on fields zoomforce asks the integrator to create in the org
    precision: int = 0
    scale: int = 0

    @property
    def required_on_create(self) -> bool:
        return not self.nillable and self.createable and not self.defaulted_on_create and self.type != "boolean"


@dataclass(frozen=True)
class ObjectCatalog:
    """One sObject: its fields by exact API name, and where the definition came from."""

    name: str
    label: str
    custom: bool
    fields: Mapping[str, SalesforceField]
    origin: str
    inferred: bool = False
    upsert_key: str | None = None  # the designated external id zoomforce upserts on, if any
    note: str = ""
    _folded: Mapping[str, str] = dataclass_field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "_folded", MappingProxyType({n.lower(): n for n in self.fields}))

    def field(self, name: str) -> SalesforceField | None:
        """The field `name`; Salesforce names are case-insensitive, the result has the canonical name."""
        found = self.fields.get(name)
        if found is not None:
            return found
        canonical = self._folded.get(name.lower())
        return self.fields[canonical] if canonical else None

    def by_relationship(self, name: str) -> SalesforceField | None:
        """The reference field whose relationship is `name` (``zoom_app__Zoom_Webinar__r``, ``Owner``)."""
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship_name and candidate.relationship_name.lower() == lowered:
                return candidate
        return None

    def suggest(self, name: str) -> list[str]:
        """Up to three field names close to `name`, for "did you mean" messages."""
        return close_matches(name, self.fields, 3, ignore_case=True)

    def required_on_create(self) -> list[str]:
        """Fields a create must set: not nillable, createable, not defaulted, not a checkbox."""
        return sorted(f.name for f in self.fields.values() if f.required_on_create)

    def external_ids(self) -> list[str]:
        """Every field flagged External ID (usable as an upsert key)."""
        return sorted(f.name for f in self.fields.values() if f.external_id)


# ---------------------------------------------------------------------------------------- reading


def catalog_dir(directory: Path | None = None) -> Path:
    return Path(directory) if directory is not None else schemas_dir() / "salesforce"


def known_objects(directory: Path | None = None) -> list[str]:
    """The API names of every object with a catalog file, sorted."""
    folder = catalog_dir(directory).resolve()
    return sorted(_index(folder, _folder_signature(folder)).values())


def load_catalog(object_name: str, directory: Path | None = None) -> ObjectCatalog:
    """The catalog of `object_name` (matched ignoring case); raises UnknownObject."""
    folder = catalog_dir(directory).resolve()
    index = _index(folder, _folder_signature(folder))
    canonical = index.get(object_name.lower())
    if canonical is None:
        raise UnknownObject(object_name, close_matches(object_name, index.values(), 3, ignore_case=True))
    return _load(folder, canonical, _file_signature(folder / f"{canonical}.json"))


# The caches are keyed by the files' modification times and sizes too: a catalog rewritten in the
# same process (``catalog pull``, then ``validate``) is read again.
Signature = tuple[int, int]


def _file_signature(path: Path) -> Signature:
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


def _folder_signature(folder: Path) -> tuple[tuple[str, Signature], ...]:
    return tuple((path.name, _file_signature(path)) for path in sorted(folder.glob("*.json")))


def clear_cache() -> None:
    _index.cache_clear()
    _load.cache_clear()


@lru_cache(maxsize=32)
def _index(folder: Path, signature: tuple[tuple[str, Signature], ...]) -> dict[str, str]:
    """Lower-cased object name -> canonical name, for every object file of `folder`."""
    names: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        data = _read_json(path)
        if isinstance(data, dict) and isinstance(data.get("fields"), list) and data.get("name") == path.stem:
            names[path.stem.lower()] = path.stem
    return names


@lru_cache(maxsize=256)
def _load(folder: Path, name: str, signature: Signature) -> ObjectCatalog:
    return object_from_dict(_read_json(folder / f"{name}.json"))


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def object_from_dict(data: Mapping[str, Any]) -> ObjectCatalog:
    """An ObjectCatalog from a catalog file's JSON."""
    meta = data.get(OBJECT_META_KEY) or {}
    fields = (field_from_dict(raw) for raw in data["fields"])
    return ObjectCatalog(
        name=str(data["name"]),
        label=str(data.get("label") or data["name"]),
        custom=bool(data.get("custom", False)),
        fields={f.name: f for f in fields},
        origin=str(meta.get("origin", "")),
        inferred=bool(meta.get("inferred", False)),
        upsert_key=meta.get("upsert_key"),
        note=str(meta.get("note", "")),
    )


def field_from_dict(raw: Mapping[str, Any]) -> SalesforceField:
    value = {key: raw.get(key, default) for key, default in _FIELD_DEFAULTS.items()}
    return SalesforceField(
        name=str(raw["name"]),
        type=str(value["type"]),
        length=int(value["length"] or 0),
        nillable=bool(value["nillable"]),
        external_id=bool(value["externalId"]),
        unique=bool(value["unique"]),
        id_lookup=bool(value["idLookup"]),
        reference_to=tuple(str(r) for r in value["referenceTo"] or ()),
        relationship_name=value["relationshipName"] or None,
        createable=bool(value["createable"]),
        updateable=bool(value["updateable"]),
        defaulted_on_create=bool(value["defaultedOnCreate"]),
        label=str(value["label"] or raw["name"]),
        picklist_values=tuple(_picklist_value(v) for v in value["picklistValues"] or ()),
        inferred=raw.get(INFERRED_KEY),
        added=raw.get(ADDED_KEY),
        precision=int(value["precision"] or 0),
        scale=int(value["scale"] or 0),
    )


def _picklist_value(entry: Any) -> str:
    return str(entry.get("value")) if isinstance(entry, Mapping) else str(entry)


# ---------------------------------------------------------------------------------------- writing


def catalog_field(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A describe field cut down to ``FIELD_KEYS`` (values verbatim), keeping zoomforce's notes."""
    out = {key: raw.get(key, _FIELD_DEFAULTS.get(key)) for key in FIELD_KEYS}
    for key in (INFERRED_KEY, ADDED_KEY):
        if raw.get(key):
            out[key] = raw[key]
    return out


def catalog_document(describe: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog file's JSON: object header, zoomforce's provenance, fields sorted by name."""
    fields = sorted((catalog_field(f) for f in describe["fields"]), key=lambda f: (f["name"].lower(), f["name"]))
    return {
        "name": describe["name"],
        "label": describe.get("label") or describe["name"],
        "labelPlural": describe.get("labelPlural") or describe.get("label") or describe["name"],
        "custom": bool(describe.get("custom", False)),
        "keyPrefix": describe.get("keyPrefix"),
        OBJECT_META_KEY: dict(meta),
        "fields": fields,
    }


def render_document(document: Mapping[str, Any]) -> str:
    """The stable text of a catalog file: 2-space indent, key order kept, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_document(document: Mapping[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{document['name']}.json"
    path.write_text(render_document(document), encoding="utf-8")
    clear_cache()
    return path


def write_catalog(describe: dict[str, Any], directory: Path, *, today: str | None = None) -> Path:
    """Write a live org's sObject describe (``sf.<Object>.describe()``) as a catalog file.

    The file replaces any inferred catalog of the same object; its origin says "live describe"
    and the date. Returns the path written.
    """
    day = today or datetime.now(UTC).date().isoformat()
    meta: dict[str, Any] = {
        "origin": f"live describe of {describe['name']} ({day})",
        "inferred": False,
        "note": "Pulled from a live org: names, types and flags are the org's own.",
    }
    kept_key = _kept_upsert_key(describe, Path(directory))
    if kept_key:
        meta["upsert_key"] = kept_key
    return write_document(catalog_document(describe, meta), Path(directory))


def _kept_upsert_key(describe: Mapping[str, Any], directory: Path) -> str | None:
    """The upsert key designated by the file being replaced, if the live org flags it External ID."""
    previous = directory / f"{describe['name']}.json"
    if not previous.is_file():
        return None
    key = (_read_json(previous).get(OBJECT_META_KEY) or {}).get("upsert_key")
    live = {str(f["name"]).lower(): f for f in describe["fields"]}
    field = live.get(str(key).lower()) if key else None
    return str(field["name"]) if field and field.get("externalId") else None
