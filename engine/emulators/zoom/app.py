"""A local Zoom API (HTTP on loopback) speaking Zoom's own wire formats over a synthetic account.

Serves Server-to-Server OAuth at ``POST /oauth/token`` and the REST API under ``/v2`` (users and
their settings, Zoom Phone users and call history, meetings, past meetings, webinars, registrants,
panelists, reports; creating meetings, webinars and registrants), the date windows the lists take
(``from`` and ``to`` of a user's meetings, of the meeting report, of the call history), routed on the raw path
(:mod:`engine.emulators.zoom.rawpath`), paged per endpoint as Zoom's specifications say
(:mod:`engine.emulators.zoom.paging`), with Zoom's error bodies and codes, its per-second and
daily rate limits and its per-registrant limit (:mod:`engine.emulators.zoom.limits`,
:mod:`engine.emulators.zoom.errors`), its per-user limit on meetings and webinars created
(:mod:`engine.emulators.zoom.created`), an optional latency and seeded failure injection. The
account is :class:`engine.emulators.zoom.data.Account`; signed event notifications go out through
:mod:`engine.emulators.zoom.webhooks`. Test hooks (no auth) live under ``/_emulator``:

    GET  /_emulator/stats                  requests by route template and status, tokens issued
    GET  /_emulator/account                counts and ids of every entity
    POST /_emulator/reset                  forget posted registrants, counters, limits, failures
    POST /_emulator/new-day                start the daily limits again, as at 00:00 UTC
    POST /_emulator/expire-tokens          every access token becomes invalid (401, code 124)
    POST /_emulator/fail-next              {"count": n, "status": 503|502|500|429}
    GET  /_emulator/registrants/{webinarId} the registrants POSTed to that webinar
    POST /_emulator/registrants/{webinarId} {"email": ..., "status": "approved"|"pending"|"denied"|"cancelled"}
    POST /_emulator/webhooks/send          {"events": ["phone.callee_ended", ...]} or {"count": n}
    POST /_emulator/webhooks/validate      send endpoint.url_validation and judge the answer
    GET  /_emulator/webhooks               every delivery and its attempts
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.emulators.zoom.created import USER_DAILY_WRITES, Created
from engine.emulators.zoom.data import (
    ZOOM_HOST,
    Account,
    MeetingData,
    Record,
    Sizes,
    UserData,
    WebinarData,
    iso,
    zoom_id,
)
from engine.emulators.zoom.errors import (
    ZoomError,
    daily_limited,
    invalid_field,
    meeting_not_found,
    qps_limited,
    registrant_limited,
    user_not_found,
    user_write_limited,
    webinar_not_found,
)
from engine.emulators.zoom.limits import Clock, DailyCounter, RateLimiter, utc_now
from engine.emulators.zoom.paging import Pager, paging_rules
from engine.emulators.zoom.rawpath import RawPathRouting, decode_segment
from engine.emulators.zoom.webhooks import (
    EVENT_KINDS,
    WebhookSender,
    build_event,
    default_event_plan,
    registration_event,
)
from engine.zoom.schemas import load_source_index

MAX_CALL_RANGE = timedelta(days=31)  # "at most one month"
FAILURE_MESSAGES = {
    500: "An internal server error occurred. Please try again later.",
    502: "Bad gateway. Please try again later.",
    503: "The service is temporarily unavailable. Please try again later.",
}
MEETING_LIST_TYPES = ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
REGISTRANT_STATUSES = ("approved", "pending", "denied")
SETTABLE_STATUSES = (*REGISTRANT_STATUSES, "cancelled")  # cancelled: listed under no status
REGISTRANT_DAILY_LIMIT = 3  # POSTs a day for one registrant on one webinar
NOT_API_ROUTES = ("POST /oauth/token", "unknown")


@dataclass
class ZoomEmulatorConfig:
    """How one emulator behaves; the account is fixed by ``users``, ``seed``, ``now`` and the sizes below."""

    users: int = 10
    seed: int = 1
    rate_limit: int = 0  # requests per second allowed per rate-limit category (token bucket); 0: unlimited
    daily_limit: int = 0  # requests per UTC day allowed per rate-limit category; 0: unlimited
    registrant_daily_limit: int = REGISTRANT_DAILY_LIMIT  # POSTs a day per (webinar, registrant); 0: unlimited
    user_daily_write_limit: int = USER_DAILY_WRITES  # meeting and webinar creations a day per user; 0: unlimited
    latency_ms: int = 0  # added to every API request before it is answered
    fail_rate: float = 0.0
    account_id: str = "demo"
    client_id: str = "demo"
    client_secret: str = "demo"
    token_ttl: int = 3600
    now: datetime | None = None  # None: the current UTC time truncated to the minute
    clock: Clock = utc_now  # the time the daily limits count by (real time: they reset at 00:00 UTC)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_retry_scale: float = 1.0
    webhook_on_registration: bool = True  # a POSTed registrant sends webinar.registration_created
    # the size of the account (None: the default layout, see engine.emulators.zoom.data)
    meetings_per_user: int | None = None
    calls_per_user: int | None = None
    webinars_per_user: int | None = None
    registrants_per_webinar: int | None = None
    attendees_per_webinar: int | None = None

    def sizes(self) -> Sizes:
        return Sizes(self.meetings_per_user, self.calls_per_user, self.webinars_per_user,
                     self.registrants_per_webinar, self.attendees_per_webinar)


# ------------------------------------------------------------------------------- emulator state


class Stats:
    """Requests per route template and status, and the access tokens issued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.tokens_issued = 0

    def record(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[(route, status)] += 1

    def token_issued(self) -> None:
        with self._lock:
            self.tokens_issued += 1

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.tokens_issued = 0

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            routes: dict[str, dict[str, int]] = {}
            for (route, status), n in sorted(self.requests.items()):
                routes.setdefault(route, {})[str(status)] = n
            api_requests = sum(n for (route, _), n in self.requests.items() if route not in NOT_API_ROUTES)
            return {"requests": routes, "api_requests": api_requests, "tokens_issued": self.tokens_issued}


class Tokens:
    """Access tokens issued by the OAuth endpoint, each valid for ``ttl`` seconds."""

    def __init__(self, ttl: int) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = "eyJzdiI6IjAwMDAwMiIsImFsZyI6IkhTNTEyIiwidiI6IjIuMCJ9." + secrets.token_urlsafe(96)
        with self._lock:
            self._expiry[token] = time.monotonic() + self._ttl
        return token

    def valid(self, token: str | None) -> bool:
        with self._lock:
            expiry = self._expiry.get(token or "")
        return expiry is not None and time.monotonic() < expiry

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._expiry)
            self._expiry.clear()
            return count


class Failures:
    """Injected failures: a seeded fraction of API requests, plus ones forced by the test hook."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate, self.seed = rate, seed
        self._lock = threading.Lock()
        self._rng = random.Random(f"{seed}:failures")
        self._forced: deque[int] = deque()

    def force(self, status: int, count: int) -> None:
        with self._lock:
            self._forced.extend([status] * count)

    def draw(self) -> int | None:
        """The status to fail the next request with, or None to serve it."""
        with self._lock:
            if self._forced:
                return self._forced.popleft()
            if self.rate > 0 and self._rng.random() < self.rate:
                return self._rng.choice((500, 502, 503))
            return None

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(f"{self.seed}:failures")
            self._forced.clear()


class Registrations:
    """Registrants added through ``POST /webinars/{webinarId}/registrants``, by webinar and e-mail,
    and the status changes of any registrant (a cancelled one is listed under no status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_webinar: dict[int, dict[str, Record]] = {}
        self._statuses: dict[tuple[int, str], str] = {}

    def find(self, webinar_id: int, email: str) -> Record | None:
        with self._lock:
            return self._by_webinar.get(webinar_id, {}).get(email.lower())

    def add(self, webinar_id: int, registrant: Record) -> tuple[Record, bool]:
        """Keep ``registrant`` unless one with its e-mail is there already: the one kept, and whether it is new."""
        with self._lock:
            kept = self._by_webinar.setdefault(webinar_id, {})
            existing = kept.setdefault(registrant["email"].lower(), registrant)
            return existing, existing is registrant

    def of(self, webinar_id: int) -> list[Record]:
        with self._lock:
            return list(self._by_webinar.get(webinar_id, {}).values())

    def set_status(self, webinar_id: int, email: str, status: str) -> None:
        with self._lock:
            self._statuses[(webinar_id, email.lower())] = status

    def status_of(self, webinar_id: int, registrant: Record) -> str:
        with self._lock:
            return self._statuses.get((webinar_id, str(registrant["email"]).lower()), str(registrant["status"]))

    def reset(self) -> None:
        with self._lock:
            self._by_webinar.clear()
            self._statuses.clear()


class Emulator:
    """Everything one emulator instance holds."""

    def __init__(self, config: ZoomEmulatorConfig) -> None:
        self.config = config
        self.account = Account(config.users, config.seed, config.now, config.account_id, config.sizes())
        self.tokens = Tokens(config.token_ttl)
        self.limiter = RateLimiter(config.rate_limit)
        self.daily = DailyCounter(config.daily_limit, config.clock)
        self.registrant_posts = DailyCounter(config.registrant_daily_limit, config.clock)
        self.user_writes = DailyCounter(config.user_daily_write_limit, config.clock)
        self.created = Created(self.account)
        self.failures = Failures(config.fail_rate, config.seed)
        self.registrations = Registrations()
        self.stats = Stats()
        index = load_source_index()
        page_key = hashlib.sha256(f"zoom-emulator-pages:{config.seed}".encode()).digest()
        self.pager = Pager(page_key, paging_rules(index))
        self.categories = {name: str(entry.get("rate_limit") or "Light") for name, entry in index.endpoints.items()}
        self.scopes = " ".join(sorted({scope for entry in index.endpoints.values()
                                       for scope in entry.get("scopes", {}).get("granular", ())
                                       if scope.endswith(":admin")}))
        self.webhooks: WebhookSender | None = None
        if config.webhook_url and config.webhook_secret:
            self.webhooks = WebhookSender(config.webhook_url, config.webhook_secret, config.webhook_retry_scale)

    def new_day(self) -> None:
        self.daily.new_day()
        self.registrant_posts.new_day()
        self.user_writes.new_day()

    def reset(self) -> None:
        self.registrations.reset()
        self.created.reset()
        self.stats.reset()
        self.limiter.reset()
        self.failures.reset()
        self.new_day()


@dataclass
class Call:
    """One API request, read off the event loop and handed to a handler in a worker thread."""

    emu: Emulator
    route: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def account(self) -> Account:
        return self.emu.account

    def json_object(self) -> dict[str, Any]:
        try:
            body = json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise ZoomError(400, 300, "Request Body should be a valid JSON object.")
        return body


Handler = Callable[[Call], Response]


def paginate(call: Call, records: Sequence[Record], records_key: str, *, scope: str = "",
             head: Record | None = None) -> Record:
    """One page of ``records`` as Zoom lays it out for this endpoint; ``scope`` ties the token to the filters."""
    return call.emu.pager.page(call.route, call.params, call.query, records, records_key, scope=scope, head=head)


def ok(body: Record, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


# -------------------------------------------------------------------------------------- lookups


def path_value(call: Call, name: str) -> str:
    """A path parameter, decoded as Zoom does (once, or twice when double-encoded; see ``rawpath``)."""
    return decode_segment(call.params[name])


def the_user(call: Call) -> UserData:
    key = path_value(call, "userId")
    user = call.account.find_user(key)
    if user is None:
        raise user_not_found(key)
    return user


def the_meeting(call: Call) -> MeetingData:
    key = path_value(call, "meetingId")
    meeting = call.account.find_meeting(key)
    if meeting is None:
        raise meeting_not_found(key)
    return meeting


def the_past_meeting(call: Call) -> MeetingData:
    meeting = the_meeting(call)
    if not meeting.past:
        raise meeting_not_found(path_value(call, "meetingId"))
    return meeting


def the_webinar(call: Call) -> WebinarData:
    key = path_value(call, "webinarId")
    webinar = call.account.find_webinar(key)
    if webinar is None:
        raise webinar_not_found(key)
    return webinar


def the_past_webinar(call: Call) -> WebinarData:
    webinar = the_webinar(call)
    if not webinar.past:
        raise webinar_not_found(path_value(call, "webinarId"))
    return webinar


# ---------------------------------------------------------------------------------- users, phone


def h_users(call: Call) -> Response:
    status = call.query.get("status") or "active"
    if status not in ("active", "inactive", "pending"):
        raise invalid_field("status")
    users = [u.list_record() for u in call.account.all_users()] if status == "active" else []
    return ok(paginate(call, users, "users", scope=status))


def h_user(call: Call) -> Response:
    return ok(the_user(call).record())


def h_user_settings(call: Call) -> Response:
    option = call.query.get("option") or None
    if option not in (None, "meeting_authentication", "recording_authentication", "meeting_security"):
        raise invalid_field("option")
    return ok(the_user(call).settings(option))


def h_phone_users(call: Call) -> Response:
    users = [u.phone_list_record() for u in call.account.all_users() if u.has_phone]
    return ok(paginate(call, users, "users"))


def h_phone_user(call: Call) -> Response:
    user = the_user(call)
    if not user.has_phone:
        raise ZoomError(404, 1001, f"User does not exist or does not have Zoom Phone: {user.id}.")
    return ok(user.phone_record())


def _date_param(call: Call, name: str, default: datetime, end_of_day: bool) -> datetime:
    raw = call.query.get(name)
    if not raw:
        return default
    try:
        if "T" in raw:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise invalid_field(name, f"Invalid {name}: expected yyyy-mm-dd or yyyy-MM-ddTHH:mm:ssZ.") from None
    return day + timedelta(days=1, seconds=-1) if end_of_day else day


def h_call_history(call: Call) -> Response:
    now = call.account.now
    end = _date_param(call, "to", now, end_of_day=True)
    start = _date_param(call, "from", end - timedelta(days=1), end_of_day=False)
    if start > end:
        raise ZoomError(400, 300, "The from date must be before the to date.")
    if end - start > MAX_CALL_RANGE:
        raise ZoomError(400, 300, "The date range between from and to cannot exceed one month.")
    calls = call.account.calls_between(start, end)
    head = {"from": call.query.get("from") or start.date().isoformat(),
            "to": call.query.get("to") or end.date().isoformat()}
    return ok(paginate(call, calls, "call_logs", scope=f"{iso(start)}|{iso(end)}", head=head))


# -------------------------------------------------------------------------------------- meetings


def _optional_dates(call: Call) -> tuple[datetime | None, datetime | None]:
    """``from`` / ``to`` (dates, UTC) when given: the first second of ``from``, the last of ``to``."""
    far = datetime.max.replace(tzinfo=UTC)
    start = _date_param(call, "from", datetime.min.replace(tzinfo=UTC), end_of_day=False) if call.query.get("from") \
        else None
    end = _date_param(call, "to", far, end_of_day=True) if call.query.get("to") else None
    if start is not None and end is not None and start > end:
        raise ZoomError(400, 300, "The from date must be before the to date.")
    return start, end


def h_user_meetings(call: Call) -> Response:
    user = the_user(call)
    kind = call.query.get("type") or "scheduled"
    if kind not in MEETING_LIST_TYPES:
        raise invalid_field("type")
    listed: dict[str, Callable[[MeetingData], bool]] = {
        "scheduled": lambda m: True, "live": lambda m: False, "upcoming": lambda m: not m.past,
        "upcoming_meetings": lambda m: not m.past, "previous_meetings": lambda m: m.past}
    wanted = listed[kind]
    start, end = _optional_dates(call)  # the meetings whose start falls between them
    meetings = [m.list_record() for m in user.meetings if wanted(m)
                and (start is None or m.start >= start) and (end is None or m.start <= end)]
    if kind in ("scheduled", "upcoming", "upcoming_meetings"):
        meetings += call.emu.created.meetings_of(user.id)
    return ok(paginate(call, meetings, "meetings", scope=f"{kind}|{start}|{end}"))


def h_report_user_meetings(call: Call) -> Response:
    """``GET /report/users/{userId}/meetings?from&to&type``: the user's past meetings that started in the range.

    As Zoom's: ``from`` and ``to`` are required and at most a month apart, and only meetings with two
    or more unique participants are reported.
    """
    user = the_user(call)
    if not call.query.get("from") or not call.query.get("to"):
        raise invalid_field("from" if not call.query.get("from") else "to", "This field is required.")
    start, end = _optional_dates(call)
    assert start is not None and end is not None
    if end - start > MAX_CALL_RANGE:
        raise ZoomError(400, 300, "The date range between from and to cannot exceed one month.")
    kind = call.query.get("type") or "past"
    if kind not in ("past", "pastOne", "pastJoined"):
        raise invalid_field("type")
    meetings = [m.report_list_item() for m in user.meetings
                if m.past and start <= m.actual_start <= end and m.unique_participants >= 2]
    meetings.sort(key=lambda r: r["start_time"])
    head = {"from": call.query["from"], "to": call.query["to"]}
    return ok(paginate(call, meetings, "meetings", scope=f"{kind}|{iso(start)}|{iso(end)}", head=head))


def h_meeting(call: Call) -> Response:
    created = call.emu.created.meeting(path_value(call, "meetingId"))
    return ok(created if created is not None else the_meeting(call).record())


def h_create_meeting(call: Call) -> Response:
    user = the_user(call)
    body = call.json_object()
    if not call.emu.user_writes.take(user.id):
        raise user_write_limited(call.emu.user_writes.limit, "Meeting")
    return ok(call.emu.created.create_meeting(user, body, call.account.now), status=201)


def h_create_webinar(call: Call) -> Response:
    user = the_user(call)
    body = call.json_object()
    if not call.emu.user_writes.take(user.id):
        raise user_write_limited(call.emu.user_writes.limit, "Webinar")
    return ok(call.emu.created.create_webinar(user, body, call.account.now), status=201)


def h_past_meeting(call: Call) -> Response:
    return ok(the_past_meeting(call).past_record())


def h_past_meeting_instances(call: Call) -> Response:
    if call.emu.created.meeting(path_value(call, "meetingId")) is not None:
        return ok({"meetings": []})  # not held yet
    meeting = the_meeting(call)
    instances = [{"uuid": meeting.uuid, "start_time": iso(meeting.actual_start)}] if meeting.past else []
    return ok({"meetings": instances})


def h_past_meeting_participants(call: Call) -> Response:
    return ok(paginate(call, the_past_meeting(call).participants, "participants"))


def h_user_recordings(call: Call) -> Response:
    """A user's cloud recordings whose meeting started between ``from`` and ``to`` (both default today)."""
    user = the_user(call)
    today = call.account.now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = _date_param(call, "from", today, end_of_day=False)
    end = _date_param(call, "to", today + timedelta(days=1, seconds=-1), end_of_day=True)
    if start > end:
        raise ZoomError(400, 300, "The from date must be before the to date.")
    if end - start > MAX_CALL_RANGE:
        raise ZoomError(400, 300, "The date range between from and to cannot exceed one month.")
    recorded = [m.recording_record() for m in user.meetings if m.recorded and start <= m.actual_start <= end]
    head = {"from": start.date().isoformat(), "to": end.date().isoformat()}
    return ok(paginate(call, recorded, "meetings", scope=f"{iso(start)}|{iso(end)}", head=head))


def h_meeting_recordings(call: Call) -> Response:
    meeting = the_meeting(call)
    if not meeting.recorded:
        raise ZoomError(404, 3301, "There is no recording for this meeting.")
    return ok(meeting.recording_record() | {"participant_audio_files": []})


def h_report_meeting(call: Call) -> Response:
    return ok(the_past_meeting(call).report_record())


def h_report_meeting_participants(call: Call) -> Response:
    return ok(paginate(call, the_past_meeting(call).report_participants(), "participants"))


# -------------------------------------------------------------------------------------- webinars


def h_user_webinars(call: Call) -> Response:
    user = the_user(call)
    webinars = [w.list_record() for w in user.webinars] + call.emu.created.webinars_of(user.id)
    return ok(paginate(call, webinars, "webinars"))


def h_webinar(call: Call) -> Response:
    created = call.emu.created.webinar(path_value(call, "webinarId"))
    return ok(created if created is not None else the_webinar(call).record())


def h_report_webinar(call: Call) -> Response:
    return ok(the_past_webinar(call).report_record())


def _with_registrant_ids(call: Call, rows: list[Record]) -> list[Record]:
    wanted = "registrant_id" in (call.query.get("include_fields") or "").split(",")
    return rows if wanted else [{k: v for k, v in row.items() if k != "registrant_id"} for row in rows]


def h_report_webinar_participants(call: Call) -> Response:
    rows = _with_registrant_ids(call, the_past_webinar(call).attendees)
    return ok(paginate(call, rows, "participants"))


def h_past_webinar_participants(call: Call) -> Response:
    keys = ("id", "user_id", "name", "user_email", "join_time", "leave_time", "duration", "failover", "status",
            "registrant_id")
    rows = [{k: row[k] for k in keys if row.get(k) not in (None, "") or k in ("id", "user_id", "name")}
            for row in the_past_webinar(call).attendees]  # a guest's empty e-mail is left out here
    return ok(paginate(call, rows, "participants"))


def h_past_webinar_instances(call: Call) -> Response:
    webinar = the_webinar(call)
    instances = [{"uuid": webinar.uuid, "start_time": iso(webinar.actual_start)}] if webinar.past else []
    return ok({"webinars": instances})


def h_panelists(call: Call) -> Response:
    panelists = the_webinar(call).panelists
    return ok({"total_records": len(panelists), "panelists": panelists})


def all_registrants(emu: Emulator, webinar: WebinarData) -> list[Record]:
    """Generated registrants, then the POSTed ones, each with its current status."""
    every = webinar.registrants + emu.registrations.of(webinar.id)
    return [r | {"status": emu.registrations.status_of(webinar.id, r)} for r in every]


def h_registrants(call: Call) -> Response:
    webinar = the_webinar(call)
    status = call.query.get("status") or "approved"
    if status not in REGISTRANT_STATUSES:
        raise invalid_field("status")
    registrants = [r for r in all_registrants(call.emu, webinar) if r["status"] == status]
    return ok(paginate(call, registrants, "registrants", scope=status))


REGISTRANT_LIMITS = {"first_name": 64, "last_name": 64, "email": 128}
REGISTRANT_TEXT_FIELDS = ("address", "city", "country", "zip", "state", "phone", "industry", "org", "job_title",
                          "purchasing_time_frame", "role_in_purchase_process", "no_of_employees", "comments")


def validate_registrant(body: dict[str, Any]) -> None:
    errors = []
    for name in ("first_name", "email"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            errors.append({"field": name, "message": "This field is required."})
    for name, limit in REGISTRANT_LIMITS.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors.append({"field": name, "message": f"Invalid field: at most {limit} characters."})
    email = body.get("email")
    if isinstance(email, str) and email.strip() and not _looks_like_email(email):
        errors.append({"field": "email", "message": "Invalid email address."})
    questions = body.get("custom_questions", [])
    if not isinstance(questions, list) or not all(isinstance(q, dict) for q in questions):
        errors.append({"field": "custom_questions", "message": "Invalid field."})
    if errors:
        raise ZoomError(400, 300, "Validation Failed.", errors)


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.strip().rpartition("@")
    return bool(at and local and "." in domain and " " not in value.strip())


def h_add_registrant(call: Call) -> Response:
    webinar = the_webinar(call)
    body = call.json_object()
    validate_registrant(body)
    if not webinar.registration_open:
        raise ZoomError(400, 3000, f"This webinar does not have registration as required: {webinar.id}.")
    email = body["email"].strip()
    if not call.emu.registrant_posts.take((webinar.id, email.lower())):
        raise registrant_limited(call.emu.registrant_posts.limit, email)
    registrant = next((r for r in webinar.registrants if r["email"].lower() == email.lower()), None)
    if registrant is None:
        registrant, created = call.emu.registrations.add(webinar.id, _new_registrant(call, webinar, body, email))
        if created:
            call.extra["registered"] = (webinar, registrant)
    if call.emu.registrations.status_of(webinar.id, registrant) == "cancelled":  # registering again revives them
        call.emu.registrations.set_status(webinar.id, email, "pending" if webinar.approval_type == 1 else "approved")
    return ok({"id": webinar.id, "join_url": registrant["join_url"], "registrant_id": registrant["id"],
               "start_time": iso(webinar.start), "topic": webinar.topic, "occurrences": []}, status=201)


def _new_registrant(call: Call, webinar: WebinarData, body: dict[str, Any], email: str) -> Record:
    rng = random.Random(f"{call.emu.config.seed}:posted:{webinar.id}:{email.lower()}")
    registrant_id = zoom_id(rng)
    record: Record = {"id": registrant_id, "first_name": body["first_name"].strip()}
    if body.get("last_name"):
        record["last_name"] = body["last_name"]
    record["email"] = email
    record |= {name: body[name] for name in REGISTRANT_TEXT_FIELDS if isinstance(body.get(name), str)}
    record["custom_questions"] = [{"title": str(q.get("title", "")), "value": str(q.get("value", ""))}
                                  for q in body.get("custom_questions", [])]
    record |= {"status": "pending" if webinar.approval_type == 1 else "approved",
               "create_time": iso(call.account.now), "join_url": f"{ZOOM_HOST}/w/{webinar.id}?tk={zoom_id(rng, 43)}"}
    return record


# ----------------------------------------------------------------------------------- API routes


API_ROUTES: list[tuple[str, Handler]] = [
    ("GET /users", h_users),
    ("GET /users/{userId}", h_user),
    ("GET /users/{userId}/settings", h_user_settings),
    ("GET /users/{userId}/meetings", h_user_meetings),
    ("POST /users/{userId}/meetings", h_create_meeting),
    ("GET /users/{userId}/webinars", h_user_webinars),
    ("POST /users/{userId}/webinars", h_create_webinar),
    ("GET /phone/users", h_phone_users),
    ("GET /phone/users/{userId}", h_phone_user),
    ("GET /phone/call_history", h_call_history),
    ("GET /meetings/{meetingId}", h_meeting),
    ("GET /past_meetings/{meetingId}", h_past_meeting),
    ("GET /past_meetings/{meetingId}/instances", h_past_meeting_instances),
    ("GET /past_meetings/{meetingId}/participants", h_past_meeting_participants),
    ("GET /report/meetings/{meetingId}", h_report_meeting),
    ("GET /report/users/{userId}/meetings", h_report_user_meetings),
    ("GET /report/meetings/{meetingId}/participants", h_report_meeting_participants),
    ("GET /users/{userId}/recordings", h_user_recordings),
    ("GET /meetings/{meetingId}/recordings", h_meeting_recordings),
    ("GET /webinars/{webinarId}", h_webinar),
    ("GET /webinars/{webinarId}/registrants", h_registrants),
    ("POST /webinars/{webinarId}/registrants", h_add_registrant),
    ("GET /webinars/{webinarId}/panelists", h_panelists),
    ("GET /report/webinars/{webinarId}", h_report_webinar),
    ("GET /report/webinars/{webinarId}/participants", h_report_webinar_participants),
    ("GET /past_webinars/{webinarId}/instances", h_past_webinar_instances),
    ("GET /past_webinars/{webinarId}/participants", h_past_webinar_participants),
]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _admit(emu: Emulator, request: Request, route: str) -> None:
    """Refuse the request before its handler runs: bad token, rate limits, injected failure."""
    if not emu.tokens.valid(_bearer(request)):
        raise ZoomError(401, 124, "Invalid access token.")
    category = emu.categories.get(route, "Light")
    if not emu.limiter.allow(category):
        raise qps_limited(category)
    if not emu.daily.take(category):
        raise daily_limited(category, emu.daily.limit, emu.daily.resets_at())
    status = emu.failures.draw()
    if status == 429:
        raise qps_limited(category)
    if status is not None:
        raise ZoomError(status, status, FAILURE_MESSAGES.get(status, "Internal error."))


def _daily_headers(emu: Emulator, route: str) -> dict[str, str]:
    """With a daily limit, every answer says where the label's count stands, as Zoom's do."""
    if emu.daily.limit <= 0:
        return {}
    category = emu.categories.get(route, "Light")
    return {"X-RateLimit-Category": category, "X-RateLimit-Limit": str(emu.daily.limit),
            "X-RateLimit-Remaining": str(emu.daily.remaining(category))}


async def _serve_api(request: Request, route: str, handler: Handler) -> Response:
    emu: Emulator = request.app.state.emulator
    call: Call | None = None
    if emu.config.latency_ms > 0:
        await asyncio.sleep(emu.config.latency_ms / 1000)
    try:
        _admit(emu, request, route)
        params = {k: str(v) for k, v in request.path_params.items()}
        call = Call(emu, route, params, dict(request.query_params), await request.body())
        response = await run_in_threadpool(handler, call)
    except ZoomError as exc:
        response = exc.response()
    for name, value in _daily_headers(emu, route).items():
        response.headers.setdefault(name, value)
    emu.stats.record(route, response.status_code)
    if call is not None and "registered" in call.extra and emu.webhooks and emu.config.webhook_on_registration:
        webinar, registrant = call.extra["registered"]
        emu.webhooks.submit(registration_event(emu.account, webinar, registrant))
    return response


def _api_route(name: str, handler: Handler) -> Route:
    method, path = name.split(" ", 1)

    async def endpoint(request: Request) -> Response:
        return await _serve_api(request, name, handler)

    return Route("/v2" + path, endpoint, methods=[method], name=name)


async def api_not_found(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    emu.stats.record("unknown", 404)
    return JSONResponse({"code": 404, "message": "Not Found"}, status_code=404)


# ------------------------------------------------------------------------------------------ OAuth


def oauth_error(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse({"reason": reason, "error": error}, status_code=status)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, client_secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, client_secret


def _token_response(request: Request, emu: Emulator, params: dict[str, str]) -> Response:
    config = emu.config
    credentials = _basic_credentials(request)
    if credentials is None or not (hmac.compare_digest(credentials[0], config.client_id)
                                   and hmac.compare_digest(credentials[1], config.client_secret)):
        return oauth_error(401, "invalid_client", "Invalid client_id or client_secret")
    if params.get("grant_type") != "account_credentials":
        return oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
    account_id = params.get("account_id", "")
    if not account_id:
        return oauth_error(400, "invalid_request", "Missing account_id")
    if not hmac.compare_digest(account_id, config.account_id):
        return oauth_error(400, "invalid_request", f"Invalid account_id: {account_id}")
    emu.stats.token_issued()
    return JSONResponse({"access_token": emu.tokens.issue(), "token_type": "bearer", "expires_in": config.token_ttl,
                         "scope": emu.scopes, "api_url": f"{request.url.scheme}://{request.url.netloc}"})


async def oauth_token(request: Request) -> Response:
    """``POST /oauth/token``: grant_type and account_id as query parameters or a form body."""
    emu: Emulator = request.app.state.emulator
    params = dict(request.query_params)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    params |= {key: values[0] for key, values in form.items() if values}
    response = _token_response(request, emu, params)
    emu.stats.record("POST /oauth/token", response.status_code)
    return response


# ------------------------------------------------------------------------------------------ hooks


def _emu(request: Request) -> Emulator:
    return request.app.state.emulator  # type: ignore[no-any-return]


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


async def hook_stats(request: Request) -> Response:
    return JSONResponse(_emu(request).stats.as_dict())


async def hook_account(request: Request) -> Response:
    account = _emu(request).account
    body = await run_in_threadpool(account_summary, account)
    return JSONResponse(body)


def account_summary(account: Account) -> Record:
    """Counts and ids of every entity, for tests that run the emulator in another process."""
    return {
        "seed": account.seed, "now": iso(account.now), "account_id": account.account_id, "counts": account.counts(),
        "user_ids": account.user_ids(), "phone_user_ids": account.phone_user_ids(),
        "meeting_ids": account.meeting_ids(), "past_meeting_ids": account.past_meeting_ids(),
        "webinar_ids": account.webinar_ids(), "registrant_ids": account.registrant_ids("approved"),
        "panelist_ids": account.panelist_ids(), "call_ids": account.call_ids(), "call_log_ids": account.call_log_ids(),
    }


async def hook_reset(request: Request) -> Response:
    _emu(request).reset()
    return JSONResponse({"reset": True})


async def hook_new_day(request: Request) -> Response:
    _emu(request).new_day()
    return JSONResponse({"new_day": True})


async def hook_expire_tokens(request: Request) -> Response:
    return JSONResponse({"expired": _emu(request).tokens.expire_all()})


async def hook_fail_next(request: Request) -> Response:
    body = await _json_body(request)
    status, count = body.get("status", 503), body.get("count", 1)
    if status not in (429, *FAILURE_MESSAGES) or not isinstance(count, int) or count < 0:
        return JSONResponse({"error": "expected {\"count\": n, \"status\": 429|500|502|503}"}, status_code=400)
    _emu(request).failures.force(status, count)
    return JSONResponse({"forced": status, "count": count})


async def hook_registrants(request: Request) -> Response:
    emu = _emu(request)
    webinar = emu.account.find_webinar(str(request.path_params["webinarId"]))
    if webinar is None:
        return webinar_not_found(str(request.path_params["webinarId"])).response()
    return JSONResponse({"webinar_id": webinar.id, "registrants": emu.registrations.of(webinar.id)})


async def hook_set_registrant_status(request: Request) -> Response:
    """``{"email", "status"}``: what a host's approval, denial or a registrant's cancellation leaves."""
    emu = _emu(request)
    webinar = emu.account.find_webinar(str(request.path_params["webinarId"]))
    if webinar is None:
        return webinar_not_found(str(request.path_params["webinarId"])).response()
    body = await _json_body(request)
    email, status = body.get("email"), body.get("status")
    if not isinstance(email, str) or status not in SETTABLE_STATUSES:
        return JSONResponse({"error": f"expected {{\"email\": ..., \"status\": one of {list(SETTABLE_STATUSES)}}}"},
                            status_code=400)
    emu.registrations.set_status(webinar.id, email, str(status))
    return JSONResponse({"webinar_id": webinar.id, "email": email, "status": status})


async def hook_webhooks_send(request: Request) -> Response:
    emu = _emu(request)
    if emu.webhooks is None:
        return JSONResponse({"error": "no webhook URL and secret configured"}, status_code=400)
    body = await _json_body(request)
    plan = _event_plan(body)
    if plan is None:
        return JSONResponse({"error": f"expected {{\"events\": [...]}} of {list(EVENT_KINDS)} or {{\"count\": n}}"},
                            status_code=400)
    sender = emu.webhooks
    deliveries = await run_in_threadpool(
        lambda: sender.send([build_event(emu.account, kind, index) for kind, index in plan], wait=10.0))
    return JSONResponse({"sent": [d.summary() for d in deliveries]})


def _event_plan(body: dict[str, Any]) -> list[tuple[str, int]] | None:
    if isinstance(body.get("count"), int) and body["count"] >= 0:
        return default_event_plan(body["count"])
    events = body.get("events")
    if not isinstance(events, list) or not all(e in EVENT_KINDS for e in events):
        return None
    seen: Counter[str] = Counter()
    plan = []
    for kind in events:
        plan.append((kind, seen[kind]))
        seen[kind] += 1
    return plan


async def hook_webhooks_validate(request: Request) -> Response:
    emu = _emu(request)
    if emu.webhooks is None:
        return JSONResponse({"error": "no webhook URL and secret configured"}, status_code=400)
    token = (await _json_body(request)).get("plainToken")
    outcome = await run_in_threadpool(emu.webhooks.validate_endpoint, token if isinstance(token, str) else None)
    return JSONResponse(outcome)


async def hook_webhooks(request: Request) -> Response:
    emu = _emu(request)
    deliveries = emu.webhooks.deliveries() if emu.webhooks else []
    return JSONResponse({"deliveries": [d.summary() for d in deliveries]})


def create_app(config: ZoomEmulatorConfig | None = None) -> Starlette:
    """The emulator as an ASGI app; ``app.state.emulator`` holds its state, ``app.state.account`` the data."""
    emu = Emulator(config or ZoomEmulatorConfig())
    routes: list[BaseRoute] = [
        Route("/oauth/token", oauth_token, methods=["POST"]),
        Route("/_emulator/stats", hook_stats, methods=["GET"]),
        Route("/_emulator/account", hook_account, methods=["GET"]),
        Route("/_emulator/reset", hook_reset, methods=["POST"]),
        Route("/_emulator/new-day", hook_new_day, methods=["POST"]),
        Route("/_emulator/expire-tokens", hook_expire_tokens, methods=["POST"]),
        Route("/_emulator/fail-next", hook_fail_next, methods=["POST"]),
        Route("/_emulator/registrants/{webinarId}", hook_registrants, methods=["GET"]),
        Route("/_emulator/registrants/{webinarId}", hook_set_registrant_status, methods=["POST"]),
        Route("/_emulator/webhooks/send", hook_webhooks_send, methods=["POST"]),
        Route("/_emulator/webhooks/validate", hook_webhooks_validate, methods=["POST"]),
        Route("/_emulator/webhooks", hook_webhooks, methods=["GET"]),
    ]
    routes += [_api_route(name, handler) for name, handler in API_ROUTES]
    routes.append(Route("/v2/{rest:path}", api_not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    app = Starlette(routes=routes, middleware=[Middleware(RawPathRouting)])
    app.router.redirect_slashes = False
    app.state.emulator = emu
    app.state.account = emu.account
    app.state.webhooks = emu.webhooks
    return app


def send_startup_events(app: Starlette, count: int) -> list[str]:
    """Queue ``count`` events of the default plan (what the CLI sends at start); their request ids."""
    emu: Emulator = app.state.emulator
    if emu.webhooks is None or count <= 0:
        return []
    events = [build_event(emu.account, kind, index) for kind, index in default_event_plan(count)]
    return [d.request_id for d in emu.webhooks.send(events, wait=None)]


def close_app(app: Starlette) -> None:
    """Stop the webhook sender thread, if any (call after the server stops)."""
    emu: Emulator = app.state.emulator
    if emu.webhooks is not None:
        emu.webhooks.close()
