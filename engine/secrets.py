"""Every redaction rule in one place: which names hold secrets, and how their values are hidden.

A value is secret when a mapping marks its field ``secret: true`` (by the target field's name, and
by the leaf keys that field reads from the source record) or when it sits under one of the Zoom
keys that hold credentials whether or not a mapping reads them (``schemas/secrets.json``). Secret
values are shown as :data:`REDACTED` in ``map`` output, the dry-run plan, the state's snapshots,
dead letters, the webhook inbox and error messages.

This module imports nothing of the product but ``engine.resources``: every layer may use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from engine.resources import schemas_dir

REDACTED = "***"
SECRETS_FILE = "secrets.json"
# Shorter values are not scrubbed out of messages: "on" or "1" would mangle every sentence.
_MIN_SCRUBBED_LENGTH = 3


@cache
def credential_keys() -> frozenset[str]:
    """The Zoom record keys that hold credentials whether or not a mapping reads them."""
    data = json.loads((schemas_dir() / SECRETS_FILE).read_text(encoding="utf-8"))
    return frozenset(data["zoom_credential_keys"])


def secret_names(secret_targets: Iterable[str], secret_source_paths: Iterable[tuple[str, ...]]) -> frozenset[str]:
    """The names to redact for one mapping.

    `secret_targets` are the target fields marked secret; `secret_source_paths` the field paths those
    fields read. A path's leaf is secret, not the objects on the way to it (``settings`` of
    ``settings.password``), unless the path reads the object itself.
    """
    paths = list(secret_source_paths)
    names = set(secret_targets) | credential_keys()
    for path in paths:
        if path and not any(len(other) > len(path) and other[: len(path)] == path for other in paths):
            names.add(path[-1])
    return frozenset(names)


def redact_fields(values: Mapping[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """A copy of a flat record (a mapped Salesforce record) whose secret fields hold ``***``; nulls stay null."""
    return {k: (REDACTED if k in secrets and v is not None else v) for k, v in values.items()}


def redact(record: Mapping[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    """A copy of ``record`` whose secret fields hold ``"***"``, at any depth.

    A plain name (``password``) matches that key in every nested dict, including dicts inside
    lists; a dotted name (``settings.password``) matches that path from the top (list items do not
    count as a level). The input is not modified.
    """
    names = frozenset(secret_fields)
    return _redact_dict(record, names, ())


def _redact_dict(record: Mapping[str, Any], names: frozenset[str], path: tuple[str, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in record.items():
        here = (*path, str(key))
        if str(key) in names or ".".join(here) in names:
            result[key] = REDACTED
        else:
            result[key] = _redact_value(value, names, here)
    return result


def _redact_value(value: Any, names: frozenset[str], path: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        return _redact_dict(value, names, path)
    if isinstance(value, list | tuple):
        return [_redact_value(item, names, path) for item in value]
    return value


def scrub_message(message: str, record: Mapping[str, Any], secret_fields: Iterable[str]) -> str:
    """`message` with every secret value of `record` (as :func:`redact` finds them) replaced by ``***``."""
    secrets = _secret_values(record, redact(record, secret_fields))
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message


def _secret_values(original: Any, redacted: Any) -> set[str]:
    """The string values that :func:`redact` replaced, to scrub them from error messages too."""
    found: set[str] = set()
    if isinstance(original, Mapping) and isinstance(redacted, Mapping):
        for key, value in original.items():
            if redacted.get(key) == REDACTED and value != REDACTED:
                found.update(_leaf_strings(value))
            else:
                found.update(_secret_values(value, redacted.get(key)))
    elif isinstance(original, list | tuple) and isinstance(redacted, list):
        for before, after in zip(original, redacted, strict=False):
            found.update(_secret_values(before, after))
    return found


def _leaf_strings(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        return {text for item in value.values() for text in _leaf_strings(item)}
    if isinstance(value, list | tuple):
        return {text for item in value for text in _leaf_strings(item)}
    if value is None or isinstance(value, bool):
        return set()
    text = str(value)
    return {text} if len(text) >= _MIN_SCRUBBED_LENGTH else set()
