"""The event language of the mappings: ``source.events``, per-field ``events`` and ``realtime``.

How a plan reads a record delivered by an event notification (``Plan.map_record(..., event=TYPE)``)
against one read by REST, on the default mappings and the emulator's own events; what
``zoomforce validate`` says, at which line, when the event part of a mapping is wrong (each test
copies the default mappings and changes one value); what ``zoomforce disclose`` says of the items
that arrive in real time; and what the webhook receiver keeps of an event. No network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.emulators.zoom.data import Account
from engine.emulators.zoom.webhooks import build_event, serialize
from engine.errors import MissingValue
from engine.language.plan import Plan, RunContext, compile_plan
from engine.serve.events import EventProcessor, subscriptions
from engine.sync.state.cipher import StateCipher
from engine.sync.state.inbox import InboxEvent
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet, load_mapping_set
from tests.helpers import MAPPINGS, copy_mappings, replace_once, validate_errors

RING = "zoom_app__Ring_Start_Time__c"
KEY = "zoom_app__Calllog_Unique_ID__c"
REALTIME = "(in real time, from Zoom event notifications)"
ALSO = "(also in real time, from Zoom event notifications)"


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


@pytest.fixture(scope="module")
def account() -> Account:
    return Account(users=10)


def plan_of(mapping_set: MappingSet, entity: str) -> Plan:
    return compile_plan(mapping_set.get(entity))


def history_of(account: Account, call_id: str) -> dict[str, Any]:
    (call,) = [call for call in account.calls() if call["call_id"] == call_id]
    return call


# --------------------------------------------------------------------------------------------
# Plan.map_record with event=


def test_a_call_event_is_read_with_its_events_expressions(mapping_set: MappingSet, account: Account) -> None:
    event = build_event(account, "phone.callee_ended", 0)
    call = event["payload"]["object"]
    mapped = plan_of(mapping_set, "calls").map_record(call, event="phone.callee_ended")
    assert mapped.upsert_key == {KEY: call["call_id"]}
    assert mapped.record == {
        KEY: call["call_id"],
        RING: call["ringing_start_time"].replace("Z", ".000Z"),  # its `realtime` event: read with `from`
        "zoom_app__Answer_Start_Time__c": call["answer_start_time"].replace("Z", ".000Z"),
        "zoom_app__Call_End_Time__c": call["call_end_time"].replace("Z", ".000Z"),
        "zoom_app__Call_ID__c": call["call_id"],
        "zoom_app__Callee_Extension_Number__c": str(call["callee"]["extension_number"]),
        "zoom_app__Callee_Phone_Number__c": call["callee"]["phone_number"],
        "zoom_app__Caller_Phone_Number__c": call["caller"]["phone_number"],
    }
    # Duration and result are not in the event: left out (Salesforce keeps its value), not null.
    assert "zoom_app__Call_Duration__c" not in mapped.record
    assert "zoom_app__Signal_Status__c" not in mapped.record
    # The caller is outside the account: the event has no extension for it, and the field is skipped.
    assert "zoom_app__Caller_Extension_Number__c" not in mapped.record


def test_the_ring_time_of_an_outbound_call_comes_from_its_events_expression(
    mapping_set: MappingSet, account: Account
) -> None:
    event = build_event(account, "phone.caller_ended", 0)
    call = event["payload"]["object"]
    mapped = plan_of(mapping_set, "calls").map_record(call, event="phone.caller_ended")
    assert mapped.record[RING] == call["ringing_start_time"].replace("Z", ".000Z")
    assert mapped.record["zoom_app__Caller_Extension_Number__c"] == str(call["caller"]["extension_number"])


def test_a_rest_record_of_the_same_call_leaves_the_realtime_field_out(
    mapping_set: MappingSet, account: Account
) -> None:
    event = build_event(account, "phone.callee_ended", 0)
    history = history_of(account, event["payload"]["object"]["call_id"])
    plan = plan_of(mapping_set, "calls")
    rest = plan.map_record(history)
    from_event = plan.map_record(event["payload"]["object"], event="phone.callee_ended")
    assert rest.upsert_key == from_event.upsert_key  # one record in Salesforce
    assert RING not in rest.record  # only events deliver it: REST never blanks it
    assert rest.record["zoom_app__Call_Duration__c"] == history["duration"]
    assert rest.record["zoom_app__Signal_Status__c"] in ("Answered", "Connected")
    # What both deliver, they deliver alike.
    shared = set(rest.record) & set(from_event.record)
    assert shared >= {KEY, "zoom_app__Answer_Start_Time__c", "zoom_app__Call_End_Time__c",
                      "zoom_app__Callee_Phone_Number__c", "zoom_app__Caller_Phone_Number__c"}
    assert {name: rest.record[name] for name in shared} == {name: from_event.record[name] for name in shared}


def test_an_all_fields_event_reads_every_field_with_from_and_its_parent(
    mapping_set: MappingSet, account: Account
) -> None:
    event = build_event(account, "webinar.registration_created", 0)
    webinar = event["payload"]["object"]
    registrant = webinar["registrant"]
    plan = plan_of(mapping_set, "registrants")
    from_event = plan.map_record(registrant, RunContext(parent=webinar), event="webinar.registration_created")
    rest = plan.map_record(registrant, RunContext(parent=webinar))
    assert from_event.record == rest.record
    assert from_event.record["zoom_app__Zoom_Webinar__r"] == {"zoom_app__Webinar_Id__c": str(webinar["id"])}
    assert from_event.record["zoom_app__Join_Url__c"] == registrant["join_url"]


def test_meeting_ended_delivers_only_what_it_declares(mapping_set: MappingSet, account: Account) -> None:
    meeting = build_event(account, "meeting.ended", 0)["payload"]["object"]
    mapped = plan_of(mapping_set, "past_meetings").map_record(meeting, event="meeting.ended")
    assert mapped.record == {
        "zoom_app__Zoom_Meeting_Id__c": meeting["id"],
        "zoom_app__Zoom_Meeting_Start_Time__c": meeting["start_time"].replace("Z", ".000Z"),
        "zoom_app__Zoom_Meeting_End_Time__c": meeting["end_time"].replace("Z", ".000Z"),
        "zoom_app__Zoom_Meeting_Status__c": "Ended",
    }  # no participant count nor names: those follow by REST


def test_webinar_updated_brings_the_registration_link_and_leaves_the_other_fields_alone(
    mapping_set: MappingSet, account: Account
) -> None:
    webinar = account.user_at(0).webinars[0]
    assert webinar.registration_url  # registration is on
    event = build_event(account, "webinar.updated", 0)
    mapped = plan_of(mapping_set, "webinars").map_record(event["payload"]["object"], event="webinar.updated")
    assert mapped.record == {"zoom_app__Webinar_Id__c": str(webinar.id),
                             "zoom_app__Register_Url__c": webinar.registration_url}
    # REST carries no registration link (no webinar REST schema lists it): the field is left out
    rest = plan_of(mapping_set, "webinars").map_record(webinar.record())
    assert "zoom_app__Register_Url__c" not in rest.record and rest.record["zoom_app__Topic__c"] == webinar.topic


def test_an_event_the_mapping_does_not_declare_delivers_nothing(mapping_set: MappingSet, account: Account) -> None:
    call = build_event(account, "phone.callee_ended", 0)["payload"]["object"]
    with pytest.raises(MissingValue, match="no value for the upsert key zoom_app__Calllog_Unique_ID__c"):
        plan_of(mapping_set, "calls").map_record(call, event="meeting.ended")


def test_the_subscriptions_are_the_events_of_the_enabled_mappings(mapping_set: MappingSet) -> None:
    assert subscriptions(mapping_set) == [
        "meeting.ended", "phone.callee_ended", "phone.caller_ended", "webinar.registration_created", "webinar.updated"]


# --------------------------------------------------------------------------------------------
# What the receiver keeps of an event (EventProcessor.inbox_body)


@pytest.fixture
def processor(tmp_path: Path, mapping_set: MappingSet) -> Iterator[EventProcessor]:
    with StateStore.open(tmp_path / "state.db") as store:
        yield EventProcessor(mapping_set, store, None)


def test_an_event_is_kept_byte_for_byte_unless_it_carries_a_credential_nobody_reads(
    processor: EventProcessor, account: Account
) -> None:
    call = build_event(account, "phone.callee_ended", 0)
    assert processor.inbox_body(call["event"], call, serialize(call)) == serialize(call)
    # The registrant's join link carries a credential that a mapping writes: without ZOOMFORCE_STATE_KEY
    # the inbox keeps *** in its place (the event writes the other fields, the next sync the link).
    registration = build_event(account, "webinar.registration_created", 0)
    token = registration["payload"]["object"]["registrant"]["join_url"].split("tk=")[1]
    kept_registration = processor.inbox_body(registration["event"], registration, serialize(registration))
    assert kept_registration is not None and token.encode() not in kept_registration
    assert json.loads(kept_registration)["payload"]["object"]["registrant"]["join_url"] == "***"
    ended = build_event(account, "meeting.ended", 0)
    ended["payload"]["object"] |= {"password": "Pw-1234-x", "h323_password": "778899"}
    kept = processor.inbox_body(ended["event"], ended, serialize(ended))
    assert kept is not None and b"Pw-1234-x" not in kept and b"778899" not in kept
    assert json.loads(kept)["payload"]["object"] | {"password": "Pw-1234-x", "h323_password": "778899"} == (
        ended["payload"]["object"])
    # webinar.updated feeds two webinar fields: the webinar password it may carry is read by nobody
    updated = build_event(account, "webinar.updated", 0)
    updated["payload"]["object"]["password"] = "Wb-5566"
    kept = processor.inbox_body(updated["event"], updated, serialize(updated))
    assert kept is not None and b"Wb-5566" not in kept and b"registration_url" in kept
    chat = {"event": "chat_message.sent", "payload": {"object": {"message": "hello"}}}
    assert processor.inbox_body(chat["event"], chat, serialize(chat)) is None  # no mapping reads it


def test_with_a_state_key_the_inbox_seals_what_the_mappings_read_and_the_worker_opens_it(
    tmp_path: Path, mapping_set: MappingSet, account: Account
) -> None:
    cipher = StateCipher([StateCipher.generate_key().encode()])
    with StateStore.open(tmp_path / "state.db") as store:
        processor = EventProcessor(mapping_set, store, None, cipher=cipher)
        registration = build_event(account, "webinar.registration_created", 0)
        link = registration["payload"]["object"]["registrant"]["join_url"]
        kept = processor.inbox_body(registration["event"], registration, serialize(registration))
        assert kept is not None and link.split("tk=")[1].encode() not in kept
        sealed = json.loads(kept)["payload"]["object"]["registrant"]["join_url"]
        assert sealed.startswith("zoomforce:sealed:v1:") and cipher.open(sealed) == link
        other = StateCipher([StateCipher.generate_key().encode()])
        with pytest.raises(ValueError, match="cannot be opened"):
            other.open(sealed)  # authenticated: another key does not misread it


def test_a_record_that_cannot_be_mapped_is_a_dead_letter_keyed_as_its_event_reads_the_key(
    tmp_path: Path, account: Account
) -> None:
    folder = copy_mappings(tmp_path)
    # The REST key is now the call log id; the events still give the call id.
    replace(folder / "calls.yaml", "  - from: call_id\n    to: zoom_app__Calllog_Unique_ID__c\n",
            "  - from: id\n    to: zoom_app__Calllog_Unique_ID__c\n")
    assert errors_of(folder) == []
    mapping_set = load_mapping_set([folder]).raise_if_invalid()
    event = build_event(account, "phone.callee_ended", 0)
    event["payload"]["object"]["ringing_start_time"] = "yesterday at noon"
    with StateStore.open(tmp_path / "state.db") as store:
        store.inbox.add("req-1", event["event"], serialize(event))
        (claimed,) = store.inbox.claim(1, 30)
        assert isinstance(claimed, InboxEvent)
        EventProcessor(mapping_set, store, None)(claimed)  # nothing to write: Salesforce is not called
        (letter,) = store.dead_letters.find("calls")
    assert (letter.key, letter.code) == (event["payload"]["object"]["call_id"], "MAPPING_TYPE")
    assert letter.record["event"] == "phone.callee_ended" and letter.record["event_id"] == "req-1"


# --------------------------------------------------------------------------------------------
# zoomforce validate on the event part of a mapping


replace = replace_once


errors_of = validate_errors


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_mappings(tmp_path)


def test_a_misspelt_field_in_an_events_expression_fails_at_it_with_the_real_name(folder: Path) -> None:
    old = "    events: {phone.callee_ended: answer_start_time, phone.caller_ended: answer_start_time}\n"
    line, column = replace(folder / "calls.yaml", old, old.replace("ended: answer_start", "ended: answer_strat", 1))
    (error,) = errors_of(folder)
    assert (error["file"], error["line"]) == (str(folder / "calls.yaml"), line)
    assert error["column"] == column + len("    events: {phone.callee_ended: ")
    assert error["path"] == "fields[2].events.phone.callee_ended"
    assert error["message"] == (
        "unknown field 'answer_strat_time' in the phone.callee_ended event notification (payload.object); "
        "did you mean 'answer_start_time', 'ringing_start_time'?")


def test_an_event_in_a_fields_events_that_source_events_does_not_name(folder: Path) -> None:
    line, _ = replace(folder / "past_meetings.yaml", "    events: {meeting.ended: end_time}\n",
                      "    events: {meeting.endd: end_time}\n")
    (error,) = errors_of(folder)
    assert (error["file"], error["line"], error["path"]) == (
        str(folder / "past_meetings.yaml"), line, "fields[2].events.meeting.endd")
    assert error["message"] == ("event 'meeting.endd' does not feed this entity (it is not in source.events); "
                                "did you mean 'meeting.ended'?")


def test_an_unknown_event_type_in_source_events_fails_at_its_name(folder: Path) -> None:
    line, column = replace(folder / "registrants.yaml", "    - event: webinar.registration_created\n",
                           "    - event: webinar.registration_creatd\n")
    (error,) = errors_of(folder)
    assert (error["file"], error["line"], error["column"]) == (
        str(folder / "registrants.yaml"), line, column + len("    - event: "))
    assert error["path"] == "source.events[0].event"
    assert str(error["message"]).startswith("unknown Zoom event 'webinar.registration_creatd'; did you mean ")


def test_an_unknown_event_type_in_source_events_suggests_the_nearest_name(folder: Path) -> None:
    replace(folder / "registrants.yaml", "    - event: webinar.registration_created\n",
            "    - event: webinar.registration_creatd\n")
    (error,) = errors_of(folder)
    assert "did you mean 'webinar.registration_created'" in str(error["message"])


def test_an_event_that_gives_no_upsert_key(folder: Path) -> None:
    path = folder / "calls.yaml"
    text = path.read_text(encoding="utf-8")
    both = "    events: {phone.callee_ended: call_id, phone.caller_ended: call_id}\n"
    assert text.count(both) == 2  # the key's field and zoom_app__Call_ID__c
    path.write_text(text.replace(both, "    events: {phone.callee_ended: call_id}\n", 1), encoding="utf-8")
    line = text.count("\n", 0, text.index("    - event: phone.caller_ended\n")) + 1
    (error,) = errors_of(folder)
    assert (error["file"], error["line"], error["column"]) == (str(path), line, len("    - event: ") + 1)
    assert error["path"] == "source.events[1].event"
    assert error["message"] == (
        "event 'phone.caller_ended' gives no upsert key (zoom_app__Calllog_Unique_ID__c): "
        "add `events: {phone.caller_ended: ...}` to the key's field")


# --------------------------------------------------------------------------------------------
# zoomforce disclose


def disclose(folder: Path, *options: str) -> str:
    result = CliRunner().invoke(cli, ["disclose", "--mappings", str(folder), *options])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_disclosure_marks_what_arrives_in_real_time_and_lists_the_subscriptions(mapping_set: MappingSet) -> None:
    text = disclose(MAPPINGS)
    lines = text.splitlines()
    assert f"- Ringing start time {REALTIME}" in lines  # only from events
    assert f"- Call ID {ALSO}" in lines  # by REST and from events
    assert "- Call duration (seconds)" in lines  # by REST only: unmarked
    assert "- Zoom meeting ID" in lines and "- Number of participants" in lines  # the meetings mapping: REST only
    assert any(line.startswith(f"- Zoom meeting ID {ALSO[:-1]}; updates") for line in lines)  # after the meeting
    assert f"- E-mail address {ALSO}" in lines  # all_fields: every registrant field
    table = lines[lines.index("### Zoom event subscriptions") + 1:]
    table = table[:table.index(next(line for line in table if line.startswith("### ")))]
    rows = [line.split(" | ")[0].removeprefix("| ").strip("`") for line in table if line.startswith("| `")]
    assert rows == subscriptions(mapping_set)
    french = disclose(MAPPINGS, "--lang", "fr").splitlines()
    assert "- Heure de début de la sonnerie (en temps réel, à partir des notifications d’événements de Zoom)" in french
    assert "### Abonnements aux événements Zoom" in french


def test_the_json_disclosure_carries_the_events_of_each_item(mapping_set: MappingSet) -> None:
    document = json.loads(disclose(MAPPINGS, "--format", "json"))
    assert document["permissions"]["zoom_events"] == subscriptions(mapping_set)
    (calls,) = [s for s in document["sections"] if s["title"] == "Zoom Phone call details"]
    items = {item["label"]: item for item in calls["items"]}
    assert items["Ringing start time"]["source"]["endpoint"] == "phone.callee_ended"
    assert set(items["Ringing start time"]["realtime"].split(", ")) == {"phone.callee_ended", "phone.caller_ended"}
    assert items["Call ID"]["source"]["endpoint"] == "GET /phone/call_history"
    assert items["Call ID"]["realtime"] == "phone.callee_ended, phone.caller_ended"
    assert [t["field"] for t in items["Call ID"]["fields"][0:2] for t in [t["target"]]] == [
        "zoom_app__Calllog_Unique_ID__c", "zoom_app__Call_ID__c"]  # one source value, one item, two fields
    assert not items["Call duration (seconds)"].get("realtime")


def test_the_disclosure_follows_the_event_part_of_the_mappings(folder: Path) -> None:
    end_time = "    events: {phone.callee_ended: call_end_time, phone.caller_ended: call_end_time}\n"
    replace(folder / "calls.yaml", end_time, "")
    lines = disclose(folder).splitlines()
    assert "- Call end time" in lines  # no longer from events
    replace(folder / "calls.yaml", "entity: calls\n", "entity: calls\nenabled: false\n")
    assert errors_of(folder) == []
    text = disclose(folder)
    assert "Ringing start time" not in text
    mapping_set = load_mapping_set([folder]).raise_if_invalid()
    assert subscriptions(mapping_set) == ["meeting.ended", "webinar.registration_created", "webinar.updated"]
    events = json.loads(disclose(folder, "--format", "json"))["permissions"]["events"]
    assert [e["event"] for e in events] == ["meeting.ended", "webinar.registration_created", "webinar.updated"]
