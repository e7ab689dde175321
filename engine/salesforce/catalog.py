"""The Salesforce target catalog: what each sObject zoomforce writes or reads looks like.

One JSON file per object in ``schemas/salesforce/<ObjectApiName>.json``, in the shape of an sObject
describe cut down to the properties zoomforce acts on (see ``FIELD_KEYS``). The shipped files are
built by ``scripts/build_salesforce_catalog.py``; most of the ``zoom_app`` managed package is
inferred (its types are not public) and every such field says why in ``x-zoomforce-inferred``.
``write_catalog`` replaces a file with the describe of a live org, keeping what the integrator
declared ahead of the org (see ``merge_describe``). ``load_catalog`` raises
``engine.errors.UnknownObject`` (importable from here too) for an object without a file, and
``engine.errors.ProjectInvalid`` for a file that is not JSON (``catalog_problems`` lists every such
problem of a folder at ``file:line:col``).

Two marks say what the org may lack:

- ``x-zoomforce-added`` on a field (or in an object's ``x-zoomforce`` block, for an object) that
  zoomforce, or the integrator, adds to the org: the text says why. ``zoomforce catalog missing``
  writes such fields as Salesforce DX source when the org has not got them yet.
- ``x-zoomforce-absent`` on a declared field (or object) that the last ``catalog pull`` did not find
  in the org: the date of that pull. ``validate`` accepts it (the pull request that declares a
  field passes before the field exists); the sync's pre-flight and ``catalog missing`` refuse it.

This module reads only the catalog folder (``engine.resources.schemas_dir() / "salesforce"``, or
the folder given), never the reference material the build script reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.errors import Problem, ProjectInvalid
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
ABSENT_KEY = "x-zoomforce-absent"
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
    absent: str | None = None  # a declared field the last pull did not find in the org: that pull's date

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
    path: str = ""  # the catalog file, as messages name it
    added: str | None = None  # an object zoomforce asks the integrator to create, and why
    absent: str | None = None  # a declared object the last pull did not find in the org: that pull's date
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


    def as_shipped(self) -> ObjectCatalog | None:
        """The object as an org has it before anything is added: None for an object zoomforce adds,
        else without the fields marked ``x-zoomforce-added`` (the package as Zoom ships it)."""
        if self.added:
            return None
        return replace(self, fields={n: f for n, f in self.fields.items() if not f.added})


# ---------------------------------------------------------------------------------------- reading


def catalog_dir(directory: Path | None = None) -> Path:
    return Path(directory) if directory is not None else schemas_dir() / "salesforce"


def display_path(path: Path) -> str:
    """`path` as messages show it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
        raise UnknownObject(object_name, close_matches(object_name, index.values(), 3, ignore_case=True),
                            display_path(folder))
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
    """Every ``*.json`` of `folder` by name, with its signature (one directory read; taken at every look-up)."""
    try:
        with os.scandir(folder) as entries:
            return tuple(sorted((entry.name, _file_signature(Path(entry.path))) for entry in entries
                                if entry.name.endswith(".json")))
    except OSError:  # no such folder: no object
        return ()


def clear_cache() -> None:
    _index.cache_clear()
    _load.cache_clear()


@lru_cache(maxsize=32)
def _index(folder: Path, signature: tuple[tuple[str, Signature], ...]) -> dict[str, str]:
    """Lower-cased object name -> canonical name, for every object file of `folder`."""
    names: dict[str, str] = {}
    for name, _ in signature:
        path = folder / name
        try:
            data = _read_json(path)
        except ProjectInvalid:
            continue  # not JSON: catalog_problems() says where; its object is unknown meanwhile
        if isinstance(data, dict) and isinstance(data.get("fields"), list) and data.get("name") == path.stem:
            names[path.stem.lower()] = path.stem
    return names


@lru_cache(maxsize=256)
def _load(folder: Path, name: str, signature: Signature) -> ObjectCatalog:
    path = folder / f"{name}.json"
    return replace(object_from_dict(_read_json(path)), path=display_path(path))


def _json_problem(path: Path) -> Problem | None:
    """Why `path` cannot be read as JSON, at its line and column; None when it can."""
    display = display_path(path)
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return Problem(display, exc.lineno, exc.colno, f"not JSON: {exc.msg}")
    except UnicodeDecodeError as exc:
        return Problem(display, 1, 1, f"not UTF-8 text: {exc.reason}")
    except OSError as exc:
        return Problem(display, 1, 1, f"cannot read: {exc.strerror}")
    return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        problem = _json_problem(path)
        if problem is None:
            raise
        raise ProjectInvalid([problem]) from None


def catalog_problems(directory: Path | None = None) -> list[Problem]:
    """Every file of the catalog folder that cannot serve as a catalog object, at ``file:line:col``."""
    folder = catalog_dir(directory)
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.json")):
        problem = _json_problem(path)
        if problem is not None:
            problems.append(problem)
            continue
        data = _read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("fields"), list):
            problems.append(Problem(display_path(path), 1, 1, "not a catalog object: expected a describe with a "
                                                              "'fields' list"))
        elif data.get("name") != path.stem:
            name = data.get("name")
            problems.append(Problem(display_path(path), 1, 1, f"the object is named {name!r}: a catalog file is "
                                                              f"named after its object ({name}.json)"))
    return problems


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
        added=meta.get("added"),
        absent=meta.get("absent"),
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
        absent=raw.get(ABSENT_KEY),
    )


def _picklist_value(entry: Any) -> str:
    return str(entry.get("value")) if isinstance(entry, Mapping) else str(entry)


# ---------------------------------------------------------------------------------------- writing


def catalog_field(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A describe field cut down to ``FIELD_KEYS`` (values verbatim), keeping zoomforce's notes."""
    out = {key: raw.get(key, _FIELD_DEFAULTS.get(key)) for key in FIELD_KEYS}
    for key in (INFERRED_KEY, ADDED_KEY, ABSENT_KEY):
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
    and the date. What the integrator declared ahead of the org is kept (``merge_describe``).
    Returns the path written.
    """
    day = today or datetime.now(UTC).date().isoformat()
    previous = _previous_document(directory, str(describe["name"]))
    return write_document(merge_describe(describe, previous, day), Path(directory))


def merge_describe(describe: Mapping[str, Any], previous: Mapping[str, Any] | None, day: str) -> dict[str, Any]:
    """The catalog document of a live describe, merged with the file it replaces.

    The org's fields are the org's definitions. Of the previous file it keeps: the designated upsert
    key (when the org flags it External ID, or it is a declared field the org has not got yet), and
    every field marked ``x-zoomforce-added``: with the org's definition and the mark when the org has
    it, as declared and marked ``x-zoomforce-absent`` (the pull's date) when it has not.
    """
    meta: dict[str, Any] = {
        "origin": f"live describe of {describe['name']} ({day})",
        "inferred": False,
        "note": "Pulled from a live org: names, types and flags are the org's own.",
    }
    fields = [dict(f) for f in describe["fields"]]
    old_meta = dict((previous or {}).get(OBJECT_META_KEY) or {})
    if old_meta.get("added"):
        meta["added"] = old_meta["added"]
    live = {str(f["name"]).lower(): f for f in fields}
    kept_absent: set[str] = set()
    for old in (previous or {}).get("fields") or []:
        if not isinstance(old, Mapping) or not old.get(ADDED_KEY):
            continue
        current = live.get(str(old["name"]).lower())
        if current is not None:
            current[ADDED_KEY] = old[ADDED_KEY]
            current.pop(ABSENT_KEY, None)
        else:
            fields.append({**old, ABSENT_KEY: old.get(ABSENT_KEY) or day})
            kept_absent.add(str(old["name"]).lower())
    key = old_meta.get("upsert_key")
    field = live.get(str(key).lower()) if key else None
    if field is not None and field.get("externalId"):
        meta["upsert_key"] = str(field["name"])
    elif key and str(key).lower() in kept_absent:
        meta["upsert_key"] = str(key)
    return catalog_document({**describe, "fields": fields}, meta)


def mark_absent(previous: Mapping[str, Any], day: str) -> dict[str, Any]:
    """The previous catalog document of an object the org has not got: kept as declared, marked absent."""
    meta = {**dict(previous.get(OBJECT_META_KEY) or {}), "absent": day}
    return catalog_document(previous, meta)


def previous_document(directory: Path, name: str) -> dict[str, Any] | None:
    """The catalog file of `name` in `directory` as JSON, if there is one that parses."""
    return _previous_document(directory, name)


def _previous_document(directory: Path, name: str) -> dict[str, Any] | None:
    folder = Path(directory)
    path = folder / f"{name}.json"
    if not path.is_file():
        canonical = {p.stem.lower(): p for p in folder.glob("*.json")}.get(name.lower())
        if canonical is None:
            return None
        path = canonical
    try:
        data = _read_json(path)
    except ProjectInvalid:
        return None
    return data if isinstance(data, dict) else None
