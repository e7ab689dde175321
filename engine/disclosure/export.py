"""The disclosure as plain data: every attribute of the model, then the JSON export around it.

``model_data`` walks the model's dataclasses generically, so a new attribute reaches the JSON
export and the diff without anyone listing it. ``disclosure_json`` adds what the published
contract and earlier versions of the export name (a section's ``entity``, an item's ``source`` and
``target``, the flat permission lists), each derived from the model
(``schemas/disclosure.schema.json``).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from engine.disclosure.model import Disclosure, Item, Permissions


def model_data(value: Any) -> Any:
    """`value` (a model object, a tuple of them, a scalar) as JSON-ready data."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: model_data(getattr(value, f.name)) for f in fields(value) if f.metadata.get("model", True)}
    if isinstance(value, tuple | list):
        return [model_data(item) for item in value]
    if isinstance(value, dict):
        return {str(key): model_data(item) for key, item in value.items()}
    return value


def _item_json(item: Item) -> dict[str, Any]:
    data: dict[str, Any] = model_data(item)
    first = item.first
    data["label"] = item.label
    data["entity"] = first.entity
    data["source"] = model_data(first.source)
    data["target"] = model_data(first.target)
    data["realtime"] = ", ".join(item.realtime) or None
    return data


def _legacy_permissions(permissions: Permissions) -> dict[str, Any]:
    writes: dict[str, list[str]] = {}
    reads: dict[str, list[str]] = {}
    for access in permissions.fields:
        (writes if access.edit else reads).setdefault(access.object, []).append(access.field)
    return {
        "zoom_scopes": [s.scope for s in permissions.scopes],
        "zoom_classic_scopes": sorted({c for s in permissions.scopes for c in s.classic}),
        "zoom_endpoints": [o.operation for o in permissions.operations],
        "zoom_events": [e.event for e in permissions.events],
        "salesforce_writes": writes,
        "salesforce_reads": reads,
    }


def disclosure_json(disclosure: Disclosure) -> dict[str, Any]:
    """The JSON export (schemas/disclosure.schema.json)."""
    data: dict[str, Any] = model_data(disclosure)
    sections = []
    for section, section_data in zip(disclosure.sections, data["sections"], strict=True):
        section_data["entity"] = section.entities[0].name
        section_data["items"] = [_item_json(item) for item in section.items]
        sections.append(section_data)
    return {
        "language": disclosure.language,
        "title": disclosure.messages["document_title"],
        "facts": data["facts"],
        "sections": sections,
        "permissions": {**data["permissions"], **_legacy_permissions(disclosure.permissions)},
    }
