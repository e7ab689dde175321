"""The compiled plan against a hand-written function per default entity, and against jmespath.search.

    python benchmarks/bench_map.py [--records N] [--rounds R] [--quick]

For every default mapping, N synthetic source records (deterministic, with the variety the
mappings must handle: missing optional values, over-long text that is truncated, picklist values,
e-mail addresses with spaces) are written as JSON text and parsed by the engine's
``safe_json.loads_certified``, as ``map`` and ``sync`` parse what they read; the benchmark asserts that
every one is certified. Parsing is timed by none of the three ways below, which all map the same
parsed records:

- ``plan``: ``compile_plan(mapping).map_record(record, context, True)`` (checked), what ``map`` and
  ``sync`` run for a record of a certified document (missing-value policies, truncation, the upsert
  key, the parent reference, all included; the record check is the parser's certificate, made
  while parsing, so the walk over the record is skipped), called in a loop as directly as the
  hand functions are;
- ``hand``: a function written for that entity by hand, independently of the engine: its own
  look-ups, its own time parsing and formatting, its own truncation, e-mail and link checks (the
  rules the engine documents, written the plain way: an address has one ``@`` after some text,
  a dot inside its domain and no white space; a link starts ``http://`` or ``https://`` in any
  case, then a host, with no white space). It is the floor a plan can approach. It skips what
  only hostile input needs (the engine's limits on nesting, digits and size, and the repair of
  lone surrogates), which a hand-written function would not do either;
- ``naive``: ``jmespath.search(expression, record)`` per field, with the engine's coercers, value
  tables and truncation (what an engine that does not compile would do).

Before timing, the benchmark asserts that the three give the same upsert key and record for every
record. Then the three run in interleaved rounds (the order rotates each round) and each pass is
timed in CPU time (``time.process_time``), so other work on the machine weighs less. It prints
per entity the median time per record of each, the spread (max-min over median) and the ratios;
the last line is one JSON object::

    {ENTITY: {"plan_vs_hand": R, "naive_vs_plan": R, "records_per_s": N}, ...}

Timings vary by machine; the ratios are what to compare between versions. Nothing here asserts on
time. ``--quick`` (200 records, 3 rounds) only proves it runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jmespath

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.language.functions import function_options  # noqa: E402 - after the path is set
from engine.language.plan import Plan, RunContext, compile_plan  # noqa: E402
from engine.language.safe_json import loads_certified  # noqa: E402
from engine.validate.mapping_set import load_mapping_set  # noqa: E402

Record = dict[str, Any]
Output = tuple[dict[str, Any], dict[str, Any]]  # (upsert key, record)
WEBINAR = {"id": 93398114182, "uuid": "w-uuid", "topic": "Parent webinar"}
RUN = {"run_time": "2026-01-01T00:00:00.000Z"}


# ---- synthetic records ------------------------------------------------------------------------


def _time(n: int, minutes: int = 0) -> str:
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=7 * n + minutes, seconds=n % 60)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _topic(n: int) -> str:
    return ("Quarterly planning and review " * 12) if n % 10 == 0 else f"Weekly sync #{n}"


def make_meeting(n: int) -> Record:
    record: Record = {"id": 85746065432 + n, "topic": _topic(n), "join_url": f"https://example.zoom.us/j/{n}?pwd=abc",
                      "password": f"p{n:05d}", "start_time": _time(n), "duration": 30 + n % 90,
                      "start_url": f"https://example.zoom.us/s/{n}?zak=token", "host_id": f"host{n % 7}"}
    if n % 3:
        record["past"] = {"participants_count": n % 40}
    if n % 11 == 0:
        del record["password"]
    return record


def make_webinar(n: int) -> Record:
    record: Record = {
        "id": 93398114182 + n, "uuid": f"uuid{n}==", "topic": _topic(n), "agenda": f"Agenda {n}",
        "start_time": _time(n), "duration": 60, "join_url": f"https://example.zoom.us/w/{n}?tk=t",
        "registration_url": f"https://example.zoom.us/webinar/register/{n}",
        "start_url": f"https://example.zoom.us/s/{n}", "password": "pw",
        "settings": {"approval_type": n % 3, "allow_multiple_devices": n % 2 == 0, "close_registration": False,
                     "host_video": True, "panelists_video": n % 4 == 0, "practice_session": False},
    }
    if n % 2:
        record["report"] = {"participants_count": n % 300, "start_time": _time(n, 1), "end_time": _time(n, 61)}
    return record


def make_registrant(n: int) -> Record:
    return {"id": f"reg{n}", "first_name": f"Ada{n}", "last_name": "Lovelace" * (40 if n % 25 == 0 else 1),
            "email": f" Ada.{n}@Example.com" if n % 5 == 0 else f"ada.{n}@example.com",
            "join_url": f"https://example.zoom.us/w/{n}?tk=x", "status": ("approved", "pending", "denied")[n % 3],
            "custom_questions": [{"title": "Company", "value": f"Co {n}"}, {"title": "Role", "value": "Eng"}][: n % 3]}


def make_participant(n: int) -> Record:
    record: Record = {"id": f"part{n}" if n % 4 else "", "user_id": f"u{n}", "name": f"Grace Hopper {n}",
                      "user_email": f"grace.{n}@example.com" if n % 3 else "", "join_time": _time(n),
                      "leave_time": _time(n, 45), "duration": 2700 + n}
    return record


def make_panelist(n: int) -> Record:
    return {"id": f"pan{n}", "name": f"Alan Mathison Turing{n}" if n % 2 else f"Turing{n}",
            "email": f"alan{n}@example.com", "join_url": f"https://example.zoom.us/w/{n}?tk=y"}


def make_past_meeting(n: int) -> Record:
    return {"id": 81234567890 + n, "start_time": _time(n), "end_time": _time(n, 50), "participants_count": n % 30,
            "attendance": {"participants": [{"name": f"Person {k}"} for k in range(n % 5)]} if n % 2 else {}}


def make_user(n: int) -> Record:
    return {"id": f"user{n}", "email": f"user{n}@example.com",
            "phone": {"phone_user_id": f"ph{n}"} if n % 2 else {},
            "settings": {"schedule_meeting": {"pmi_password": f"pmi{n}"},
                         "feature": {"zoom_phone": n % 2 == 1,
                                     "license_info_list": [{"license_type": "LARGE_MEETING"},
                                                           {"license_type": "ZOOM_WEBINAR"}][: n % 3]}}}


def make_call(n: int) -> Record:
    return {"call_id": f"call{n}", "ringing_start_time": _time(n), "answer_time": _time(n, 1),
            "end_time": _time(n, 9), "duration": 480 + n % 60, "callee_ext_number": str(100 + n % 50),
            "callee_did_number": f"+1800555{n % 10000:04d}", "caller_ext_number": str(200 + n % 50),
            "caller_did_number": f"+1900555{n % 10000:04d}",
            "call_result": ("answered", "no_answer", "voicemail", "hang_up")[n % 4]}


def make_registration(n: int) -> Record:
    return {"attributes": {"type": "Contact"}, "FirstName": f"Zoë{n}", "LastName": "Ñúñez",
            "Email": f" Zoe.{n}@Example.FR " if n % 2 else f"zoe{n}@example.fr"}


# ---- hand-written functions (independent of the engine) ---------------------------------------


def _sf_time(text: str) -> str:
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _end_time(start: str, minutes: int) -> str:
    moment = datetime.fromisoformat(start).astimezone(UTC) + timedelta(minutes=minutes)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.000Z"


def _cut(text: str, limit: int) -> str:
    return text[:limit]


def _email(text: str) -> str:
    """The address trimmed: one ``@`` after some text, a dot inside the domain, no white space anywhere."""
    address = text.strip()
    local, _, domain = address.partition("@")
    if not local or "@" in domain or "." not in domain[1:-1] or len(address.split()) != 1:
        raise ValueError(text)
    return address


def _normalized_email(text: str) -> str:
    """The address trimmed and lower-cased: one ``@`` after some text, two or more domain labels none
    empty, no white space anywhere."""
    address = text.strip().lower()
    local, _, domain = address.partition("@")
    labels = domain.split(".")
    if not local or "@" in domain or len(labels) < 2 or "" in labels or len(address.split()) != 1:
        raise ValueError(text)
    return address


def _link(text: str) -> str:
    """The link trimmed: ``http://`` or ``https://`` in any case, then a host, no white space anywhere."""
    link = text.strip()
    scheme, _, rest = link.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or rest[0] in "/$.?#" or len(link.split()) != 1:
        raise ValueError(text)
    return link


def _name_parts(name: str) -> tuple[str | None, str]:
    first, _, last = " ".join(name.split()).rpartition(" ")
    return first or None, last


def _put(output: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        output[key] = value


def hand_meetings(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"zoom_app__Zoom_Meeting_Id__c": str(r["id"])}
    if r.get("topic") is not None:
        out["zoom_app__Meeting_Topic__c"] = _cut(r["topic"], 255)
    if r.get("join_url") is not None:
        out["zoom_app__Join_Url__c"] = _link(r["join_url"])
    _put(out, "zoom_app__Zoom_Meeting_Password__c", r.get("password"))
    past = r.get("past")
    if isinstance(past, dict) and past.get("participants_count") is not None:
        out["zoom_app__Participant_Count__c"] = int(past["participants_count"])
    start, duration = r.get("start_time"), r.get("duration")
    if start is not None:
        out["zoom_app__Zoom_Meeting_Start_Time__c"] = _sf_time(start)
        if duration is not None:
            out["zoom_app__Zoom_Meeting_End_Time__c"] = _end_time(start, duration)
    if duration is not None:
        out["zoom_app__Duration_mins__c"] = int(duration)
    if r.get("start_url") is not None:
        out["zoom_app__Start_Url__c"] = _link(r["start_url"])
    _put(out, "zoom_app__Host_Id__c", r.get("host_id"))
    return {"zoom_app__Zoom_Meeting_Id__c": out["zoom_app__Zoom_Meeting_Id__c"]}, out


APPROVAL = {0: "Automatically Approve", 1: "Manually Approve", 2: "No Registration Required"}


def hand_webinars(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"zoom_app__Webinar_Id__c": str(r["id"])}
    _put(out, "zoom_app__UUId__c", r.get("uuid"))
    if r.get("topic") is not None:
        out["zoom_app__Topic__c"] = _cut(r["topic"], 255)
    _put(out, "zoom_app__Agenda__c", r.get("agenda"))
    start, duration = r.get("start_time"), r.get("duration")
    if start is not None:
        out["zoom_app__Start_Time__c"] = _sf_time(start)
        if duration is not None:
            out["zoom_app__End_Time__c"] = _end_time(start, duration)
    if duration is not None:
        out["zoom_app__Duration__c"] = int(duration)
    for source, target in (("join_url", "zoom_app__Join_Url__c"), ("registration_url", "zoom_app__Register_Url__c"),
                           ("start_url", "zoom_app__Start_Url__c")):
        if r.get(source) is not None:
            out[target] = _link(r[source])
    _put(out, "zoom_app__Password__c", r.get("password"))
    settings = r.get("settings") or {}
    if settings.get("approval_type") is not None:
        out["zoom_app__Setting_Approval_Type__c"] = APPROVAL[settings["approval_type"]]
    for source, target in (("allow_multiple_devices", "zoom_app__Setting_Allow_Multiple_Devices__c"),
                           ("close_registration", "zoom_app__Setting_Close_Registration__c"),
                           ("host_video", "zoom_app__Setting_Host_Video_On__c"),
                           ("panelists_video", "zoom_app__Setting_Panelists_Video_On__c"),
                           ("practice_session", "zoom_app__Setting_Practice_Session__c")):
        if settings.get(source) is not None:
            out[target] = bool(settings[source])
    report = r.get("report") or {}
    if report.get("participants_count") is not None:
        out["zoom_app__Number_of_Participants__c"] = int(report["participants_count"])
    if report.get("start_time") is not None:
        out["zoom_app__Actual_Start_Time__c"] = _sf_time(report["start_time"])
    if report.get("end_time") is not None:
        out["zoom_app__Actual_End_Time__c"] = _sf_time(report["end_time"])
    return {"zoom_app__Webinar_Id__c": out["zoom_app__Webinar_Id__c"]}, out


STATUS = {"approved": "Approved", "pending": "Pending", "denied": "Denied"}


def hand_registrants(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"zoom_app__External_key__c": str(r["id"])}
    if r.get("first_name") is not None:
        out["zoom_app__First_Name__c"] = _cut(r["first_name"], 255)
    if r.get("last_name") is not None:
        out["zoom_app__Last_Name__c"] = _cut(r["last_name"], 255)
    if r.get("email") is not None:
        out["zoom_app__Email__c"] = _email(r["email"])
    if r.get("join_url") is not None:
        out["zoom_app__Join_Url__c"] = _link(r["join_url"])
    if r.get("status") is not None:
        out["zoom_app__Status__c"] = STATUS[r["status"]]
    answers = [f"{q['title']}: {q['value']}" for q in r.get("custom_questions") or []]
    out["zoom_app__Comments__c"] = _cut("; ".join(answers), 32000)
    out["zoom_app__Zoom_Webinar__r"] = {"zoom_app__Webinar_Id__c": str(parent["id"])}
    return {"zoom_app__External_key__c": out["zoom_app__External_key__c"]}, out


def _hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def hand_participants(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {}
    _put(out, "zoom_app__UUID__c", r.get("id"))
    _put(out, "zoom_app__User_Id__c", r.get("user_id"))
    if r.get("name") is not None:
        out["zoom_app__Name__c"] = _cut(r["name"], 255)
    email = r.get("user_email")
    if email is not None and email.strip():
        out["zoom_app__User_Email__c"] = _email(email)
    for source, target in (("join_time", "zoom_app__Join_Time__c"), ("leave_time", "zoom_app__Leave_Time__c")):
        if r.get(source) is not None:
            out[target] = _sf_time(r[source])
    if r.get("duration") is not None:
        out["zoom_app__Duration__c"] = int(r["duration"])
        out["zoom_app__Duration_HH_Mi_SS__c"] = _hms(r["duration"])
    out["zoom_app__Zoom_Webinar__r"] = {"zoom_app__Webinar_Id__c": str(parent["id"])}
    key = "zoom_app__UUID__c" if out.get("zoom_app__UUID__c") else "zoom_app__User_Id__c"
    return {key: out[key]}, out


def hand_panelists(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"zoom_app__Panelist_ID__c": str(r["id"])}
    if r.get("name") is not None:
        first, last = _name_parts(r["name"])
        if first is not None:
            out["zoom_app__First_Name__c"] = _cut(first, 255)
        out["zoom_app__Last_Name__c"] = _cut(last, 255)
    if r.get("email") is not None:
        out["zoom_app__Panelist_Email__c"] = _email(r["email"])
    if r.get("join_url") is not None:
        out["zoom_app__Join_Url__c"] = _link(r["join_url"])
    out["zoom_app__Zoom_Webinar__r"] = {"zoom_app__Webinar_Id__c": str(parent["id"])}
    return {"zoom_app__Panelist_ID__c": out["zoom_app__Panelist_ID__c"]}, out


def hand_past_meetings(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"zoom_app__Zoom_Meeting_Id__c": str(r["id"])}
    if r.get("start_time") is not None:
        out["zoom_app__Zoom_Meeting_Start_Time__c"] = _sf_time(r["start_time"])
    if r.get("end_time") is not None:
        out["zoom_app__Zoom_Meeting_End_Time__c"] = _sf_time(r["end_time"])
    if r.get("participants_count") is not None:
        out["zoom_app__Participant_Count__c"] = int(r["participants_count"])
    people = (r.get("attendance") or {}).get("participants") or []
    out["zoom_app__Participants__c"] = _cut(", ".join(p["name"] for p in people if p.get("name") is not None), 32000)
    out["zoom_app__Zoom_Meeting_Status__c"] = "Ended"
    return {"zoom_app__Zoom_Meeting_Id__c": out["zoom_app__Zoom_Meeting_Id__c"]}, out


def hand_users(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"zoom_app__Web_User_Id__c": str(r["id"])}
    _put(out, "zoom_app__PBX_User_Id__c", (r.get("phone") or {}).get("phone_user_id"))
    if r.get("email") is not None:
        out["zoom_app__Zoom_User_Email__c"] = _email(r["email"])
    settings = r.get("settings") or {}
    _put(out, "Zoom_PMI_Password__c", (settings.get("schedule_meeting") or {}).get("pmi_password"))
    feature = settings.get("feature") or {}
    out["Zoom_Add_On_Licenses__c"] = ", ".join(item["license_type"] for item in feature.get("license_info_list") or [])
    if feature.get("zoom_phone") is not None:
        out["zoom_app__Has_Zoom_Voice_Call_Plan__c"] = bool(feature["zoom_phone"])
    return {"zoom_app__Web_User_Id__c": out["zoom_app__Web_User_Id__c"]}, out


RESULTS = {"answered": "Answered", "no_answer": "No answer", "voicemail": "Voicemail", "hang_up": "Hung up"}


def hand_calls(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"zoom_app__Calllog_Unique_ID__c": str(r["call_id"])}
    # ringing_start_time is delivered in real time only: a REST record leaves it out
    for source, target in (("answer_time", "zoom_app__Answer_Start_Time__c"),
                           ("end_time", "zoom_app__Call_End_Time__c")):
        if r.get(source) is not None:
            out[target] = _sf_time(r[source])
    if r.get("duration") is not None:
        out["zoom_app__Call_Duration__c"] = int(r["duration"])
    out["zoom_app__Call_ID__c"] = str(r["call_id"])
    for source, target in (("callee_ext_number", "zoom_app__Callee_Extension_Number__c"),
                           ("callee_did_number", "zoom_app__Callee_Phone_Number__c"),
                           ("caller_ext_number", "zoom_app__Caller_Extension_Number__c"),
                           ("caller_did_number", "zoom_app__Caller_Phone_Number__c")):
        _put(out, target, r.get(source))
    if r.get("call_result") is not None:
        out["zoom_app__Signal_Status__c"] = RESULTS[r["call_result"]]
    return {"zoom_app__Calllog_Unique_ID__c": out["zoom_app__Calllog_Unique_ID__c"]}, out


def hand_registrations(r: Record, parent: Any) -> Output:
    out: dict[str, Any] = {"first_name": r["FirstName"]}
    _put(out, "last_name", r.get("LastName"))
    out["email"] = _normalized_email(r["Email"])
    return {"email": out["email"]}, out


ENTITIES: dict[str, tuple[Callable[[int], Record], Callable[[Record, Any], Output]]] = {
    "users": (make_user, hand_users),
    "meetings": (make_meeting, hand_meetings),
    "past_meetings": (make_past_meeting, hand_past_meetings),
    "webinars": (make_webinar, hand_webinars),
    "registrants": (make_registrant, hand_registrants),
    "participants": (make_participant, hand_participants),
    "panelists": (make_panelist, hand_panelists),
    "calls": (make_call, hand_calls),
    "registrations": (make_registration, hand_registrations),
}


# ---- the engine's two ways ----------------------------------------------------------------------


def plan_function(plan: Plan, context: RunContext) -> Callable[[Record, Any], Output]:
    """The plan's answer as the hand functions give theirs, for the comparison before timing."""
    def run(record: Record, parent: Any) -> Output:
        mapped = plan.map_record(record, context, True)
        return mapped.upsert_key, mapped.record

    return run


def parsed(records: list[Record]) -> list[Record]:
    """`records` as ``map`` and ``sync`` have them: parsed by the engine from their JSON text, certified."""
    documents = [loads_certified(json.dumps(record, ensure_ascii=False)) for record in records]
    assert all(length is not None for _, length in documents), "a synthetic record is not certified"
    return [document for document, _ in documents]


def naive_function(plan: Plan, context: RunContext) -> Callable[[Record, Any], Output]:
    """Each field's expression searched anew per record, with the engine's coercers and policies."""
    options = function_options()
    fields = [f for f in plan.fields if f.reader(None) is not None]

    def run(record: Record, parent: Any) -> Output:
        out: dict[str, Any] = {}
        for field in fields:
            document = record if field.scope == "record" else context.parent if field.scope == "parent" else RUN
            value = jmespath.search(field.expression.text, document, options=options)
            if value is None:
                continue
            if field.table is not None:
                value = field.table[str(value)]
            value = field.coerce(value)
            if field.max_length is not None and isinstance(value, str):
                value = value[: field.max_length]
            out[field.target] = value
        if plan.parent is not None:
            reference = jmespath.search(plan.parent.expression.text, context.parent, options=options)
            out[plan.parent.relationship] = {plan.parent.key: plan.parent.coerce(reference)}
        key = next(k for k in plan.upsert_keys if out.get(k) not in (None, ""))
        return {key: out[key]}, out

    return run


def _pass(run: Callable[[Record, Any], Output], records: list[Record]) -> float:
    started = time.process_time()
    for record in records:
        run(record, WEBINAR)
    return time.process_time() - started


def _plan_pass(plan: Plan, context: RunContext, records: list[Record]) -> float:
    """What ``map`` and ``sync`` call per record of a certified document, called as directly as a hand function."""
    map_record = plan.map_record
    started = time.process_time()
    for record in records:
        map_record(record, context, True)
    return time.process_time() - started


def bench_entity(plan: Plan, records: list[Record], hand: Callable[[Record, Any], Output],
                 rounds: int) -> dict[str, Any]:
    context = RunContext(parent=WEBINAR, run=RUN)
    ways = {"plan": plan_function(plan, context), "hand": hand, "naive": naive_function(plan, context)}
    for index, record in enumerate(records):
        expected = ways["plan"](record, WEBINAR)
        for name in ("hand", "naive"):
            got = ways[name](record, WEBINAR)
            assert got == expected, f"{plan.entity} record {index}: {name} gave {got}, the plan {expected}"
    times: dict[str, list[float]] = {name: [] for name in ways}
    order = list(ways)
    for round_index in range(rounds):
        rotated = order[round_index % len(order):] + order[: round_index % len(order)]
        for name in rotated:
            timed = _plan_pass(plan, context, records) if name == "plan" else _pass(ways[name], records)
            times[name].append(timed)
    median = {name: statistics.median(values) for name, values in times.items()}
    spread = {name: (max(values) - min(values)) / median[name] if median[name] else 0.0
              for name, values in times.items()}
    return {"median": median, "spread": spread, "records": len(records)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="records per entity (default 50000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--quick", action="store_true", help="200 records, 3 rounds: only proves it runs")
    arguments = parser.parse_args()
    count, rounds = (200, 3) if arguments.quick else (arguments.records, arguments.rounds)
    mapping_set = load_mapping_set([REPO / "mappings"]).raise_if_invalid()
    summary: dict[str, dict[str, float]] = {}
    print(f"{count} records per entity, {rounds} interleaved rounds, CPU time per record (median, spread)")
    for entity, (make, hand) in ENTITIES.items():
        plan = compile_plan(mapping_set.get(entity))
        result = bench_entity(plan, parsed([make(n) for n in range(count)]), hand, rounds)
        median, spread = result["median"], result["spread"]
        per = {name: median[name] / count * 1e6 for name in median}
        print(f"{entity:<14} hand {per['hand']:6.2f} us ±{spread['hand']:.0%}   plan {per['plan']:6.2f} us "
              f"±{spread['plan']:.0%}   naive {per['naive']:7.2f} us ±{spread['naive']:.0%}   "
              f"plan/hand {median['plan'] / median['hand']:.2f}x   naive/plan {median['naive'] / median['plan']:.2f}x")
        summary[entity] = {
            "plan_vs_hand": round(median["plan"] / median["hand"], 3),
            "naive_vs_plan": round(median["naive"] / median["plan"], 3),
            "records_per_s": round(count / median["plan"]) if median["plan"] else 0,
        }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
