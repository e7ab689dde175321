"""The transform registry: zoomforce's JMESPath functions.

Every transform is one ``_func_<name>`` method of ``ZoomforceFunctions`` under ``@signature``, so
JMESPath itself reports a wrong argument count (``ArityError``, or ``VariadictArityError`` for a
variadic function given too few) and a wrong argument type (``JMESPathTypeError``). No transform
overrides or shadows a JMESPath builtin: the engine agrees with the official compliance suite.

The rules every transform follows:

* a null argument where a value is expected gives null, so the field's missing-value policy decides;
* a value the transform cannot handle raises ``TransformValueError`` naming the function, what it
  expected and the value (``repr``, cut to 60 characters); the runtime adds the record and field;
* pure: no clock, no I/O, no ``eval``. Times are computed in UTC, so there is no daylight saving.

``engine.language.function_docs`` documents each function with one example that the tests run, and renders
``docs/functions.md`` from it (see ``scripts/update_function_docs.py``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any, Final, NotRequired, TypedDict, TypeGuard

import jmespath
from jmespath import exceptions as jmes_errors
from jmespath import functions as jmes_functions
from jmespath.functions import signature

from engine.describe import short
from engine.errors import TransformValueError

# ---- argument specs (JMESPath type names) ------------------------------------------------------


class ArgSpec(TypedDict):
    """One parameter of ``@signature``: the JMESPath types it takes and whether it is variadic.

    A variadic one may carry ``max_args``, the most arguments the whole call takes. JMESPath ignores
    that key; ``function_arities`` reads it and the function enforces it with JMESPath's ArityError.
    """

    types: list[str]
    variadic: NotRequired[bool]
    max_args: NotRequired[int]


MAX_ARGS: Final = "max_args"
_LOOKUP_MAX_ARGS = 3

_ANY: ArgSpec = {"types": []}
_TEXT: ArgSpec = {"types": ["string", "null"]}
_TIME: ArgSpec = {"types": ["string", "number", "null"]}
_AMOUNT: ArgSpec = {"types": ["number", "string", "null"]}
_MORE: ArgSpec = {"types": [], "variadic": True}
# the table is declared variadic so that a third argument, the fallback, is optional
_TABLE_THEN_FALLBACK: ArgSpec = {"types": ["object"], "variadic": True, MAX_ARGS: _LOOKUP_MAX_ARGS}

# ---- errors ------------------------------------------------------------------------------------


def _bad(function: str, expected: str, value: Any) -> TransformValueError:
    return TransformValueError(f"{function}(): expected {expected}, got {short(value)}")


# ---- times -------------------------------------------------------------------------------------

_ISO_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII | re.IGNORECASE,
)
_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_EXPECTED = "an ISO-8601 time (e.g. 2022-03-23T06:00:00Z) or epoch milliseconds"


def _zone(text: str | None) -> timezone:
    if text is None or text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if minutes > 59:
        raise ValueError(text)
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text.startswith("-") else offset)


_ZULU_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)  # ASCII digits only


def _zulu(text: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SSZ``, the form Zoom writes, read without the general pattern (None: another form)."""
    if len(text) != 20 or _ZULU_TEXT.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text)  # in C; this form gives the same aware UTC datetime
    except ValueError:
        return None


# The time a transform wrote last, with its text: ``sf_datetime(add_minutes(...))`` parses it once.
_last_written: tuple[str | None, datetime] = (None, _EPOCH)  # None: nothing written yet (no text matches)


def _written(moment: datetime) -> str:
    """`moment` as ISO-8601 UTC text, remembered so that the next transform reading it need not parse it."""
    global _last_written
    text = _iso_utc(moment)
    _last_written = (text, moment if not moment.microsecond else moment.replace(microsecond=0))  # what parsing
    # the text gives back
    return text


def _parse_iso(text: str) -> datetime | None:
    """An aware UTC datetime from ISO-8601 extended format (naive means UTC), or None."""
    last_text, last_moment = _last_written
    if text == last_text:
        return last_moment
    common = _zulu(text)
    if common is not None:
        return common
    found = _ISO_TIME.fullmatch(text.strip())
    if found is None:
        return None
    year, month, day = (int(part) for part in found["date"].split("-"))
    micros = int((found["fraction"] or "")[:6].ljust(6, "0"))
    clock = (int(found["hour"] or 0), int(found["minute"] or 0), int(found["second"] or 0))
    try:
        moment = datetime(year, month, day, *clock, micros, tzinfo=_zone(found["zone"]))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _from_epoch_ms(milliseconds: int | float) -> datetime | None:
    if isinstance(milliseconds, float) and not math.isfinite(milliseconds):
        return None
    try:
        return _EPOCH + timedelta(milliseconds=milliseconds)
    except (OverflowError, ValueError):
        return None


def _instant(function: str, value: str | int | float) -> datetime:
    moment = _parse_iso(value) if isinstance(value, str) else _from_epoch_ms(value)
    if moment is None:
        raise _bad(function, _TIME_EXPECTED, value)
    return moment


# %-formatting: about half the time of the same f-string with format specifications (UP031 kept off).
def _date_text(moment: date) -> str:
    return "%04d-%02d-%02d" % (moment.year, moment.month, moment.day)  # noqa: UP031


def _iso_utc(moment: datetime) -> str:
    parts = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % parts  # noqa: UP031


def _sf_datetime(moment: datetime) -> str:
    parts = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
             moment.microsecond // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % parts  # noqa: UP031


def _bare_date(function: str, text: str) -> str | None:
    """``YYYY-MM-DD`` when the text is a bare (valid) date, else None."""
    stripped = text.strip()
    if not _BARE_DATE.fullmatch(stripped):
        return None
    try:
        return _date_text(date.fromisoformat(stripped))
    except ValueError:
        raise _bad(function, "a valid date (YYYY-MM-DD)", text) from None


def _shift(function: str, time: Any, amount: Any, unit_seconds: int) -> str | None:
    if time is None or amount is None:
        return None
    moment = _zulu(time) if type(time) is str else None  # what _instant gives for this form, without its layers
    if moment is None:
        moment = _instant(function, time)
    step = amount if type(amount) is int else _number(function, amount)
    try:
        delta = timedelta(0, step * unit_seconds)  # (days, seconds)
        return _written(moment + delta)
    except (OverflowError, ValueError):
        raise _bad(function, "a shift that stays within years 1 to 9999", amount) from None


# ---- numbers -----------------------------------------------------------------------------------

_INTEGER_TEXT = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)  # linear: no competing \d
_MAX_DIGITS = 4300  # Python's own limit on converting text to int


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(function: str, value: Any) -> int | float:
    """A finite number from a number or numeric text; digit strings stay exact ints."""
    if _is_number(value) and (isinstance(value, int) or math.isfinite(value)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text) and len(text) <= _MAX_DIGITS:
            return int(text)
        if _DECIMAL_TEXT.fullmatch(text) and math.isfinite(float(text)):
            return float(text)
    raise _bad(function, "a number", value)


def _tidy(number: float) -> int | float:
    """An integral float as an int (while floats hold integers exactly), else the float."""
    if not math.isfinite(number):
        raise OverflowError(number)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _exact_integer(function: str, value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise _bad(function, "a whole number", value)
    text = value.strip()
    if _INTEGER_TEXT.fullmatch(text) and len(text) <= _MAX_DIGITS:
        return int(text)  # never through a float: 64-bit ids stay exact
    if _DECIMAL_TEXT.fullmatch(text):
        exact = Decimal(text)
        if exact.adjusted() < _MAX_DIGITS and exact == exact.to_integral_value():
            return int(exact)
    raise _bad(function, "a whole number", value)


def _scale(function: str, value: int | float, factor: int, divide: bool = False) -> int | float:
    """``value`` times or divided by ``factor``; floats go through their shortest decimal text, so
    ``0.1`` minutes is exactly ``6`` seconds; exact results are ints."""
    if isinstance(value, int) and not divide:
        return value * factor
    if isinstance(value, int) and value % factor == 0:
        return value // factor
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    result = exact / factor if divide else exact * factor
    try:
        return _tidy(float(result))
    except OverflowError:
        raise _bad(function, "a number within float range", value) from None


def _hms(seconds: int | float) -> str:
    whole = math.trunc(seconds)
    hours, rest = divmod(abs(whole), 3600)
    sign = "-" if whole < 0 else ""
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


# ---- text --------------------------------------------------------------------------------------

_ZWJ = "\u200d"


def _text(function: str, value: Any) -> str:
    """The string form of a scalar: text as is, numbers as JSON writes them, true/false."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(_tidy(value))
    raise _bad(function, "text, a finite number or a boolean", value)


def _texts(function: str, values: Iterable[Any]) -> list[str]:
    return [_text(function, value) for value in values if value is not None]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _inside_cluster(text: str, end: int) -> bool:
    """Whether cutting ``text`` at ``end`` would split a surrogate pair, combining or ZWJ sequence."""
    before, after = text[end - 1], text[end]
    joins_next = before == _ZWJ or "\ud800" <= before <= "\udbff"
    return joins_next or after == _ZWJ or unicodedata.category(after).startswith("M")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and _inside_cluster(text, end):
        end -= 1
    return text[:end]


def _length(function: str, value: int | float) -> int:
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise _bad(function, "a whole number of characters", value)
    if value < 0:
        raise _bad(function, "a length of 0 or more", value)
    return int(value)


def _only_digits(text: str) -> str | None:
    raw = text.strip()
    kept = "".join(str(unicodedata.decimal(char)) for char in raw if char.isdecimal())
    if kept and raw.startswith("+"):
        return "+" + kept
    return kept or None


# ---- lookup tables -----------------------------------------------------------------------------


def _table_key(value: Any) -> str:
    if isinstance(value, dict | list):
        raise _bad("lookup", "text, a number or a boolean to look up", value)
    return _text("lookup", value)


def _known_keys(table: Mapping[str, Any]) -> str:
    keys = sorted(table)
    shown = ", ".join(repr(key) for key in keys[:10])
    return (shown + ", ...") if len(keys) > 10 else (shown or "none")


# ---- people ------------------------------------------------------------------------------------


# The name split last, with its parts: ``first_name(name)`` then ``last_name(name)`` split it once.
_last_split: tuple[str | None, tuple[str | None, str] | None] = (None, None)


def _name_parts(full_name: str | None) -> tuple[str | None, str] | None:
    """(first, last) of a full name: "Ada Lovelace", "Lovelace, Ada"; the first may be None (one word);
    None for no name. Remembered for the last name split."""
    global _last_split
    if full_name == _last_split[0] and full_name is not None:
        return _last_split[1]
    if full_name is None:
        return None
    found = _split_parts(full_name)
    _last_split = (full_name, found)
    return found


def _split_parts(full_name: str) -> tuple[str | None, str] | None:
    """(first, last) of a full name, as :func:`_name_parts`, not remembered."""
    text = " ".join(full_name.split())
    if "," in text:
        return _comma_parts(text)
    first, _, last = text.rpartition(" ")
    return (first or None, last) if text else None


def _comma_parts(text: str) -> tuple[str | None, str] | None:
    """(first, last) of "Last, First"; of "Last," or ", First", the side that is there, split at its last space."""
    last, _, first = (part.strip(" ,") for part in text.partition(","))
    if last and first:
        return first, last
    text = last or first
    if not text:
        return None
    first, _, last = text.rpartition(" ")
    return first or None, last


# Functions whose result of a str is one part of another function's result (its position there):
# code that maps a whole record (record_mapper) splits a name once for both of its fields.
RESULT_PARTS: dict[str, tuple[Callable[[str], Any], int]] = {"first_name": (_split_parts, 0),
                                                            "last_name": (_split_parts, 1)}


def _split_name(full_name: str | None) -> dict[str, str | None] | None:
    parts = _name_parts(full_name)
    return None if parts is None else {"first": parts[0], "last": parts[1]}


# ---- booleans ----------------------------------------------------------------------------------

_TRUE_TEXT = frozenset({"true", "yes", "on", "1"})
_FALSE_TEXT = frozenset({"false", "no", "off", "0"})


def _boolean(value: bool | int | float | str) -> bool:
    if isinstance(value, bool):
        return value
    if _is_number(value) and value in (0, 1):
        return value == 1
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _TRUE_TEXT or word in _FALSE_TEXT:
        return word in _TRUE_TEXT
    raise _bad("to_boolean", "true/false, yes/no, on/off or 1/0", value)


# ---- the registry ------------------------------------------------------------------------------


class ZoomforceFunctions(jmes_functions.Functions):
    """zoomforce's transforms, added to JMESPath's builtins (none of which is overridden)."""

    # times

    @signature(_TIME)
    def _func_sf_datetime(self, time: str | int | float | None) -> str | None:
        if time is None:
            return None
        if time and time == _last_written[0]:  # what a transform just wrote (whole seconds): no parsing, no formatting
            return f"{time[:-1]}.000Z"  # equal to a str: a str
        return _sf_datetime(_instant("sf_datetime", time))

    @signature(_TIME)
    def _func_sf_date(self, time: str | int | float | None) -> str | None:
        if time is None:
            return None
        bare = _bare_date("sf_date", time) if isinstance(time, str) else None
        return bare or _date_text(_instant("sf_date", time))

    @signature(_TIME, _AMOUNT)
    def _func_add_minutes(self, time: Any, minutes: Any) -> str | None:
        return _shift("add_minutes", time, minutes, 60)

    @signature(_TIME, _AMOUNT)
    def _func_add_seconds(self, time: Any, seconds: Any) -> str | None:
        return _shift("add_seconds", time, seconds, 1)

    # durations

    @signature(_AMOUNT)
    def _func_minutes_to_seconds(self, minutes: Any) -> int | float | None:
        if minutes is None:
            return None
        return _scale("minutes_to_seconds", _number("minutes_to_seconds", minutes), 60)

    @signature(_AMOUNT)
    def _func_seconds_to_minutes(self, seconds: Any) -> int | float | None:
        if seconds is None:
            return None
        return _scale("seconds_to_minutes", _number("seconds_to_minutes", seconds), 60, divide=True)

    @signature(_AMOUNT)
    def _func_seconds_to_hms(self, seconds: Any) -> str | None:
        return None if seconds is None else _hms(_number("seconds_to_hms", seconds))

    # text

    @signature(_TEXT, {"types": ["number"]})
    def _func_truncate(self, text: str | None, length: int | float) -> str | None:
        limit = _length("truncate", length)
        return None if text is None else _cut(text, limit)

    @signature(_TEXT)
    def _func_lower(self, text: str | None) -> str | None:
        return None if text is None else text.lower()

    @signature(_TEXT)
    def _func_upper(self, text: str | None) -> str | None:
        return None if text is None else text.upper()

    @signature(_TEXT)
    def _func_trim(self, text: str | None) -> str | None:
        return None if text is None else text.strip()

    @signature(_MORE)
    def _func_concat(self, *values: Any) -> str:
        return "".join(_texts("concat", values))

    @signature({"types": ["string"]}, _MORE)
    def _func_concat_ws(self, separator: str, *values: Any) -> str:
        return separator.join(part for part in _texts("concat_ws", values) if part)

    @signature(_MORE)
    def _func_coalesce(self, *values: Any) -> Any:
        return next((value for value in values if not _is_blank(value)), None)

    @signature(_ANY, _ANY)
    def _func_default(self, value: Any, fallback: Any) -> Any:
        return fallback if value is None else value

    @signature(_ANY, _TABLE_THEN_FALLBACK)
    def _func_lookup(self, value: Any, table: dict[str, Any], *fallback: Any) -> Any:
        if 2 + len(fallback) > _LOOKUP_MAX_ARGS:
            raise jmes_errors.ArityError(_LOOKUP_MAX_ARGS, 2 + len(fallback), "lookup")
        if value is None:
            return None
        key = _table_key(value)
        if key in table:
            return table[key]
        if fallback:
            return fallback[0]
        raise _bad("lookup", f"a key of the table ({_known_keys(table)})", value)

    # people

    @signature(_TEXT)
    def _func_split_name(self, full_name: str | None) -> dict[str, str | None] | None:
        return _split_name(full_name)

    @signature(_TEXT)
    def _func_first_name(self, full_name: str | None) -> str | None:
        parts = _name_parts(full_name)
        return None if parts is None else parts[0]

    @signature(_TEXT)
    def _func_last_name(self, full_name: str | None) -> str | None:
        parts = _name_parts(full_name)
        return None if parts is None else parts[1]

    @signature(_TEXT)
    def _func_normalize_email(self, text: str | None) -> str | None:
        if text is None:
            return None
        address = text.strip().lower()
        # plausible: one `@` after some text, a domain of two or more labels none empty, no white space
        local, at, domain = address.partition("@")
        if local and at and "." in domain and "@" not in domain and domain[0] != "." and domain[-1] != "." \
                and ".." not in domain and (" " not in address if address.isascii() and address.isprintable()
                                            else address.split() == [address]):  # split() parts at every isspace()
            return address
        if not address:  # blank (the signature admits only text here)
            return None
        raise _bad("normalize_email", "an e-mail address (name@domain.tld)", text)

    @signature({"types": ["string", "number", "null"]})
    def _func_digits(self, text: str | int | float | None) -> str | None:
        return None if text is None else _only_digits(_text("digits", text))

    # conversions

    @signature({"types": ["boolean", "number", "string", "null"]})
    def _func_to_boolean(self, value: bool | int | float | str | None) -> bool | None:
        return None if value is None else _boolean(value)

    @signature({"types": ["number", "string", "null"]})
    def _func_to_integer(self, value: int | float | str | None) -> int | None:
        return None if value is None else _exact_integer("to_integer", value)


# ---- what the rest of the engine reads ---------------------------------------------------------

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
    "split_name": "object",
    "first_name": "string",
    "last_name": "string",
    "normalize_email": "string",
    "to_boolean": "boolean",
    "to_integer": "integer",
    "digits": "string",
}


@cache
def function_options() -> jmespath.Options:
    """The one ``jmespath.Options`` every expression is evaluated with."""
    return jmespath.Options(custom_functions=ZoomforceFunctions())


def function_arities() -> dict[str, tuple[int, int | None]]:
    """(fewest, most) arguments of every function the engine accepts; most is None when unbounded."""
    return dict(_arities())


@cache
def _arities() -> dict[str, tuple[int, int | None]]:
    table = ZoomforceFunctions.FUNCTION_TABLE
    return {name: _arity(entry["signature"]) for name, entry in table.items()}


def _arity(spec: tuple[ArgSpec, ...]) -> tuple[int, int | None]:
    if spec and spec[-1].get("variadic"):
        return len(spec), spec[-1].get(MAX_ARGS)
    return len(spec), len(spec)
