"""The Fides export: a system manifest for zoomforce (and the two systems it joins) and a dataset
manifest for the Salesforce objects it writes and reads, each checked by fideslang's own models.

One privacy declaration per section: its data categories, data use and subjects, legal basis,
retention period, the third parties the data is shared with, and the systems it comes from and
goes to (Zoom -> zoomforce -> Salesforce, and the reverse flow's Salesforce -> zoomforce -> Zoom).
The dataset's collections are the Salesforce objects, its fields carry their data categories, and
the system and each declaration reference it. ``render`` refuses an export whose facts lack what a
declaration needs before it gets here (``engine.disclosure.facts.format_problems``).
"""

from __future__ import annotations

from typing import Any

from engine.disclosure.model import Disclosure, Section

SYSTEM_KEY = "zoomforce"
DATASET_KEY = "zoomforce_salesforce"
SYSTEMS = {"zoom": "Zoom", "salesforce": "Salesforce"}  # the systems a section's data flows between
LEGAL_BASES = {
    "consent": "Consent", "contract": "Contract", "legal_obligation": "Legal obligations",
    "vital_interests": "Vital interests", "public_interest": "Public interest",
    "legitimate_interests": "Legitimate interests",
}
RESPONSIBILITIES = {"controller": "Controller", "processor": "Processor", "sub_processor": "Sub-Processor"}
TRANSFER_BASES = {
    "adequacy_decision": "Adequacy Decision", "sccs": "SCCs", "bcrs": "BCRs",
    "supplementary_measures": "Supplementary Measures", "other": "Other",
}


def _flow(section: Section) -> tuple[str, str]:
    """(where the section's data comes from, where it goes)."""
    return ("salesforce", "zoom") if section.direction == "salesforce_to_zoom" else ("zoom", "salesforce")


def _categories(disclosure: Disclosure, section: Section) -> list[str]:
    """The categories of the items the section lists or updates."""
    items = [*section.items, *(disclosure.item(x.key) for x in section.mentions)]
    return sorted({item.category for item in items if item is not None})


def _third_parties(disclosure: Disclosure) -> str | None:
    facts = disclosure.facts
    if facts is None or not facts.recipients:
        return None
    m = disclosure.messages
    return "; ".join(f"{r.name} ({m['role_' + r.role]})" for r in facts.recipients)


def _declaration(disclosure: Disclosure, section: Section) -> dict[str, Any]:
    source, target = _flow(section)
    third_parties = _third_parties(disclosure)
    declaration: dict[str, Any] = {
        "name": section.title,
        "data_categories": _categories(disclosure, section),
        "data_use": section.data_use or "essential.service",
        "data_subjects": list(section.data_subjects),
        "dataset_references": [DATASET_KEY],
        "ingress": [source],
        "egress": [target],
    }
    if section.legal_basis is not None:
        declaration["legal_basis_for_processing"] = LEGAL_BASES[section.legal_basis.basis]
    if section.retention is not None:
        declaration["retention_period"] = section.retention.period
    if third_parties:
        declaration["data_shared_with_third_parties"] = True
        declaration["third_parties"] = third_parties
    return declaration


def _flows(disclosure: Disclosure, end: int) -> list[dict[str, Any]]:
    by_system: dict[str, set[str]] = {}
    for section in disclosure.sections:
        if section.items:
            by_system.setdefault(_flow(section)[end], set()).update(_categories(disclosure, section))
    return [{"fides_key": key, "type": "system", "data_categories": sorted(categories)}
            for key, categories in sorted(by_system.items())]


def _system(disclosure: Disclosure) -> dict[str, Any]:
    m, facts = disclosure.messages, disclosure.facts
    system: dict[str, Any] = {
        "fides_key": SYSTEM_KEY,
        "name": m["fides_system_name"],
        "description": m["intro"],
        "system_type": "Integration",
        "ingress": _flows(disclosure, 0),
        "egress": _flows(disclosure, 1),
        "privacy_declarations": [_declaration(disclosure, s) for s in disclosure.sections if s.items],
        "dataset_references": [DATASET_KEY],
        "processes_personal_data": True,
    }
    if facts is not None:
        system["legal_name"] = facts.controller.name
        if facts.controller.address:
            system["legal_address"] = facts.controller.address
        if facts.dpo is not None:
            system["dpo"] = f"{facts.dpo.name} <{facts.dpo.contact}>"
        if facts.privacy_policy:
            system["privacy_policy"] = facts.privacy_policy
        if facts.responsibility:
            system["responsibility"] = [RESPONSIBILITIES[facts.responsibility]]
        system["does_international_transfers"] = bool(facts.transfers)
        if facts.transfers:
            system["legal_basis_for_transfers"] = sorted({TRANSFER_BASES[t.mechanism] for t in facts.transfers})
    return system


def _dataset(disclosure: Disclosure) -> dict[str, Any]:
    collections: dict[str, list[dict[str, Any]]] = {}
    for access in disclosure.permissions.fields:
        if access.categories:
            collections.setdefault(access.object, []).append(
                {"name": access.field, "data_categories": list(access.categories)}
            )
    return {
        "fides_key": DATASET_KEY,
        "name": disclosure.messages["fides_dataset_name"],
        "description": disclosure.messages["fides_dataset_description"],
        "collections": [{"name": name, "fields": found} for name, found in sorted(collections.items())],
    }


def fides_manifests(disclosure: Disclosure) -> dict[str, Any]:
    """The Fides manifests, each passed through fideslang's models (which reject what Fides would)."""
    from fideslang.models import Dataset, System  # deferred: fideslang (pydantic) loads only for this format

    systems = [System.model_validate(_system(disclosure))]
    systems += [
        System.model_validate({"fides_key": key, "name": name, "system_type": "Service", "privacy_declarations": []})
        for key, name in SYSTEMS.items()
    ]
    dataset = Dataset.model_validate(_dataset(disclosure))
    return {
        "system": [s.model_dump(mode="json", exclude_none=True, exclude_defaults=True) for s in systems],
        "dataset": [dataset.model_dump(mode="json", exclude_none=True, exclude_defaults=True)],
    }
