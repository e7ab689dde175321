"""Hostile records through ``map``, ``sync`` (against the emulators, over real sockets) and ``serve``.

Hypothesis draws hostile JSON values (tests/hostile/strategies.py) and places them in one record among
good ones. Whatever it holds, the record is mapped or becomes one per-record error (a dead letter in
``sync`` and ``serve``, with a ``MAPPING_*`` code), the good records are all written, nothing exits 70,
``serve`` answers 200 or 400 (never 500) and every stored event ends done, never pending for good.

The Zoom emulator is wrapped in a small ASGI filter that puts the raw hostile text into its answers
(the emulator itself only speaks well-formed JSON). Examples are few and unbounded in time
(``deadline=None``): the suite stays fast.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli.main import cli
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.emulators.zoom.webhooks import build_event, serialize
from engine.errors import InputTooDeep
from engine.language.plan import RunContext, compile_plan
from engine.language.safe_json import TOO_DEEP
from engine.serve.app import WEBHOOK_PATH, create_app
from engine.serve.events import EventProcessor
from engine.serve.worker import InboxWorker
from engine.serving import start_in_thread
from engine.sync.output import planned_lines
from engine.sync.state.cipher import StateCipher
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet, load_mapping_set
from engine.zoom.reader import SourceItem, ZoomSource
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, copy_mappings, signed_headers
from tests.hostile.strategies import hostile_json, record_with
from tests.test_sync import Server as EmulatorServer
from tests.test_sync import World, _break_meeting_topics, expected_counts, key_values, run_sync, secrets_of

MARK = "@@HOSTILE@@"
SECRET = "hostile-webhook-secret"
FEW = settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])


class Rewrite:
    """An ASGI filter: every answer's body with ``"@@HOSTILE@@"`` replaced by the current raw JSON text."""

    def __init__(self, app: Any):
        self.app = app
        self.value: bytes | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.value is None:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        value = self.value

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks).replace(json.dumps(MARK).encode(), value)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Rewrite]]:
    tls = make_tls_files(tmp_path_factory.mktemp("hostile-tls"))
    zoom = zoom_app(ZoomEmulatorConfig(users=2))
    rewrite = Rewrite(zoom)
    sf = salesforce_app(SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS))
    world = World(EmulatorServer(zoom, start_in_thread(rewrite)), EmulatorServer(sf, start_in_thread(sf, tls=tls)),
                  tls.ca_file)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", world.ca_file)
        yield world, rewrite
    world.zoom.running.stop()
    world.salesforce.running.stop()
    close_app(zoom)


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


def _a_registrant(world: World) -> dict[str, Any]:
    for webinar_id in world.account.webinar_ids():
        webinar = world.account.find_webinar(str(webinar_id))
        assert webinar is not None
        approved = [r for r in webinar.registrants if r["status"] == "approved"]
        if approved:
            return approved[0]
    raise AssertionError("the synthetic account has no approved registrant")


# ---- map -------------------------------------------------------------------------------------------


@FEW
@given(value=hostile_json, key=st.sampled_from(["email", "id", "first_name", "extra", "settings"]))
def test_map_maps_or_reports_a_hostile_record_and_keeps_the_others(value: str, key: str) -> None:
    good = {"id": "U1", "email": "a@example.com"}
    lines = [json.dumps(good), record_with({"id": "H1", "email": "h@example.com"}, key, value),
             json.dumps({**good, "id": "U3"})]
    result = CliRunner().invoke(cli, ["map", "users", "--mappings", str(MAPPINGS)], input="\n".join(lines))
    assert result.exit_code in (0, 1), (result.exit_code, result.output[-1000:], result.exception)
    written = [json.loads(line)["upsert_key"] for line in result.stdout.splitlines()]
    assert {"zoom_app__Web_User_Id__c": "U1"} in written and {"zoom_app__Web_User_Id__c": "U3"} in written
    if result.exit_code == 1:
        assert "users: record 1: " in result.stderr and "internal error" not in result.stderr


# ---- sync -------------------------------------------------------------------------------------------


def _sync_registrants(world: World, store: StateStore, mapping_set: MappingSet) -> tuple[int, list[Any]]:
    report = run_sync(world, store, mapping_set, entities=("registrants",))
    return report.entities["registrants"].failed, store.dead_letters.find("registrants")


@FEW
@given(value=hostile_json, key=st.sampled_from(["email", "first_name", "id", "custom_questions", "extra"]))
def test_sync_writes_every_good_registrant_beside_a_hostile_one(
    hostile_world: tuple[World, Rewrite], mapping_set: MappingSet, tmp_path: Path, value: str, key: str
) -> None:
    world, rewrite = hostile_world
    world.salesforce.post("reset")
    registrant = _a_registrant(world)
    kept = registrant.get(key)
    registrant[key], rewrite.value = MARK, value.encode()
    try:
        with StateStore.open(tmp_path / f"state-{uuid.uuid4().hex}.db") as store:
            failed, letters = _sync_registrants(world, store, mapping_set)
    finally:
        rewrite.value = None
        if kept is None:
            registrant.pop(key, None)
        else:
            registrant[key] = kept
    written = key_values(world, "registrants")
    expected = expected_counts(world.account)["registrants"]
    assert failed <= 1 and len(written) + failed == expected
    others = {str(r["id"]) for w in world.account.webinar_ids() for r in world.account.find_webinar(str(w)).registrants
              if r["status"] == "approved" and r is not registrant}
    assert others <= set(written), "a good registrant was not written"
    if failed:  # refused by the mapping (MAPPING_*) or by Salesforce (STRING_TOO_LONG for a 1 MB id)
        (letter,) = letters
        assert re.fullmatch(r"[A-Z][A-Z_]+", letter.code), letter.code


def test_a_registrant_per_webinar_with_a_broken_email_blocks_nothing(
    hostile_world: tuple[World, Rewrite], mapping_set: MappingSet, tmp_path: Path
) -> None:
    world, rewrite = hostile_world
    world.salesforce.post("reset")
    broken = []
    for webinar_id in world.account.webinar_ids():
        webinar = world.account.find_webinar(str(webinar_id))
        approved = [r for r in webinar.registrants if r["status"] == "approved"] if webinar else []
        if approved:
            broken.append((approved[0], approved[0]["email"]))
            approved[0]["email"] = MARK
    rewrite.value = rb'"a\ud800@example.com"'
    try:
        with StateStore.open(tmp_path / "state.db") as store:
            for _ in range(2):  # the rerun is not blocked either
                failed, letters = _sync_registrants(world, store, mapping_set)
                assert failed == len(broken)
                assert {letter.code for letter in letters} == {"MAPPING_INVALID_TEXT"}
                assert len(letters) == len(broken)
    finally:
        rewrite.value = None
        for record, email in broken:
            record["email"] = email
    assert len(key_values(world, "registrants")) == expected_counts(world.account)["registrants"] - len(broken)


def test_a_webinar_whose_agenda_nests_3000_deep_is_a_dead_letter_and_the_run_goes_on(
    hostile_world: tuple[World, Rewrite], mapping_set: MappingSet, tmp_path: Path
) -> None:
    world, rewrite = hostile_world
    world.salesforce.post("reset")
    webinar = world.account.find_webinar(str(world.account.webinar_ids()[0]))
    assert webinar is not None
    rewrite.value = b"[" * 3000 + b"]" * 3000
    cls = type(webinar)
    agenda = cls.agenda  # a property of the emulator's data: the marked webinar's agenda is the marker
    try:
        cls.agenda = property(lambda self: MARK if self is webinar else agenda.fget(self))  # type: ignore[method-assign]
        with StateStore.open(tmp_path / "state.db") as store:
            report = run_sync(world, store, mapping_set, entities=("webinars",))
            letters = store.dead_letters.find("webinars")
    finally:
        cls.agenda = agenda  # type: ignore[method-assign]
        rewrite.value = None
    assert report.entities["webinars"].failed == 1
    (letter,) = letters
    assert letter.code == "MAPPING_INPUT_TOO_DEEP" and "limit: nesting depth 64" in letter.message
    assert len(key_values(world, "webinars")) == expected_counts(world.account)["webinars"] - 1


def test_records_of_certified_answers_are_checked_and_one_of_a_hostile_answer_is_walked(
    hostile_world: tuple[World, Rewrite], mapping_set: MappingSet
) -> None:
    """The reader carries each answer's certificate to its records (users: listed, detail and includes
    joined); an answer holding the marker is not certified, and its record is walked and refused."""
    world, rewrite = hostile_world
    zoom = world.zoom_client()
    registrant = _a_registrant(world)
    kept = registrant["first_name"]
    try:
        source = ZoomSource(zoom)
        users = [item for item in source.read(mapping_set.get("users")) if isinstance(item, SourceItem)]
        assert users and all(item.checked for item in users)
        assert all("settings" in item.record for item in users)
        webinars = [item.record for item in source.read(mapping_set.get("webinars"), [u.record for u in users])
                    if isinstance(item, SourceItem)]
        registrant["first_name"], rewrite.value = MARK, json.dumps(TOO_DEEP).encode()
        items = [item for item in source.read(mapping_set.get("registrants"), webinars)
                 if isinstance(item, SourceItem)]
    finally:
        registrant["first_name"], rewrite.value = kept, None
        zoom.close()
    hostile = [item for item in items if item.record.get("first_name") == TOO_DEEP]
    assert len(hostile) == 1 and not hostile[0].checked
    assert any(item.checked for item in items)  # the other webinars' answers
    plan = compile_plan(mapping_set.get("registrants"))
    with pytest.raises(InputTooDeep):
        plan.map_record(hostile[0].record, RunContext(parent=hostile[0].parent), checked=hostile[0].checked)


# ---- serve ------------------------------------------------------------------------------------------


@FEW
@given(value=hostile_json, key=st.sampled_from(["email", "first_name", "id", "join_url", "webinar:id",
                                               "webinar:topic", "webinar:extra"]),
       with_request_id=st.booleans())
def test_serve_answers_and_finishes_every_hostile_event(
    hostile_world: tuple[World, Rewrite], mapping_set: MappingSet, tmp_path: Path, value: str, key: str,
    with_request_id: bool,
) -> None:
    world, _ = hostile_world
    event = build_event(world.account, "webinar.registration_created", 0)
    webinar = event["payload"]["object"]
    if key.startswith("webinar:"):  # the parent around the registrant
        webinar[key.removeprefix("webinar:")] = MARK
    else:
        webinar["registrant"][key] = MARK
    body = serialize(event).replace(json.dumps(MARK).encode(), value.encode())
    with StateStore.open(tmp_path / f"serve-{uuid.uuid4().hex}.db") as store:
        writer = world.writer()
        worker = InboxWorker(store, EventProcessor(mapping_set, store, writer), idle_wait=0.02, max_attempts=3,
                             backoff_base=0.0, backoff_max=0.0)
        server = start_in_thread(create_app(store, SECRET, None, worker=worker))
        try:
            headers = signed_headers(body, SECRET, str(int(time.time())),
                                     uuid.uuid4().hex if with_request_id else None)
            answer = httpx.post(server.url + WEBHOOK_PATH, content=body, headers=headers, timeout=30)
            assert answer.status_code in (200, 400), answer.text
            worker.drain(30)
            counts = store.inbox.counts()
            assert not counts.get("pending") and not counts.get("processing"), counts
            if answer.status_code == 200:  # a hostile record is its dead letter: the event itself is done
                assert counts == {"done": 1}, (counts, store.inbox.get(1))
                assert all(e.body == b"" for e in map(store.inbox.get, [1]) if e is not None)
        finally:
            server.stop()
            writer.close()


# ---- no secret at rest: every output, log and state file of a run, grepped ------------------------------


def _credentials(world: World) -> set[str]:
    """Every credential of the account: passwords, start links' zak, join links' pwd and tk."""
    found = set(secrets_of(world.account))
    account = world.account
    for meeting_id in account.meeting_ids():
        meeting = account.find_meeting(str(meeting_id))
        if meeting is not None:
            found |= {meeting.encrypted, meeting.zak}
    for webinar_id in account.webinar_ids():
        webinar = account.find_webinar(str(webinar_id))
        if webinar is not None:
            # (the webinar's own join link carries the token that also names its public registration link,
            # registration_url .../register/WN_<token>, a disclosed item: the personal links are the secrets)
            found |= set(re.findall(r"[?&](?:tk|pwd|zak)=([^&]+)",
                                    " ".join(str(p["join_url"]) for p in [*webinar.registrants, *webinar.panelists])))
    return {s for s in found if s and len(s) >= 6}


def _files_of(state: Path) -> bytes:
    """Every file the state leaves beside it (the database, its -wal and -shm), raw bytes."""
    return b"".join(path.read_bytes() for path in sorted(state.parent.glob(state.name + "*")))


def _assert_none_in(credentials: set[str], where: str, data: bytes) -> None:
    leaked = sorted(secret for secret in credentials if secret.encode() in data)
    assert not leaked, f"{len(leaked)} credential(s) in {where}, e.g. {leaked[0][:6]}..."


@pytest.mark.parametrize("state_key", [None, "key"], ids=["no state key", "ZOOMFORCE_STATE_KEY"])
def test_no_credential_in_any_output_log_or_state_file(
    hostile_world: tuple[World, Rewrite], mapping_set: MappingSet, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    state_key: str | None,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    world, _ = hostile_world
    world.salesforce.post("reset")
    credentials = _credentials(world)
    assert len(credentials) > 20
    state = tmp_path / "sync.db"
    broken = copy_mappings(tmp_path)  # every meeting refused by Salesforce: dead letters of records with secrets
    _break_meeting_topics(broken)
    outputs: list[str] = []
    with StateStore.open(state) as store:
        run_sync(world, store, load_mapping_set([broken]).raise_if_invalid())
        dry = run_sync(world, store, mapping_set, dry_run=True)
        outputs += planned_lines(dry.planned)
        outputs += [json.dumps(letter.record) + letter.message for letter in store.dead_letters.find(status=None)]
    _assert_none_in(credentials, "the sync's state files", _files_of(state))
    meeting = world.account.find_meeting(str(world.account.meeting_ids()[0]))
    assert meeting is not None
    mapped = CliRunner().invoke(cli, ["map", "meetings", "--mappings", str(MAPPINGS)],
                                input=json.dumps(meeting.record()))
    assert mapped.exit_code == 0 and "?pwd=***" in mapped.stdout
    outputs.append(mapped.stdout)
    _assert_none_in(credentials, "map output, the dry run and dead letters", "\n".join(outputs).encode())

    # serve: events wait in the inbox (the worker is not running), then are processed
    cipher = StateCipher([StateCipher.generate_key().encode()]) if state_key else None
    inbox = tmp_path / "serve.db"
    with StateStore.open(inbox) as store:
        writer = world.writer()
        processor = EventProcessor(mapping_set, store, writer, cipher=cipher)
        worker = InboxWorker(store, processor, idle_wait=0.02, max_attempts=3)
        server = start_in_thread(create_app(store, SECRET, None, worker=worker))
        try:
            fresh = {f"https://example.zoom.us/w/1{index}?tk=FreshPersonalToken{index}x" for index in range(6)}
            credentials |= {link.split("tk=")[1] for link in fresh}
            for index, link in enumerate(sorted(fresh)):
                event = build_event(world.account, "webinar.registration_created", index)
                event["payload"]["object"]["password"] = "Webinar-Pass-9876"
                event["payload"]["object"]["registrant"]["join_url"] = link
                body = serialize(event)
                answer = httpx.post(server.url + WEBHOOK_PATH, content=body, timeout=30,
                                    headers=signed_headers(body, SECRET, str(int(time.time())), uuid.uuid4().hex))
                assert answer.json() == {"status": "accepted"}
            _assert_none_in(credentials | {"Webinar-Pass-9876"}, "the inbox while Salesforce waits", _files_of(inbox))
            worker.drain(60)
            assert store.inbox.counts() == {"done": 6}
            _assert_none_in(credentials | {"Webinar-Pass-9876"}, "the inbox once done", _files_of(inbox))
            written = {r["zoom_app__Join_Url__c"] for r in world.writer().query(
                "SELECT zoom_app__Join_Url__c FROM zoom_app__Zoom_Webinar_Registrant__c") if r["zoom_app__Join_Url__c"]}
            if cipher is not None:  # sealed, then opened: the link reaches Salesforce whole (a disclosed item)
                assert fresh <= written
            else:  # kept as ***: the event leaves the link out, Salesforce keeps the one the sync wrote
                assert not fresh & written and not any("***" in link for link in written)
        finally:
            server.stop()
            writer.close()
    _assert_none_in(credentials, "the log", caplog.text.encode())


@pytest.mark.parametrize("request_id", [None, "b7R0Kq_requestid"], ids=["no request id", "request id"])
def test_an_event_whose_registrant_email_is_broken_is_answered_and_done_in_one_attempt(
    hostile_world: tuple[World, Rewrite], mapping_set: MappingSet, tmp_path: Path, request_id: str | None
) -> None:
    world, _ = hostile_world
    event = build_event(world.account, "webinar.registration_created", 1)
    event["payload"]["object"]["registrant"]["email"] = MARK
    body = serialize(event).replace(json.dumps(MARK).encode(), rb'"a\ud800@example.com"')
    with StateStore.open(tmp_path / "serve.db") as store:
        writer = world.writer()
        worker = InboxWorker(store, EventProcessor(mapping_set, store, writer), idle_wait=0.02)
        server = start_in_thread(create_app(store, SECRET, None, worker=worker))
        try:
            answer = httpx.post(server.url + WEBHOOK_PATH, content=body, timeout=30,
                                headers=signed_headers(body, SECRET, str(int(time.time())), request_id))
            assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
            worker.drain(30)
            stored = store.inbox.get(1)
            assert stored is not None and (stored.status, stored.attempts, stored.body) == ("done", 1, b"")
            (letter,) = store.dead_letters.find("registrants")
            assert letter.code == "MAPPING_INVALID_TEXT" and "lone surrogate" in letter.message
        finally:
            server.stop()
            writer.close()
