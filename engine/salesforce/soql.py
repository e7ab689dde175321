"""SOQL literals built from data: quoted and escaped, never concatenated raw.

``soql_quote`` makes a string literal (backslashes, quotes and control characters escaped),
``soql_literal`` any value a mapped record holds (strings quoted, numbers and booleans as SOQL
writes them), ``soql_like_pattern`` a ``LIKE`` literal whose ``%`` and ``_`` match only themselves.
In ``=`` and ``IN (...)`` comparisons, which is all zoomforce builds, ``%`` and ``_`` are plain
characters already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any, TypeVar

T = TypeVar("T")

QUERY_ITEMS = 200  # items (values, or records to match) per look-up query
QUERY_CHARS = 6000  # of literals per query: the query travels in a GET URL

_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
                 "\f": "\\f"}
_LIKE_ESCAPES = {"%": "\\%", "_": "\\_"}


def soql_quote(value: str) -> str:
    """A SOQL string literal: ``O'Brien`` -> ``'O\\'Brien'``."""
    return "'" + "".join(_SOQL_ESCAPES.get(char, char) for char in value) + "'"


def soql_like_pattern(value: str) -> str:
    """A SOQL ``LIKE`` literal that matches `value` exactly: its ``%`` and ``_`` are not wildcards."""
    return "'" + "".join(_LIKE_ESCAPES.get(char) or _SOQL_ESCAPES.get(char, char) for char in value) + "'"


def soql_literal(value: Any) -> str:
    """A value of a mapped record as a SOQL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime: a SOQL datetime literal needs an offset")
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    return soql_quote(str(value))


def query_chunks(items: Iterable[T], literal_length: Callable[[T], int]) -> Iterator[list[T]]:
    """`items` in runs that each fit one look-up query: at most ``QUERY_ITEMS`` of them, and at most
    ``QUERY_CHARS`` of literals (each item's `literal_length`, plus its separator)."""
    chunk: list[T] = []
    size = 0
    for item in items:
        length = literal_length(item) + 2
        if chunk and (len(chunk) >= QUERY_ITEMS or size + length > QUERY_CHARS):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += length
    if chunk:
        yield chunk
