"""The transform registry: zoomforce's JMESPath functions.

Each transform is one ``_func_<name>`` under ``@signature``, so JMESPath itself checks argument
counts and types; none overrides a JMESPath builtin (the engine must agree with the official
compliance suite). A null argument yields null, so the field's ``on_missing`` policy decides; a
value a transform cannot handle raises ``TransformValueError`` naming the value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jmespath
from jmespath import functions as jmes_functions
from jmespath.functions import signature

from engine.coerce import format_sf_datetime, parse_time
from engine.errors import CoercionError, TransformValueError

_NULLABLE_TEXT = {"types": ["string", "null"]}
_NULLABLE_NUMBER = {"types": ["number", "string", "null"]}
_ANY = {"types": []}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _time(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise TransformValueError(f"{_short(value)} is not an epoch time in milliseconds") from None
    try:
        return parse_time(value)
    except CoercionError as exc:
        raise TransformValueError(exc.reason) from None


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return _exact_number(value.strip())
        except ValueError:
            pass
    raise TransformValueError(f"{name}() expected a number, got {_short(value)}")


def _exact_number(text: str) -> int | float:
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(text)
    return number


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tidy(number: float) -> int | float:
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise TransformValueError(f"cannot turn {_short(value)} into text")


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _split(full_name: str | None) -> dict[str, str | None] | None:
    if full_name is None:
        return None
    text = " ".join(full_name.split())
    if not text:
        return None
    if "," in text:
        last, _, first = text.partition(",")
        return {"first": first.strip() or None, "last": last.strip() or None}
    first, _, last = text.rpartition(" ")
    return {"first": first or None, "last": last}


class ZoomforceFunctions(jmes_functions.Functions):
    """zoomforce's transforms, on top of JMESPath's builtins."""

    # ---- time -------------------------------------------------------------------------------

    @signature({"types": ["string", "number", "null"]})
    def _func_sf_datetime(self, value: Any) -> str | None:
        return None if value is None else format_sf_datetime(_time(value))

    @signature({"types": ["string", "number", "null"]})
    def _func_sf_date(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            return value.strip()
        return _time(value).strftime("%Y-%m-%d")

    @signature({"types": ["string", "number", "null"]}, _NULLABLE_NUMBER)
    def _func_add_minutes(self, value: Any, minutes: Any) -> str | None:
        if value is None or minutes is None:
            return None
        return self._shift(value, _number(minutes, "add_minutes") * 60)

    @signature({"types": ["string", "number", "null"]}, _NULLABLE_NUMBER)
    def _func_add_seconds(self, value: Any, seconds: Any) -> str | None:
        if value is None or seconds is None:
            return None
        return self._shift(value, _number(seconds, "add_seconds"))

    @staticmethod
    def _shift(value: Any, seconds: float) -> str:
        try:
            return _iso_utc(_time(value) + timedelta(seconds=seconds))
        except OverflowError:
            raise TransformValueError(f"{_short(value)} shifted by {seconds} seconds is out of range") from None

    # ---- durations --------------------------------------------------------------------------

    @signature(_NULLABLE_NUMBER)
    def _func_minutes_to_seconds(self, minutes: Any) -> int | float | None:
        return None if minutes is None else _tidy(_number(minutes, "minutes_to_seconds") * 60)

    @signature(_NULLABLE_NUMBER)
    def _func_seconds_to_minutes(self, seconds: Any) -> int | float | None:
        if seconds is None:
            return None
        value = _number(seconds, "seconds_to_minutes")
        return value // 60 if isinstance(value, int) and value % 60 == 0 else _tidy(value / 60)

    @signature(_NULLABLE_NUMBER)
    def _func_seconds_to_hms(self, seconds: Any) -> str | None:
        if seconds is None:
            return None
        total = round(_number(seconds, "seconds_to_hms"))
        sign = "-" if total < 0 else ""
        hours, rest = divmod(abs(total), 3600)
        return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"

    # ---- text -------------------------------------------------------------------------------

    @signature(_NULLABLE_TEXT, {"types": ["number"]})
    def _func_truncate(self, text: str | None, length: int | float) -> str | None:
        if text is None:
            return None
        limit = max(0, int(length))
        cut = text[:limit]
        while cut and unicodedata.combining(cut[-1]) and len(cut) == limit and len(text) > limit:
            cut = cut[:-1]  # do not leave a base letter's accent half-cut
        return cut

    @signature(_NULLABLE_TEXT)
    def _func_lower(self, text: str | None) -> str | None:
        return None if text is None else text.lower()

    @signature(_NULLABLE_TEXT)
    def _func_upper(self, text: str | None) -> str | None:
        return None if text is None else text.upper()

    @signature(_NULLABLE_TEXT)
    def _func_trim(self, text: str | None) -> str | None:
        return None if text is None else text.strip()

    @signature({**_ANY, "variadic": True})
    def _func_concat(self, *values: Any) -> str:
        return "".join(_text_of(v) for v in values if v is not None)

    @signature({"types": ["string"]}, {**_ANY, "variadic": True})
    def _func_concat_ws(self, separator: str, *values: Any) -> str:
        parts = [_text_of(v) for v in values if v is not None]
        return separator.join(p for p in parts if p.strip())

    @signature({**_ANY, "variadic": True})
    def _func_coalesce(self, *values: Any) -> Any:
        for value in values:
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return value
        return None

    @signature(_ANY, _ANY)
    def _func_default(self, value: Any, fallback: Any) -> Any:
        return fallback if value is None else value

    @signature(_ANY, {"types": ["object"]})
    def _func_lookup(self, value: Any, table: dict[str, Any]) -> Any:
        if value is None:
            return None
        key = self._table_key(value)
        if key in table:
            return table[key]
        known = ", ".join(sorted(table)) or "none"
        raise TransformValueError(f"{_short(value)} is not in the lookup table (known: {known})")

    @signature(_ANY, {"types": ["object"]}, _ANY)
    def _func_lookup_or(self, value: Any, table: dict[str, Any], fallback: Any) -> Any:
        if value is None:
            return None
        return table.get(self._table_key(value), fallback)

    @staticmethod
    def _table_key(value: Any) -> str:
        if isinstance(value, dict | list):
            raise TransformValueError(f"{_short(value)} cannot be looked up in a table")
        return _text_of(value)

    # ---- people -----------------------------------------------------------------------------

    @signature(_NULLABLE_TEXT)
    def _func_split_name(self, full_name: str | None) -> dict[str, str | None] | None:
        return _split(full_name)

    @signature(_NULLABLE_TEXT)
    def _func_first_name(self, full_name: str | None) -> str | None:
        parts = _split(full_name)
        return None if parts is None else parts["first"]

    @signature(_NULLABLE_TEXT)
    def _func_last_name(self, full_name: str | None) -> str | None:
        parts = _split(full_name)
        return None if parts is None else parts["last"]

    @signature(_NULLABLE_TEXT)
    def _func_normalize_email(self, text: str | None) -> str | None:
        if text is None or not text.strip():
            return None
        address = text.strip().lower()
        if not _EMAIL.match(address):
            raise TransformValueError(f"{_short(text)} is not an e-mail address")
        return address

    @signature({"types": ["string", "number", "null"]})
    def _func_digits(self, text: Any) -> str | None:
        if text is None:
            return None
        raw = _text_of(text).strip()
        kept = "".join(ch for ch in raw if ch.isdigit() and ch.isascii())
        return ("+" + kept if raw.startswith("+") else kept) or None

    # ---- conversions ------------------------------------------------------------------------

    @signature({"types": ["boolean", "number", "string", "null"]})
    def _func_to_boolean(self, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise TransformValueError(f"{_short(value)} is not a boolean (true/false, yes/no, 1/0)")

    @signature({"types": ["number", "string", "null"]})
    def _func_to_integer(self, value: Any) -> int | None:
        if value is None:
            return None
        number = _number(value, "to_integer")
        if isinstance(number, float):
            if not number.is_integer():
                raise TransformValueError(f"{_short(value)} is not a whole number")
            return int(number)
        return number


RETURN_TYPES: Mapping[str, str] = {
    "sf_datetime": "datetime",
    "sf_date": "date",
    "add_minutes": "datetime",
    "add_seconds": "datetime",
    "minutes_to_seconds": "number",
    "seconds_to_minutes": "number",
    "seconds_to_hms": "string",
    "truncate": "string",
    "lower": "string",
    "upper": "string",
    "trim": "string",
    "concat": "string",
    "concat_ws": "string",
    "coalesce": "any",
    "default": "any",
    "lookup": "any",
    "lookup_or": "any",
    "split_name": "object",
    "first_name": "string",
    "last_name": "string",
    "normalize_email": "string",
    "digits": "string",
    "to_boolean": "boolean",
    "to_integer": "integer",
}


@dataclass(frozen=True)
class FunctionDoc:
    signature: str
    summary: str
    example_expression: str
    example_input: Any
    example_result: Any


FUNCTION_DOCS: Mapping[str, FunctionDoc] = {
    "sf_datetime": FunctionDoc(
        "sf_datetime(time)",
        "Zoom ISO-8601 time (Z, offset or naive UTC) or epoch milliseconds -> Salesforce datetime in UTC.",
        "sf_datetime(start_time)",
        {"start_time": "2026-03-23T08:00:00+02:00"},
        "2026-03-23T06:00:00.000Z",
    ),
    "sf_date": FunctionDoc(
        "sf_date(time)",
        "The UTC date of a time, `YYYY-MM-DD`.",
        "sf_date(start_time)",
        {"start_time": "2026-03-23T23:30:00-02:00"},
        "2026-03-24",
    ),
    "add_minutes": FunctionDoc(
        "add_minutes(time, minutes)",
        "A time plus minutes (negative or fractional allowed), as ISO UTC.",
        "add_minutes(start_time, duration)",
        {"start_time": "2026-03-23T06:00:00Z", "duration": 90},
        "2026-03-23T07:30:00Z",
    ),
    "add_seconds": FunctionDoc(
        "add_seconds(time, seconds)",
        "A time plus seconds, as ISO UTC.",
        "add_seconds(join_time, duration)",
        {"join_time": "2026-03-23T06:00:00Z", "duration": 125},
        "2026-03-23T06:02:05Z",
    ),
    "minutes_to_seconds": FunctionDoc(
        "minutes_to_seconds(n)", "Minutes -> seconds.", "minutes_to_seconds(duration)", {"duration": 45}, 2700
    ),
    "seconds_to_minutes": FunctionDoc(
        "seconds_to_minutes(n)",
        "Seconds -> minutes (exact: 90 -> 1.5).",
        "seconds_to_minutes(duration)",
        {"duration": 90},
        1.5,
    ),
    "seconds_to_hms": FunctionDoc(
        "seconds_to_hms(n)",
        "Seconds -> `HH:MM:SS` (hours may pass 24).",
        "seconds_to_hms(duration)",
        {"duration": 3725},
        "01:02:05",
    ),
    "truncate": FunctionDoc(
        "truncate(text, length)",
        "At most `length` characters.",
        "truncate(topic, `8`)",
        {"topic": "Quarterly business review"},
        "Quarterl",
    ),
    "lower": FunctionDoc("lower(text)", "Lower case.", "lower(email)", {"email": "Ada@Example.COM"}, "ada@example.com"),
    "upper": FunctionDoc("upper(text)", "Upper case.", "upper(status)", {"status": "approved"}, "APPROVED"),
    "trim": FunctionDoc("trim(text)", "Strip surrounding white space.", "trim(name)", {"name": "  Ada  "}, "Ada"),
    "concat": FunctionDoc(
        "concat(value, ...)",
        "The text of the non-null values, joined.",
        "concat(first_name, ' ', last_name)",
        {"first_name": "Ada", "last_name": "Lovelace"},
        "Ada Lovelace",
    ),
    "concat_ws": FunctionDoc(
        "concat_ws(separator, value, ...)",
        "The non-empty values joined by `separator`.",
        "concat_ws(', ', city, state, country)",
        {"city": "Lyon", "state": None, "country": "FR"},
        "Lyon, FR",
    ),
    "coalesce": FunctionDoc(
        "coalesce(value, ...)",
        "The first value that is neither null nor blank text.",
        "coalesce(user_email, registrant_id)",
        {"user_email": "", "registrant_id": "r-1"},
        "r-1",
    ),
    "default": FunctionDoc(
        "default(value, fallback)",
        "`value`, or `fallback` when it is null.",
        "default(agenda, 'none')",
        {"agenda": None},
        "none",
    ),
    "lookup_or": FunctionDoc(
        "lookup_or(value, table, fallback)",
        "Like `lookup`, with `fallback` for a value not in the table.",
        'lookup_or(status, `{"approved": "Approved"}`, \'Other\')',
        {"status": "waiting"},
        "Other",
    ),
    "lookup": FunctionDoc(
        "lookup(value, table)",
        'A value table: the table\'s entry for the value\'s text (`0` and `"0"` both match key `"0"`); '
        "a value not in the table is an error.",
        'lookup(settings.approval_type, `{"0": "Automatic", "1": "Manual", "2": "None"}`)',
        {"settings": {"approval_type": 1}},
        "Manual",
    ),
    "split_name": FunctionDoc(
        "split_name(full_name)",
        "`{first, last}`: the last word is the last name; `Last, First` also works.",
        "split_name(name)",
        {"name": "Ada King Lovelace"},
        {"first": "Ada King", "last": "Lovelace"},
    ),
    "first_name": FunctionDoc(
        "first_name(full_name)",
        "The first name of a full name (null for a single word).",
        "first_name(name)",
        {"name": "Zoë Ñúñez"},
        "Zoë",
    ),
    "last_name": FunctionDoc(
        "last_name(full_name)",
        "The last name of a full name (the word itself for a single word).",
        "last_name(name)",
        {"name": "Zoë Ñúñez"},
        "Ñúñez",
    ),
    "normalize_email": FunctionDoc(
        "normalize_email(text)",
        "Trimmed, lower-cased e-mail; null when blank; an error when not an address.",
        "normalize_email(email)",
        {"email": " Ada@Example.com "},
        "ada@example.com",
    ),
    "digits": FunctionDoc(
        "digits(text)",
        "Only the digits, keeping a leading `+` (phone numbers).",
        "digits(caller_did_number)",
        {"caller_did_number": "+1 (555) 010-0199"},
        "+15550100199",
    ),
    "to_boolean": FunctionDoc(
        "to_boolean(value)",
        "true/false from booleans, 0/1 and yes/no/on/off/true/false text.",
        "to_boolean(enabled)",
        {"enabled": "Yes"},
        True,
    ),
    "to_integer": FunctionDoc(
        "to_integer(value)",
        "An exact integer from a number or text (64-bit ids never pass through a float).",
        "to_integer(id)",
        {"id": "85746065432123456"},
        85746065432123456,
    ),
}


@cache
def function_options() -> jmespath.Options:
    """The one Options object every expression is evaluated with."""
    return jmespath.Options(custom_functions=ZoomforceFunctions())


@cache
def function_arities() -> dict[str, tuple[int, int | None]]:
    """(fewest, most) arguments of every function the engine accepts; most is None for variadic."""
    table = ZoomforceFunctions().FUNCTION_TABLE
    arities: dict[str, tuple[int, int | None]] = {}
    for name, entry in table.items():
        spec = entry["signature"]
        variadic = bool(spec) and spec[-1].get("variadic", False)
        arities[name] = (len(spec), None if variadic else len(spec))
    return arities


def render_function_docs() -> str:
    """The Markdown table of the registry (the README embeds it; a test keeps them equal)."""
    import json

    rows = ["| function | what it does | example | gives |", "| --- | --- | --- | --- |"]
    for name in sorted(FUNCTION_DOCS):
        doc = FUNCTION_DOCS[name]
        example = f"`{doc.example_expression}` on `{json.dumps(doc.example_input, ensure_ascii=False)}`"
        rows.append(
            f"| `{doc.signature}` | {doc.summary} | {example.replace('|', '&#124;')} "
            f"| `{json.dumps(doc.example_result, ensure_ascii=False)}` |"
        )
    return "\n".join(rows) + "\n"
