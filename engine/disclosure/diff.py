"""What changed in data handling between two mapping folders (``zoomforce disclose --diff``).

Fields are matched by entity, object and target field; a field whose source expression now goes
to another object or field is reported as retargeted rather than as one removal and one addition.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from engine.disclosure.build import zoom_endpoints, zoom_scopes
from engine.language.model import FieldSpec, Mapping
from engine.validate.mapping_set import MappingSet

FieldKey = tuple[str, str, str]  # entity, object, target field


@dataclass(frozen=True)
class Change:
    change: str  # added, removed, enabled, disabled, retargeted, category, secret, entity_*, scope_*, endpoint_*
    entity: str = ""
    field: str = ""
    label: str = ""
    old: str | None = None
    new: str | None = None


def _fields(mapping_set: MappingSet) -> dict[FieldKey, tuple[Mapping, FieldSpec]]:
    found: dict[FieldKey, tuple[Mapping, FieldSpec]] = {}
    for mapping in mapping_set.mappings.values():
        if not mapping.enabled:
            continue
        target_object = mapping.target.object or mapping.target.endpoint or ""
        for spec in mapping.fields:
            found[(mapping.entity, target_object, spec.target)] = (mapping, spec)
    return found


def _where(key: FieldKey) -> str:
    return f"{key[1]}.{key[2]}"


def _field_changes(old: MappingSet, new: MappingSet, language: str) -> list[Change]:
    before, after = _fields(old), _fields(new)
    changes: list[Change] = []
    for key in sorted(before.keys() & after.keys()):
        (_, was), (_, now) = before[key], after[key]
        label = now.label.get(language) if language in now.label.by_language else now.target
        if was.enabled != now.enabled:
            changes.append(Change("enabled" if now.enabled else "disabled", key[0], _where(key), label))
        if was.category != now.category:
            changes.append(Change("category", key[0], _where(key), label, was.category, now.category))
        if was.secret != now.secret:
            changes.append(
                Change("secret", key[0], _where(key), label, str(was.secret).lower(), str(now.secret).lower())
            )
        if was.source != now.source:
            changes.append(Change("source", key[0], _where(key), label, was.source, now.source))
    removed = {k: before[k] for k in before.keys() - after.keys() if before[k][1].enabled}
    added = {k: after[k] for k in after.keys() - before.keys() if after[k][1].enabled}
    by_source = {(k[0], spec.source): k for k, (_, spec) in added.items()}
    for key in sorted(removed):
        spec = removed[key][1]
        match = by_source.pop((key[0], spec.source), None)
        label = spec.label.get(language) if language in spec.label.by_language else spec.target
        if match is not None:
            del added[match]
            changes.append(Change("retargeted", key[0], _where(key), label, _where(key), _where(match)))
        else:
            changes.append(Change("removed", key[0], _where(key), label))
    for key in sorted(added):
        spec = added[key][1]
        label = spec.label.get(language) if language in spec.label.by_language else spec.target
        changes.append(Change("added", key[0], _where(key), label))
    return changes


def _set_changes(kind: str, old: set[str], new: set[str]) -> list[Change]:
    return [Change(f"{kind}_added", new=x) for x in sorted(new - old)] + [
        Change(f"{kind}_removed", old=x) for x in sorted(old - new)
    ]


def diff_mappings(old: MappingSet, new: MappingSet, language: str = "en") -> list[Change]:
    """Every change in data handling from `old` to `new`."""
    old_entities = {name for name, m in old.mappings.items() if m.enabled}
    new_entities = {name for name, m in new.mappings.items() if m.enabled}
    changes = _set_changes("entity", old_entities, new_entities)
    changes += _field_changes(old, new, language)
    old_endpoints = set(zoom_endpoints(m for m in old.mappings.values() if m.enabled))
    new_endpoints = set(zoom_endpoints(m for m in new.mappings.values() if m.enabled))
    changes += _set_changes("endpoint", old_endpoints, new_endpoints)
    changes += _set_changes("scope", set(zoom_scopes(old_endpoints)), set(zoom_scopes(new_endpoints)))
    return changes


_SENTENCES = {
    "added": "**added**: {entity} `{field}` ({label})",
    "removed": "**removed**: {entity} `{field}` ({label})",
    "enabled": "**enabled**: {entity} `{field}` ({label})",
    "disabled": "**disabled**: {entity} `{field}` ({label})",
    "retargeted": "**retargeted**: {entity} {label}: `{old}` → `{new}`",
    "category": "**category changed**: {entity} `{field}`: `{old}` → `{new}`",
    "secret": "**secret flag changed**: {entity} `{field}`: {old} → {new}",
    "source": "**source changed**: {entity} `{field}`: `{old}` → `{new}`",
    "entity_added": "**new entity**: {new}",
    "entity_removed": "**entity removed**: {old}",
    "endpoint_added": "**new Zoom operation**: `{new}`",
    "endpoint_removed": "**Zoom operation no longer called**: `{old}`",
    "scope_added": "**new Zoom scope**: `{new}`",
    "scope_removed": "**Zoom scope no longer needed**: `{old}`",
}


def render_diff(changes: list[Change], output_format: str) -> str:
    if output_format == "json":
        payload: dict[str, Any] = {"changed": bool(changes), "changes": [asdict(c) for c in changes]}
        return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    if not changes:
        return "# Data handling changes\n\nNo change in data handling.\n"
    lines = ["# Data handling changes", "", f"{len(changes)} change(s) need a compliance review:", ""]
    lines += [f"- {_SENTENCES[c.change].format(**asdict(c))}" for c in changes]
    return "\n".join(lines) + "\n"
