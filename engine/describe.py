"""How messages name a value: a short ``repr``, its JSON type, a noun with its article.

Standard library only, so every layer may import it (the emulators keep their own copies: they
import nothing of the product but ``engine.resources``, ``engine.serving`` and ``engine.zoom.schemas``).
"""

from __future__ import annotations

from typing import Any

SHORT_LIMIT = 60  # characters of a value's repr shown in a message

JSON_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})


def short(value: Any) -> str:
    """``repr(value)``, cut to ``SHORT_LIMIT`` characters with ``...``."""
    text = repr(value)
    return text if len(text) <= SHORT_LIMIT else text[: SHORT_LIMIT - 3] + "..."


def json_type(value: Any) -> str:
    """The JSON Schema type name of a parsed JSON or YAML value: ``null``, ``boolean``, ``integer``,
    ``number``, ``string``, ``array`` (lists and tuples) or ``object`` (mappings, and anything else)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def article(noun: str) -> str:
    """``an integer``, ``a string``: the noun with its indefinite article (by its first letter)."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
