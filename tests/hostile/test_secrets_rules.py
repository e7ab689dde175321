"""The redaction rules of engine/secrets.py against what leaked: link credentials, quoted prefixes, the WAL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.secrets import REDACTED, is_masked, mask_link, redact, redact_fields, scrub_message
from engine.serve.events import EventProcessor
from engine.serve.worker import InboxWorker
from engine.sync.state.cipher import StateCipher
from engine.sync.state.inbox import InboxEvent
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS

START = "https://example.zoom.us/s/85746065432?zak=eyJ0eXAiOiJKV1QiLCJzdiI6IjAwMDAwMSIsInptX3NrbSI6InptX28ybSIsImFsZyI6"


def test_a_link_keeps_everything_but_its_credentials() -> None:
    assert mask_link("https://example.zoom.us/j/857?pwd=abcDEF123.1&uname=Ada") == (
        "https://example.zoom.us/j/857?pwd=***&uname=Ada")
    assert mask_link("https://example.zoom.us/w/1?foo=1&TK=x-y_z#frag") == "https://example.zoom.us/w/1?foo=1&TK=***#frag"
    assert mask_link("https://example.com/?sig=abc", ["?sig"]) == "https://example.com/?sig=***"
    assert mask_link("https://example.com/?sig=abc") == "https://example.com/?sig=abc"  # not named: kept
    assert mask_link("pwd=abc is no link") == "pwd=abc is no link"
    assert is_masked("https://example.zoom.us/j/857?pwd=***") and is_masked(REDACTED)
    assert not is_masked("https://example.zoom.us/j/857?pwd=abc")


def test_redaction_masks_links_at_any_depth_and_in_flat_records() -> None:
    record = {"join_url": "https://z.us/j/1?pwd=secret-pass", "nested": [{"url": "https://z.us/w/2?tk=tok-123"}],
              "password": "p4ss"}
    assert redact(record, ["password"]) == {"join_url": "https://z.us/j/1?pwd=***",
                                            "nested": [{"url": "https://z.us/w/2?tk=***"}], "password": "***"}
    assert redact_fields({"Join__c": "https://z.us/j/1?pwd=secret-pass", "Pw__c": "x"}, frozenset({"Pw__c"})) == {
        "Join__c": "https://z.us/j/1?pwd=***", "Pw__c": "***"}


def test_a_quoted_prefix_of_a_secret_is_scrubbed_not_only_the_whole_value() -> None:
    record = {"start_url": START}
    quoted = f"zoom_app__Start_Url__c: data value too large: {START[:255][:-1]} (max length=255)"
    message = scrub_message(quoted, record, ["start_url"])
    token = START.split("zak=")[1]
    assert all(token[i:i + 8] not in message for i in range(len(token) - 7)), message
    assert message.endswith("(max length=255)") and "data value too large" in message
    cut = "value: https://example.zoom.us/j/857?pwd=abc"  # a link cut short: its credential is masked anyway
    assert scrub_message(cut, {}, []) == "value: https://example.zoom.us/j/857?pwd=***"
    assert scrub_message("short 'ab' stays", {"password": "ab"}, ["password"]) == "short 'ab' stays"


def test_the_state_key_must_be_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.errors import ConfigError

    assert StateCipher.from_env({}) is None
    with pytest.raises(ConfigError, match="ZOOMFORCE_STATE_KEY is not a Fernet key"):
        StateCipher.from_env({"ZOOMFORCE_STATE_KEY": "hunter2"})
    old, new = StateCipher.generate_key(), StateCipher.generate_key()
    sealed = StateCipher([old.encode()]).seal({"a": "b"})
    rotated = StateCipher.from_env({"ZOOMFORCE_STATE_KEY": f"{new},{old}"})
    assert rotated is not None and rotated.open(sealed) == {"a": "b"}


def test_the_worker_empties_the_write_ahead_log_after_each_batch(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with StateStore.open(state) as store:
        for n in range(5):
            body = b'{"event":"meeting.started","secret":"x"}' * 50 + bytes([n])
            store.inbox.add(f"evt-{n}", "meeting.started", body)
        assert (tmp_path / "state.db-wal").stat().st_size > 0
        seen: list[InboxEvent] = []
        InboxWorker(store, seen.append, idle_wait=0.01).drain(10)
        assert len(seen) == 5 and store.inbox.counts() == {"done": 5}
        assert (tmp_path / "state.db-wal").stat().st_size == 0, "a copy of the bodies lingers in -wal"
        assert b'"secret":"x"' not in state.read_bytes()


def test_an_event_given_up_on_becomes_dead_letters_and_keeps_no_body(tmp_path: Path) -> None:
    body = (b'{"event":"webinar.registration_created","payload":{"object":{"id":1,"registrant":'
            b'{"id":"R1","email":"a@example.com","join_url":"https://z.us/w/1?tk=personal-token-1"}}}}')
    with StateStore.open(tmp_path / "state.db") as store:
        processor = EventProcessor(load_mapping_set([MAPPINGS]).raise_if_invalid(), store, None)
        kept = processor.inbox_body("webinar.registration_created", json.loads(body), body)
        assert kept is not None and b"personal-token-1" not in kept
        store.inbox.add("evt-1", "webinar.registration_created", kept)

        def failing(event: InboxEvent) -> None:
            raise RuntimeError("Salesforce said no")

        failing.bury = processor.bury  # type: ignore[attr-defined]
        InboxWorker(store, failing, max_attempts=2, backoff_base=0, backoff_max=0, idle_wait=0.01).drain(10)
        (event,) = [store.inbox.get(1)]
        assert event is not None and event.status == "dead" and event.body == b""
        (letter,) = store.dead_letters.find("registrants")
        assert (letter.key, letter.code) == ("R1", "EVENT_ATTEMPTS_EXHAUSTED")
        assert letter.record["event"] == "webinar.registration_created" and "Salesforce said no" in letter.message
        assert store.inbox.requeue_dead() == 0


def test_a_dead_event_an_earlier_version_kept_with_its_body_becomes_dead_letters_not_a_requeue(
    tmp_path: Path,
) -> None:
    body = (b'{"event":"webinar.registration_created","payload":{"object":{"id":7,"registrant":'
            b'{"id":"R7","email":"old@example.com"}}}}')
    with StateStore.open(tmp_path / "state.db") as store:
        store.inbox.add("evt-old", "webinar.registration_created", body)
        store.inbox.claim(1, 30)
        store._db.change("UPDATE inbox SET status = 'dead', last_error = 'gave up' WHERE id = 1", (), "event 1")
        processor = EventProcessor(load_mapping_set([MAPPINGS]).raise_if_invalid(), store, None)
        InboxWorker(store, processor, idle_wait=0.01).drain(10)
        event = store.inbox.get(1)
        assert event is not None and (event.status, event.body) == ("dead", b"")
        (letter,) = store.dead_letters.find("registrants")
        assert (letter.key, letter.code, letter.record["event_id"]) == ("R7", "EVENT_ATTEMPTS_EXHAUSTED", "evt-old")
