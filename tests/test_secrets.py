"""engine.secrets: the one place that says which names are secret and how their values are hidden."""

from __future__ import annotations

import json

from engine import secrets
from engine.language.plan import secret_names
from engine.resources import schemas_dir
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS


def test_the_credential_keys_come_from_the_shipped_schema_file() -> None:
    listed = json.loads((schemas_dir() / secrets.SECRETS_FILE).read_text(encoding="utf-8"))["zoom_credential_keys"]
    assert secrets.credential_keys() == frozenset(listed)
    assert {"password", "encrypted_password", "zak", "start_url"} <= secrets.credential_keys()
    assert listed == sorted(listed), "keep schemas/secrets.json sorted"


def test_a_secret_path_redacts_its_leaf_not_the_objects_on_the_way() -> None:
    names = secrets.secret_names(["Password__c"], [("settings", "password"), ("settings",), ("pin",)])
    assert {"Password__c", "password", "pin"} <= names
    assert "settings" not in names
    assert secrets.credential_keys() <= names


def test_a_mappings_secret_names_hold_its_secret_targets_and_the_keys_they_read() -> None:
    meetings = load_mapping_set([MAPPINGS]).raise_if_invalid().get("meetings")
    names = secret_names(meetings)
    assert set(meetings.secret_targets) <= names
    assert "password" in names


def test_flat_redaction_keeps_nulls_and_other_fields() -> None:
    record = {"Password__c": "s3cret", "Topic__c": "x", "Pin__c": None}
    assert secrets.redact_fields(record, frozenset({"Password__c", "Pin__c"})) == {
        "Password__c": "***", "Topic__c": "x", "Pin__c": None}


def test_scrub_message_hides_every_secret_value_of_the_record() -> None:
    record = {"id": 7, "settings": {"password": "hunter22", "topic": "weekly"}}
    message = "rejected 'hunter22' for meeting 7 (weekly)"
    assert secrets.scrub_message(message, record, ["password"]) == "rejected '***' for meeting 7 (weekly)"
