"""A local Salesforce REST API (HTTPS on loopback) speaking Salesforce's own wire formats.

Serves OAuth client credentials, sObject describe (with the keys a real describe has), create,
read, update, delete and upsert by external id (``?updateOnly=true`` honoured), sObject
Collections (create, update, delete, retrieve, upsert), Composite, SOQL with paging, date
literals and ``GROUP BY``, Bulk API 2.0 ingest and ``/limits/`` with a daily API request counter,
over an in-memory org validated against the object catalogs in ``schemas/salesforce``. Test hooks
live under ``/_emulator``; ``POST /_emulator/refresh-sandbox`` does what a sandbox
refresh does to an org: a new org id, every record gone, every session ended.
"""

from __future__ import annotations

import base64
import binascii
import functools
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
from starlette.routing import BaseRoute, Match, Route

from engine.emulators.salesforce import collections, composite
from engine.emulators.salesforce.bulk import BulkIngest
from engine.emulators.salesforce.catalog import (
    Catalog,
    ObjectDef,
    SfError,
    SfRequestError,
    load_catalog,
    make_id,
    not_found,
)
from engine.emulators.salesforce.composite import Answer
from engine.emulators.salesforce.describe import describe_sobject, global_entry
from engine.emulators.salesforce.limits import DAILY_API_LIMIT, OrgLimits
from engine.emulators.salesforce.store import USER_ID, MultipleRecords, Org, WriteResult
from engine.resources import schemas_dir

ORG_ID = make_id("00D", 1)
FIRST_VERSION = 31
COLLECTION_LIMIT = 200
REQUEST_LIMIT_EXCEEDED = SfError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
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
    org_id: str = ORG_ID
    api_limit: int = DAILY_API_LIMIT  # data requests a day (DailyApiRequests); then REQUEST_LIMIT_EXCEEDED


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

    def issue(self, org_id: str) -> str:
        token = f"{org_id[:15]}!{secrets.token_urlsafe(48)}"
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
        self.limits = OrgLimits(config.api_limit)
        self.bulk = BulkIngest(self.org, delay=config.bulk_delay, seed=config.seed,
                               on_processed=self.limits.take_bulk_rows)
        self.sessions = Sessions(config.token_ttl)
        self.cursors = Cursors()
        self.failures = Failures(config.fail_rate, config.seed)
        self.stats = Stats()
        newest = int(float(config.api_version))
        self.versions = [f"{v}.0" for v in range(FIRST_VERSION, newest + 1)]
        self.org_id = config.org_id
        self.refreshes = 0

    def refresh_sandbox(self) -> str:
        """What a sandbox refresh does: a new org id, no record left, every session ended; the new id."""
        self.refreshes += 1
        self.org_id = make_id("00D", 1 + self.refreshes * 7919)
        self.org.reset()
        self.sessions.expire_all()
        return self.org_id


@dataclass
class Call:
    """One data request, read off the event loop and handed to a handler in a worker thread."""

    emu: Emulator
    version: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    root: str = ""  # the instance URL (https://127.0.0.1:PORT)

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
    return JSONResponse(call.emu.limits.body())


def describe_object(emu: Emulator, obj: ObjectDef, version: str, instance: str = "") -> dict[str, Any]:
    return describe_sobject(emu.catalog, obj, version, instance)


def h_describe_global(call: Call) -> Response:
    sobjects = [global_entry(o, call.version) for o in call.emu.catalog.objects()]
    return JSONResponse({"encoding": "UTF-8", "maxBatchSize": COLLECTION_LIMIT, "sobjects": sobjects})


def h_sobject(call: Call) -> Response:
    obj = call.obj()
    return JSONResponse({"objectDescribe": global_entry(obj, call.version), "recentItems": []})


def h_describe(call: Call) -> Response:
    return JSONResponse(describe_object(call.emu, call.obj(), call.version, call.root))


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
    update_only = (call.query.get("updateOnly") or "").lower() == "true"
    result = call.emu.org.upsert(obj.name, call.params["field"], call.params["value"], _json_object(call),
                                 update_only)
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


def h_collection_create(call: Call) -> Response:
    return JSONResponse(collections.create(call.emu.org, call.json()))


def h_collection_update(call: Call) -> Response:
    return JSONResponse(collections.update(call.emu.org, call.json()))


def h_collection_delete(call: Call) -> Response:
    return JSONResponse(collections.delete(call.emu.org, call.query))


def h_collection_retrieve(call: Call) -> Response:
    return JSONResponse(collections.retrieve(call.emu.org, call.params["obj"], call.query, call.version))


def h_composite(call: Call) -> Response:
    def dispatch(method: str, path: str, query: dict[str, str], body: bytes) -> Answer:
        return subrequest(call, method, path, query, body)

    return JSONResponse(composite.run(call.emu.org, call.json(), dispatch))


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


def _answer(call: Call, handler: Handler) -> Response:
    """Run `handler`, turning the errors it raises into Salesforce's answers."""
    try:
        return handler(call)
    except SfRequestError as exc:
        return _error_response(exc)
    except MultipleRecords as exc:
        urls = [f"/services/data/v{call.version}/sobjects/{exc.obj}/{i}" for i in exc.ids]
        return JSONResponse(urls, status_code=300)


async def _serve_data(request: Request, name: str, handler: Handler) -> Response:
    emu: Emulator = request.app.state.emulator
    version = request.path_params.get("version", "")
    try:
        call = await _admit(request, emu, version, name)
        response = await run_in_threadpool(_answer, call, handler)
    except SfRequestError as exc:
        response = _error_response(exc)
    response.headers["Sforce-Limit-Info"] = emu.limits.limit_info()
    emu.stats.record(name, response.status_code)
    return response


async def _admit(request: Request, emu: Emulator, version: str, name: str) -> Call:
    """The data request as a Call, unless it is refused first (version, session, daily limit, failure)."""
    if version not in emu.versions:
        raise not_found()
    if not emu.sessions.valid(_bearer(request)):
        raise SfRequestError(401, SfError("INVALID_SESSION_ID", "Session expired or invalid"))
    if not emu.limits.take_request():
        raise SfRequestError(403, REQUEST_LIMIT_EXCEEDED)
    emu.stats.count_call()
    failure = emu.failures.draw(name)
    if failure is not None:
        raise failure
    params = {k: str(v) for k, v in request.path_params.items()}
    return Call(emu, version, params, dict(request.query_params), await request.body(), _root_url(request))


# ------------------------------------------------------------------------------ Composite routing

# What a Composite subrequest may reach: the data resources, not Composite itself nor Bulk jobs.
NOT_IN_COMPOSITE = ("composite", "bulk_create", "bulk_list", "bulk_info", "bulk_state", "bulk_delete",
                    "bulk_upload", "bulk_results", "not_found")


def subrequest(parent: Call, method: str, path: str, query: dict[str, str], body: bytes) -> Answer:
    """One Composite subrequest: the data resource at `path`, run as it runs alone (no API call counted)."""
    for route, name, handler in _subroutes():
        match, child = route.matches({"type": "http", "path": path, "method": method})
        if match is not Match.FULL or name in NOT_IN_COMPOSITE:
            continue
        params = {k: str(v) for k, v in child["path_params"].items()}
        version = params.get("version", "")
        if version not in parent.emu.versions:
            break
        call = Call(parent.emu, version, params, query, body, parent.root)
        response = _answer(call, handler)
        content = bytes(response.body) if response.body else b""
        answer_body = json.loads(content) if content else None
        headers: dict[str, str] = {}
        if response.status_code == 201 and isinstance(answer_body, dict) and answer_body.get("id"):
            headers["Location"] = f"/services/data/v{version}/sobjects/{params.get('obj', '')}/{answer_body['id']}"
        return Answer(response.status_code, answer_body, headers)
    return Answer(404, not_found().body(), {})


@functools.lru_cache(maxsize=1)
def _subroutes() -> list[tuple[Route, str, Handler]]:
    async def unused(request: Request) -> Response:
        return Response(status_code=500)

    return [(Route("/services/data/v{version}" + path, unused, methods=methods), name, handler)
            for path, name, handler, methods in DATA_ROUTES]


def _data_route(path: str, name: str, handler: Handler, methods: list[str]) -> Route:
    async def endpoint(request: Request) -> Response:
        return await _serve_data(request, name, handler)

    return Route("/services/data/v{version}" + path, endpoint, methods=methods, name=name)


DATA_ROUTES: list[tuple[str, str, Handler, list[str]]] = [
    ("", "resources", h_resources, ["GET"]),
    ("/", "resources", h_resources, ["GET"]),
    ("/limits", "limits", h_limits, ["GET"]),
    ("/limits/", "limits", h_limits, ["GET"]),
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
    ("/composite", "composite", h_composite, ["POST"]),
    ("/composite/", "composite", h_composite, ["POST"]),
    ("/composite/sobjects", "collections_create", h_collection_create, ["POST"]),
    ("/composite/sobjects", "collections_update", h_collection_update, ["PATCH"]),
    ("/composite/sobjects", "collections_delete", h_collection_delete, ["DELETE"]),
    ("/composite/sobjects/{obj}", "collections_retrieve", h_collection_retrieve, ["GET"]),
    ("/composite/sobjects/{obj}/{field}", "collections_upsert", h_collection_upsert, ["PATCH"]),
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
    identity = f"{root}/id/{emu.org_id}/{USER_ID}"
    digest = hmac.new(config.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    return JSONResponse({
        "access_token": emu.sessions.issue(emu.org_id), "signature": base64.b64encode(digest).decode(),
        "scope": "api", "instance_url": root, "id": identity, "token_type": "Bearer", "issued_at": issued_at,
    })


async def userinfo(request: Request) -> Response:
    """``GET /services/oauth2/userinfo``: the OpenID Connect claims of the session's user (its org among them)."""
    emu: Emulator = request.app.state.emulator
    if not emu.sessions.valid(_bearer(request)):
        response = JSONResponse({"error": "invalid_token", "error_description": "Invalid token"}, status_code=403)
    else:
        root = _root_url(request)
        response = JSONResponse({
            "sub": f"{root}/id/{emu.org_id}/{USER_ID}", "user_id": USER_ID, "organization_id": emu.org_id,
            "preferred_username": "integration@example.com", "name": "Integration User",
            "user_type": "STANDARD", "active": True,
        })
    emu.stats.record("userinfo", response.status_code)
    return response


async def hook_refresh_sandbox(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    org_id = await run_in_threadpool(emu.refresh_sandbox)
    return JSONResponse({"org_id": org_id})


async def versions(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    body = [{"label": _version_label(v), "url": f"/services/data/v{v}", "version": v} for v in emu.versions]
    emu.stats.record("versions", 200)
    return JSONResponse(body, headers={"Sforce-Limit-Info": emu.limits.limit_info()})


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
        Route("/services/oauth2/userinfo", userinfo, methods=["GET"]),
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        Route("/_emulator/expire-sessions", hook_expire_sessions, methods=["POST"]),
        Route("/_emulator/fail-next", hook_fail_next, methods=["POST"]),
        Route("/_emulator/stats", hook_stats, methods=["GET"]),
        Route("/_emulator/reset", hook_reset, methods=["POST"]),
        Route("/_emulator/refresh-sandbox", hook_refresh_sandbox, methods=["POST"]),
    ]
    routes += [_data_route(path, name, handler, methods) for path, name, handler, methods in DATA_ROUTES]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False
    app.state.emulator = emu
    app.state.store = emu.org
    app.state.stats = emu.stats
    return app
