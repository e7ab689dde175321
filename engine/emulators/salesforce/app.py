"""A local Salesforce REST API (HTTPS on loopback) speaking Salesforce's own wire formats.

Serves OAuth client credentials, sObject describe and upsert by external id, sObject Collections
upsert, SOQL with paging, Bulk API 2.0 ingest and limits, over an in-memory org validated against
the object catalogs in ``schemas/salesforce``. Test hooks live under ``/_emulator``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import random
import secrets
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from engine.emulators.salesforce.bulk import BulkIngest
from engine.emulators.salesforce.catalog import (
    Catalog,
    FieldDef,
    ObjectDef,
    SfError,
    SfRequestError,
    load_catalog,
    make_id,
    not_found,
)
from engine.emulators.salesforce.store import USER_ID, MultipleRecords, Org, WriteResult
from engine.resources import schemas_dir

ORG_ID = make_id("00D", 1)
FIRST_VERSION = 31
DAILY_API_LIMIT = 100_000
COLLECTION_LIMIT = 200
SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
              "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
              "datetime": "xsd:dateTime"}
FAILURES = {
    "SERVER_UNAVAILABLE": (503, "Server temporarily unavailable; please retry your request later."),
    "REQUEST_LIMIT_EXCEEDED": (403, "TotalRequests Limit exceeded."),
    "UNABLE_TO_LOCK_ROW": (400, "unable to obtain exclusive access to this record or 1 records"),
}


@dataclass
class SalesforceEmulatorConfig:
    api_version: str = "59.0"
    fail_rate: float = 0.0
    seed: int = 1
    client_id: str = "demo"
    client_secret: str = "demo"
    catalog_dir: Path | None = None  # None: the shipped catalog without the fields zoomforce adds (a stock org)
    token_ttl: int | None = None  # seconds; None: sessions never expire
    query_page_size: int = 2000
    bulk_delay: float = 0.0


# ------------------------------------------------------------------------------- emulator state


class Stats:
    """Requests per route and status, and the API calls the org has counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.api_calls = 0

    def count_call(self) -> int:
        with self._lock:
            self.api_calls += 1
            return self.api_calls

    def record(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[(route, status)] += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            routes: dict[str, dict[str, int]] = {}
            for (route, status), n in sorted(self.requests.items()):
                routes.setdefault(route, {})[str(status)] = n
            return {"api_calls": self.api_calls, "routes": routes}


class Sessions:
    """Access tokens issued by the token endpoint, with an optional time to live."""

    def __init__(self, ttl: int | None) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._issued: dict[str, float] = {}

    def issue(self) -> str:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._issued[token] = time.monotonic()
        return token

    def valid(self, token: str | None) -> bool:
        with self._lock:
            issued = self._issued.get(token or "")
        if issued is None:
            return False
        return self._ttl is None or time.monotonic() - issued < self._ttl

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._issued)
            self._issued.clear()
            return count


class Cursors:
    """Query results kept for ``nextRecordsUrl`` paging (the most recent 200 queries)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._counter = itertools.count(1)

    def keep(self, records: list[dict[str, Any]]) -> str:
        locator = make_id("01g", next(self._counter))
        with self._lock:
            self._results[locator] = records
            while len(self._results) > 200:
                self._results.popitem(last=False)
        return locator

    def get(self, locator: str) -> list[dict[str, Any]]:
        with self._lock:
            records = self._results.get(locator)
        if records is None:
            raise SfRequestError(400, SfError("INVALID_QUERY_LOCATOR", "invalid query locator"))
        return records


class Failures:
    """Injected refusals: a seeded fraction of data requests, plus ones forced by a test hook."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._rng = random.Random(seed)
        self._forced: deque[tuple[str, str | None]] = deque()
        self._lock = threading.Lock()

    def force(self, code: str, count: int, route: str | None = None) -> None:
        """The next `count` data requests (of the route named `route` only, when given) fail with `code`."""
        with self._lock:
            self._forced.extend([(code, route)] * count)

    def _forced_code(self, route: str) -> str | None:
        for entry in self._forced:
            if entry[1] in (None, route):
                self._forced.remove(entry)
                return entry[0]
        return None

    def draw(self, route: str = "") -> SfRequestError | None:
        with self._lock:
            forced = self._forced_code(route)
            if forced is not None:
                code = forced
            elif self.rate > 0 and self._rng.random() < self.rate:
                code = self._rng.choice(["SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"])
            else:
                return None
        status, message = FAILURES[code]
        return SfRequestError(status, SfError(code, message))


class Emulator:
    """Everything one emulator instance holds."""

    def __init__(self, config: SalesforceEmulatorConfig) -> None:
        self.config = config
        # No catalog given: the shipped one, as an org that runs Zoom's package as it ships (no additions).
        catalog_dir = config.catalog_dir or schemas_dir() / "salesforce"
        self.catalog: Catalog = load_catalog(catalog_dir, stock=config.catalog_dir is None)
        self.org = Org(self.catalog)
        self.bulk = BulkIngest(self.org, delay=config.bulk_delay, seed=config.seed)
        self.sessions = Sessions(config.token_ttl)
        self.cursors = Cursors()
        self.failures = Failures(config.fail_rate, config.seed)
        self.stats = Stats()
        newest = int(float(config.api_version))
        self.versions = [f"{v}.0" for v in range(FIRST_VERSION, newest + 1)]


@dataclass
class Call:
    """One data request, read off the event loop and handed to a handler in a worker thread."""

    emu: Emulator
    version: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SfRequestError(400, SfError("JSON_PARSER_ERROR", f"Unexpected character: {exc}")) from None

    def obj(self) -> ObjectDef:
        return self.emu.org.object(self.params["obj"])


Handler = Callable[[Call], Response]


# ------------------------------------------------------------------------------------- responses


def _error_response(exc: SfRequestError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _result_json(result: WriteResult, created_key: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": result.id, "success": result.success,
                           "errors": [e.collection() for e in result.errors]}
    if created_key:
        out["created"] = result.created
    return out


def _write_failed(result: WriteResult) -> JSONResponse:
    return JSONResponse([e.rest() for e in result.errors], status_code=400)


# ------------------------------------------------------------------------------------- describe


def describe_field(field_def: FieldDef) -> dict[str, Any]:
    raw = field_def.raw
    kind = field_def.type
    base: dict[str, Any] = {
        "aggregatable": True, "autoNumber": False, "byteLength": field_def.length * 3, "calculated": False,
        "caseSensitive": False, "createable": True, "custom": field_def.name.endswith("__c"),
        "defaultValue": None, "defaultedOnCreate": False, "dependentPicklist": False, "digits": 0,
        "externalId": False, "filterable": kind != "textarea", "groupable": kind != "textarea",
        "htmlFormatted": False, "idLookup": False, "label": field_def.label, "length": 0,
        "name": field_def.name, "nameField": field_def.name == "Name", "nillable": True,
        "picklistValues": [], "precision": 0, "referenceTo": [], "relationshipName": None,
        "restrictedPicklist": False, "scale": 0, "soapType": SOAP_TYPES.get(kind, "xsd:string"),
        "sortable": kind != "textarea", "type": kind, "unique": False, "updateable": True,
    }
    return base | {k: v for k, v in raw.items() if not k.startswith("x-")}


def describe_object(emu: Emulator, obj: ObjectDef, version: str) -> dict[str, Any]:
    out = _global_entry(obj, version) | {
        "fields": [describe_field(f) for f in obj.ordered_fields()],
        "childRelationships": [
            {"cascadeDelete": False, "childSObject": child.name, "deprecatedAndHidden": False,
             "field": ref.name, "relationshipName": None, "restrictedDelete": False}
            for child, ref in emu.catalog.children_of(obj.name)
        ],
        "recordTypeInfos": [],
    }
    return out | {k: v for k, v in obj.raw.items() if k not in ("fields",) and not k.startswith("x-")
                  and k not in out}


def _global_entry(obj: ObjectDef, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "activateable": False, "createable": True, "custom": obj.custom, "customSetting": False,
        "deletable": True, "deprecatedAndHidden": False, "feedEnabled": False, "keyPrefix": obj.key_prefix,
        "label": obj.label, "labelPlural": obj.label_plural, "layoutable": True, "mergeable": False,
        "mruEnabled": False, "name": obj.name, "queryable": True, "replicateable": True,
        "retrieveable": True, "searchable": True, "triggerable": True, "undeletable": True,
        "updateable": True,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def _version_label(version: str) -> str:
    n = int(float(version)) - FIRST_VERSION
    season = ("Summer", "Winter", "Spring")[n % 3]
    year = 14 + n // 3 + (0 if season == "Summer" else 1)
    return f"{season} '{year:02d}"


# -------------------------------------------------------------------------------------- handlers


def h_resources(call: Call) -> Response:
    base = f"/services/data/v{call.version}"
    names = ["sobjects", "query", "queryAll", "composite", "jobs", "limits"]
    return JSONResponse({name: f"{base}/{name}" for name in names})


def h_limits(call: Call) -> Response:
    used = call.emu.stats.api_calls
    return JSONResponse({
        "DailyApiRequests": {"Max": DAILY_API_LIMIT, "Remaining": max(DAILY_API_LIMIT - used, 0)},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DataStorageMB": {"Max": 5, "Remaining": 5},
    })


def h_describe_global(call: Call) -> Response:
    sobjects = [_global_entry(o, call.version) for o in call.emu.catalog.objects()]
    return JSONResponse({"encoding": "UTF-8", "maxBatchSize": COLLECTION_LIMIT, "sobjects": sobjects})


def h_sobject(call: Call) -> Response:
    obj = call.obj()
    return JSONResponse({"objectDescribe": _global_entry(obj, call.version), "recentItems": []})


def h_describe(call: Call) -> Response:
    return JSONResponse(describe_object(call.emu, call.obj(), call.version))


def h_create(call: Call) -> Response:
    obj = call.obj()
    result = call.emu.org.create(obj.name, _json_object(call))
    if not result.success:
        return _write_failed(result)
    return JSONResponse({"id": result.id, "success": True, "errors": []}, status_code=201)


def h_get_record(call: Call) -> Response:
    obj = call.obj()
    record = call.emu.org.get(obj.name, call.params["record_id"])
    if record is None:
        raise not_found()
    return JSONResponse(call.emu.org.record_json(obj, record, call.version, _fields_param(call)))


def h_update_record(call: Call) -> Response:
    obj = call.obj()
    result = call.emu.org.update(obj.name, call.params["record_id"], _json_object(call))
    return Response(status_code=204) if result.success else _write_failed(result)


def h_delete_record(call: Call) -> Response:
    obj = call.obj()
    result = call.emu.org.delete(obj.name, call.params["record_id"])
    if not result.success:
        raise SfRequestError(404, *result.errors)
    return Response(status_code=204)


def h_upsert(call: Call) -> Response:
    """``PATCH sobjects/{Obj}/{ExtField}/{value}``: 201 created, 200 updated (204 before API 46)."""
    obj = call.obj()
    result = call.emu.org.upsert(obj.name, call.params["field"], call.params["value"], _json_object(call))
    if not result.success:
        return _write_failed(result)
    if not result.created and float(call.version) < 46:
        return Response(status_code=204)
    body: dict[str, Any] = {"id": result.id, "success": True, "errors": [], "created": result.created}
    return JSONResponse(body, status_code=201 if result.created else 200)


def h_get_by_key(call: Call) -> Response:
    obj = call.obj()
    org = call.emu.org
    record = org.get_by_key(obj.name, call.params["field"], call.params["value"])
    if record is None:
        raise not_found()
    return JSONResponse(org.record_json(obj, record, call.version, _fields_param(call)))


def h_collection_upsert(call: Call) -> Response:
    obj = call.obj()
    body = call.json()
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "The request body must have a records array"))
    if len(records) > COLLECTION_LIMIT:
        raise SfRequestError(400, SfError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"))
    all_or_none = bool(body.get("allOrNone", False))
    results = call.emu.org.upsert_collection(obj.name, call.params["field"], records, all_or_none)
    return JSONResponse([_result_json(r) for r in results])


def _collection_records(call: Call) -> list[Any]:
    body = call.json()
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "The request body must have a records array"))
    if len(records) > COLLECTION_LIMIT:
        raise SfRequestError(400, SfError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"))
    if body.get("allOrNone"):  # the emulator writes each record on its own
        raise SfRequestError(400, SfError("INVALID_FIELD", "this emulator supports allOrNone false only here"))
    return records


def _collection_write(call: Call, record: Any, creating: bool) -> WriteResult:
    """One record of a Collections create (``POST composite/sobjects``) or update (``PATCH``)."""
    if not isinstance(record, dict):
        raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "Cannot deserialize the records array"))
    sobject = (record.get("attributes") or {}).get("type")
    if not sobject:
        return WriteResult(None, False, [SfError("INVALID_TYPE", "No SObject Type defined in the record")])
    body = {k: v for k, v in record.items() if k != "attributes"}
    try:
        if creating:
            if any(k.lower() == "id" for k in body):
                return WriteResult(None, False, [SfError("INVALID_FIELD", "cannot specify Id in an insert call")])
            return call.emu.org.create(str(sobject), body)
        record_id = next((str(v) for k, v in body.items() if k.lower() == "id"), None)
        if not record_id:
            return WriteResult(None, False, [SfError("MISSING_ARGUMENT", "Id not specified in an update call")])
        return call.emu.org.update(str(sobject), record_id, body)
    except SfRequestError as exc:
        return WriteResult(None, False, exc.errors[:1])


def h_collection_create(call: Call) -> Response:
    """sObject Collections create: ``POST composite/sobjects``, results in request order."""
    results = [_collection_write(call, r, creating=True) for r in _collection_records(call)]
    return JSONResponse([_result_json(r, created_key=False) for r in results])


def h_collection_update(call: Call) -> Response:
    """sObject Collections update: ``PATCH composite/sobjects``, each record by its ``id``."""
    results = [_collection_write(call, r, creating=False) for r in _collection_records(call)]
    return JSONResponse([_result_json(r, created_key=False) for r in results])


def h_query(call: Call) -> Response:
    text = call.query.get("q")
    if not text:
        raise SfRequestError(400, SfError("MALFORMED_QUERY", "A query string has to be specified"))
    total, records = call.emu.org.query(text, call.version)
    return _query_page(call, total, records, None, 0)


def h_query_more(call: Call) -> Response:
    locator, _, offset = call.params["locator"].rpartition("-")
    if not locator or not offset.isdigit():
        raise SfRequestError(400, SfError("INVALID_QUERY_LOCATOR", "invalid query locator"))
    records = call.emu.cursors.get(locator)
    return _query_page(call, len(records), records, locator, int(offset))


def _query_page(call: Call, total: int, records: list[dict[str, Any]], locator: str | None,
                offset: int) -> Response:
    size = max(call.emu.config.query_page_size, 1)
    page = records[offset:offset + size]
    body: dict[str, Any] = {"totalSize": total, "done": offset + size >= len(records), "records": page}
    if not body["done"]:
        locator = locator or call.emu.cursors.keep(records)
        body["nextRecordsUrl"] = f"/services/data/v{call.version}/query/{locator}-{offset + size}"
    return JSONResponse(body)


def h_job_create(call: Call) -> Response:
    return JSONResponse(call.emu.bulk.create(call.json(), call.version))


def h_job_list(call: Call) -> Response:
    return JSONResponse(call.emu.bulk.list())


def h_job_info(call: Call) -> Response:
    return JSONResponse(call.emu.bulk.info(call.params["job_id"]))


def h_job_state(call: Call) -> Response:
    return JSONResponse(call.emu.bulk.set_state(call.params["job_id"], call.json()))


def h_job_delete(call: Call) -> Response:
    call.emu.bulk.delete(call.params["job_id"])
    return Response(status_code=204)


def h_job_upload(call: Call) -> Response:
    call.emu.bulk.upload(call.params["job_id"], call.body)
    return Response(status_code=201)


def h_job_results(call: Call) -> Response:
    kind = call.params["kind"].strip("/")
    kinds = {"successfulresults": "successfulResults", "failedresults": "failedResults",
             "unprocessedrecords": "unprocessedrecords"}
    if kind.lower() not in kinds:
        raise not_found()
    text = call.emu.bulk.results(call.params["job_id"], kinds[kind.lower()])
    return PlainTextResponse(text, media_type="text/csv")


def h_not_found(call: Call) -> Response:
    raise not_found()


def _json_object(call: Call) -> dict[str, Any]:
    body = call.json()
    if not isinstance(body, dict):
        raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "The request body must be a JSON object"))
    return body


def _fields_param(call: Call) -> list[str] | None:
    fields = call.query.get("fields")
    return [f.strip() for f in fields.split(",") if f.strip()] if fields else None


# ---------------------------------------------------------------------------------- data routes


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else None


async def _serve_data(request: Request, name: str, handler: Handler) -> Response:
    emu: Emulator = request.app.state.emulator
    version = request.path_params.get("version", "")
    try:
        response = await _dispatch(request, emu, version, handler, name)
    except SfRequestError as exc:
        response = _error_response(exc)
    except MultipleRecords as exc:
        urls = [f"/services/data/v{version}/sobjects/{exc.obj}/{i}" for i in exc.ids]
        response = JSONResponse(urls, status_code=300)
    response.headers["Sforce-Limit-Info"] = f"api-usage={emu.stats.api_calls}/{DAILY_API_LIMIT}"
    emu.stats.record(name, response.status_code)
    return response


async def _dispatch(request: Request, emu: Emulator, version: str, handler: Handler, name: str) -> Response:
    if version not in emu.versions:
        raise not_found()
    if not emu.sessions.valid(_bearer(request)):
        raise SfRequestError(401, SfError("INVALID_SESSION_ID", "Session expired or invalid"))
    emu.stats.count_call()
    failure = emu.failures.draw(name)
    if failure is not None:
        raise failure
    params = {k: str(v) for k, v in request.path_params.items()}
    call = Call(emu, version, params, dict(request.query_params), await request.body())
    return await run_in_threadpool(handler, call)


def _data_route(path: str, name: str, handler: Handler, methods: list[str]) -> Route:
    async def endpoint(request: Request) -> Response:
        return await _serve_data(request, name, handler)

    return Route("/services/data/v{version}" + path, endpoint, methods=methods, name=name)


DATA_ROUTES: list[tuple[str, str, Handler, list[str]]] = [
    ("", "resources", h_resources, ["GET"]),
    ("/", "resources", h_resources, ["GET"]),
    ("/limits", "limits", h_limits, ["GET"]),
    ("/sobjects", "describe_global", h_describe_global, ["GET"]),
    ("/sobjects/{obj}", "sobject", h_sobject, ["GET"]),
    ("/sobjects/{obj}/", "create", h_create, ["POST"]),
    ("/sobjects/{obj}", "create", h_create, ["POST"]),
    ("/sobjects/{obj}/describe", "describe", h_describe, ["GET"]),
    ("/sobjects/{obj}/{record_id}", "record", h_get_record, ["GET"]),
    ("/sobjects/{obj}/{record_id}", "update", h_update_record, ["PATCH"]),
    ("/sobjects/{obj}/{record_id}", "delete", h_delete_record, ["DELETE"]),
    ("/sobjects/{obj}/{field}/{value:path}", "upsert", h_upsert, ["PATCH"]),
    ("/sobjects/{obj}/{field}/{value:path}", "record_by_key", h_get_by_key, ["GET"]),
    ("/composite/sobjects/{obj}/{field}", "collections_upsert", h_collection_upsert, ["PATCH"]),
    ("/composite/sobjects", "collections_create", h_collection_create, ["POST"]),
    ("/composite/sobjects", "collections_update", h_collection_update, ["PATCH"]),
    ("/query", "query", h_query, ["GET"]),
    ("/query/", "query", h_query, ["GET"]),
    ("/queryAll", "query", h_query, ["GET"]),
    ("/query/{locator}", "query_more", h_query_more, ["GET"]),
    ("/queryAll/{locator}", "query_more", h_query_more, ["GET"]),
    ("/jobs/ingest", "bulk_create", h_job_create, ["POST"]),
    ("/jobs/ingest/", "bulk_create", h_job_create, ["POST"]),
    ("/jobs/ingest", "bulk_list", h_job_list, ["GET"]),
    ("/jobs/ingest/{job_id}", "bulk_info", h_job_info, ["GET"]),
    ("/jobs/ingest/{job_id}/", "bulk_info", h_job_info, ["GET"]),
    ("/jobs/ingest/{job_id}", "bulk_state", h_job_state, ["PATCH"]),
    ("/jobs/ingest/{job_id}", "bulk_delete", h_job_delete, ["DELETE"]),
    ("/jobs/ingest/{job_id}/batches", "bulk_upload", h_job_upload, ["PUT"]),
    ("/jobs/ingest/{job_id}/batches/", "bulk_upload", h_job_upload, ["PUT"]),
    ("/jobs/ingest/{job_id}/{kind:path}", "bulk_results", h_job_results, ["GET"]),
    ("/{rest:path}", "not_found", h_not_found, ["GET", "POST", "PUT", "PATCH", "DELETE"]),
]


# ----------------------------------------------------------------------------- OAuth and hooks


def _root_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _client_credentials(request: Request, form: dict[str, list[str]]) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            return user, password
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
    return (form.get("client_id") or [""])[0], (form.get("client_secret") or [""])[0]


async def oauth_token(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    response = _token_response(request, emu, form)
    emu.stats.record("oauth_token", response.status_code)
    return response


def _token_response(request: Request, emu: Emulator, form: dict[str, list[str]]) -> Response:
    if (form.get("grant_type") or [""])[0] != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                            status_code=400)
    client_id, client_secret = _client_credentials(request, form)
    config = emu.config
    if not (hmac.compare_digest(client_id, config.client_id)
            and hmac.compare_digest(client_secret, config.client_secret)):
        return JSONResponse({"error": "invalid_client", "error_description": "invalid client credentials"},
                            status_code=400)
    root = _root_url(request)
    issued_at = str(int(time.time() * 1000))
    identity = f"{root}/id/{ORG_ID}/{USER_ID}"
    digest = hmac.new(config.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    return JSONResponse({
        "access_token": emu.sessions.issue(), "signature": base64.b64encode(digest).decode(),
        "scope": "api", "instance_url": root, "id": identity, "token_type": "Bearer", "issued_at": issued_at,
    })


async def versions(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    body = [{"label": _version_label(v), "url": f"/services/data/v{v}", "version": v} for v in emu.versions]
    emu.stats.record("versions", 200)
    return JSONResponse(body, headers={"Sforce-Limit-Info": f"api-usage={emu.stats.api_calls}/{DAILY_API_LIMIT}"})


async def hook_expire_sessions(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    return JSONResponse({"expired": emu.sessions.expire_all()})


async def hook_fail_next(request: Request) -> Response:
    """Force the next data requests to fail: ``{"errorCode": "REQUEST_LIMIT_EXCEEDED", "count": 1}``, with
    ``"route": NAME`` (``collections_upsert``, ``describe``, ``query`` ...) only the requests of that route."""
    emu: Emulator = request.app.state.emulator
    try:
        body = json.loads(await request.body() or b"{}")
        code = str(body.get("errorCode", "REQUEST_LIMIT_EXCEEDED"))
        count = int(body.get("count", 1))
        route = body.get("route")
    except (ValueError, AttributeError, TypeError):
        return JSONResponse({"error": "expected {errorCode, count, route?}"}, status_code=400)
    if code not in FAILURES:
        return JSONResponse({"error": f"errorCode must be one of {sorted(FAILURES)}"}, status_code=400)
    if route is not None and route not in {name for _, name, _, _ in DATA_ROUTES}:
        return JSONResponse({"error": f"route must be one of {sorted({n for _, n, _, _ in DATA_ROUTES})}"},
                            status_code=400)
    emu.failures.force(code, count, route)
    return JSONResponse({"forced": code, "count": count, "route": route})


async def hook_stats(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    return JSONResponse(emu.stats.as_dict())


async def hook_reset(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    await run_in_threadpool(emu.org.reset)
    return JSONResponse({"reset": True})


def create_app(config: SalesforceEmulatorConfig | None = None) -> Starlette:
    """The emulator as an ASGI app; ``app.state.store`` is the org, ``app.state.stats`` the counters."""
    emu = Emulator(config or SalesforceEmulatorConfig())
    routes: list[BaseRoute] = [
        Route("/services/oauth2/token", oauth_token, methods=["POST"]),
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        Route("/_emulator/expire-sessions", hook_expire_sessions, methods=["POST"]),
        Route("/_emulator/fail-next", hook_fail_next, methods=["POST"]),
        Route("/_emulator/stats", hook_stats, methods=["GET"]),
        Route("/_emulator/reset", hook_reset, methods=["POST"]),
    ]
    routes += [_data_route(path, name, handler, methods) for path, name, handler, methods in DATA_ROUTES]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False
    app.state.emulator = emu
    app.state.store = emu.org
    app.state.stats = emu.stats
    return app
