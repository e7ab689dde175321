"""The in-memory org of the Salesforce emulator: validated writes, upsert by external id, SOQL.

Records live per object, keyed by Salesforce-style 18-character ids (the object's key prefix, a
counter, and the case-checksum suffix Salesforce uses). Every write is checked against the object
catalog and fails with Salesforce's error codes and messages. One re-entrant lock guards the org,
so the emulator's request threads and Bulk jobs can share it.

External-id matching is case-insensitive for text values, as Salesforce's External ID fields are
unless they are flagged "unique case-sensitive" (``caseSensitive: true`` in the catalog), which is
honoured.

JSON values of the wrong type (``"abc"`` into a double, a datetime Salesforce cannot parse) fail the
whole REST request with 400 ``JSON_PARSER_ERROR``, as Salesforce's JSON deserializer does, even
inside sObject Collections; CSV cells of the wrong type fail only their Bulk row, with
``INVALID_FIELD: Failed to deserialize field ...``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.emulators.salesforce.catalog import (
    Catalog,
    FieldDef,
    ObjectDef,
    SfError,
    SfRequestError,
    Source,
    ValueParseError,
    check_value,
    format_value,
    make_id,
    normalize_id,
    not_found,
    parse_value,
    record_attributes,
)
from engine.emulators.salesforce.soql_exec import execute as run_soql

Record = dict[str, Any]

USER_ID = make_id("005", 1)


# ---------------------------------------------------------------------------------------- writes


class MultipleRecords(Exception):
    """A REST upsert key that matches several records (Salesforce answers 300 and writes nothing)."""

    def __init__(self, obj: str, ids: list[str]) -> None:
        super().__init__(f"{len(ids)} {obj} records match")
        self.obj = obj
        self.ids = ids


@dataclass
class WriteResult:
    id: str | None
    created: bool
    errors: list[SfError] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.errors


@dataclass
class _Relation:
    ref_field: FieldDef
    parent: ObjectDef
    parent_key: FieldDef
    value: Any


@dataclass
class _Prepared:
    """A body read against the catalog: parsed values, parent look-ups, and per-record errors."""

    values: dict[str, Any] = field(default_factory=dict)
    relations: list[_Relation] = field(default_factory=list)
    errors: list[SfError] = field(default_factory=list)


@dataclass(frozen=True)
class Snapshot:
    """The whole org at one moment (records, index, id counter)."""

    records: dict[str, dict[str, Record]]
    index: dict[tuple[str, str], dict[Any, set[str]]]
    counter: int


class Journal:
    """The previous state of every record a transaction touched (None: it was created)."""

    def __init__(self) -> None:
        self.before: dict[tuple[str, str], Record | None] = {}

    def touch(self, obj: str, record_id: str, previous: Record | None) -> None:
        self.before.setdefault((obj, record_id), None if previous is None else dict(previous))


def _utc_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class Org:
    """Thread-safe in-memory records of every catalog object."""

    def __init__(self, catalog: Catalog, clock: Callable[[], datetime] = _utc_now) -> None:
        self.catalog = catalog
        self.lock = threading.RLock()
        self._clock = clock
        self._counter = 0
        self._records: dict[str, dict[str, Record]] = {}
        self._index: dict[tuple[str, str], dict[Any, set[str]]] = {}

    # -- reading

    def object(self, name: str) -> ObjectDef:
        obj = self.catalog.get(name)
        if obj is None:
            raise not_found()
        return obj

    def records(self, obj: str) -> list[Record]:
        """Copies of every stored record of `obj` (raw Python values), oldest first."""
        with self.lock:
            return [dict(r) for r in self._records.get(self._canonical(obj), {}).values()]

    def records_by_object(self) -> dict[str, list[Record]]:
        """Copies of every stored record of every object, by object (a test compares the org before and after)."""
        with self.lock:
            return {name: [dict(r) for r in table.values()] for name, table in sorted(self._records.items()) if table}

    def get(self, obj: str, record_id: str) -> Record | None:
        full = normalize_id(record_id)
        with self.lock:
            record = self._records.get(self._canonical(obj), {}).get(full or "")
            return dict(record) if record else None

    def _canonical(self, obj: str) -> str:
        found = self.catalog.get(obj)
        return found.name if found else obj

    def get_any(self, record_id: str) -> tuple[ObjectDef, Record] | None:
        obj = self.catalog.by_prefix(record_id[:3])
        record = self.get(obj.name, record_id) if obj else None
        return (obj, record) if obj and record else None

    def find(self, obj: ObjectDef, key_field: FieldDef, value: Any) -> list[str]:
        """Ids of the records whose `key_field` equals `value` (text compared case-insensitively)."""
        with self.lock:
            if key_field.name == "Id":
                full = normalize_id(str(value))
                return [full] if full and full in self._records.get(obj.name, {}) else []
            bucket = self._index.get((obj.name, key_field.name), {})
            return sorted(bucket.get(_index_key(key_field, value), set()))

    def get_by_key(self, obj_name: str, key_name: str, key_text: str) -> Record | None:
        """``GET /sobjects/{Obj}/{ExtField}/{value}``; raises MultipleRecords when several match."""
        with self.lock:
            obj, key_field = self._upsert_target(obj_name, key_name)
            matches = self.find(obj, key_field, _url_key_value(key_field, key_text))
            if len(matches) > 1:
                raise MultipleRecords(obj.name, matches)
            return self.get(obj.name, matches[0]) if matches else None

    def count(self, obj: str) -> int:
        with self.lock:
            return len(self._records.get(self._canonical(obj), {}))

    def record_json(self, obj: ObjectDef, record: Record, version: str,
                    fields: list[str] | None = None) -> dict[str, Any]:
        """A record as ``GET /sobjects/{Obj}/{Id}`` returns it: attributes, then every field."""
        out: dict[str, Any] = {"attributes": record_attributes(obj.name, record["Id"], version)}
        names = fields if fields is not None else [f.name for f in obj.ordered_fields()]
        for name in names:
            field_def = obj.field(name)
            if field_def is None:
                raise SfRequestError(400, SfError("INVALID_FIELD", _no_such_column(name, obj.name)))
            out[field_def.name] = format_value(record.get(field_def.name))
        return out

    def query(self, text: str, version: str) -> tuple[int, list[dict[str, Any]]]:
        """Run a SOQL query: (totalSize, records in the REST query shape); date literals count from now."""
        with self.lock:
            return run_soql(text, self.catalog, self._rows_for_query, self.get_any, version, self._clock())

    def _rows_for_query(self, obj: str) -> list[Record]:
        return list(self._records.get(obj, {}).values())

    def reset(self) -> None:
        with self.lock:
            self._records.clear()
            self._index.clear()

    def snapshot(self) -> Snapshot:
        """Everything stored, to :meth:`restore` when a Composite request with allOrNone fails."""
        with self.lock:
            return Snapshot(copy.deepcopy(self._records), copy.deepcopy(self._index), self._counter)

    def restore(self, snapshot: Snapshot) -> None:
        with self.lock:
            self._records = copy.deepcopy(snapshot.records)
            self._index = copy.deepcopy(snapshot.index)
            self._counter = snapshot.counter

    # -- REST writes

    def upsert(self, obj_name: str, key_name: str, key_text: str, body: Mapping[str, Any],
               update_only: bool = False) -> WriteResult:
        """``PATCH /sobjects/{Obj}/{ExtField}/{value}``; raises 300 when several records match, and with
        ``update_only`` (``?updateOnly=true``) 404 when none does."""
        with self.lock:
            obj, key_field = self._upsert_target(obj_name, key_name)
            if any(k.lower() == "id" for k in body):
                raise SfRequestError(400, SfError(
                    "INVALID_FIELD", "The Id field should not be specified in the sobject data."))
            key_value = _url_key_value(key_field, key_text)
            prepared = self._prepare(obj, body, "json")
            _check_body_key(prepared, key_field, key_value)
            matches = self.find(obj, key_field, key_value)
            if len(matches) > 1:
                raise MultipleRecords(obj.name, matches)
            if update_only and not matches:
                raise not_found()
            return self._apply(obj, matches[0] if matches else None, prepared, Journal(),
                               key=(key_field, key_value))

    def upsert_collection(self, obj_name: str, key_name: str, records: list[Any],
                          all_or_none: bool) -> list[WriteResult]:
        """sObject Collections upsert: results in request order; allOrNone rolls back every write."""
        with self.lock:
            obj, key_field = self._upsert_target(obj_name, key_name)
            prepared = [self._prepare_collection_record(obj, r) for r in records]
            keys = [_body_key(p, key_field) for p in prepared]
            duplicates = _duplicate_keys(key_field, keys)
            journal = Journal()
            results = [self._upsert_prepared(obj, key_field, p, k, duplicates, journal)
                       for p, k in zip(prepared, keys, strict=True)]
            if all_or_none and any(not r.success for r in results):
                self._rollback(journal)
                return [rolled_back(r) for r in results]
            return results

    def create(self, obj_name: str, body: Mapping[str, Any], journal: Journal | None = None) -> WriteResult:
        with self.lock:
            obj = self.object(obj_name)
            prepared = self._prepare(obj, body, "json")
            return self._apply(obj, None, prepared, journal or Journal())

    def update(self, obj_name: str, record_id: str, body: Mapping[str, Any], journal: Journal | None = None
               ) -> WriteResult:
        with self.lock:
            obj = self.object(obj_name)
            full = normalize_id(record_id)
            if not full or full not in self._records.get(obj.name, {}):
                raise not_found()
            prepared = self._prepare(obj, {k: v for k, v in body.items() if k.lower() != "id"}, "json")
            return self._apply(obj, full, prepared, journal or Journal())

    def delete(self, obj_name: str, record_id: str, journal: Journal | None = None) -> WriteResult:
        with self.lock:
            obj = self.object(obj_name)
            full = normalize_id(record_id) or ""
            record = self._records.get(obj.name, {}).get(full)
            if record is None:
                return WriteResult(None, False, [SfError("ENTITY_IS_DELETED", "entity is deleted")])
            if journal is not None:
                journal.touch(obj.name, full, record)
            self._remove(obj, full)
            return WriteResult(full, False)

    def rollback(self, journal: Journal) -> None:
        """Undo every write `journal` recorded (a Collections request with allOrNone that failed)."""
        with self.lock:
            self._rollback(journal)

    # -- Bulk rows

    def duplicate_keys(self, obj_name: str, key_name: str, texts: Iterable[str]) -> set[Any]:
        """The keys (as the index compares them) that more than one of `texts` (CSV cells) gives;
        for ``Id``, the 18-character ids given more than once."""
        if key_name.lower() == "id":
            ids = [normalize_id(text) for text in texts]
            return {i for i in ids if i is not None and ids.count(i) > 1}
        obj = self.object(obj_name)
        key_field = obj.field(key_name)
        if key_field is None:
            return set()
        keys = []
        for text in texts:
            try:
                keys.append(parse_value(key_field, text, "csv") if text not in ("", "#N/A") else None)
            except ValueParseError:
                keys.append(None)
        return _duplicate_keys(key_field, keys)

    def bulk_row(self, operation: str, obj_name: str, key_name: str | None, body: Mapping[str, Any],
                 columns: Mapping[str, int], duplicates: set[Any] | None = None) -> WriteResult:
        """One Bulk API 2.0 CSV row (insert, update, upsert or delete); a row whose key is in
        `duplicates` (another row of the job has it too) fails, as Salesforce fails every such row."""
        with self.lock:
            obj = self.object(obj_name)
            prepared = self._prepare(obj, body, "csv", columns)
            if operation == "insert":
                return self._apply(obj, None, prepared, Journal())
            if operation in ("update", "delete"):
                return self._bulk_by_id(operation, obj, prepared, duplicates or set())
            key_field = obj.field(key_name or "Id")
            assert key_field is not None
            key = _body_key(prepared, key_field)
            return self._upsert_prepared(obj, key_field, prepared, key, duplicates or set(), Journal())

    def _bulk_by_id(self, operation: str, obj: ObjectDef, prepared: _Prepared, duplicates: set[Any]) -> WriteResult:
        record_id = prepared.values.pop("Id", None)
        full = normalize_id(str(record_id)) if record_id else None
        if full is not None and full in duplicates:
            return WriteResult(None, False, [SfError("DUPLICATE_VALUE", f"Duplicate id in list: {full}")])
        if not full or full not in self._records.get(obj.name, {}):
            if record_id is None:
                return WriteResult(None, False, [SfError("MISSING_ARGUMENT", "Id not specified in an update call")])
            return WriteResult(None, False, [SfError("MALFORMED_ID", f"invalid record id: {record_id}")
                                             if not full else SfError("ENTITY_IS_DELETED", "entity is deleted")])
        if operation == "delete":
            return self.delete(obj.name, full)
        return self._apply(obj, full, prepared, Journal())

    # -- preparation: the body read against the catalog

    def _upsert_target(self, obj_name: str, key_name: str) -> tuple[ObjectDef, FieldDef]:
        obj = self.object(obj_name)
        key_field = obj.field(key_name)
        if key_field is None or not key_field.lookup_key:
            raise SfRequestError(404, SfError(
                "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {key_name}"))
        return obj, key_field

    def _prepare_collection_record(self, obj: ObjectDef, record: Any) -> _Prepared:
        if not isinstance(record, dict):
            raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "Cannot deserialize the records array"))
        rtype = (record.get("attributes") or {}).get("type")
        prepared = self._prepare(obj, record, "json")
        if rtype and str(rtype).lower() != obj.name.lower():
            prepared.errors.insert(0, SfError("INVALID_TYPE", f"Records must all be of type {obj.name}"))
        return prepared

    def _prepare(self, obj: ObjectDef, body: Mapping[str, Any], source: Source,
                 columns: Mapping[str, int] | None = None) -> _Prepared:
        prepared = _Prepared()
        for key, raw in body.items():
            if key == "attributes":
                continue
            field_def = obj.field(key)
            if field_def is not None:
                self._prepare_value(prepared, field_def, raw, source, (columns or {}).get(key, 0))
            elif obj.relationship(key) is not None:
                self._prepare_relation(prepared, obj, key, raw, source)
            else:
                prepared.errors.append(SfError("INVALID_FIELD", _no_such_column(key, obj.name), (key,)))
        return prepared

    @staticmethod
    def _prepare_value(prepared: _Prepared, field_def: FieldDef, raw: Any, source: Source, column: int) -> None:
        try:
            prepared.values[field_def.name] = parse_value(field_def, raw, source)
        except ValueParseError as exc:
            if source == "json":
                raise SfRequestError(400, exc.json_error()) from None
            prepared.errors.append(exc.csv_error(column))

    def _prepare_relation(self, prepared: _Prepared, obj: ObjectDef, key: str, raw: Any, source: Source) -> None:
        ref_field = obj.relationship(key)
        assert ref_field is not None
        if raw is None:
            prepared.values[ref_field.name] = None
            return
        if not isinstance(raw, dict):
            raise SfRequestError(400, SfError(
                "JSON_PARSER_ERROR", f"Cannot deserialize instance of {key} from VALUE_STRING value {raw}"))
        parent = self._relation_parent(ref_field, raw)
        keys = [k for k in raw if k != "attributes"]
        if parent is None or len(keys) != 1:
            prepared.errors.append(SfError("INVALID_FIELD", f"Invalid foreign key relationship name {key}", (key,)))
            return
        parent_key = parent.field(keys[0])
        if parent_key is None or not parent_key.lookup_key:
            prepared.errors.append(SfError(
                "INVALID_FIELD",
                f"Field name provided, {keys[0]} is not an External ID or indexed field for {parent.name}",
                (key,)))
            return
        try:
            value = parse_value(parent_key, raw[keys[0]], source)
        except ValueParseError as exc:
            if source == "json":
                raise SfRequestError(400, exc.json_error()) from None
            prepared.errors.append(exc.csv_error(0))
            return
        prepared.relations.append(_Relation(ref_field, parent, parent_key, value))

    def _relation_parent(self, ref_field: FieldDef, raw: dict[str, Any]) -> ObjectDef | None:
        wanted = (raw.get("attributes") or {}).get("type")
        targets = [t for t in ref_field.reference_to if wanted is None or t.lower() == str(wanted).lower()]
        for target in targets:
            parent = self.catalog.get(target)
            if parent is not None:
                return parent
        return None

    # -- applying one record

    def _upsert_prepared(self, obj: ObjectDef, key_field: FieldDef, prepared: _Prepared, key: Any,
                         duplicates: set[Any], journal: Journal) -> WriteResult:
        if prepared.errors and key is None:
            return WriteResult(None, False, list(prepared.errors))
        if key is None:
            return WriteResult(None, False, [SfError("MISSING_ARGUMENT", f"{key_field.name} not specified")])
        if _index_key(key_field, key) in duplicates:
            return WriteResult(None, False, [SfError(
                "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {format_value(key)}", (key_field.name,))])
        matches = self.find(obj, key_field, key)
        if len(matches) > 1:
            return WriteResult(None, False, [SfError(
                "DUPLICATE_EXTERNAL_ID",
                f"More than 1 record found for a external id field: [{', '.join(matches)}]", (key_field.name,))])
        return self._apply(obj, matches[0] if matches else None, prepared, journal, key=(key_field, key))

    def _apply(self, obj: ObjectDef, target: str | None, prepared: _Prepared, journal: Journal,
               key: tuple[FieldDef, Any] | None = None) -> WriteResult:
        creating = target is None
        values = dict(prepared.values)
        if key is not None and creating and key[0].name != "Id":
            values.setdefault(key[0].name, key[1])
        errors = list(prepared.errors)
        errors += self._resolve_relations(prepared.relations, values)
        errors += _access_errors(obj, values, creating, key[0] if key else None)
        errors += self._value_errors(obj, values)
        existing = self._records.get(obj.name, {}).get(target or "")
        merged = dict(existing) if existing else self._defaults(obj)
        merged.update(values)
        errors += _required_errors(obj, merged, values, creating)
        if not errors:
            errors += self._unique_errors(obj, merged, target)
        if errors:
            return WriteResult(None, False, errors)
        record_id = self._store(obj, target, merged, journal)
        return WriteResult(record_id, creating)

    def _resolve_relations(self, relations: list[_Relation], values: dict[str, Any]) -> list[SfError]:
        errors = []
        for rel in relations:
            matches = self.find(rel.parent, rel.parent_key, rel.value)
            if len(matches) == 1:
                values[rel.ref_field.name] = matches[0]
                continue
            shown = format_value(rel.value)
            message = (f"Foreign key external ID: {shown} not found for field {rel.parent_key.name} "
                       f"in entity {rel.parent.name}") if not matches else (
                f"More than 1 record found for a external id field: [{', '.join(matches)}]")
            errors.append(SfError("INVALID_FIELD" if not matches else "DUPLICATE_EXTERNAL_ID", message,
                                  (rel.ref_field.name,)))
        return errors

    def _value_errors(self, obj: ObjectDef, values: dict[str, Any]) -> list[SfError]:
        errors = []
        for name, value in values.items():
            field_def = obj.field(name)
            if field_def is None or value is None:
                continue
            error = self._reference_error(field_def, value) if field_def.type == "reference" else None
            error = error or check_value(field_def, value)
            if error:
                errors.append(error)
            elif field_def.type == "reference":
                values[name] = normalize_id(str(value))
        return errors

    def _reference_error(self, field_def: FieldDef, value: Any) -> SfError | None:
        full = normalize_id(str(value))
        if full is None:
            return SfError("MALFORMED_ID", f"{field_def.label}: id value of incorrect type: {value}",
                           (field_def.name,))
        known = [self.catalog.get(t) for t in field_def.reference_to]
        targets = [o for o in known if o is not None]
        if not targets:
            return None
        target = next((o for o in targets if o.key_prefix == full[:3]), None)
        if target is None:
            return SfError("FIELD_INTEGRITY_EXCEPTION",
                           f"{field_def.label}: id value of incorrect type: {value}", (field_def.name,))
        if full not in self._records.get(target.name, {}):
            return SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (field_def.name,))
        return None

    def _unique_errors(self, obj: ObjectDef, merged: Record, target: str | None) -> list[SfError]:
        for field_def in obj.ordered_fields():
            value = merged.get(field_def.name)
            if not field_def.unique or value is None or field_def.name == "Id":
                continue
            others = [i for i in self.find(obj, field_def, value) if i != target]
            if others:
                return [SfError("DUPLICATE_VALUE",
                                f"duplicate value found: {field_def.name} duplicates value on record with id: "
                                f"{others[0]}", ())]
        return []

    def _defaults(self, obj: ObjectDef) -> Record:
        record: Record = {}
        for field_def in obj.ordered_fields():
            if not field_def.defaulted:
                continue
            if field_def.type == "reference" and "User" in field_def.reference_to:
                record[field_def.name] = USER_ID
            else:
                default = field_def.default_value()
                if default is not None:
                    record[field_def.name] = default
        return record

    # -- storage, index and rollback

    def _store(self, obj: ObjectDef, target: str | None, merged: Record, journal: Journal) -> str:
        now = self._clock()
        if target is None:
            self._counter += 1
            target = make_id(obj.key_prefix, self._counter)
            merged["Id"] = target
            merged["CreatedDate"] = now
        merged["LastModifiedDate"] = now
        merged["SystemModstamp"] = now
        _derive_name(obj, merged)
        journal.touch(obj.name, target, self._records.get(obj.name, {}).get(target))
        self._put(obj, target, merged)
        return target

    def _put(self, obj: ObjectDef, record_id: str, record: Record) -> None:
        table = self._records.setdefault(obj.name, {})
        self._unindex(obj, table.get(record_id))
        table[record_id] = record
        for field_def in _indexed_fields(obj):
            value = record.get(field_def.name)
            if value is not None:
                bucket = self._index.setdefault((obj.name, field_def.name), {})
                bucket.setdefault(_index_key(field_def, value), set()).add(record_id)

    def _remove(self, obj: ObjectDef, record_id: str) -> None:
        record = self._records.get(obj.name, {}).pop(record_id, None)
        self._unindex(obj, record)

    def _unindex(self, obj: ObjectDef, record: Record | None) -> None:
        if record is None:
            return
        for field_def in _indexed_fields(obj):
            value = record.get(field_def.name)
            bucket = self._index.get((obj.name, field_def.name), {})
            if value is not None:
                bucket.get(_index_key(field_def, value), set()).discard(record["Id"])

    def _rollback(self, journal: Journal) -> None:
        for (obj_name, record_id), previous in reversed(list(journal.before.items())):
            obj = self.object(obj_name)
            if previous is None:
                self._remove(obj, record_id)
            else:
                self._put(obj, record_id, previous)


# --------------------------------------------------------------------------------------- helpers


def _no_such_column(name: str, obj: str) -> str:
    return f"No such column '{name}' on sobject of type {obj}"


def _indexed_fields(obj: ObjectDef) -> list[FieldDef]:
    return [f for f in obj.ordered_fields() if (f.lookup_key or f.unique) and f.name != "Id"]


def _index_key(field_def: FieldDef, value: Any) -> Any:
    if isinstance(value, str):
        return value if field_def.case_sensitive else value.lower()
    return format_value(value)


def _url_key_value(key_field: FieldDef, text: str) -> Any:
    try:
        return parse_value(key_field, text, "csv")
    except ValueParseError as exc:
        raise SfRequestError(400, exc.csv_error(0)) from None


def _check_body_key(prepared: _Prepared, key_field: FieldDef, key_value: Any) -> None:
    in_body = prepared.values.get(key_field.name)
    if key_field.name in prepared.values and _index_key(key_field, in_body) != _index_key(key_field, key_value):
        raise SfRequestError(400, SfError(
            "INVALID_FIELD",
            f"The value of {key_field.name} in the body does not match the external ID in the URL",
            (key_field.name,)))


def _body_key(prepared: _Prepared, key_field: FieldDef) -> Any:
    return prepared.values.get(key_field.name)


def _duplicate_keys(key_field: FieldDef, keys: list[Any]) -> set[Any]:
    seen: set[Any] = set()
    duplicates: set[Any] = set()
    for key in keys:
        if key is None:
            continue
        index_key = _index_key(key_field, key)
        (duplicates if index_key in seen else seen).add(index_key)
    return duplicates


def _access_errors(obj: ObjectDef, values: dict[str, Any], creating: bool,
                   key_field: FieldDef | None) -> list[SfError]:
    denied = []
    for name in values:
        field_def = obj.field(name)
        if field_def is None or (field_def is key_field and creating):
            continue
        allowed = field_def.createable if creating else field_def.updateable
        if not allowed:
            denied.append(field_def.name)
    if not denied:
        return []
    return [SfError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(denied)}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        tuple(denied))]


def _required_errors(obj: ObjectDef, merged: Record, values: dict[str, Any], creating: bool) -> list[SfError]:
    missing = [f.name for f in obj.ordered_fields() if _is_missing(f, merged, values, creating)]
    if not missing:
        return []
    return [SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                    tuple(missing))]


def _is_missing(field_def: FieldDef, merged: Record, values: dict[str, Any], creating: bool) -> bool:
    if creating:
        return field_def.required_on_create and merged.get(field_def.name) in (None, "")
    return not field_def.nillable and field_def.name in values and values[field_def.name] is None


def _derive_name(obj: ObjectDef, record: Record) -> None:
    """Contact and Lead compute their read-only Name from FirstName and LastName."""
    name_field = obj.field("Name")
    if name_field is None or name_field.createable or obj.field("LastName") is None:
        return
    parts = [record.get("FirstName"), record.get("LastName")]
    record["Name"] = " ".join(str(p) for p in parts if p)


def rolled_back(result: WriteResult) -> WriteResult:
    """What a record's result becomes when allOrNone rolled its request back."""
    if not result.success:
        return WriteResult(None, False, result.errors)
    return WriteResult(None, False, [SfError(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using AllOrNone header")])
