"""Meetings and webinars created through the Zoom emulator's API, and the per-user limit on them.

``POST /users/{userId}/meetings`` and ``POST /users/{userId}/webinars`` answer Zoom's create
response (201) and keep the new meeting or webinar: ``GET /meetings/{meetingId}`` (or
``/webinars/{webinarId}``) reads it, and the host's list shows it. Zoom allows one user 100
meeting and webinar creations and updates a UTC day; past that the create answers 429 with the
message Zoom sends. Ids come from the account's id codec, at slots past every user's, so they
look like the account's own (11 digits, or above 2**53) and never meet one of them.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.emulators.zoom.data import ZOOM_HOST, Account, Record, UserData, iso, password, zoom_id
from engine.emulators.zoom.errors import ZoomError

USER_DAILY_WRITES = 100  # meeting and webinar creations and updates a day for one user
MEETING_TYPES = (1, 2, 3, 8, 10)
WEBINAR_TYPES = (5, 6, 9)
NO_WEBINAR_PLAN = ("Webinar plan is missing. You must subscribe to the webinar plan and enable webinars for this "
                   "user in order to perform this action.")


def _text(body: dict[str, Any], name: str, limit: int | None, errors: list[dict[str, str]]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or (limit is not None and len(value) > limit):
        errors.append({"field": name, "message": f"Invalid field: a string of at most {limit} characters."
                       if limit else "Invalid field."})
        return None
    return value


def _start(body: dict[str, Any], now: datetime, errors: list[dict[str, str]]) -> datetime:
    raw = body.get("start_time")
    if raw is None:
        return now + timedelta(days=1)
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        errors.append({"field": "start_time", "message": "Invalid field: expected yyyy-MM-ddTHH:mm:ssZ."})
        return now
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _checked(body: dict[str, Any], types: tuple[int, ...], default_type: int, topic_limit: int | None,
             now: datetime) -> tuple[int, str | None, str | None, str | None, int, datetime]:
    """The fields of a create body Zoom checks; raises 300 ``Validation Failed.`` with every problem."""
    errors: list[dict[str, str]] = []
    kind = body.get("type", default_type)
    if kind not in types or isinstance(kind, bool):
        errors.append({"field": "type", "message": f"Invalid field: one of {list(types)}."})
    topic = _text(body, "topic", topic_limit, errors)
    agenda = _text(body, "agenda", 2000, errors)
    secret = _text(body, "password", 10, errors)
    duration = body.get("duration", 60)
    if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
        errors.append({"field": "duration", "message": "Invalid field: a number of minutes."})
        duration = 60
    start = _start(body, now, errors)
    if errors:
        raise ZoomError(400, 300, "Validation Failed.", errors)
    return int(kind), topic, agenda, secret, duration, start


class Created:
    """What was created through the API, by id; thread-safe."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._lock = threading.Lock()
        self._meetings: dict[int, Record] = {}
        self._webinars: dict[int, Record] = {}

    def _next_id(self) -> tuple[int, random.Random]:
        number = len(self._meetings) + len(self._webinars)
        slot = self.account.users * self.account.slots_per_user + number
        return self.account.codec.encode(slot), random.Random(f"{self.account.seed}:created:{number}")

    def create_meeting(self, user: UserData, body: dict[str, Any], now: datetime) -> Record:
        """``POST /users/{userId}/meetings``: the 201 body; the meeting is kept."""
        kind, topic, agenda, secret, duration, start = _checked(body, MEETING_TYPES, 2, 200, now)
        with self._lock:
            meeting_id, rng = self._next_id()
            encrypted = zoom_id(rng, 32)
            record: Record = {
                "uuid": zoom_id(rng) + "==", "id": meeting_id, "host_id": user.id, "host_email": user.email,
                "assistant_id": "", "topic": topic or "Zoom meeting", "type": kind, "status": "waiting",
                "start_time": iso(start), "duration": duration, "timezone": str(body.get("timezone") or user.timezone),
                "agenda": agenda or "", "created_at": iso(now),
                "start_url": f"{ZOOM_HOST}/s/{meeting_id}?zak={zoom_id(rng, 43)}",
                "join_url": f"{ZOOM_HOST}/j/{meeting_id}?pwd={encrypted}",
                "password": secret if secret is not None else password(rng, 8),
                "h323_password": f"{rng.randrange(10**6):06d}",
                "encrypted_password": encrypted, "pre_schedule": False,
                "settings": {"host_video": False, "participant_video": False, "join_before_host": False,
                             "mute_upon_entry": False, "approval_type": 2, "audio": "voip", "auto_recording": "none",
                             "waiting_room": False},
            }
            record["pstn_password"] = record["h323_password"]
            self._meetings[meeting_id] = record
        created = {k: v for k, v in record.items() if k not in ("uuid", "host_id", "status")}  # the create schema's
        return created | {"creation_source": "open_api"}

    def create_webinar(self, user: UserData, body: dict[str, Any], now: datetime) -> Record:
        """``POST /users/{userId}/webinars``: the 201 body; the webinar is kept."""
        if not user.hosts_webinars:
            raise ZoomError(400, 200, NO_WEBINAR_PLAN)
        kind, topic, agenda, secret, duration, start = _checked(body, WEBINAR_TYPES, 5, None, now)
        with self._lock:
            webinar_id, rng = self._next_id()
            token = zoom_id(rng, 22)
            record: Record = {
                "uuid": zoom_id(rng) + "==", "id": webinar_id, "host_id": user.id, "host_email": user.email,
                "topic": topic or "Zoom webinar", "type": kind, "start_time": iso(start), "duration": duration,
                "timezone": str(body.get("timezone") or user.timezone), "agenda": agenda or "",
                "created_at": iso(now), "start_url": f"{ZOOM_HOST}/s/{webinar_id}?zak={zoom_id(rng, 43)}",
                "join_url": f"{ZOOM_HOST}/w/{webinar_id}?tk={token}",
                "password": secret if secret is not None else password(rng, 8),
                "h323_passcode": f"{rng.randrange(10**6):06d}", "encrypted_passcode": token, "is_simulive": False,
                "creation_source": "open_api",
                "settings": {"approval_type": 2, "registration_type": 1, "host_video": True, "panelists_video": True,
                             "practice_session": False, "audio": "both", "auto_recording": "none"},
            }
            self._webinars[webinar_id] = record
        return dict(record)

    def meeting(self, meeting_id: str) -> Record | None:
        """``GET /meetings/{meetingId}`` of a created meeting."""
        with self._lock:
            found = self._meetings.get(int(meeting_id)) if meeting_id.isdigit() else None
            return None if found is None else {k: v for k, v in found.items() if k != "creation_source"}

    def webinar(self, webinar_id: str) -> Record | None:
        with self._lock:
            return dict(self._webinars[int(webinar_id)]) if webinar_id.isdigit() and int(webinar_id) in (
                self._webinars) else None

    def meetings_of(self, user_id: str) -> list[Record]:
        """The items of the host's ``GET /users/{userId}/meetings`` (created meetings are upcoming)."""
        keys = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda",
                "created_at", "join_url")
        with self._lock:
            return [{k: m[k] for k in keys} for m in self._meetings.values() if m["host_id"] == user_id]

    def webinars_of(self, user_id: str) -> list[Record]:
        keys = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda",
                "created_at", "join_url", "is_simulive")
        with self._lock:
            return [{k: w[k] for k in keys} for w in self._webinars.values() if w["host_id"] == user_id]

    def reset(self) -> None:
        with self._lock:
            self._meetings.clear()
            self._webinars.clear()
