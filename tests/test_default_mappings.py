"""The default mapping set against Zoom's official example payloads, messy payloads, and the seed.

Golden outputs live in tests/golden/examples/; regenerate them after a deliberate mapping change
with `ZOOMFORCE_UPDATE_GOLDEN=1 pytest tests/test_default_mappings.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from engine.errors import RecordError
from engine.language.expressions import compile_expression
from engine.language.inputs import split_each
from engine.language.model import Mapping
from engine.language.plan import RunContext, compile_plan, run_batch
from engine.validate.mapping_set import MappingSet, load_mapping_set
from tests.helpers import FIXTURES, MAPPINGS, REPO

EXAMPLES = json.loads((REPO / "tests/fixtures/zoom/example_responses.json").read_text(encoding="utf-8"))["responses"]
GOLDEN = REPO / "tests/golden/examples"
UPDATE = os.environ.get("ZOOMFORCE_UPDATE_GOLDEN") == "1"
RUN = {"run_time": "2026-01-01T00:00:00.000Z"}

# The Salesforce side of the reverse flow: a Contact and a Lead as SOQL returns them.
SALESFORCE_RECORDS = {
    "records": [
        {"attributes": {"type": "Contact"}, "FirstName": "Ada", "LastName": "Lovelace", "Email": "Ada@Example.com"},
        {"attributes": {"type": "Lead"}, "FirstName": "Zoë", "LastName": "Ñúñez", "Email": " zoe@example.fr "},
    ]
}
PARENT_WEBINAR = EXAMPLES["GET /webinars/{webinarId}"]


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


def _containers(mapping: Mapping) -> list[Any]:
    if mapping.source.system == "salesforce":
        return SALESFORCE_RECORDS["records"]
    body = EXAMPLES[mapping.source.endpoint]
    records = compile_expression(mapping.source.records).evaluate(body) if mapping.source.records else None
    items = records if isinstance(records, list) else [body]
    return [{**item, **{inc.name: EXAMPLES[inc.endpoint] for inc in mapping.source.include}} for item in items]


def _records(mapping: Mapping) -> list[Any]:
    return _split(mapping, _containers(mapping))[0]


def _split(mapping: Mapping, records: list[Any]) -> tuple[list[Any], list[Any] | None]:
    """The records and their parents: with `source.each`, a recorded meeting's files with the meeting."""
    if mapping.source.each is None:
        return records, None
    return split_each(records, mapping.source.each, PARENT_WEBINAR)


def _map(mapping: Mapping, records: list[Any], parents: list[Any] | None = None) -> Any:
    plan = compile_plan(mapping)
    return run_batch(plan, records, RunContext(parent=PARENT_WEBINAR, run=RUN), parents=parents), plan


def test_the_eight_entities_and_the_event_page_are_there(mapping_set: MappingSet) -> None:
    expected = {"users", "meetings", "past_meetings", "webinars", "registrants", "participants", "panelists", "calls"}
    needing_additions = {"campaigns", "campaign_members", "recordings"}  # off by default: the org needs additions
    assert expected | {"registrations"} | needing_additions == set(mapping_set.mappings)
    assert {name for name, m in mapping_set.mappings.items() if not m.enabled} == needing_additions


@pytest.mark.parametrize(
    "entity",
    [
        "users",
        "meetings",
        "past_meetings",
        "webinars",
        "registrants",
        "participants",
        "panelists",
        "calls",
        "registrations",
        "campaigns",
        "campaign_members",
        "recordings",
    ],
)
def test_official_examples_map_exactly(mapping_set: MappingSet, entity: str) -> None:
    mapping = mapping_set.get(entity)
    batch, plan = _map(mapping, *_split(mapping, _containers(mapping)))
    assert batch.errors == []
    lines = [json.dumps(m.as_json(plan.secrets), ensure_ascii=False, sort_keys=False) for _, m in batch.mapped]
    golden = GOLDEN / f"{entity}.jsonl"
    if UPDATE:
        golden.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert lines == golden.read_text(encoding="utf-8").splitlines()


LONG = "x" * 100_000


def _messy_values() -> list[Any]:
    return [None, {}, [], "", "   ", LONG, "12345", "1e3", "\ud800 broken", "李雷 Zoë Ñúñez", -1, 2**63, 3.5, True]


@pytest.mark.parametrize(
    "entity",
    [
        "users",
        "meetings",
        "past_meetings",
        "webinars",
        "registrants",
        "participants",
        "panelists",
        "calls",
        "registrations",
        "campaigns",
        "campaign_members",
        "recordings",
    ],
)
def test_messy_records_map_or_fail_with_typed_errors(mapping_set: MappingSet, entity: str) -> None:
    mapping = mapping_set.get(entity)
    good = _records(mapping)[0]
    paths = sorted({p for f in compile_plan(mapping).fields for p in f.expression.field_paths()}, key=str)
    records: list[Any] = [None, [], "text", {}]
    for value in _messy_values():
        record = json.loads(json.dumps(good))
        for path in paths:
            _set(record, path, value)
        records.append(record)
    batch, plan = _map(mapping, records, [_containers(mapping)[0]] * len(records) if mapping.source.each else None)
    assert len(batch.mapped) + len(batch.errors) == len(records)
    assert all(isinstance(e, RecordError) and e.index is not None for e in batch.errors)
    limits = {f.target: f.max_length for f in mapping.enabled_fields if f.max_length}
    for _, mapped in batch.mapped:
        json.dumps(mapped.as_json(plan.secrets), ensure_ascii=False).encode("utf-8")
        for name, limit in limits.items():
            value = mapped.record.get(name)
            assert not isinstance(value, str) or len(value) <= limit


def _set(record: Any, path: tuple[Any, ...], value: Any) -> None:
    """Put `value` at a static path, creating objects on the way (arrays: their first item)."""
    node = record
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if part is None or isinstance(part, int):
            if not isinstance(node, list) or not node:
                return
            if last:
                node[0] = value
                return
            node = node[0]
            continue
        if not isinstance(node, dict):
            return
        if last:
            node[part] = value
            return
        if not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]


# Every line of the seed disclosure paired with the field that carries it (entity, target field).
SEED_ITEMS: list[tuple[str, str, str]] = [
    ("ID utilisateur pour Zoom Phone", "users", "zoom_app__PBX_User_Id__c"),
    ("ID utilisateur pour Zoom", "users", "zoom_app__Web_User_Id__c"),
    ("Adresse e-mail de l’utilisateur Zoom", "users", "zoom_app__Zoom_User_Email__c"),
    ("Mot de passe pour les réunions PMI", "users", "Zoom_PMI_Password__c"),
    ("Services complémentaires disponibles pour les clients", "users", "Zoom_Add_On_Licenses__c"),
    ("Thèmes de la rencontre", "meetings", "zoom_app__Meeting_Topic__c"),
    ("Voici le lien pour rejoindre", "meetings", "zoom_app__Join_Url__c"),
    ("Mot de passe pour la réunion", "meetings", "zoom_app__Zoom_Meeting_Password__c"),
    ("Le nombre de participants et le nombre de participants", "meetings", "zoom_app__Participant_Count__c"),
    ("Heures de début et de fin des réunions Zoom", "meetings", "zoom_app__Zoom_Meeting_Start_Time__c"),
    ("Heures de début et de fin des réunions Zoom", "meetings", "zoom_app__Zoom_Meeting_End_Time__c"),
    ("ID pour les réunions Zoom", "meetings", "zoom_app__Zoom_Meeting_Id__c"),
    ("Durée d’une réunion Zoom", "meetings", "zoom_app__Duration_mins__c"),
    ("URL pour commencer", "meetings", "zoom_app__Start_Url__c"),
    ("ID utilisateur pour l’hôte", "meetings", "zoom_app__Host_Id__c"),
    ("Le thème du webinaire sera", "webinars", "zoom_app__Topic__c"),
    ("Description et ordre du jour du webinaire", "webinars", "zoom_app__Agenda__c"),
    ("Heures de début et de fin du webinaire", "webinars", "zoom_app__Start_Time__c"),
    ("Heures de début et de fin du webinaire", "webinars", "zoom_app__End_Time__c"),
    ("Voici le lien pour rejoindre le webinaire", "webinars", "zoom_app__Join_Url__c"),
    ("URL d’inscription au webinaire", "webinars", "zoom_app__Register_Url__c"),
    ("type d’approbation", "webinars", "zoom_app__Setting_Approval_Type__c"),
    (
        "permettant aux utilisateurs de se joindre à partir de plusieurs appareils",
        "webinars",
        "zoom_app__Setting_Allow_Multiple_Devices__c",
    ),
    ("clôture de l’inscription après un certain temps", "webinars", "zoom_app__Setting_Close_Registration__c"),
    ("configuration de la vidéo des hôtes et des participants", "webinars", "zoom_app__Setting_Host_Video_On__c"),
    ("configuration de la vidéo des hôtes et des participants", "webinars", "zoom_app__Setting_Panelists_Video_On__c"),
    ("création d’une session d’entraînement", "webinars", "zoom_app__Setting_Practice_Session__c"),
    ("configuration d’un mot de passe de webinaire", "webinars", "zoom_app__Password__c"),
    ("Nombre de participants", "webinars", "zoom_app__Number_of_Participants__c"),
    ("Les heures réelles de début et de fin de l’événement", "webinars", "zoom_app__Actual_Start_Time__c"),
    ("Les heures réelles de début et de fin de l’événement", "webinars", "zoom_app__Actual_End_Time__c"),
    ("Informations sur l’inscrit (prénom", "registrants", "zoom_app__First_Name__c"),
    ("nom, identifiant de l’inscrit", "registrants", "zoom_app__Last_Name__c"),
    ("identifiant de l’inscrit", "registrants", "zoom_app__External_key__c"),
    ("adresse pour rejoindre le webinaire", "registrants", "zoom_app__Join_Url__c"),
    ("statut d’approbation", "registrants", "zoom_app__Status__c"),
    ("s’il y a des questions concernant l’inscription aux webinaires Zoom", "registrants", "zoom_app__Comments__c"),
    ("Informations sur les participants (ID du participant", "participants", "zoom_app__UUID__c"),
    ("nom d’utilisateur du participant", "participants", "zoom_app__User_Id__c"),
    ("adresse e-mail, nom", "participants", "zoom_app__User_Email__c"),
    ("adresse e-mail, nom", "participants", "zoom_app__Name__c"),
    ("heure à laquelle le participant a rejoint et quitté", "participants", "zoom_app__Join_Time__c"),
    ("heure à laquelle le participant a rejoint et quitté", "participants", "zoom_app__Leave_Time__c"),
    ("durée de la session", "participants", "zoom_app__Duration__c"),
    ("Informations sur les panélistes (nom", "panelists", "zoom_app__Last_Name__c"),
    ("e-mail, identifiant du panéliste", "panelists", "zoom_app__Panelist_Email__c"),
    ("identifiant du panéliste", "panelists", "zoom_app__Panelist_ID__c"),
    ("URL de connexion du panéliste", "panelists", "zoom_app__Join_Url__c"),
    ("Heure du début de la sonnerie", "calls", "zoom_app__Ring_Start_Time__c"),
    ("Heure de début de la réponse", "calls", "zoom_app__Answer_Start_Time__c"),
    ("L’heure de fin de l’appel", "calls", "zoom_app__Call_End_Time__c"),
    ("Durée de l’appel", "calls", "zoom_app__Call_Duration__c"),
    ("Identifiant de l’appel", "calls", "zoom_app__Call_ID__c"),
    ("Numéro du poste de l’appelé", "calls", "zoom_app__Callee_Extension_Number__c"),
    ("Le numéro de téléphone de l’appelé", "calls", "zoom_app__Callee_Phone_Number__c"),
    ("Numéro du poste de l’appelant", "calls", "zoom_app__Caller_Extension_Number__c"),
    ("Le numéro de l’appelant", "calls", "zoom_app__Caller_Phone_Number__c"),
    ("État du signal", "calls", "zoom_app__Signal_Status__c"),
    ("Informations de contact ou de prospect des utilisateurs (prénom", "registrations", "first_name"),
    ("nom, adresse e-mail)", "registrations", "last_name"),
    ("nom, adresse e-mail)", "registrations", "email"),
]

SEED = FIXTURES / "seed" / "000_4f99b2312bb60660.txt"


@pytest.mark.parametrize(("seed_text", "entity", "target"), SEED_ITEMS, ids=[f"{e}.{t}" for _, e, t in SEED_ITEMS])
def test_every_seed_item_is_an_enabled_field(mapping_set: MappingSet, seed_text: str, entity: str, target: str) -> None:
    assert seed_text in SEED.read_text(encoding="utf-8"), f"not in the seed: {seed_text!r}"
    fields = {f.target: f for f in mapping_set.get(entity).enabled_fields}
    assert target in fields, f"{entity} has no enabled field writing {target}"


def test_the_table_covers_every_seed_line() -> None:
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    items = [line for line in lines if line and line != "-"]
    item_lines = items[items.index("Informations sur l’utilisateur :") + 1 :]
    headings = {line for line in item_lines if line.endswith(":") or ("–" in line and line.endswith(":"))}
    covered = [line for line in item_lines if line not in headings and any(t in line for t, _, _ in SEED_ITEMS)]
    uncovered = [line for line in item_lines if line not in headings and line not in covered]
    assert uncovered == [], uncovered


def test_golden_folder_matches_entities(mapping_set: MappingSet) -> None:
    assert {p.stem for p in Path(GOLDEN).glob("*.jsonl")} == set(mapping_set.mappings)
