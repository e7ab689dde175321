"""The deterministic synthetic Zoom account the Zoom emulator serves.

Everything derives from ``(users, seed, now)``: the same three give byte-identical records. Records
are built lazily, one user at a time, and kept, so a 1000-user account costs nothing until asked.

    account = Account(users=10, seed=1, now=datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    account.user_ids()          # GET /users order
    account.counts()            # how many records of each entity the account holds

Layout of one user (``u`` is the user's 0-based index):

- meetings: ``2 + u % 3`` of them; all but the last have taken place (past meetings with
  participants and a report), the last is upcoming (``GET /past_meetings`` answers 404, code 3001);
  a past meeting whose slot is not ``2 mod 3`` was cloud-recorded: a video, an audio file, and every
  other one a transcript and a chat file (``GET /users/{userId}/recordings``); an even slot's
  recording is passcode-protected, its play links carrying ``?pwd=``;
- Zoom Phone for every user but those with ``u % 7 == 3`` (``GET /phone/users/{id}`` answers 404),
  with 3 to 6 calls each in the 30 days before ``now``; each call has one call log, whose ``id`` (a
  call log UUID) differs from its ``call_id`` (19 digits, the key the call events carry too);
- webinars for users with ``u % 3 == 0``: one past (report, attendees) and one upcoming, with
  ``settings.approval_type`` cycling 0, 1, 2 over the account (2: no registration, no registrants).

``Sizes`` overrides those counts for a larger (or smaller) account: every user then has exactly
``meetings_per_user`` meetings, ``calls_per_user`` calls (phone users only), ``webinars_per_user``
webinars (every user, not only every third; all but the last have taken place), webinars open to
registration have ``registrants_per_webinar`` registrants, and past webinars report
``attendees_per_webinar`` attendees (a rejoin adds a row in every fourth). A size left ``None`` keeps
the layout above, so the default account is byte-identical whatever ``Sizes`` does not set.

Meeting and webinar ids come from a seeded bijection of a slot number (``8 * u + slot``), so an id
decodes back to its owner without an index; a fifth of them are above 2**53 (precision matters).
Meeting UUIDs sometimes begin with ``/`` or contain ``//`` (they must be double URL-encoded).
"""

from __future__ import annotations

import base64
import math
import random
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

Record = dict[str, Any]

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SLOTS_PER_USER = 8
FIRST_WEBINAR_SLOT = 4
CALL_WINDOW_DAYS = 30
PARTICIPANT_ID_BASE = 16778240
ZOOM_HOST = "https://us06web.zoom.us"

FIRST_NAMES = ("Amélie", "Zoë", "José", "Łukasz", "Søren", "Björk", "François", "Aoife", "Chloé", "Mateo",
               "Priya", "Hana", "Siobhán", "Yūki", "Ana", "Olúwaseun", "Jürgen", "Élodie", "Raúl", "Dmitri",
               "Mei", "Omar", "Inès", "Noah", "Emma", "Liam", "Sofía", "Ahmed", "Grace", "娜")
LAST_NAMES = ("Müller", "Dvořák", "García", "O'Brien", "Nakamura", "Kowalski", "Ødegaard", "Smith", "Johnson",
              "Lefèvre", "Núñez", "Nguyen", "Rossi", "Schäfer", "Haddad", "Okafor", "Petrov", "Martín", "Chen",
              "Singh", "Brown", "Lindqvist", "Żak", "van der Berg", "da Silva", "Fernández", "Kim", "Ivanova",
              "Wójcik", "李")
GUEST_NAMES = ("iPhone de Marie", "Guest", "Galaxy S23", "Invité", "Conference Room 4B", "Gast 2")
TIMEZONES = ("America/Los_Angeles", "America/New_York", "Europe/Paris", "Europe/Berlin", "Asia/Tokyo",
             "Australia/Sydney", "America/Sao_Paulo", "Europe/London", "Asia/Kolkata", "Africa/Lagos")
MEETING_TOPICS = ("Weekly sync", "Quarterly business review", "Onboarding – session 1", "1:1", "Design review",
                  "Réunion d’équipe", "Kundentermin", "Sprint planning", "Customer call: ACME ✔", "Retro")
WEBINAR_TOPICS = ("Product launch 2025", "Webinaire : nouveautés", "Zoom tips & tricks", "Customer success stories",
                  "Security deep-dive", "Einführung in die Plattform", "Roadmap Q&A", "Partner summit — keynote")
ORGS = ("ACME Corp", "Globex", "Initech", "Umbrella GmbH", "Société Générale d’Essai", "Stark Industries", "")
JOB_TITLES = ("Engineer", "VP Sales", "Directrice marketing", "CTO", "Student", "")
DOMAINS = ("example.com", "example.org", "example.net")
LICENSES = (("ZOOM_WHITEBOARD", 2), ("ZOOM_SCHEDULER", 2199023255552), ("ZOOM_DOCS", 281474976710656),
            ("ZOOM_CLIPS", 1), ("ZOOM_TRANSLATED_CAPTIONS", 2048))
INBOUND_RESULTS = ("answered", "answered", "answered", "no_answer", "voicemail", "hang_up")
OUTBOUND_RESULTS = ("connected", "connected", "connected", "no_answer", "hang_up")
AREA_CODES = ("206", "415", "212", "312", "617", "303")
FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "Æ": "Ae", "æ": "ae", "Đ": "D", "đ": "d"})


# ------------------------------------------------------------------------------------ primitives


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator seeded from text: the same parts give the same draws on every run and platform."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def zoom_id(rng: random.Random, length: int = 22) -> str:
    raw = rng.getrandbits(6 * length).to_bytes((6 * length + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode()[:length]


def meeting_uuid(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(16)).decode()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def default_now() -> datetime:
    """The current UTC time truncated to the minute."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def slug(text: str) -> str:
    """The ASCII letters and digits of a name, for an e-mail address: ``Łukasz`` gives ``lukasz``."""
    folded = unicodedata.normalize("NFKD", text.translate(FOLD)).encode("ascii", "ignore").decode()
    ascii_text = folded
    return "".join(c for c in ascii_text.lower() if c.isalnum())


def digits(rng: random.Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"


def password(rng: random.Random, length: int) -> str:
    return "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789@*_", k=length))


class AffineCode:
    """A bijection between slot numbers and ids in ``[base, base + span)``: ``base + (a*s + b) % span``."""

    def __init__(self, base: int, span: int, rng: random.Random) -> None:
        self.base, self.span = base, span
        multiplier = rng.randrange(span // 3, span) | 1
        while math.gcd(multiplier, span) != 1:
            multiplier += 2
        self.multiplier, self.offset = multiplier, rng.randrange(span)
        self.inverse = pow(multiplier, -1, span)

    def encode(self, slot: int) -> int:
        return self.base + (self.multiplier * slot + self.offset) % self.span

    def decode(self, value: int) -> int | None:
        if not self.base <= value < self.base + self.span:
            return None
        return ((value - self.base - self.offset) * self.inverse) % self.span


class IdCodec:
    """Meeting and webinar ids: 11 digits, or above 2**53 for every slot with ``slot % 5 == 3``."""

    SMALL = (10**10, 9 * 10**10)
    BIG = (2**53 + 1, 2**63 - 2**53 - 2)

    def __init__(self, seed: int) -> None:
        rng = rng_for(seed, "meeting-ids")
        self.small = AffineCode(*self.SMALL, rng)
        self.big = AffineCode(*self.BIG, rng)

    @staticmethod
    def is_big(slot: int) -> bool:
        return slot % 5 == 3

    def encode(self, slot: int) -> int:
        return (self.big if self.is_big(slot) else self.small).encode(slot)

    def decode(self, value: int) -> int | None:
        big = value >= self.BIG[0]
        slot = (self.big if big else self.small).decode(value)
        return slot if slot is not None and self.is_big(slot) == big else None


@dataclass(frozen=True)
class Sizes:
    """How large the account is; ``None`` keeps the default layout of that part (see the module doc)."""

    meetings_per_user: int | None = None
    calls_per_user: int | None = None
    webinars_per_user: int | None = None
    registrants_per_webinar: int | None = None
    attendees_per_webinar: int | None = None

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative")


@dataclass(frozen=True)
class Person:
    """Someone outside the account: a registrant, an external participant, the other end of a call."""

    index: int
    first_name: str
    last_name: str
    email: str
    org: str
    job_title: str
    phone: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def make_person(seed: int, index: int) -> Person:
    rng = rng_for(seed, "person", index)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if index % 11 == 5:
        last = ""  # messy but valid: no last name
    local = ".".join(part for part in (slug(first), slug(last)) if part) or "guest"
    email = f"{local}.{index + 1}@{rng.choice(DOMAINS)}"
    phone = f"+1{rng.choice(AREA_CODES)}555{rng.randrange(2000, 9999):04d}"
    return Person(index, first, last, email, rng.choice(ORGS), rng.choice(JOB_TITLES), phone)


# ------------------------------------------------------------------------------------------ users


class UserData:
    """One user of the account and everything they own; records are built on first use."""

    def __init__(self, account: Account, index: int) -> None:
        self.account = account
        self.index = index
        rng = rng_for(account.seed, "user", index)
        self.id = zoom_id(rng)
        self.first_name, self.last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = ".".join(part for part in (slug(self.first_name), slug(self.last_name)) if part) or "user"
        self.email = f"{local}.{index + 1}@example.com"
        self.pmi = int("8" + digits(rng, 9))
        self.timezone = TIMEZONES[index % len(TIMEZONES)]
        self.type = 1 if index % 9 == 8 else 2
        self.has_phone = index % 7 != 3
        self.hosts_webinars = index % 3 == 0 if account.sizes.webinars_per_user is None else (
            account.sizes.webinars_per_user > 0)
        self.created_at = account.now - timedelta(days=200 + rng.randrange(600), minutes=rng.randrange(1440))
        self.pmi_password = "" if index % 5 == 4 else password(rng, 6 + index % 5)
        self.phone_user_id = zoom_id(rng)
        self.extension_id = zoom_id(rng)
        self.extension_number = 1001 + index
        self.did_number = f"+1{AREA_CODES[index % len(AREA_CODES)]}555{1000 + index:04d}"
        self.licenses = [LICENSES[(index + k) % len(LICENSES)] for k in range(index % 3)]

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def meeting_count(self) -> int:
        sized = self.account.sizes.meetings_per_user
        return 2 + self.index % 3 if sized is None else sized

    @property
    def webinar_count(self) -> int:
        sized = self.account.sizes.webinars_per_user
        return (2 if self.hosts_webinars else 0) if sized is None else sized

    def slot(self, local: int) -> int:
        return self.account.slots_per_user * self.index + local

    @cached_property
    def meetings(self) -> list[MeetingData]:
        return [MeetingData(self, local) for local in range(self.meeting_count)]

    @cached_property
    def webinars(self) -> list[WebinarData]:
        first = self.account.first_webinar_slot
        return [WebinarData(self, first + k) for k in range(self.webinar_count)]

    @cached_property
    def calls(self) -> list[Record]:
        if not self.has_phone:
            return []
        rng = rng_for(self.account.seed, "calls", self.index)
        count = 3 + rng.randrange(4)
        sized = self.account.sizes.calls_per_user
        return [build_call(self, rng, k) for k in range(count if sized is None else sized)]

    # -- records

    def list_record(self) -> Record:
        """An item of ``GET /users``."""
        return {
            "id": self.id, "first_name": self.first_name, "last_name": self.last_name,
            "display_name": self.display_name, "email": self.email, "type": self.type, "pmi": self.pmi,
            "timezone": self.timezone, "verified": 1, "dept": "", "created_at": iso(self.created_at),
            "user_created_at": iso(self.created_at), "last_login_time": iso(self.account.now - timedelta(hours=3)),
            "last_client_version": "6.3.1.43637(mac)", "status": "active",
            "role_id": "0" if self.index == 0 else "2",
        }

    def record(self) -> Record:
        """``GET /users/{userId}``."""
        return self.list_record() | {
            "account_id": self.account.account_id, "account_number": 1047856321, "cluster": "us06",
            "role_name": "Owner" if self.index == 0 else "Member", "use_pmi": False, "language": "en-US",
            "personal_meeting_url": f"{ZOOM_HOST}/j/{self.pmi}", "vanity_url": "",
            "jid": f"{self.id.lower()}@xmpp.zoom.us",
            "job_title": "", "company": "Zoomforce Demo", "location": "", "phone_number": "",
            "login_types": [100], "pic_url": "", "group_ids": [], "im_group_ids": [],
        }

    def settings(self, option: str | None = None) -> Record:
        """``GET /users/{userId}/settings``; ``option`` picks one of Zoom's four shapes."""
        if option == "meeting_security":
            return {"meeting_security": {"auto_security": True, "waiting_room": self.index % 2 == 0,
                                         "meeting_password": True, "pmi_password": bool(self.pmi_password),
                                         "phone_password": False, "embed_password_in_join_link": True,
                                         "require_password_for_scheduled_meeting": True,
                                         "require_password_for_scheduled_webinar": True,
                                         "encryption_type": "enhanced_encryption",
                                         "end_to_end_encrypted_meetings": False}}
        if option in ("meeting_authentication", "recording_authentication"):
            return {option: False, "authentication_options": []}
        return {"schedule_meeting": self._schedule_meeting(), "feature": self._feature()}

    def _schedule_meeting(self) -> Record:
        return {
            "host_video": self.index % 2 == 0, "participants_video": False, "audio_type": "both",
            "join_before_host": False, "force_pmi_jbh_password": False, "pstn_password_protected": False,
            "use_pmi_for_scheduled_meetings": False, "use_pmi_for_instant_meetings": False,
            "personal_meeting": True, "embed_password_in_join_link": True,
            "require_password_for_scheduling_new_meetings": True, "require_password_for_scheduled_meetings": True,
            "require_password_for_instant_meetings": True,
            "require_password_for_pmi_meetings": ("all", "jbh_only")[self.index % 2] if self.pmi_password else "none",
            "pmi_password": self.pmi_password, "default_password_for_scheduled_meetings": "",
            "meeting_password_requirement": {"length": 6, "have_letter": False, "have_number": False,
                                             "have_special_character": False, "only_allow_numeric": False,
                                             "have_upper_and_lower_characters": False,
                                             "consecutive_characters_length": 0, "weak_enhance_detection": False},
        }

    def _feature(self) -> Record:
        feature: Record = {"meeting_capacity": 100, "large_meeting": self.index % 4 == 1,
                           "webinar": self.hosts_webinars, "zoom_phone": self.has_phone, "cn_meeting": False,
                           "in_meeting": False, "concurrent_meeting": "Basic" if self.index == 0 else "None",
                           "zoom_events": False, "zoom_whiteboard": True}
        if feature["large_meeting"]:
            feature["large_meeting_capacity"] = 500
        if self.hosts_webinars:
            feature["webinar_capacity"] = 500
        subscription = f"sub-{self.account.seed}-{self.index}"
        feature["license_info_list"] = [{"license_type": kind, "license_option": option,
                                         "subscription_id": subscription} for kind, option in self.licenses]
        return feature

    def phone_list_record(self) -> Record:
        """An item of ``GET /phone/users``."""
        return {
            "id": self.id, "phone_user_id": self.phone_user_id, "name": self.display_name, "email": self.email,
            "extension_id": self.extension_id, "extension_number": self.extension_number,
            "phone_numbers": [{"id": f"PN{self.phone_user_id[:20]}", "number": self.did_number}],
            "site": {"id": self.account.site_id, "name": "Main Site"}, "status": "activate",
            "calling_plans": [{"type": 200, "name": "US/CA Unlimited Calling Plan"}],
            "department": "", "cost_center": "",
        }

    def phone_record(self) -> Record:
        """``GET /phone/users/{userId}``."""
        return {
            "id": self.id, "phone_user_id": self.phone_user_id, "email": self.email,
            "extension_id": self.extension_id, "extension_number": self.extension_number,
            "phone_numbers": [{"id": f"PN{self.phone_user_id[:20]}", "number": self.did_number}],
            "site_id": self.account.site_id, "site_admin": False, "status": "activate",
            "calling_plans": [{"type": 200}], "department": "", "cost_center": "",
        }


# --------------------------------------------------------------------------------------- meetings


class MeetingData:
    """One scheduled meeting; the last of a user's meetings has not happened yet."""

    def __init__(self, host: UserData, local: int) -> None:
        account = host.account
        self.host, self.local = host, local
        self.slot = host.slot(local)
        self.id = account.codec.encode(self.slot)
        rng = rng_for(account.seed, "meeting", self.slot)
        self.uuid = _shaped_uuid(meeting_uuid(rng), self.slot)
        self.topic = MEETING_TOPICS[(host.index + local) % len(MEETING_TOPICS)]
        self.past = local < host.meeting_count - 1
        self.duration = (30, 45, 60, 90)[rng.randrange(4)]
        if self.past:
            days_ago = 3 * local + 1 + rng.randrange(3)
            start = account.now.replace(hour=8 + rng.randrange(9), minute=0) - timedelta(days=days_ago)
        else:
            start = account.now.replace(minute=0) + timedelta(days=1 + rng.randrange(14), hours=rng.randrange(8))
        self.start = start
        self.created = min(start, account.now) - timedelta(days=1 + rng.randrange(20), minutes=rng.randrange(600))
        self.actual_start = start + timedelta(minutes=rng.randrange(6), seconds=rng.randrange(60))
        self.actual_end = self.actual_start + timedelta(minutes=self.duration + rng.randrange(-10, 16),
                                                        seconds=rng.randrange(60))
        self.password = password(rng, 6 + rng.randrange(5))
        self.encrypted = zoom_id(rng, 32)
        self.zak = zoom_id(rng, 43)
        self.h323 = digits(rng, 6)
        self.participant_seed = rng.getrandbits(64)

    def list_record(self) -> Record:
        """An item of ``GET /users/{userId}/meetings``."""
        return {
            "uuid": self.uuid, "id": self.id, "host_id": self.host.id, "topic": self.topic, "type": 2,
            "start_time": iso(self.start), "duration": self.duration, "timezone": self.host.timezone,
            "agenda": self.agenda, "created_at": iso(self.created), "join_url": self.join_url,
        }

    @property
    def agenda(self) -> str:
        return "" if self.local % 2 else f"{self.topic}: agenda, notes and next steps."

    @property
    def join_url(self) -> str:
        return f"{ZOOM_HOST}/j/{self.id}?pwd={self.encrypted}"

    def record(self) -> Record:
        """``GET /meetings/{meetingId}``."""
        return {
            "uuid": self.uuid, "id": self.id, "host_id": self.host.id, "host_email": self.host.email,
            "assistant_id": "", "topic": self.topic, "type": 2, "status": "waiting",
            "start_time": iso(self.start), "duration": self.duration, "timezone": self.host.timezone,
            "agenda": self.agenda, "created_at": iso(self.created),
            "start_url": f"{ZOOM_HOST}/s/{self.id}?zak={self.zak}", "join_url": self.join_url,
            "password": self.password, "h323_password": self.h323, "pstn_password": self.h323,
            "encrypted_password": self.encrypted, "pre_schedule": False,
            "settings": {"host_video": self.host.index % 2 == 0, "participant_video": False,
                         "join_before_host": False, "mute_upon_entry": True, "watermark": False,
                         "use_pmi": False, "approval_type": 2, "audio": "voip", "auto_recording": "none",
                         "waiting_room": self.local % 2 == 0, "meeting_authentication": False,
                         "encryption_type": "enhanced_encryption", "jbh_time": 0},
        }

    def past_record(self) -> Record:
        """``GET /past_meetings/{meetingId}``."""
        rows = self.participants
        return {
            "uuid": self.uuid, "id": self.id, "host_id": self.host.id, "type": 2, "topic": self.topic,
            "user_name": self.host.display_name, "user_email": self.host.email,
            "start_time": iso(self.actual_start), "end_time": iso(self.actual_end),
            "duration": self.actual_minutes, "total_minutes": sum(r["duration"] for r in rows) // 60,
            "participants_count": len(rows), "dept": "", "source": "Zoom",
        }

    @property
    def actual_minutes(self) -> int:
        return round((self.actual_end - self.actual_start).total_seconds() / 60)

    @property
    def unique_participants(self) -> int:
        return len({(row["id"] or row["name"]) for row in self.participants})

    def report_record(self) -> Record:
        """``GET /report/meetings/{meetingId}`` (and an item of ``GET /report/users/{userId}/meetings``)."""
        past = self.past_record()
        return {key: past[key] for key in ("uuid", "id", "type", "topic", "user_name", "user_email",
                                           "start_time", "end_time", "duration", "total_minutes",
                                           "participants_count", "dept")} | {"custom_keys": [], "tracking_fields": []}

    def report_list_item(self) -> Record:
        """An item of ``GET /report/users/{userId}/meetings``: the report without what only the single one has."""
        return {k: v for k, v in self.report_record().items() if k not in ("dept", "tracking_fields")}

    @cached_property
    def participants(self) -> list[Record]:
        """The rows of ``GET /past_meetings/{meetingId}/participants`` (a rejoin is a new row)."""
        if not self.past:
            return []
        return participant_rows(self, random.Random(self.participant_seed))

    def report_participants(self) -> list[Record]:
        return [report_row(row) for row in self.participants]

    @property
    def recorded(self) -> bool:
        return self.past and self.slot % 3 != 2

    @cached_property
    def recording_files(self) -> list[Record]:
        """The files of the meeting's cloud recording (none when it was not recorded)."""
        if not self.recorded:
            return []
        rng = rng_for(self.host.account.seed, "recording", self.slot)
        passcode = f"?pwd={zoom_id(rng, 32)}" if self.slot % 2 == 0 else ""
        start = self.actual_start + timedelta(seconds=5 + rng.randrange(60))
        end = self.actual_end - timedelta(seconds=rng.randrange(30))
        kinds = [("MP4", "MP4", "shared_screen_with_speaker_view"), ("M4A", "M4A", "audio_only")]
        if self.slot % 2:
            kinds += [("TRANSCRIPT", "VTT", "audio_transcript"), ("CHAT", "TXT", "chat_file")]
        files = []
        for file_type, extension, recording_type in kinds:
            token = zoom_id(rng, 64)
            record: Record = {
                "id": str(uuid.UUID(int=rng.getrandbits(128))), "meeting_id": self.uuid,
                "recording_start": iso(start), "recording_end": iso(end), "file_type": file_type,
                "file_extension": extension, "file_size": float(1024 * (50 + rng.randrange(90_000))),
                "download_url": f"{ZOOM_HOST}/rec/download/{token}", "status": "completed",
                "recording_type": recording_type,
            }
            if file_type in ("MP4", "M4A"):
                record["play_url"] = f"{ZOOM_HOST}/rec/play/{token}{passcode}"
            files.append(record)
        return files

    def recording_record(self) -> Record:
        """An item of ``GET /users/{userId}/recordings``: the recorded meeting with its files."""
        files = self.recording_files
        return {
            "uuid": self.uuid, "id": self.id, "account_id": self.host.account.account_id,
            "host_id": self.host.id, "topic": self.topic, "type": "2", "start_time": iso(self.actual_start),
            "duration": self.actual_minutes, "total_size": int(sum(f["file_size"] for f in files)),
            "recording_count": len(files), "recording_files": files,
        }


def _shaped_uuid(uuid: str, slot: int) -> str:
    """Force the UUID shapes that need double URL-encoding onto some slots."""
    if slot % 7 == 1:
        return "/" + uuid[1:]
    if slot % 7 == 4:
        return uuid[:5] + "//" + uuid[7:]
    return uuid


def participant_rows(meeting: MeetingData, rng: random.Random) -> list[Record]:
    account, host = meeting.host.account, meeting.host
    people: list[tuple[str, str, str, bool]] = [(host.id, host.display_name, host.email, True)]
    for k in range(min(1 + rng.randrange(2), account.users - 1)):
        colleague = account.user_at((host.index + 1 + k) % account.users)
        people.append((colleague.id, colleague.display_name, colleague.email, True))
    for _ in range(1 + rng.randrange(2)):
        person = account.person(rng.randrange(account.person_pool))
        logged_in = rng.random() < 0.5
        people.append((zoom_id(rng) if logged_in else "", person.name, person.email, False))
    if meeting.slot % 2 == 0:
        people.append(("", rng.choice(GUEST_NAMES), "", False))  # a guest: no e-mail, no id
    if rng.random() < 0.5:
        people.append(people[0])  # the host dropped and rejoined
    return [_participant_row(meeting, rng, k, person) for k, person in enumerate(people)]


def _participant_row(meeting: MeetingData, rng: random.Random, k: int, person: tuple[str, str, str, bool]) -> Record:
    user_id, name, email, internal = person
    span = int((meeting.actual_end - meeting.actual_start).total_seconds())
    join = meeting.actual_start + timedelta(seconds=rng.randrange(max(span // 4, 1)))
    leave = min(join + timedelta(seconds=60 + rng.randrange(max(span, 61))), meeting.actual_end)
    return {
        "id": user_id, "user_id": participant_user_id(meeting.slot, k, meeting.host.account.participant_stride),
        "name": name, "user_email": email,
        "join_time": iso(join), "leave_time": iso(leave), "duration": int((leave - join).total_seconds()),
        "failover": False, "status": "in_meeting", "internal_user": internal,
    }


def participant_user_id(slot: int, k: int, stride: int = 64) -> str:
    """Zoom's per-join participant id; unique over the whole account here (Zoom reuses them across meetings):
    ``stride`` is more than the rows any one meeting or webinar has."""
    return str(PARTICIPANT_ID_BASE + 1024 * (stride * slot + k))


def report_row(row: Record) -> Record:
    """A participant as the report endpoints show it."""
    out = {key: value for key, value in row.items() if key != "internal_user"}
    return out | {"participant_user_id": row["id"], "customer_key": "", "bo_mtg_id": ""}


# --------------------------------------------------------------------------------------- webinars


class WebinarData:
    """One webinar; the first a host holds has taken place, the second is upcoming."""

    def __init__(self, host: UserData, local: int) -> None:
        account = host.account
        self.host, self.local = host, local
        self.slot = host.slot(local)
        self.id = account.codec.encode(self.slot)
        k = local - account.first_webinar_slot
        hosts_before = host.index // 3 if account.sizes.webinars_per_user is None else host.index
        self.ordinal = hosts_before * host.webinar_count + k  # 0, 1, 2... over the account
        rng = rng_for(account.seed, "webinar", self.slot)
        self.attendee_seed = rng.getrandbits(64)
        self.uuid = meeting_uuid(rng)
        self.topic = WEBINAR_TOPICS[self.ordinal % len(WEBINAR_TOPICS)]
        self.approval_type = self.ordinal % 3
        self.past = k == 0 if account.sizes.webinars_per_user is None else k < host.webinar_count - 1
        self.duration = (60, 90, 45)[self.ordinal % 3]
        offset = timedelta(days=2 + rng.randrange(18), hours=rng.randrange(6))
        base = account.now.replace(hour=15, minute=0)
        self.start = base - offset if self.past else base + offset + timedelta(days=1)
        self.created = min(self.start, account.now) - timedelta(days=10 + rng.randrange(20))
        self.actual_start = self.start + timedelta(minutes=rng.randrange(4))
        self.actual_end = self.actual_start + timedelta(minutes=self.duration + rng.randrange(-5, 20))
        self.password = password(rng, 6 + rng.randrange(5))
        self.zak = zoom_id(rng, 43)
        self.registration_token = zoom_id(rng, 22)
        self.h323 = digits(rng, 6)

    @property
    def registration_open(self) -> bool:
        return self.approval_type != 2

    @property
    def join_url(self) -> str:
        return f"{ZOOM_HOST}/w/{self.id}?tk={self.registration_token}"

    @property
    def registration_url(self) -> str | None:
        """The registration page, when registration is on; sent in ``webinar.updated``, not by REST."""
        return f"{ZOOM_HOST}/webinar/register/WN_{self.registration_token}" if self.registration_open else None

    def list_record(self) -> Record:
        """An item of ``GET /users/{userId}/webinars``."""
        return {
            "uuid": self.uuid, "id": self.id, "host_id": self.host.id, "topic": self.topic, "type": 5,
            "start_time": iso(self.start), "duration": self.duration, "timezone": self.host.timezone,
            "agenda": self.agenda, "created_at": iso(self.created), "join_url": self.join_url, "is_simulive": False,
        }

    @property
    def agenda(self) -> str:
        return f"{self.topic} — what is new, a live demo and your questions."

    def record(self) -> Record:
        """``GET /webinars/{webinarId}``: no ``registration_url``, which no webinar REST schema lists."""
        out: Record = {
            "uuid": self.uuid, "id": self.id, "host_id": self.host.id, "host_email": self.host.email,
            "topic": self.topic, "type": 5, "start_time": iso(self.start), "duration": self.duration,
            "timezone": self.host.timezone, "agenda": self.agenda, "created_at": iso(self.created),
            "start_url": f"{ZOOM_HOST}/s/{self.id}?zak={self.zak}", "join_url": self.join_url,
            "password": self.password, "h323_passcode": self.h323,
            "encrypted_passcode": self.registration_token, "is_simulive": False, "creation_source": "open_api",
        }
        out["settings"] = {
            "approval_type": self.approval_type, "registration_type": 1,
            "allow_multiple_devices": self.ordinal % 2 == 0,
            "close_registration": self.ordinal % 4 == 3, "host_video": True, "panelists_video": self.ordinal % 2 == 1,
            "practice_session": self.ordinal % 3 == 1, "hd_video": False, "audio": "both", "auto_recording": "cloud",
            "registrants_restrict_number": 0, "show_share_button": True, "on_demand": False,
            "registrants_confirmation_email": True, "registrants_email_notification": True,
        }
        return out

    def report_record(self) -> Record:
        """``GET /report/webinars/{webinarId}``."""
        rows = self.attendees
        return {
            "uuid": self.uuid, "id": self.id, "type": 5, "topic": self.topic, "user_name": self.host.display_name,
            "user_email": self.host.email, "start_time": iso(self.actual_start), "end_time": iso(self.actual_end),
            "duration": round((self.actual_end - self.actual_start).total_seconds() / 60),
            "total_minutes": sum(r["duration"] for r in rows) // 60, "participants_count": len(rows), "dept": "",
            "custom_keys": [], "tracking_fields": [],
        }

    @cached_property
    def registrants(self) -> list[Record]:
        """The generated registrants (``POST`` ones are kept by the emulator, not here)."""
        if not self.registration_open:
            return []
        rng = rng_for(self.host.account.seed, "registrants", self.slot)
        account = self.host.account
        count = 6 if account.sizes.registrants_per_webinar is None else account.sizes.registrants_per_webinar
        people = rng.sample(range(account.person_pool), count)
        cycle = ("approved", "pending", "approved", "denied", "pending", "approved")
        statuses = ["approved" if self.approval_type == 0 else cycle[k % len(cycle)] for k in range(count)]
        return [registrant_record(self, account.person(p), rng, status, k)
                for k, (p, status) in enumerate(zip(people, statuses, strict=True))]

    @cached_property
    def panelists(self) -> list[Record]:
        rng = rng_for(self.host.account.seed, "panelists", self.slot)
        account = self.host.account
        colleague = account.user_at((self.host.index + 1) % account.users)
        guest = account.person(rng.randrange(account.person_pool))
        return [{"id": zoom_id(rng), "name": name, "email": email,
                 "join_url": f"{ZOOM_HOST}/w/{self.id}?tk={zoom_id(rng)}", "virtual_background_id": ""}
                for name, email in ((colleague.display_name, colleague.email), (guest.name, guest.email))]

    @cached_property
    def attendees(self) -> list[Record]:
        """The rows of ``GET /report/webinars/{webinarId}/participants`` (registrant ids included).

        The first panelist, a colleague signed in to Zoom, has their Zoom user id as participant
        ``id``; in every other webinar they drop and rejoin, which is a second row with the same
        ``id`` and a new ``user_id``, as Zoom reports a rejoin.
        """
        if not self.past:
            return []
        rng = random.Random(self.attendee_seed)
        account = self.host.account
        sized = account.sizes.attendees_per_webinar
        registered = 4 if sized is None else max(sized - 2, 0)
        people = [(f"{r['first_name']} {r.get('last_name', '')}".strip(), r["email"], r["id"], "")
                  for r in self.registrants if r["status"] == "approved"][:registered]
        colleague = account.user_at((self.host.index + 1) % account.users)
        people += [(p["name"], p["email"], "", colleague.id if p["email"] == colleague.email else "")
                   for p in self.panelists[:1]]
        wanted = 2 if sized is None else sized - 1  # the people before the guest
        while len(people) < wanted:
            person = account.person(rng.randrange(account.person_pool))
            people.append((person.name, person.email, "", ""))
        if sized is not None:
            people = people[:max(sized - 1, 0)]
            if sized == 0:
                return []
        people.append((rng.choice(GUEST_NAMES), "", "", ""))  # a guest: no e-mail, no id
        rows = [self._attendee_row(rng, k, person) for k, person in enumerate(people)]
        signed_in = next((row for row in rows if row["id"]), None)
        if signed_in is not None and self.ordinal % 4 == 0:
            rows.append(self._rejoin_row(rng, len(rows), signed_in))
        return rows

    def _attendee_row(self, rng: random.Random, k: int, person: tuple[str, str, str, str]) -> Record:
        name, email, registrant_id, participant_id = person
        join = self.actual_start + timedelta(seconds=rng.randrange(600))
        leave = self.actual_end - timedelta(seconds=rng.randrange(900))
        row: Record = {
            "id": participant_id, "user_id": participant_user_id(self.slot, k, self.host.account.participant_stride),
            "name": name, "user_email": email,
            "join_time": iso(join), "leave_time": iso(leave), "duration": int((leave - join).total_seconds()),
            "failover": False, "status": "in_meeting", "participant_user_id": "", "customer_key": "", "bo_mtg_id": "",
        }
        if registrant_id:
            row["registrant_id"] = registrant_id
        return row

    def _rejoin_row(self, rng: random.Random, k: int, first: Record) -> Record:
        """The same participant back after a drop: same ``id``, a new ``user_id`` and times of its own."""
        left = datetime.fromisoformat(first["leave_time"].replace("Z", "+00:00"))
        first["leave_time"] = iso(left - timedelta(minutes=20))
        first["duration"] = int((left - timedelta(minutes=20) - datetime.fromisoformat(
            first["join_time"].replace("Z", "+00:00"))).total_seconds())
        join = left - timedelta(minutes=20) + timedelta(seconds=30 + rng.randrange(120))
        stride = self.host.account.participant_stride
        return first | {"user_id": participant_user_id(self.slot, k, stride), "join_time": iso(join),
                        "leave_time": iso(left), "duration": int((left - join).total_seconds())}


def registrant_record(webinar: WebinarData, person: Person, rng: random.Random, status: str, k: int) -> Record:
    registrant_id = zoom_id(rng)
    created = min(webinar.start, webinar.host.account.now) - timedelta(days=1 + k, minutes=rng.randrange(900))
    record: Record = {"id": registrant_id, "first_name": person.first_name}
    if person.last_name:
        record["last_name"] = person.last_name
    record |= {
        "email": person.email, "address": "", "city": "", "country": "", "zip": "", "state": "",
        "phone": person.phone if k % 2 == 0 else "", "industry": "", "org": person.org, "job_title": person.job_title,
        "purchasing_time_frame": "", "role_in_purchase_process": "", "no_of_employees": "", "comments": "",
        "custom_questions": [{"title": "How did you hear about us?", "value": ("LinkedIn", "Un collègue", "")[k % 3]}]
        if k % 2 == 0 else [],
        "status": status, "create_time": iso(created),
        "join_url": f"{ZOOM_HOST}/w/{webinar.id}?tk={zoom_id(rng, 43)}",
    }
    return record


# ----------------------------------------------------------------------------------------- calls


def build_call(user: UserData, rng: random.Random, k: int) -> Record:
    """One call of a phone user's history within the last 30 days: one call log ``id``, one ``call_id``."""
    now = user.account.now
    window = CALL_WINDOW_DAYS * 86400 - 3600 - 1800  # every call starts and ends inside the 30 days
    start = now - timedelta(days=CALL_WINDOW_DAYS) + timedelta(seconds=3600 + rng.randrange(window))
    inbound = (k + user.index) % 2 == 0
    result = rng.choice(INBOUND_RESULTS if inbound else OUTBOUND_RESULTS)
    ring = 3 + rng.randrange(22)
    other = user.account.person(rng.randrange(user.account.person_pool))
    call_id = str(7_000_000_000_000_000_000 + rng.randrange(10**18))
    log_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    record: Record = {"id": log_id, "call_id": call_id, "direction": "inbound" if inbound else "outbound",
                      "connect_type": "external", "call_type": "general", "international": False,
                      "start_time": iso(start)}
    talk, end = _call_timing(result, start, ring, rng)
    if talk is not None:
        record["answer_time"] = iso(start + timedelta(seconds=ring))
    record["end_time"] = iso(end)
    record["duration"] = talk or 0
    mine, theirs = _own_party(user), _external_party(other)
    caller, callee = (theirs, mine) if inbound else (mine, theirs)
    record |= {f"caller_{key}": value for key, value in caller.items()}
    record |= {f"callee_{key}": value for key, value in callee.items()}
    record |= {"call_result": result, "recording_status": "recorded" if k % 4 == 1 else "non_recorded",
               "site_id": user.account.site_id, "site_name": "Main Site", "department": "", "cost_center": ""}
    return record


def _call_timing(result: str, start: datetime, ring: int, rng: random.Random) -> tuple[int | None, datetime]:
    if result in ("answered", "connected"):
        talk = 20 + rng.randrange(1200)
        return talk, start + timedelta(seconds=ring + talk)
    if result == "voicemail":
        return None, start + timedelta(seconds=ring + 10 + rng.randrange(50))
    return None, start + timedelta(seconds=ring)


def _own_party(user: UserData) -> Record:
    return {"ext_id": user.extension_id, "ext_number": str(user.extension_number), "ext_type": "user",
            "did_number": user.did_number, "name": user.display_name, "email": user.email,
            "number_type": "zoom_pstn", "country_code": "1", "country_iso_code": "US"}


def _external_party(person: Person) -> Record:
    return {"did_number": person.phone, "name": person.name if person.index % 3 else "WIRELESS CALLER",
            "number_type": "external_pstn", "country_code": "1", "country_iso_code": "US"}


# --------------------------------------------------------------------------------------- account


class Account:
    """The synthetic account: users, meetings, webinars and calls, looked up by Zoom's keys."""

    def __init__(self, users: int = 10, seed: int = 1, now: datetime | None = None, account_id: str = "demo",
                 sizes: Sizes | None = None) -> None:
        if users < 1:
            raise ValueError("an account has at least one user")
        self.users = users
        self.sizes = sizes = sizes or Sizes()
        # slots of a user: meetings from 0, webinars from first_webinar_slot (the default layout: 8 and 4)
        self.first_webinar_slot = max(FIRST_WEBINAR_SLOT, sizes.meetings_per_user or 0)
        self.slots_per_user = max(SLOTS_PER_USER, self.first_webinar_slot + (sizes.webinars_per_user or 0))
        self.participant_stride = max(64, (sizes.attendees_per_webinar or 0) + 2)
        self.seed = seed
        moment = now or default_now()
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        self.now = moment.replace(second=0, microsecond=0)
        self.account_id = account_id
        self.codec = IdCodec(seed)
        self.person_pool = max(50, 2 * users, sizes.registrants_per_webinar or 0)
        self.site_id = zoom_id(rng_for(seed, "site"))
        self._users: dict[int, UserData] = {}
        self._people: dict[int, Person] = {}
        self._lock = threading.Lock()
        self._user_keys: dict[str, int] | None = None
        self._uuids: dict[str, MeetingData] | None = None
        self._calls: list[Record] | None = None

    # -- building blocks

    def user_at(self, index: int) -> UserData:
        user = self._users.get(index)
        if user is None:
            user = self._users.setdefault(index, UserData(self, index))
        return user

    def person(self, index: int) -> Person:
        person = self._people.get(index)
        if person is None:
            person = self._people.setdefault(index, make_person(self.seed, index))
        return person

    def all_users(self) -> Iterator[UserData]:
        return (self.user_at(u) for u in range(self.users))

    def all_meetings(self) -> Iterator[MeetingData]:
        return (m for user in self.all_users() for m in user.meetings)

    def all_webinars(self) -> Iterator[WebinarData]:
        step = 3 if self.sizes.webinars_per_user is None else 1
        return (w for u in range(0, self.users, step) for w in self.user_at(u).webinars)

    # -- lookups by Zoom's keys

    def find_user(self, key: str) -> UserData | None:
        """A user by Zoom user id or e-mail address (any case)."""
        if self._user_keys is None:
            keys: dict[str, int] = {}
            for user in self.all_users():
                keys[user.id] = user.index
                keys[user.email.lower()] = user.index
            self._user_keys = keys
        index = self._user_keys.get(key) if key in self._user_keys else self._user_keys.get(key.lower())
        return None if index is None else self.user_at(index)

    def _slot_owner(self, value: str) -> tuple[UserData, int] | None:
        if not value.isdigit() or len(value) > 19:
            return None
        slot = self.codec.decode(int(value))
        if slot is None or slot // self.slots_per_user >= self.users:
            return None
        return self.user_at(slot // self.slots_per_user), slot % self.slots_per_user

    def find_meeting(self, key: str) -> MeetingData | None:
        """A meeting by its numeric id, or by UUID (already URL-decoded)."""
        owner = self._slot_owner(key)
        if owner is not None:
            user, local = owner
            return user.meetings[local] if local < user.meeting_count else None
        if self._uuids is None:
            with self._lock:
                if self._uuids is None:
                    self._uuids = {m.uuid: m for m in self.all_meetings()}
        return self._uuids.get(key)

    def find_webinar(self, key: str) -> WebinarData | None:
        owner = self._slot_owner(key)
        if owner is None:
            return None
        user, local = owner
        first = self.first_webinar_slot
        if not user.hosts_webinars or not first <= local < first + user.webinar_count:
            return None
        return user.webinars[local - first]

    def calls(self) -> list[Record]:
        """The account's call history, newest first (what ``GET /phone/call_history`` pages through)."""
        if self._calls is None:
            with self._lock:
                if self._calls is None:
                    every = [call for user in self.all_users() for call in user.calls]
                    self._calls = sorted(every, key=lambda c: (c["start_time"], c["id"]), reverse=True)
        return self._calls

    def calls_between(self, start: datetime, end: datetime) -> list[Record]:
        """Calls whose ``start_time`` lies in ``[start, end]`` (newest first)."""
        low, high = iso(start), iso(end)
        return [call for call in self.calls() if low <= call["start_time"] <= high]

    # -- what a sync test asserts

    def user_ids(self) -> list[str]:
        return [user.id for user in self.all_users()]

    def user_emails(self) -> list[str]:
        return [user.email for user in self.all_users()]

    def phone_user_ids(self) -> list[str]:
        """Zoom user ids (not phone user ids) of the users who have Zoom Phone."""
        return [user.id for user in self.all_users() if user.has_phone]

    def users_without_phone(self) -> list[str]:
        return [user.id for user in self.all_users() if not user.has_phone]

    def meeting_ids(self) -> list[int]:
        return [m.id for m in self.all_meetings()]

    def past_meeting_ids(self) -> list[int]:
        return [m.id for m in self.all_meetings() if m.past]

    def upcoming_meeting_ids(self) -> list[int]:
        return [m.id for m in self.all_meetings() if not m.past]

    def past_meeting_uuids(self) -> list[str]:
        return [m.uuid for m in self.all_meetings() if m.past]

    def meeting_participant_keys(self) -> list[tuple[str, str, str]]:
        """``(meeting uuid, participant id, participant user_id)`` of every past meeting participant row."""
        return [(m.uuid, row["id"], row["user_id"]) for m in self.all_meetings() for row in m.participants]

    def webinar_ids(self) -> list[int]:
        return [w.id for w in self.all_webinars()]

    def past_webinar_ids(self) -> list[int]:
        return [w.id for w in self.all_webinars() if w.past]

    def registrant_ids(self, status: str | None = "approved") -> list[str]:
        """Generated registrant ids over every webinar, with that status (None: any)."""
        return [r["id"] for w in self.all_webinars() for r in w.registrants if status in (None, r["status"])]

    def panelist_ids(self) -> list[str]:
        return [p["id"] for w in self.all_webinars() for p in w.panelists]

    def webinar_participant_keys(self) -> list[tuple[int, str, str]]:
        """``(webinar id, participant id, participant user_id)`` of every report attendee row."""
        return [(w.id, row["id"], row["user_id"]) for w in self.all_webinars() for row in w.attendees]

    def webinar_attendees(self) -> int:
        """The people in the webinar reports: a signed-in participant once (a rejoin is another row with
        the same ``id``), every other row on its own (``user_id``)."""
        return len({(w.id, row["id"] or row["user_id"]) for w in self.all_webinars() for row in w.attendees})

    def call_ids(self) -> list[str]:
        """``call_id`` of every call in the last 30 days (newest first): the key the call events share."""
        return [c["call_id"] for c in self.calls()]

    def call_log_ids(self) -> list[str]:
        """Call history ``id`` (the call log id, not in any event) of every call in the last 30 days."""
        return [c["id"] for c in self.calls()]

    def counts(self) -> dict[str, int]:
        webinars = list(self.all_webinars())
        return {
            "users": self.users,
            "phone_users": len(self.phone_user_ids()),
            "meetings": len(self.meeting_ids()),
            "past_meetings": len(self.past_meeting_ids()),
            "upcoming_meetings": len(self.upcoming_meeting_ids()),
            "meeting_participants": len(self.meeting_participant_keys()),
            "webinars": len(webinars),
            "past_webinars": sum(1 for w in webinars if w.past),
            "registrants": len(self.registrant_ids(None)),
            "registrants_approved": len(self.registrant_ids("approved")),
            "panelists": sum(len(w.panelists) for w in webinars),
            "webinar_participants": sum(len(w.attendees) for w in webinars),
            "webinar_attendees": self.webinar_attendees(),
            "calls": len(self.calls()),
        }
