"""Least privilege, declared: every Zoom OAuth scope a disclosed mapping needs carries a justification.

The scopes an operation needs come from Zoom's specification (``engine.zoom.scopes``); an event
subscription's scope is declared by the mapping (``permissions.events``), as Zoom's specifications
give none. A mapping with a ``disclosure`` block must justify each of them under
``permissions.scopes``, in every language of the file (``check_translations`` checks the
languages). A justification or an event scope that nothing needs is a warning: it grants nothing,
but a reviewer reading it would think it does.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.language.loader import PathKey
from engine.language.model import Mapping
from engine.suggest import suggestion
from engine.validate.zoom_checks import SourceFinding
from engine.zoom.scopes import known_granular_scopes, mapping_events, mapping_operations


def needed_scopes(mapping: Mapping) -> dict[str, tuple[PathKey, str]]:
    """Each granular scope the mapping needs: where it is needed and what needs it (an operation, an event)."""
    needed: dict[str, tuple[PathKey, str]] = {}
    for operation in mapping_operations(mapping):
        if operation.granular is not None:  # an operation Zoom's index lacks is reported by the Zoom checks
            needed.setdefault(operation.granular, (operation.path, operation.name))
    for use in mapping_events(mapping):
        scope = mapping.permissions.events.get(use.event)
        if scope is not None:
            needed.setdefault(scope, (("permissions", "events", use.event), f"the {use.event} event subscription"))
    return needed


def scope_findings(mapping: Mapping) -> Iterator[SourceFinding]:
    if mapping.disclosure is None:
        return  # only what the disclosure covers has to justify its scopes
    permissions = mapping.permissions
    used_events = {use.event: use for use in mapping_events(mapping)}
    for event, use in used_events.items():
        if event not in permissions.events:
            yield SourceFinding(
                use.path,
                f"the subscription to Zoom event '{event}' needs a scope: declare it under permissions.events "
                f"({event}: SCOPE), and justify that scope under permissions.scopes",
            )
    needed = needed_scopes(mapping)
    for scope, (path, what) in needed.items():
        if scope not in permissions.scopes:
            yield SourceFinding(
                path,
                f"Zoom scope '{scope}' (needed by {what}) has no justification: add it under permissions.scopes "
                "with a one-line reason in every language of the file",
            )
    for scope in permissions.scopes:
        if scope not in needed:
            hint = suggestion(scope, [s for s in needed if s not in permissions.scopes])
            yield SourceFinding(
                ("permissions", "scopes", scope),
                f"scope '{scope}' is not needed by this file's operations or events; remove it{hint}",
                severity="warning",
                at_key=True,
            )
    known = known_granular_scopes()
    for event, scope in permissions.events.items():
        if event not in used_events:
            yield SourceFinding(
                ("permissions", "events", event),
                f"event '{event}' does not feed this entity (not in source.events, nor a field's realtime or events)",
                severity="warning",
                at_key=True,
            )
        elif known and scope not in known:
            yield SourceFinding(
                ("permissions", "events", event),
                f"'{scope}' is not a granular scope of any operation in Zoom's specifications; check its spelling",
                severity="warning",
            )
