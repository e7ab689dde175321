"""sObject Collections without an external id: create, update, delete and retrieve many records.

    POST   /composite/sobjects                 {"allOrNone", "records": [{"attributes": {"type"}, ...}]}
    PATCH  /composite/sobjects                 the same, each record with its "Id"
    DELETE /composite/sobjects?ids=a,b[&allOrNone=true]
    GET    /composite/sobjects/{Obj}?ids=a,b&fields=f1,f2

At most 200 records a call (more: 400 ``EXCEEDED_ID_LIMIT``). Results come back in request order,
one per record: ``{"id", "success": true, "errors": []}``, or ``{"success": false, "errors":
[{"statusCode", "message", "fields"}]}`` (a failed record has no id), as Salesforce's recorded
answers show. Records of different objects may share a create or an update. With allOrNone
every write is rolled back when one fails, and the records that were valid fail with
``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.emulators.salesforce.catalog import SfError, SfRequestError, normalize_id
from engine.emulators.salesforce.store import Journal, Org, WriteResult, rolled_back

COLLECTION_LIMIT = 200


def _records(body: Any) -> tuple[list[Any], bool]:
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "The request body must have a records array"))
    _check_size(len(records))
    return records, bool(body.get("allOrNone", False))


def _check_size(count: int) -> None:
    if count > COLLECTION_LIMIT:
        raise SfRequestError(400, SfError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"))


def result_json(result: WriteResult) -> dict[str, Any]:
    """One record's result; a failed record carries no id."""
    errors = [e.collection() for e in result.errors]
    return {"id": result.id, "success": True, "errors": []} if result.success else {"success": False,
                                                                                   "errors": errors}


def _type_of(org: Org, record: Any) -> str | WriteResult:
    if not isinstance(record, dict):
        raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "Cannot deserialize the records array"))
    name = (record.get("attributes") or {}).get("type")
    if not name:
        return WriteResult(None, False, [SfError("INVALID_TYPE", "Must specify a type in attributes")])
    obj = org.catalog.get(str(name))
    if obj is None:
        return WriteResult(None, False, [SfError("INVALID_TYPE", f"sObject type '{name}' is not supported.")])
    return obj.name


def _finish(org: Org, results: list[WriteResult], journal: Journal, all_or_none: bool) -> list[dict[str, Any]]:
    if all_or_none and any(not r.success for r in results):
        org.rollback(journal)
        results = [rolled_back(r) for r in results]
    return [result_json(r) for r in results]


def _write_each(org: Org, body: Any, write: Callable[[str, dict[str, Any], Journal], WriteResult]
                ) -> list[dict[str, Any]]:
    """The records of a Collections body, each written by `write` under one journal (for ``allOrNone``)."""
    records, all_or_none = _records(body)
    with org.lock:
        journal = Journal()
        results = []
        for record in records:
            name = _type_of(org, record)
            results.append(name if isinstance(name, WriteResult) else write(name, record, journal))
        return _finish(org, results, journal, all_or_none)


def create(org: Org, body: Any) -> list[dict[str, Any]]:
    """``POST /composite/sobjects``."""
    def create_one(name: str, record: dict[str, Any], journal: Journal) -> WriteResult:
        if any(k.lower() == "id" for k in record):
            return WriteResult(None, False, [SfError("INVALID_FIELD", "cannot specify Id in an insert call", ("Id",))])
        return org.create(name, _fields(record), journal)

    return _write_each(org, body, create_one)


def update(org: Org, body: Any) -> list[dict[str, Any]]:
    """``PATCH /composite/sobjects``: each record by its Id."""
    return _write_each(org, body, lambda name, record, journal: _update_one(org, name, record, journal))


def _update_one(org: Org, name: str, record: dict[str, Any], journal: Journal) -> WriteResult:
    given = next((v for k, v in record.items() if k.lower() == "id"), None)
    if not given:
        return WriteResult(None, False, [SfError("MISSING_ARGUMENT", "Id not specified in an update call")])
    full = normalize_id(str(given))
    if full is None:
        return WriteResult(None, False, [SfError("MALFORMED_ID", f"malformed id {given}")])
    if org.get(name, full) is None:
        return WriteResult(None, False, [SfError("ENTITY_IS_DELETED", "entity is deleted")])
    return org.update(name, full, _fields(record), journal)


def delete(org: Org, query: dict[str, str]) -> list[dict[str, Any]]:
    """``DELETE /composite/sobjects?ids=...``: the records of any object, by Id."""
    ids = [i.strip() for i in (query.get("ids") or "").split(",") if i.strip()]
    if not ids:
        raise SfRequestError(400, SfError("MISSING_ARGUMENT", "ids not specified"))
    _check_size(len(ids))
    all_or_none = (query.get("allOrNone") or "").lower() == "true"
    with org.lock:
        journal = Journal()
        results = []
        for given in ids:
            full = normalize_id(given)
            found = org.get_any(full) if full else None
            if found is None:
                code, message = ("MALFORMED_ID", f"malformed id {given}") if full is None else (
                    "ENTITY_IS_DELETED", "entity is deleted")
                results.append(WriteResult(None, False, [SfError(code, message)]))
                continue
            results.append(org.delete(found[0].name, found[1]["Id"], journal))
        return _finish(org, results, journal, all_or_none)


def retrieve(org: Org, obj_name: str, query: dict[str, str], version: str) -> list[dict[str, Any] | None]:
    """``GET /composite/sobjects/{Obj}?ids=...&fields=...``: each record, or null when there is none."""
    obj = org.object(obj_name)
    ids = [i.strip() for i in (query.get("ids") or "").split(",") if i.strip()]
    fields = [f.strip() for f in (query.get("fields") or "").split(",") if f.strip()]
    if not ids or not fields:
        raise SfRequestError(400, SfError("MISSING_ARGUMENT", "ids and fields must both be specified"))
    _check_size(len(ids))
    out: list[dict[str, Any] | None] = []
    for given in ids:
        record = org.get(obj.name, given)
        out.append(None if record is None else org.record_json(obj, record, version, fields))
    return out


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes" and k.lower() != "id"}
