"""Every redaction rule in one place: which names hold secrets, and how their values are hidden.

A value is secret when a mapping marks its field ``secret: true`` (by the target field's name, and
by the leaf keys that field reads from the source record) or when it sits under one of the Zoom
keys that hold credentials whether or not a mapping reads them (``schemas/secrets.json``). Secret
values are shown as :data:`REDACTED` in ``map`` output, the dry-run plan, the state's snapshots,
dead letters, the webhook inbox and error messages.

Links that carry a credential in their query (a join link's ``pwd=``, a registrant's ``tk=``, a
start link's ``zak=``) keep the rest readable: the value of each credential parameter is masked
(``https://example.zoom.us/j/857?pwd=***``), in every string redaction meets. The parameters are
``credential_query_parameters`` of ``schemas/secrets.json`` and the ones a mapping names on a
field of type ``credential_url`` (``credential_params``), carried in a set of secret names as
``?name`` (:func:`link_parameter`).

Scrubbing a message (a Salesforce error that quotes a value) removes every secret value, every
fragment of 8 characters or more of one (Salesforce quotes the first 255 characters of a value
too long for its field), and every credential parameter's value in a link it quotes.

This module imports nothing of the product but ``engine.resources``: every layer may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from engine.resources import schemas_dir

REDACTED = "***"
SECRETS_FILE = "secrets.json"
LINK_PARAMETER_PREFIX = "?"
# Shorter values are not scrubbed out of messages: "on" or "1" would mangle every sentence.
_MIN_SCRUBBED_LENGTH = 3
# Any run of this many characters of a secret is scrubbed wherever it stands in a message.
MIN_FRAGMENT_LENGTH = 8
_MASKED = re.compile(r"[?&;][^=&#\s?;]+=\*\*\*(?=[&#;\s]|$)")  # a name stops at the next separator: linear


@cache
def _secrets_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((schemas_dir() / SECRETS_FILE).read_text(encoding="utf-8"))
    return data


@cache
def credential_keys() -> frozenset[str]:
    """The Zoom record keys that hold credentials whether or not a mapping reads them."""
    return frozenset(_secrets_data()["zoom_credential_keys"])


@cache
def credential_parameters() -> frozenset[str]:
    """The query parameters of links that always carry credentials (``pwd``, ``tk``, ``zak``)."""
    return frozenset(name.lower() for name in _secrets_data()["credential_query_parameters"])


def link_parameter(name: str) -> str:
    """How a set of secret names says "the query parameter `name` carries a credential": ``?name``."""
    return LINK_PARAMETER_PREFIX + name


def _parameters(names: Iterable[str]) -> frozenset[str]:
    extra = {n[len(LINK_PARAMETER_PREFIX):].lower() for n in names if n.startswith(LINK_PARAMETER_PREFIX)}
    return credential_parameters() | extra


@cache
def _link_pattern(parameters: frozenset[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(name) for name in sorted(parameters, key=len, reverse=True))
    return re.compile(rf"(?<=[?&;])((?:{names})=)([^&#\s\"'<>]+)", re.IGNORECASE)


def mask_link(text: str, names: Iterable[str] = ()) -> str:
    """`text` with the value of every credential query parameter masked (``?pwd=***``); the rest as it was."""
    if "=" not in text:
        return text
    return _link_pattern(_parameters(names)).sub(lambda match: match.group(1) + REDACTED, text)


def _link_values(text: str, parameters: frozenset[str]) -> list[str]:
    return [match.group(2) for match in _link_pattern(parameters).finditer(text)] if "=" in text else []


def is_masked(value: Any) -> bool:
    """Whether `value` was redacted here: ``***``, or a link whose credential parameter reads ``***``.

    What a dead letter or a redacted inbox body holds in place of a secret: such a value is left
    out when the record is written again (the next sync writes it from Zoom).
    """
    return value == REDACTED or (isinstance(value, str) and _MASKED.search(value) is not None)


def secret_names(secret_targets: Iterable[str], secret_source_paths: Iterable[tuple[str, ...]]) -> frozenset[str]:
    """The names to redact for one mapping.

    `secret_targets` are the target fields marked secret (and ``?name`` link parameters);
    `secret_source_paths` the field paths those fields read. A path's leaf is secret, not the
    objects on the way to it (``settings`` of ``settings.password``), unless the path reads the
    object itself.
    """
    paths = list(secret_source_paths)
    names = set(secret_targets) | credential_keys()
    for path in paths:
        if path and not any(len(other) > len(path) and other[: len(path)] == path for other in paths):
            names.add(path[-1])
    return frozenset(names)


def redact_fields(values: Mapping[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """A copy of a flat record (a mapped Salesforce record): secret fields hold ``***``, links are masked."""
    result: dict[str, Any] = {}
    for key, value in values.items():
        if key in secrets and value is not None:
            result[key] = REDACTED
        elif isinstance(value, str):
            result[key] = mask_link(value, secrets)
        else:
            result[key] = value
    return result


def redact(record: Mapping[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    """A copy of ``record`` whose secret fields hold ``"***"`` and whose links are masked, at any depth.

    A plain name (``password``) matches that key in every nested dict, including dicts inside
    lists; a dotted name (``settings.password``) matches that path from the top (list items do not
    count as a level). The input is not modified.
    """
    names = frozenset(secret_fields)
    return _redact_dict(record, names, (), _parameters(names))


def _redact_dict(
    record: Mapping[str, Any], names: frozenset[str], path: tuple[str, ...], parameters: frozenset[str]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in record.items():
        here = (*path, str(key))
        if str(key) in names or ".".join(here) in names:
            result[key] = REDACTED
        else:
            result[key] = _redact_value(value, names, here, parameters)
    return result


def _redact_value(value: Any, names: frozenset[str], path: tuple[str, ...], parameters: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return _redact_dict(value, names, path, parameters)
    if isinstance(value, list | tuple):
        return [_redact_value(item, names, path, parameters) for item in value]
    if isinstance(value, str) and "=" in value:
        return _link_pattern(parameters).sub(lambda match: match.group(1) + REDACTED, value)
    return value


def replace_secrets(record: Mapping[str, Any], names: Iterable[str], replace: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of ``record`` whose values under `names` (as :func:`redact` matches them) are ``replace(value)``.

    Links elsewhere are left as they are: what the webhook inbox seals, before it redacts the rest.
    """
    wanted = frozenset(names)

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            result: dict[str, Any] = {}
            for key, item in value.items():
                here = (*path, str(key))
                hit = str(key) in wanted or ".".join(here) in wanted
                result[key] = replace(item) if hit and item is not None else walk(item, here)
            return result
        if isinstance(value, list | tuple):
            return [walk(item, path) for item in value]
        return value

    replaced: dict[str, Any] = walk(record, ())
    return replaced


def scrub_message(message: str, record: Mapping[str, Any], secret_fields: Iterable[str]) -> str:
    """`message` without any secret of `record` (as :func:`redact` finds them): whole, in part, or in a link.

    Every secret value is replaced by ``***``; so is every run of :data:`MIN_FRAGMENT_LENGTH` or
    more characters that also stands in a secret (a prefix Salesforce quotes), and the value of
    every credential parameter of a link the message quotes.
    """
    names = frozenset(secret_fields)
    parameters = _parameters(names)
    secrets = _secret_values(record, redact(record, names), parameters)
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    message = _scrub_fragments(message, [s for s in secrets if len(s) >= MIN_FRAGMENT_LENGTH])
    return _link_pattern(parameters).sub(lambda match: match.group(1) + REDACTED, message)


def _scrub_fragments(message: str, secrets: list[str]) -> str:
    """Replace every run of characters of `message` made of 8-character pieces of the secrets."""
    size = MIN_FRAGMENT_LENGTH
    if not secrets or len(message) < size:
        return message
    pieces = {secret[i:i + size] for secret in secrets for i in range(len(secret) - size + 1)}
    covered = [False] * len(message)
    for start in range(len(message) - size + 1):
        if message[start:start + size] in pieces:
            for position in range(start, start + size):
                covered[position] = True
    if not any(covered):
        return message
    parts: list[str] = []
    position = 0
    while position < len(message):
        if covered[position]:
            while position < len(message) and covered[position]:
                position += 1
            parts.append(REDACTED)
        else:
            parts.append(message[position])
            position += 1
    return "".join(parts)


def _secret_values(original: Any, redacted: Any, parameters: frozenset[str]) -> set[str]:
    """The string values that :func:`redact` replaced or masked, to scrub them from error messages too."""
    found: set[str] = set()
    if isinstance(original, Mapping) and isinstance(redacted, Mapping):
        for key, value in original.items():
            if redacted.get(key) == REDACTED and value != REDACTED:
                found.update(_leaf_strings(value))
            else:
                found.update(_secret_values(value, redacted.get(key), parameters))
    elif isinstance(original, list | tuple) and isinstance(redacted, list):
        for before, after in zip(original, redacted, strict=False):
            found.update(_secret_values(before, after, parameters))
    elif isinstance(original, str) and original != redacted:
        found.update(v for v in _link_values(original, parameters) if len(v) >= _MIN_SCRUBBED_LENGTH)
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
