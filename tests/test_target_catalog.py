"""The Salesforce target catalog (schemas/salesforce) and engine.salesforce.catalog, which reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError
from engine.resources import schemas_dir
from engine.salesforce.catalog import (
    ADDED_KEY,
    FIELD_KEYS,
    INFERRED_KEY,
    UnknownObject,
    known_objects,
    load_catalog,
    type_accepts,
    write_catalog,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "build_salesforce_catalog.py"
CATALOG = schemas_dir() / "salesforce"
REFERENCE = REPO / "reference" / "salesforce"
INVENTORY = REFERENCE / "zoom-for-salesforce.package-inventory.json"

UPSERT_KEYS = {
    "zoom_app__Zoom_Event__c": "zoom_app__Zoom_Meeting_Id__c",
    "zoom_app__Zoom_Webinar__c": "zoom_app__Webinar_Id__c",
    "zoom_app__Zoom_Webinar_Registrant__c": "zoom_app__External_key__c",
    "zoom_app__Zoom_Webinar_Attendee__c": "zoom_app__UUID__c",
    "zoom_app__Zoom_Webinar_Panelist__c": "zoom_app__Panelist_ID__c",
    "zoom_app__Zoom_Call_Log__c": "zoom_app__Calllog_Unique_ID__c",
    "zoom_app__Zoom_Voice_User__c": "zoom_app__Web_User_Id__c",
}
# Second external ids: what an upsert falls back to when a record lacks the designated key.
FALLBACK_KEYS = {"zoom_app__Zoom_Webinar_Attendee__c": ["zoom_app__User_Id__c"]}
PACKAGE_OBJECTS = [*UPSERT_KEYS, "zoom_app__Zoom_Webinar_History__c"]
# Inventory groups of package fields on standard objects -> the catalog files that carry them.
STANDARD_GROUPS = {"Activity": ["Event", "Task"], "Lead": ["Lead"], "User": ["User"], "Campaign": ["Campaign"],
                   "CampaignMember": ["CampaignMember"]}
RECORDED = ("Account", "Contact", "Event", "Lead")


def catalog_json(name: str, directory: Path = CATALOG) -> dict[str, Any]:
    return json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))


def recorded_describe(name: str) -> dict[str, Any]:
    return json.loads((REFERENCE / f"describe.{name}.cumulusci.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------- the build script


def test_rerunning_the_script_gives_byte_identical_files(tmp_path: Path) -> None:
    out = tmp_path / "catalog"
    run = subprocess.run([sys.executable, str(SCRIPT), "--reference", str(REFERENCE), "--out", str(out)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    built = sorted(p.name for p in out.glob("*.json"))
    shipped = sorted(p.name for p in CATALOG.glob("*.json"))
    assert built == shipped
    for name in built:
        assert (out / name).read_bytes() == (CATALOG / name).read_bytes(), f"{name} differs: rerun the script"


def test_files_are_stable_text_with_sorted_fields() -> None:
    for name in known_objects():
        text = (CATALOG / f"{name}.json").read_text(encoding="utf-8")
        data = json.loads(text)
        assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n", name
        names = [f["name"] for f in data["fields"]]
        assert names == sorted(names, key=lambda n: (n.lower(), n)), name
        assert len(set(names)) == len(names), name
        assert data["x-zoomforce"]["origin"], name


def test_every_package_field_of_the_inventory_is_in_its_catalog() -> None:
    inventory = json.loads(INVENTORY.read_text(encoding="utf-8"))["zoom_app"]["custom_fields"]
    expected: dict[str, list[str]] = {obj: inventory[obj] for obj in PACKAGE_OBJECTS}
    for group, objects in STANDARD_GROUPS.items():
        for obj in objects:
            expected[obj] = inventory[group]
    for obj, qualified in expected.items():
        names = {f["name"] for f in catalog_json(obj)["fields"]}
        missing = [q.split(".", 1)[1] for q in qualified if q.split(".", 1)[1] not in names]
        assert not missing, f"{obj} lacks {missing}"


def test_recorded_describes_are_kept_verbatim_and_only_additions_are_inferred() -> None:
    for obj in RECORDED:
        recorded = {f["name"]: f for f in recorded_describe(obj)["fields"]}
        for catalog_field in catalog_json(obj)["fields"]:
            source = recorded.get(catalog_field["name"])
            if source is None:
                assert catalog_field.get(INFERRED_KEY), f"{obj}.{catalog_field['name']} is not marked inferred"
                continue
            assert INFERRED_KEY not in catalog_field, f"{obj}.{catalog_field['name']} is recorded, not inferred"
            assert {k: catalog_field[k] for k in FIELD_KEYS} == {k: source[k] for k in FIELD_KEYS}
        assert set(recorded) <= {f["name"] for f in catalog_json(obj)["fields"]}, obj


def test_every_field_without_a_recorded_describe_says_why() -> None:
    recorded_objects = set(RECORDED)
    for obj in known_objects():
        for catalog_field in catalog_json(obj)["fields"]:
            if catalog_field.get(ADDED_KEY):
                assert catalog_field["name"].endswith("__c") and not catalog_field["name"].startswith("zoom_app__")
                continue
            package_field = catalog_field["name"].startswith("zoom_app__")
            if obj not in recorded_objects or package_field:
                reason = catalog_field.get(INFERRED_KEY)
                assert isinstance(reason, str) and len(reason) > 20, f"{obj}.{catalog_field['name']}"


def test_each_package_object_has_exactly_its_designated_upsert_key() -> None:
    for obj in PACKAGE_OBJECTS:
        catalog = load_catalog(obj)
        expected = UPSERT_KEYS.get(obj)
        fallbacks = FALLBACK_KEYS.get(obj, [])
        assert sorted(catalog.external_ids()) == sorted([expected, *fallbacks] if expected else []), obj
        assert catalog.upsert_key == expected, obj
        if expected:
            key = catalog.field(expected)
            assert key is not None and key.unique and key.id_lookup and key.type == "string"
            assert key.inferred and "External ID" in key.inferred


def test_zoomforce_added_user_fields() -> None:
    user = load_catalog("User")
    added = {name for name, f in user.fields.items() if f.added}
    assert added == {"Zoom_User_Id__c", "Zoom_Phone_User_Id__c", "Zoom_Email__c", "Zoom_PMI__c",
                     "Zoom_Add_On_Licenses__c"}
    zoom_id = user.fields["Zoom_User_Id__c"]
    assert (zoom_id.type, zoom_id.length, zoom_id.external_id, zoom_id.unique) == ("string", 64, True, True)
    assert (user.fields["Zoom_Email__c"].type, user.fields["Zoom_Email__c"].length) == ("email", 80)
    assert user.fields["Zoom_PMI__c"].length == 20
    assert (user.fields["Zoom_Add_On_Licenses__c"].type, user.fields["Zoom_Add_On_Licenses__c"].length) == (
        "textarea", 4000)
    assert user.field("zoom_app__Zoom_Meeting_Password__c") is not None
    assert user.upsert_key == "Zoom_User_Id__c"


def test_start_urls_fit_and_lookups_have_relationships() -> None:
    meeting = load_catalog("zoom_app__Zoom_Event__c")
    start = meeting.fields["zoom_app__Start_Url__c"]
    assert start.type == "textarea" and start.length >= 2000
    assert meeting.fields["zoom_app__Join_Url__c"].type == "url"
    registrant = load_catalog("zoom_app__Zoom_Webinar_Registrant__c")
    parent = registrant.by_relationship("zoom_app__Zoom_Webinar__r")
    assert parent is not None and parent.name == "zoom_app__Zoom_Webinar__c"
    assert parent.reference_to == ("zoom_app__Zoom_Webinar__c",)
    history = load_catalog("zoom_app__Zoom_Webinar_History__c")
    assert history.fields["zoom_app__Contact__c"].reference_to == ("Contact",)
    assert history.fields["zoom_app__Lead__c"].reference_to == ("Lead",)
    assert load_catalog("Event").fields["zoom_app__Zoom_Event__c"].reference_to == ("zoom_app__Zoom_Event__c",)
    assert load_catalog("Campaign").fields["zoom_app__Zoom_Webinar__c"].relationship_name == "zoom_app__Zoom_Webinar__r"


# ---------------------------------------------------------------------------- the runtime module


def test_contact_fields_as_recorded() -> None:
    contact = load_catalog("Contact")
    assert contact.fields["LastName"].nillable is False
    email = contact.fields["Email"]
    assert (email.type, email.length) == ("email", 80)
    assert contact.required_on_create() == ["LastName"]
    assert load_catalog("Lead").required_on_create() == ["Company", "LastName"]
    recorded = {f["name"]: f for f in recorded_describe("Contact")["fields"]}
    assert (recorded["LastName"]["nillable"], recorded["Email"]["type"], recorded["Email"]["length"]) == (
        False, "email", 80)


def test_field_lookup_ignores_case_and_reports_the_canonical_name() -> None:
    contact = load_catalog("contact")
    assert contact.name == "Contact"
    found = contact.field("email")
    assert found is not None and found.name == "Email"
    assert contact.field("Email") is found
    assert contact.field("NoSuchField__c") is None
    assert contact.by_relationship("account") is not None and contact.by_relationship("account").name == "AccountId"


def test_suggest_proposes_the_nearest_names() -> None:
    meeting = load_catalog("zoom_app__Zoom_Event__c")
    suggestions = meeting.suggest("zoom_app__Meeting_Topic")
    assert suggestions[0] == "zoom_app__Meeting_Topic__c"
    assert len(suggestions) <= 3


def test_unknown_object_is_a_key_error_with_suggestions() -> None:
    with pytest.raises(UnknownObject) as caught:
        load_catalog("zoom_app__Zoom_Webinar_Registrants__c")
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
    assert caught.value.name == "zoom_app__Zoom_Webinar_Registrants__c"
    assert "zoom_app__Zoom_Webinar_Registrant__c" in caught.value.suggestions
    assert str(caught.value).startswith("unknown Salesforce object 'zoom_app__Zoom_Webinar_Registrants__c' "
                                        "(no catalog in schemas/salesforce); did you mean "
                                        "'zoom_app__Zoom_Webinar_Registrant__c'")


def test_known_objects_lists_every_catalog_file() -> None:
    objects = known_objects()
    assert set(PACKAGE_OBJECTS) <= set(objects)
    assert {"Account", "Contact", "Lead", "Event", "Task", "User", "Campaign", "CampaignMember"} <= set(objects)


def test_write_catalog_round_trips_a_describe(tmp_path: Path) -> None:
    source = recorded_describe("Contact")
    path = write_catalog(source, tmp_path, today="2026-11-25")
    assert path == tmp_path / "Contact.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["fields"] == catalog_json("Contact")["fields"]
    assert written["x-zoomforce"]["origin"] == "live describe of Contact (2026-11-25)"
    assert written["x-zoomforce"]["inferred"] is False
    loaded = load_catalog("Contact", tmp_path)
    assert loaded.fields == load_catalog("Contact").fields
    assert known_objects(tmp_path) == ["Contact"]


def test_write_catalog_replaces_an_inferred_file_and_keeps_a_confirmed_upsert_key(tmp_path: Path) -> None:
    name = "zoom_app__Zoom_Webinar__c"
    (tmp_path / f"{name}.json").write_text((CATALOG / f"{name}.json").read_text(encoding="utf-8"))
    assert load_catalog(name, tmp_path).inferred
    live = {"name": name, "label": "Zoom Webinar", "custom": True, "fields": [
        {"name": "zoom_app__Webinar_Id__c", "type": "string", "length": 20, "externalId": True, "unique": True},
        {"name": "zoom_app__Topic__c", "type": "string", "length": 200},
    ]}
    write_catalog(live, tmp_path)
    replaced = load_catalog(name, tmp_path)
    assert not replaced.inferred and replaced.upsert_key == "zoom_app__Webinar_Id__c"
    topic = replaced.fields["zoom_app__Topic__c"]
    assert topic.length == 200 and topic.inferred is None
    assert replaced.origin.startswith("live describe")


@pytest.mark.parametrize(
    ("sf_type", "value_type", "expected"),
    [
        ("string", "string", True), ("string", "integer", True), ("string", "email", True),
        ("string", "url", True), ("string", "id", True), ("string", "picklist", True),
        ("string", "number", False), ("string", "boolean", False), ("string", "datetime", False),
        ("textarea", "url", True), ("phone", "string", True), ("combobox", "picklist", True),
        ("encryptedstring", "string", True),
        ("email", "email", True), ("email", "string", True), ("email", "url", False),
        ("url", "url", True), ("url", "string", True), ("url", "email", False),
        ("picklist", "picklist", True), ("picklist", "string", True), ("picklist", "integer", False),
        ("multipicklist", "picklist", True),
        ("int", "integer", True), ("int", "number", False), ("int", "string", False),
        ("double", "integer", True), ("double", "number", True), ("currency", "number", True),
        ("percent", "integer", True), ("double", "string", False),
        ("boolean", "boolean", True), ("boolean", "string", False),
        ("datetime", "datetime", True), ("datetime", "date", False),
        ("date", "date", True), ("date", "datetime", False),
        ("reference", "id", True), ("reference", "string", True), ("reference", "integer", False),
        ("id", "id", True), ("id", "string", True),
        ("address", "string", False), ("base64", "string", False), ("nonsense", "string", False),
    ],
)
def test_type_accepts(sf_type: str, value_type: str, expected: bool) -> None:
    assert type_accepts(sf_type, value_type) is expected
