"""Build schemas/salesforce/<Object>.json, the Salesforce target catalog, from ``reference/salesforce/``.

Usage: python scripts/build_salesforce_catalog.py [--reference DIR] [--out DIR]

Three kinds of object, each file saying which in ``x-zoomforce.origin``:

* the ``zoom_app`` managed package objects: exact field names from the package inventory of a real
  subscriber org; their types and flags are not public, so they are inferred from the names (and
  from GitLab's warehouse casts where there are some), and every field says why in
  ``x-zoomforce-inferred``;
* standard objects with a recorded describe (Account, Contact, Event, Lead): every field kept with
  the catalog's properties, values verbatim; the package's own fields on them are added, inferred;
* standard objects without one (User, Task, Campaign, CampaignMember): the fields zoomforce needs,
  from the Salesforce field reference, marked as not from a recorded describe; plus, on User and
  Campaign, the fields zoomforce adds to the org (``x-zoomforce-added``);
* the objects zoomforce adds to the org (``Zoom_Recording__c``): custom objects of no package, marked
  ``x-zoomforce-added`` in their ``x-zoomforce`` block, every field too.

The package's own fields and the fields zoomforce would add are kept apart: only the latter carry
``x-zoomforce-added`` (the Salesforce emulator leaves them out of its stock org).

The output is deterministic (fields sorted by name, 2-space indent, trailing newline): rerunning it
gives no diff. Replace an inferred file with a live org's describe through
``engine.salesforce.catalog.write_catalog``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT / "reference" / "salesforce"
DEFAULT_OUT = ROOT / "schemas" / "salesforce"

NS = "zoom_app__"
INVENTORY = "zoom-for-salesforce.package-inventory.json"
DESCRIBED = ("Account", "Contact", "Event", "Lead")
MAX_TEXT = 255  # the longest Text / URL field Salesforce allows
LONG_TEXT = 32768  # the default (and usual) length of a Long Text Area

DEFAULT_LENGTH = {
    "id": 18, "reference": 18, "string": MAX_TEXT, "url": MAX_TEXT, "email": 80, "phone": 40,
    "textarea": LONG_TEXT, "picklist": MAX_TEXT, "multipicklist": 4099, "combobox": MAX_TEXT,
}

# ------------------------------------------------------------------------------ what we catalog


@dataclass(frozen=True)
class PackageObject:
    label: str
    plural: str
    purpose: str
    upsert_key: str | None
    key_reason: str


PACKAGE_OBJECTS: dict[str, PackageObject] = {
    "zoom_app__Zoom_Event__c": PackageObject(
        "Zoom Event", "Zoom Events",
        "A Zoom meeting (the package calls it an extension of Event that saves all Zoom meeting info); "
        "a Salesforce Event links to it through Activity.zoom_app__Zoom_Event__c.",
        "zoom_app__Zoom_Meeting_Id__c",
        "the Zoom meeting id (an int64 kept as digits) identifies the meeting; zoomforce upserts on it"),
    "zoom_app__Zoom_Webinar__c": PackageObject(
        "Zoom Webinar", "Zoom Webinars", "A Zoom webinar; Campaign.zoom_app__Zoom_Webinar__c links a campaign to it.",
        "zoom_app__Webinar_Id__c", "the Zoom webinar id identifies the webinar; zoomforce upserts on it"),
    "zoom_app__Zoom_Webinar_Registrant__c": PackageObject(
        "Zoom Webinar Registrant", "Zoom Webinar Registrants",
        "A registration to a webinar. It has no lookup to Contact or Lead: the person is linked only "
        "through zoom_app__Zoom_Webinar_History__c (zoom_app__Contact__c / zoom_app__Lead__c).",
        "zoom_app__External_key__c", "holds the Zoom registrant id, unique per registration"),
    "zoom_app__Zoom_Webinar_Attendee__c": PackageObject(
        "Zoom Webinar Attendee", "Zoom Webinar Attendees",
        "One participation in a webinar (one join), linked to the webinar and, when known, to the "
        "registrant or panelist who joined.",
        "zoom_app__UUID__c",
        "holds the Zoom participant id of the join, unique per participation (a person who joins "
        "twice has two attendee records)"),
    "zoom_app__Zoom_Webinar_Panelist__c": PackageObject(
        "Zoom Webinar Panelist", "Zoom Webinar Panelists", "A panelist of a webinar.",
        "zoom_app__Panelist_ID__c", "the Zoom panelist id identifies the panelist"),
    "zoom_app__Zoom_Webinar_History__c": PackageObject(
        "Zoom Webinar History", "Zoom Webinar Histories",
        "One person's history with one webinar: links the webinar and the registrant, attendee or "
        "panelist records to a Contact or Lead. The only path from webinar data to Contact/Lead.",
        None,
        "no field holds a Zoom identifier, so there is no upsert key: find a record by "
        "(zoom_app__Zoom_Webinar__c, zoom_app__Contact__c or zoom_app__Lead__c) before writing"),
    "zoom_app__Zoom_Call_Log__c": PackageObject(
        "Zoom Call Log", "Zoom Call Logs",
        "A Zoom Phone call log entry; a Task links to it through Activity.zoom_app__Zoom_Call_Log__c.",
        "zoom_app__Calllog_Unique_ID__c",
        "named as the unique id of the call log entry; zoomforce upserts on it"),
    "zoom_app__Zoom_Voice_User__c": PackageObject(
        "Zoom Voice User", "Zoom Voice Users", "A Zoom (Phone) user known to the package.",
        "zoom_app__Web_User_Id__c",
        "holds the Zoom user id, which every Zoom user has (the PBX id exists only for Zoom Phone users)"),
}

OBJECT_BY_LOCAL = {
    "Zoom_Event": "zoom_app__Zoom_Event__c", "Zoom_Webinar": "zoom_app__Zoom_Webinar__c",
    "Zoom_Webinar_Registrant": "zoom_app__Zoom_Webinar_Registrant__c",
    "Zoom_Webinar_Attendee": "zoom_app__Zoom_Webinar_Attendee__c",
    "Zoom_Webinar_Panelist": "zoom_app__Zoom_Webinar_Panelist__c",
    "Zoom_Call_Log": "zoom_app__Zoom_Call_Log__c", "Contact": "Contact", "Lead": "Lead",
}

# -------------------------------------------------------------------------------- field building


def picklist(values: Iterable[str], default: str | None = None) -> list[dict[str, Any]]:
    return [{"active": True, "defaultValue": v == default, "label": v, "validFor": None, "value": v} for v in values]


def make_field(name: str, label: str, type_: str, *, inferred: str | None = None, added: str | None = None,
               **options: Any) -> dict[str, Any]:
    """A catalog field in describe shape; options override the defaults Salesforce uses for the type.

    `inferred` says why a definition that no describe confirmed is what it is; `added` marks a field
    zoomforce asks the integrator to create.
    """
    boolean = type_ == "boolean"
    external_id = bool(options.get("externalId", False))
    out: dict[str, Any] = {
        "name": name, "label": label, "type": type_,
        "length": options.get("length", DEFAULT_LENGTH.get(type_, 0)),
        "nillable": options.get("nillable", not boolean),
        "externalId": external_id,
        "unique": options.get("unique", False),
        "idLookup": options.get("idLookup", external_id or type_ == "id"),
        "referenceTo": list(options.get("referenceTo", [])),
        "relationshipName": options.get("relationshipName"),
        "createable": options.get("createable", True),
        "updateable": options.get("updateable", True),
        "defaultedOnCreate": options.get("defaultedOnCreate", boolean),
        "picklistValues": options.get("picklistValues", []),
        "precision": options.get("precision", 18 if type_ in ("double", "currency", "percent") else 0),
        "scale": options.get("scale", 0),
    }
    if inferred:
        out["x-zoomforce-inferred"] = inferred
    if added:
        out["x-zoomforce-added"] = added
    return out


def system_fields(why: str, *, owner: str | None = None, deletable: bool = True) -> list[dict[str, Any]]:
    """The fields Salesforce gives every record, with the flags its describes show for them."""
    read_only: dict[str, Any] = {"nillable": False, "createable": False, "updateable": False,
                                 "defaultedOnCreate": True, "inferred": why}
    user = {"referenceTo": ["User"], **read_only}
    fields = [
        make_field("Id", "Record ID", "id", **read_only),
        make_field("CreatedDate", "Created Date", "datetime", **read_only),
        make_field("CreatedById", "Created By ID", "reference", relationshipName="CreatedBy", **user),
        make_field("LastModifiedDate", "Last Modified Date", "datetime", **read_only),
        make_field("LastModifiedById", "Last Modified By ID", "reference", relationshipName="LastModifiedBy", **user),
        make_field("SystemModstamp", "System Modstamp", "datetime", **read_only),
    ]
    if deletable:
        fields.append(make_field("IsDeleted", "Deleted", "boolean", **read_only))
    if owner:
        fields.append(make_field("OwnerId", "Owner ID", "reference", nillable=False, defaultedOnCreate=True,
                                 referenceTo=["Group", "User"], relationshipName="Owner",
                                 inferred=f"{why}; {owner}"))
    return fields


def custom_object_fields() -> list[dict[str, Any]]:
    why = ("standard field of every custom object (Salesforce docs, 'System Fields'); flags as Salesforce "
           "describes them")
    owner = ("assumes the object is not the detail of a master-detail relationship (a detail has no OwnerId: "
             "its parent owns it)")
    name_why = ("the Name field of every custom object, assumed Text(80) rather than Auto Number; the API "
                "fills it with the record id when left empty, hence defaulted on create; idLookup as Salesforce "
                "describes name fields")
    return [*system_fields(why, owner=owner),
            make_field("Name", "Name", "string", length=80, defaultedOnCreate=True, idLookup=True,
                       inferred=name_why)]


# ------------------------------------------------------------------------ inferring package fields


@dataclass(frozen=True)
class Guess:
    type: str
    reason: str
    options: dict[str, Any] = field(default_factory=dict)


def local_name(api_name: str) -> str:
    return api_name.removeprefix(NS).removesuffix("__c")


def relationship_of(api_name: str) -> str:
    return api_name.removesuffix("__c") + "__r"


TOKEN_FLAG_PREFIXES = ("is", "has", "enable", "allow", "send", "disable", "create", "add", "setting")

START_URL = ("a Zoom start URL embeds the host's ZAK token and runs to several hundred characters, past "
             "the 255 characters of a Text or URL field: assumed Long Text Area(32768)")
START_URL_PART = ("numbered sibling of zoom_app__Start_Url__c: assumed a Text(255) part of the start URL "
                  "split in 255-character pieces (what a package does where a long text area cannot be "
                  "used, e.g. in formulas); zoomforce writes the whole URL to zoom_app__Start_Url__c")
LONG_TEXT_WHY = "free text of no fixed size: assumed Long Text Area(32768)"

OVERRIDES: dict[tuple[str, str], Guess] = {
    ("*", "Start_Url"): Guess("textarea", START_URL),
    ("Zoom_Event", "Start_Url_1"): Guess("string", START_URL_PART),
    ("Zoom_Event", "Start_Url_2"): Guess("string", START_URL_PART),
    ("Zoom_Event", "Start_Url_3"): Guess("string", START_URL_PART),
    ("Zoom_Webinar_Registrant", "Join_Url1"): Guess(
        "textarea", "a second join-URL field beside the URL(255) one: assumed a Long Text Area(32768) that "
        "holds join URLs too long for 255 characters (registrant URLs carry a tk token)"),
    ("Zoom_Event", "Participants"): Guess("textarea", "a list of participants: " + LONG_TEXT_WHY),
    ("Zoom_Webinar", "Agenda"): Guess("textarea", "Zoom agendas take up to 2,000 characters: " + LONG_TEXT_WHY),
    ("Zoom_Webinar_Registrant", "Comments"): Guess("textarea", "registrant questions and comments: " + LONG_TEXT_WHY),
    ("Zoom_Webinar_Registrant", "Number_of_Employees"): Guess(
        "string", "Zoom's no_of_employees is a range label ('1-20', '500-1,000'), not a count: Text(255)"),
    ("Zoom_Webinar_Registrant", "Address"): Guess("string", "a one-line address from the registration form: Text(255)"),
    ("Zoom_Webinar_Attendee", "Duration_HH_Mi_SS"): Guess(
        "string", "the duration formatted HH:MI:SS: Text(255); it may be a formula over zoom_app__Duration__c "
        "in the package, and then not createable"),
    ("Zoom_Webinar", "Setting_Approval_Type"): Guess(
        "string", "Zoom's approval_type is a code (0, 1, 2), not a flag despite the Setting_ prefix: Text(255)"),
    ("Zoom_Webinar", "UUId_Unique"): Guess(
        "string", "the name says it is a unique copy of the webinar UUID: Text(255) marked Unique; not an "
        "External ID, so not an upsert key", {"unique": True}),
    ("Zoom_Call_Log", "Third_Party_Number"): Guess("phone", "a phone number: Phone(40)"),
    ("Zoom_Call_Log", "Call_ID"): Guess(
        "string", "Zoom's call_id is shared by the call-log entries of one call (caller's and callee's, "
        "each leg), so neither unique nor an external id: Text(255); zoom_app__Calllog_Unique_ID__c is the key"),
    ("Zoom_Call_Log", "Contact"): Guess(
        "reference", "named like Contact: a lookup to it. It has no namespace: a subscriber-org field of the "
        "monitored org listed with the package, absent from most orgs; do not map to it",
        {"referenceTo": ["Contact"], "relationshipName": "Contact__r"}),
    ("Zoom_Voice_User", "PBX_User_Id"): Guess(
        "string", "the Zoom Phone user id: Text(255); not an External ID, only Zoom Phone users have one "
        "(zoom_app__Web_User_Id__c is the key)"),
    ("Zoom_Voice_User", "AccessToken"): Guess("textarea", "an OAuth access token (a JWT of several hundred "
                                                          "characters): assumed Long Text Area(32768)"),
    ("Zoom_Voice_User", "RefreshToken"): Guess("textarea", "an OAuth refresh token (a JWT of several hundred "
                                                           "characters): assumed Long Text Area(32768)"),
}


def _is_flag(local: str) -> str | None:
    first = local.split("_")[0]
    if first.lower() in TOKEN_FLAG_PREFIXES:
        return first
    match = re.match(r"^(is|Is|has|Has)[A-Z]", local)
    return match.group(1) if match else None


def rule_reference(local: str) -> Guess | None:
    target = OBJECT_BY_LOCAL.get(local)
    if target is None:
        return None
    relationship = relationship_of(f"{NS}{local}__c")
    return Guess("reference", f"named like the object {target}: a lookup to it (relationship "
                              f"{relationship}); assumed a Lookup (nillable), not master-detail",
                 {"referenceTo": [target], "relationshipName": relationship})


def rule_flag(local: str) -> Guess | None:
    prefix = _is_flag(local)
    if prefix is None:
        return None
    return Guess("boolean", f"name starts with '{prefix}': a setting or flag, assumed Checkbox")


def rule_time(local: str) -> Guess | None:
    if local.endswith("_Time") or local.endswith("TimeStamp"):
        return Guess("datetime", "name ends in Time/TimeStamp: a point in time, assumed Date/Time")
    return None


def rule_number(local: str) -> Guess | None:
    if "Score" in local:
        return Guess("double", "a score: assumed Number(16, 2)", {"precision": 18, "scale": 2})
    words = local.split("_")
    if "Duration" in words or "Count" in words or local.startswith("Number_of_"):
        return Guess("double", "a duration or count: assumed Number(18, 0)")
    return None


def rule_email(local: str) -> Guess | None:
    if "Email" in local.split("_"):
        return Guess("email", "an e-mail address: assumed Email (80 characters, fixed by Salesforce)")
    return None


def rule_phone(local: str) -> Guess | None:
    if "Phone" in local.split("_"):
        return Guess("phone", "a phone number: assumed Phone(40)")
    return None


def rule_url(local: str) -> Guess | None:
    if any(word.lower() == "url" for word in local.split("_")):
        return Guess("url", "a URL: assumed URL(255), the maximum of a URL field; Zoom join, registration "
                            "and webhook URLs stay well under it")
    return None


TEXT_KINDS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"status", "type"}), "a status, type or code from Zoom: Text(255); it may be a picklist in the "
                                    "package (values not public), which takes the same strings unless restricted"),
    (frozenset({"id", "uuid", "key"}), "an identifier (Zoom ids are strings, or int64 digits kept as text): "
                                       "Text(255)"),
    (frozenset({"password"}), "a passcode (Zoom's are at most 10 characters): Text(255)"),
    (frozenset({"token"}), "a webhook secret token (a short random string): Text(255)"),
    (frozenset({"number"}), "a number kept as text (extension numbers may have leading zeros): Text(255)"),
)


def rule_text(local: str) -> Guess:
    words = {w.lower() for w in local.split("_")}
    for kind, reason in TEXT_KINDS:
        if words & kind:
            return Guess("string", reason)
    return Guess("string", "text (a name, topic, address part or label): Text(255), the longest Text field")


RULES: tuple[Callable[[str], Guess | None], ...] = (
    rule_reference, rule_flag, rule_time, rule_number, rule_email, rule_phone, rule_url,
)

# What each GitLab warehouse cast allows the Salesforce type to be.
CAST_TYPES = {
    "TIMESTAMP_TZ": {"datetime"},
    "FLOAT": {"double", "int", "currency", "percent"},
    "BOOLEAN": {"boolean"},
    "TEXT": {"string", "textarea", "email", "url", "phone", "picklist", "reference", "id"},
}


def guess_field(object_api: str, api_name: str) -> Guess:
    local, obj = local_name(api_name), local_name(object_api)
    override = OVERRIDES.get((obj, local)) or OVERRIDES.get(("*", local))
    if override is not None:
        return override
    for rule in RULES:
        found = rule(local)
        if found is not None:
            return found
    return rule_text(local)


def with_cast(guess: Guess, cast: str | None, api_name: str) -> str:
    """The inference reason, checked against (and citing) the warehouse cast when there is one."""
    if cast is None:
        return guess.reason
    if guess.type not in CAST_TYPES[cast]:
        raise SystemExit(f"{api_name}: inferred {guess.type} contradicts GitLab's warehouse cast {cast}")
    return f"{guess.reason}; GitLab's warehouse cast {cast} agrees"


def package_field(object_api: str, api_name: str, cast: str | None) -> dict[str, Any]:
    guess = guess_field(object_api, api_name)
    reason = with_cast(guess, cast, api_name)
    options: dict[str, Any] = dict(guess.options)
    key = PACKAGE_OBJECTS[object_api].upsert_key
    if api_name == key:
        options.update(externalId=True, unique=True)
        why_key = PACKAGE_OBJECTS[object_api].key_reason
        reason = f"{reason}; External ID + Unique inferred (the designated upsert key: {why_key})"
    elif (object_api, api_name) in FALLBACK_KEYS:
        options.update(externalId=True)
        reason = f"{reason}; External ID inferred ({FALLBACK_KEYS[object_api, api_name]})"
    label = local_name(api_name).replace("_", " ")
    return make_field(api_name, label, guess.type, inferred=f"{reason}; label from the API name", **options)


# A second external id on a package object: the key zoomforce falls back to when a record has no
# value for the designated one.
FALLBACK_KEYS: dict[tuple[str, str], str] = {
    ("zoom_app__Zoom_Webinar_Attendee__c", "zoom_app__User_Id__c"): (
        "the fallback upsert key: Zoom leaves a guest's participant id empty, and the per-join user_id "
        "then identifies the participation"),
}


def zoomforce_package_fields(object_api: str) -> list[dict[str, Any]]:
    """Fields zoomforce asks the integrator to add to a package object (``x-zoomforce-added``)."""
    def added(name: str, label: str, type_: str, what: str, **options: Any) -> dict[str, Any]:
        return make_field(name, label, type_, **options, added=ADDED_WHY.format(what=what))

    def person_lookups(record: str) -> list[dict[str, Any]]:
        return [
            added("Contact__c", "Contact", "reference", f"the Contact with the {record}'s e-mail address (the "
                  "package links a person only through zoom_app__Zoom_Webinar_History__c)", length=18,
                  referenceTo=["Contact"], relationshipName="Contact__r"),
            added("Lead__c", "Lead", "reference", f"the Lead with the {record}'s e-mail address", length=18,
                  referenceTo=["Lead"], relationshipName="Lead__r"),
        ]

    fields: dict[str, list[dict[str, Any]]] = {
        "zoom_app__Zoom_Voice_User__c": [
            added("Zoom_PMI_Password__c", "Zoom PMI Password", "encryptedstring", "the password of the user's "
                  "personal meeting id (an encrypted text field: it is a credential)", length=175),
            added("Zoom_Add_On_Licenses__c", "Zoom Add-on Licenses", "textarea", "the user's Zoom add-on "
                  "licences (a list)", length=4000),
        ],
        "zoom_app__Zoom_Webinar_Registrant__c": person_lookups("registrant"),
        "zoom_app__Zoom_Webinar_Attendee__c": person_lookups("attendee"),
    }
    return fields.get(object_api, [])


# ---------------------------------------------------------------- package fields on standard objects

METADATA_TYPES: dict[str, tuple[str, int]] = {
    "Lookup": ("reference", 18), "Checkbox": ("boolean", 0), "TextArea": ("textarea", 255),
    "DateTime": ("datetime", 0), "Number": ("double", 0), "Picklist": ("picklist", 255), "Text": ("string", 255),
}
PACKAGE_GROUPS = {"Event": "Activity", "Task": "Activity", "Lead": "Lead", "Campaign": "Campaign",
                  "CampaignMember": "CampaignMember", "User": "User"}


def typed_package_field(api_name: str, typed: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A package field whose metadata type and label are known (sfdx-hardis docs/objects)."""
    sf_type, length = METADATA_TYPES[typed["type"]]
    options: dict[str, Any] = {"length": length}
    if sf_type == "reference":
        target = OBJECT_BY_LOCAL[local_name(api_name)]
        options.update(referenceTo=[target], relationshipName=relationship_of(api_name))
    why = (f"type {typed['type']} and label from the package's field metadata ({source}@{typed['source_commit']}, "
           f"docs/objects); length, precision and flags inferred: Salesforce's defaults for a {typed['type']} "
           "field (Text 255, Text Area 255, Number 18,0), nillable, createable and updateable")
    return make_field(api_name, typed["label"], sf_type, inferred=why, **options)


def untyped_package_field(object_api: str, api_name: str) -> dict[str, Any]:
    """A package field on a standard object whose type is not published (User's): inferred by name."""
    guess = guess_field(object_api, api_name)
    why = f"{guess.reason}; no type is published for this field; label from the API name"
    return make_field(api_name, local_name(api_name).replace("_", " "), guess.type, **guess.options,
                      inferred=why)


def standard_object_package_fields(inventory: Mapping[str, Any], object_api: str) -> list[dict[str, Any]]:
    """The zoom_app fields on a standard object (Event and Task share the Activity ones)."""
    group = PACKAGE_GROUPS.get(object_api)
    typed = inventory["zoom_app_fields_on_standard_objects_with_types"]
    source = inventory["x-zoomforce-provenance"]["repo"]
    out = []
    for qualified in inventory["zoom_app"]["custom_fields"].get(group, []) if group else []:
        api_name = qualified.split(".", 1)[1]
        known = typed.get(qualified)
        if known:
            out.append(typed_package_field(api_name, known, source))
        else:
            out.append(untyped_package_field(object_api, api_name))
    return out


# ------------------------------------------------------------------- documented standard objects


def documented(why: str) -> Callable[..., dict[str, Any]]:
    """A builder of standard fields taken from the Salesforce field reference, marked as such."""
    def build(name: str, label: str, type_: str, **options: Any) -> dict[str, Any]:
        note = options.pop("why", "")
        return make_field(name, label, type_, inferred=why + (f"; {note}" if note else ""), **options)
    return build


USER_DOCS = ("standard User field from the Salesforce Object Reference (User), not from a recorded "
             "describe: type and length from the docs, flags reconstructed from its documented properties")
TASK_DOCS = ("standard Task field from the Salesforce field reference (NOTES-salesforce-api.md §2), not from "
             "a recorded describe: type and length from the docs, flags reconstructed")
CAMPAIGN_DOCS = ("standard Campaign field from the Salesforce field reference (NOTES-salesforce-api.md §2), "
                 "not from a recorded describe: type and length from the docs, flags reconstructed")
MEMBER_DOCS = ("standard CampaignMember field from the Salesforce field reference (NOTES-salesforce-api.md §2), "
               "not from a recorded describe: type and length from the docs, flags reconstructed")
SYSTEM_DOCS = "standard system field (Salesforce docs, 'System Fields'), not from a recorded describe"
CREATE_ONLY = ("required when a User is created; listed so required_on_create() is truthful "
               "(zoomforce never creates users)")


def user_fields() -> list[dict[str, Any]]:
    doc = documented(USER_DOCS)
    return [
        *system_fields(SYSTEM_DOCS, deletable=False),
        doc("Username", "Username", "string", length=80, nillable=False, unique=True, idLookup=True),
        doc("Email", "Email", "email", length=128, nillable=False),
        doc("FirstName", "First Name", "string", length=40),
        doc("LastName", "Last Name", "string", length=80, nillable=False),
        doc("Name", "Full Name", "string", length=121, createable=False, updateable=False),
        doc("FederationIdentifier", "SAML Federation ID", "string", length=512, idLookup=True,
            why="the SAML/SSO subject, often the Zoom user's SSO identity"),
        doc("IsActive", "Active", "boolean"),
        doc("Alias", "Alias", "string", length=8, nillable=False, why=CREATE_ONLY),
        doc("ProfileId", "Profile ID", "reference", nillable=False, referenceTo=["Profile"],
            relationshipName="Profile", why=CREATE_ONLY),
        doc("TimeZoneSidKey", "Time Zone", "picklist", length=40, nillable=False, why=CREATE_ONLY),
        doc("LocaleSidKey", "Locale", "picklist", length=40, nillable=False, why=CREATE_ONLY),
        doc("EmailEncodingKey", "Email Encoding", "picklist", length=40, nillable=False, why=CREATE_ONLY),
        doc("LanguageLocaleKey", "Language", "picklist", length=40, nillable=False, why=CREATE_ONLY),
    ]


ADDED_WHY = ("zoomforce's own custom field (no namespace): a Salesforce org running the zoom_app package has "
             "no field for {what}, so the integrator creates this one (or retargets the mapping)")


def zoomforce_user_fields() -> list[dict[str, Any]]:
    def added(name: str, label: str, type_: str, what: str, **options: Any) -> dict[str, Any]:
        return make_field(name, label, type_, **options, added=ADDED_WHY.format(what=what))

    return [
        added("Zoom_User_Id__c", "Zoom User ID", "string", "the Zoom user id; External ID + Unique so that "
              "zoomforce matches Salesforce users to Zoom users by it (update only: it never creates users)",
              length=64, externalId=True, unique=True),
        added("Zoom_Phone_User_Id__c", "Zoom Phone User ID", "string", "the Zoom Phone user id", length=64),
        added("Zoom_Email__c", "Zoom Email", "email", "the user's Zoom e-mail (it may differ from the "
              "Salesforce one)", length=80),
        added("Zoom_PMI__c", "Zoom Personal Meeting ID", "string", "the personal meeting id (PMI) "
              "(its password goes to the package's zoom_app__Zoom_Meeting_Password__c)", length=20),
        added("Zoom_Add_On_Licenses__c", "Zoom Add-on Licenses", "textarea", "the user's Zoom add-on "
              "licences (a list)", length=4000),
    ]


def task_fields() -> list[dict[str, Any]]:
    doc = documented(TASK_DOCS)
    return [
        *system_fields(SYSTEM_DOCS),
        doc("Subject", "Subject", "combobox", why="its values differ per org"),
        doc("ActivityDate", "Due Date Only", "date"),
        doc("Description", "Comments", "textarea", length=32000),
        doc("WhoId", "Name ID", "reference", referenceTo=["Contact", "Lead"], relationshipName="Who"),
        doc("WhatId", "Related To ID", "reference", referenceTo=["Account", "Campaign", "Case", "Opportunity"],
            relationshipName="What", why="referenceTo trimmed to the common parents; an org allows many more"),
        doc("OwnerId", "Assigned To ID", "reference", nillable=False, defaultedOnCreate=True,
            referenceTo=["Group", "User"], relationshipName="Owner"),
        doc("Status", "Status", "picklist", length=40, nillable=False, defaultedOnCreate=True,
            why="values are org-defined (TaskStatus)"),
        doc("Priority", "Priority", "picklist", length=40, nillable=False, defaultedOnCreate=True,
            why="values are org-defined (TaskPriority)"),
        doc("CallDurationInSeconds", "Call Duration", "int", length=0, precision=8),
        doc("CallObject", "Call Object Identifier", "string"),
        doc("CallDisposition", "Call Result", "string"),
        doc("CallType", "Call Type", "picklist", length=40,
            picklistValues=picklist(["Internal", "Inbound", "Outbound"]),
            why="values Internal/Inbound/Outbound not read on Salesforce (NOTES §2)"),
        doc("TaskSubtype", "Task Subtype", "picklist", length=40, updateable=False,
            picklistValues=picklist(["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"]),
            why="type, values and create-only flag by analogy with Event.EventSubtype; not read on Salesforce"),
    ]


def campaign_fields() -> list[dict[str, Any]]:
    doc = documented(CAMPAIGN_DOCS)
    added = make_field("Zoom_Webinar_Id__c", "Zoom Webinar ID", "string", length=32, externalId=True, unique=True,
                       added=ADDED_WHY.format(what="the id of the Zoom webinar a campaign is for; External ID + "
                                                   "Unique so that zoomforce upserts a webinar's campaign on it "
                                                   "(Campaign has no external id of its own)"))
    return [
        added,
        *system_fields(SYSTEM_DOCS),
        doc("Name", "Name", "string", length=80, nillable=False),
        doc("StartDate", "Start Date", "date"),
        doc("EndDate", "End Date", "date"),
        doc("IsActive", "Active", "boolean"),
        doc("Description", "Description", "textarea", length=32000),
        doc("Type", "Type", "picklist", length=40, why="values are org-defined; the 40-character length comes "
                                                       "from a third-party page (uncertain)"),
        doc("Status", "Status", "picklist", length=40, why="values are org-defined; length uncertain as for Type"),
        doc("OwnerId", "Owner ID", "reference", nillable=False, defaultedOnCreate=True, referenceTo=["User"],
            relationshipName="Owner"),
        doc("ParentId", "Parent Campaign ID", "reference", referenceTo=["Campaign"], relationshipName="Parent"),
        doc("CampaignMemberRecordTypeId", "Campaign Member Type ID", "reference", referenceTo=["RecordType"],
            relationshipName="CampaignMemberRecordType"),
    ]


def campaign_member_fields() -> list[dict[str, Any]]:
    doc = documented(MEMBER_DOCS)
    one_of = "create-only; the docs call both ContactId and LeadId required: one of the two must be set"
    return [
        *system_fields(SYSTEM_DOCS),
        doc("CampaignId", "Campaign ID", "reference", nillable=False, updateable=False, referenceTo=["Campaign"],
            relationshipName="Campaign", why="required, create-only"),
        doc("ContactId", "Contact ID", "reference", updateable=False, referenceTo=["Contact"],
            relationshipName="Contact", why=one_of),
        doc("LeadId", "Lead ID", "reference", updateable=False, referenceTo=["Lead"], relationshipName="Lead",
            why=one_of),
        doc("Status", "Status", "picklist", length=40, defaultedOnCreate=True,
            why="values live in CampaignMemberStatus per campaign; the campaign's default applies when empty"),
        doc("HasResponded", "Responded", "boolean", createable=False, updateable=False,
            why="read-only: follows the Status's HasResponded"),
        doc("FirstRespondedDate", "First Responded Date", "date", createable=False, updateable=False),
    ]


# ---------------------------------------------------------------------------------- the objects


def provenance_text(prov: Mapping[str, Any], file_name: str) -> str:
    paths = prov.get("paths") or [prov.get("path")]
    return f"{prov['repo']}@{prov['commit']} ({', '.join(str(p) for p in paths)}) via reference/salesforce/{file_name}"


def package_origin(inventory: Mapping[str, Any], object_api: str) -> str:
    origin = "field names: " + provenance_text(inventory["x-zoomforce-provenance"], INVENTORY)
    hints = inventory["warehouse_type_hints"]
    cast_file = hints["files"].get(object_api)
    if cast_file:
        repo = hints["repo"].split(" ")[0]
        origin += f"; type hints: {repo}@{cast_file['commit']} ({cast_file['path']})"
    return origin


def package_object(inventory: Mapping[str, Any], object_api: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = PACKAGE_OBJECTS[object_api]
    casts = (inventory["warehouse_type_hints"]["files"].get(object_api) or {}).get("casts", {})
    names = [q.split(".", 1)[1] for q in inventory["zoom_app"]["custom_fields"][object_api]]
    fields = custom_object_fields() + [package_field(object_api, n, casts.get(n.lower())) for n in names]
    fields += zoomforce_package_fields(object_api)
    describe = {"name": object_api, "label": spec.label, "labelPlural": spec.plural, "custom": True,
                "keyPrefix": None, "fields": fields}
    key_note = (f"Upsert key {spec.upsert_key}: {spec.key_reason}." if spec.upsert_key
                else f"No upsert key: {spec.key_reason}.")
    meta: dict[str, Any] = {
        "origin": package_origin(inventory, object_api),
        "inferred": True,
        "note": (f"{spec.purpose} {key_note} The package publishes no types or flags: every field is inferred "
                 "(see x-zoomforce-inferred). Replace this file with a live org's describe "
                 "(engine.salesforce.catalog.write_catalog)."),
    }
    if spec.upsert_key:
        meta["upsert_key"] = spec.upsert_key
    return describe, meta


def described_object(reference: Path, inventory: Mapping[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    file_name = f"describe.{name}.cumulusci.json"
    recorded = json.loads((reference / file_name).read_text(encoding="utf-8"))
    added = standard_object_package_fields(inventory, name)
    describe = {**recorded, "fields": list(recorded["fields"]) + added}
    origin = "recorded describe: " + provenance_text(recorded["x-zoomforce-provenance"], file_name)
    note = "Every field of the recorded describe, verbatim values (org-specific picklists and custom fields included)."
    if added:
        origin += "; zoom_app fields: " + provenance_text(inventory["x-zoomforce-provenance"], INVENTORY)
        note += " The zoom_app package's fields on this object are added and inferred (see x-zoomforce-inferred)."
    return describe, {"origin": origin, "inferred": bool(added), "note": note}


@dataclass(frozen=True)
class DocumentedObject:
    label: str
    plural: str
    key_prefix: str
    fields: Callable[[], list[dict[str, Any]]]
    source: str
    upsert_key: str | None = None
    note: str = ""


DOCUMENTED_OBJECTS: dict[str, DocumentedObject] = {
    "User": DocumentedObject(
        "User", "Users", "005", lambda: user_fields() + zoomforce_user_fields(),
        "Salesforce Object Reference, User (standard fields; no recorded describe)", "Zoom_User_Id__c",
        "Only the standard fields zoomforce needs (and those a create requires). The fields marked "
        "x-zoomforce-added are not in any org until the integrator creates them. Upsert key Zoom_User_Id__c "
        "(zoomforce-added); write with updateOnly: zoomforce never creates users."),
    "Task": DocumentedObject(
        "Task", "Tasks", "00T", task_fields,
        "Salesforce field reference, Task (NOTES-salesforce-api.md §2; no recorded describe)", None,
        "A Zoom Phone call can be logged as a Task linked to zoom_app__Zoom_Call_Log__c. No external id."),
    "Campaign": DocumentedObject(
        "Campaign", "Campaigns", "701", campaign_fields,
        "Salesforce field reference, Campaign (NOTES-salesforce-api.md §2; no recorded describe)",
        "Zoom_Webinar_Id__c",
        "The package links a campaign to a webinar through zoom_app__Zoom_Webinar__c. Campaign has no external "
        "id: zoomforce upserts on Zoom_Webinar_Id__c, which it adds (x-zoomforce-added)."),
    "CampaignMember": DocumentedObject(
        "Campaign Member", "Campaign Members", "00v", campaign_member_fields,
        "Salesforce field reference, CampaignMember (NOTES-salesforce-api.md §2; no recorded describe)", None,
        "A Contact or Lead in a campaign; the package adds the registrant/panelist ids and join/leave times. "
        "No external id: a member is unique per (CampaignId, ContactId or LeadId)."),
}


# --------------------------------------------------------------------------- objects zoomforce adds


@dataclass(frozen=True)
class AddedObject:
    label: str
    plural: str
    purpose: str
    upsert_key: str
    fields: Callable[[], list[dict[str, Any]]]


def recording_fields() -> list[dict[str, Any]]:
    def added(name: str, label: str, type_: str, what: str, **options: Any) -> dict[str, Any]:
        return make_field(name, label, type_, **options, added=ADDED_OBJECT_WHY.format(what=what))

    return [
        added("Recording_File_Id__c", "Recording File ID", "string", "the Zoom id of the recording file; External "
              "ID + Unique: zoomforce upserts on it", length=64, externalId=True, unique=True),
        added("Zoom_Event__c", "Zoom Event", "reference", "the meeting the recording belongs to, found by its "
              "Zoom meeting id (zoom_app__Zoom_Meeting_Id__c)", length=18, referenceTo=["zoom_app__Zoom_Event__c"],
              relationshipName="Zoom_Event__r"),
        added("Meeting_UUID__c", "Meeting UUID", "string", "the UUID of the meeting instance recorded",
              length=64),
        added("Recording_Start__c", "Recording Start", "datetime", "when the recording started"),
        added("Recording_End__c", "Recording End", "datetime", "when the recording ended"),
        added("Play_Url__c", "Play URL", "url", "the link that plays the recording (it may carry the recording's "
              "passcode)", length=255),
        added("Recording_Type__c", "Recording Type", "string", "the kind of recording (shared screen with "
              "speaker view, audio only, chat file ...)", length=80),
        added("File_Type__c", "File Type", "string", "the file's type (MP4, M4A, TRANSCRIPT, CHAT ...)", length=32),
    ]


ADDED_OBJECT_WHY = ("a field of an object zoomforce adds (no namespace; no package has it): {what}")

ADDED_OBJECTS: dict[str, AddedObject] = {
    "Zoom_Recording__c": AddedObject(
        "Zoom Recording", "Zoom Recordings",
        "One file of a Zoom cloud recording (video, audio, transcript, chat), shown on the meeting's event page "
        "through its lookup to zoom_app__Zoom_Event__c. The zoom_app package has no object for recordings: "
        "zoomforce adds this one.", "Recording_File_Id__c", recording_fields),
}


def added_object(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = ADDED_OBJECTS[name]
    describe = {"name": name, "label": spec.label, "labelPlural": spec.plural, "custom": True, "keyPrefix": None,
                "fields": custom_object_fields() + spec.fields()}
    meta: dict[str, Any] = {
        "origin": "zoomforce's own object (scripts/build_salesforce_catalog.py): no package or describe has it",
        "inferred": True,
        "note": f"{spec.purpose} Upsert key {spec.upsert_key}.",
        "upsert_key": spec.upsert_key,
        "added": f"an object zoomforce adds to the org: {spec.purpose}",
    }
    return describe, meta


def documented_object(inventory: Mapping[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = DOCUMENTED_OBJECTS[name]
    fields = spec.fields() + standard_object_package_fields(inventory, name)
    describe = {"name": name, "label": spec.label, "labelPlural": spec.plural, "custom": False,
                "keyPrefix": spec.key_prefix, "fields": fields}
    origin = f"{spec.source}; zoom_app fields: " + provenance_text(inventory["x-zoomforce-provenance"], INVENTORY)
    note = f"{spec.note} Replace with a live describe (engine.salesforce.catalog.write_catalog)."
    meta: dict[str, Any] = {"origin": origin, "inferred": True, "note": note}
    if spec.upsert_key:
        meta["upsert_key"] = spec.upsert_key
    return describe, meta


def build_documents(reference: Path) -> list[dict[str, Any]]:
    """Every catalog file's JSON, in the shape engine.salesforce.catalog writes and reads."""
    inventory = json.loads((reference / INVENTORY).read_text(encoding="utf-8"))
    parts = [package_object(inventory, name) for name in PACKAGE_OBJECTS]
    parts += [described_object(reference, inventory, name) for name in DESCRIBED]
    parts += [documented_object(inventory, name) for name in DOCUMENTED_OBJECTS]
    parts += [added_object(name) for name in ADDED_OBJECTS]
    return [_engine().catalog_document(describe, meta) for describe, meta in parts]


# ------------------------------------------------------------------------------------------ main


def _engine() -> ModuleType:
    """engine.salesforce.catalog, importable from a checkout even when the package is not installed."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import engine.salesforce.catalog as target_catalog

    return target_catalog


def build(reference: Path, out: Path) -> list[Path]:
    """Write every catalog file; returns the paths written."""
    target_catalog = _engine()
    if not (reference / INVENTORY).is_file():
        raise SystemExit(f"no {INVENTORY} in {reference}: pass --reference")
    return [target_catalog.write_document(doc, out) for doc in build_documents(reference)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help="folder of the Salesforce reference data (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="catalog folder (default: %(default)s)")
    args = parser.parse_args(argv)
    for path in build(args.reference, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
