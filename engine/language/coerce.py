"""Coercers: one small function per value type, chosen once when a mapping compiles.

``engine.language.value_types`` names each type's coercer; ``COERCERS`` maps the type to it.

A coercer takes the extracted (non-null) value and returns what is written, or raises
CoercionError saying what it got and what it expected. They are deliberately strict where a
wrong guess would corrupt data (a float meeting id, a date without a time zone) and lenient where
Zoom is known to vary (numbers sent as strings).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeGuard

from engine.describe import short
from engine.errors import CoercionError, InvalidText, NumberTooLarge
from engine.language import limits
from engine.language.safe_json import is_well_formed, well_formed, well_formed_deep
from engine.language.value_types import VALUE_TYPES

Coercer = Callable[[Any], Any]

_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
# No two quantifiers may compete for the same characters: a value can be a megabyte of digits.
_NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_SPACE = re.compile(r"\s")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _fail(value: Any, expected: str) -> CoercionError:
    return CoercionError(f"cannot use {short(value)} as {expected}")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _exact_text(value: str, expected: str) -> str:
    """`value` when it encodes as UTF-8; a lone surrogate cannot be repaired in an address, a link or an id."""
    if not is_well_formed(value):
        raise InvalidText(f"{expected} holds a lone surrogate (a broken \\u escape), which is not text")
    return value


def to_text(value: Any) -> str:
    if type(value) is str:
        return value if value.isascii() else well_formed(value)  # ASCII always encodes
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    raise _fail(value, "text")


def _is_email(text: str) -> bool:
    """``local@domain.tld``: one ``@``, no space, a dot inside the domain (checked in linear time)."""
    local, at, domain = text.partition("@")
    if not (at and local and "@" not in domain and "." in domain[1:-1]):
        return False
    if text.isascii() and text.isprintable():  # the only white space of printable ASCII is the space
        return " " not in text
    return not _SPACE.search(text)


def _digits_within_limit(text: str) -> str:
    """An integer's text, refused past ``MAX_INTEGER_DIGITS`` (Python's own int() stops at 4300, with a ValueError)."""
    digits = len(text.lstrip("+-"))
    if digits > limits.MAX_INTEGER_DIGITS:
        raise NumberTooLarge(f"a number of {digits} digits ({limits.limit_text('MAX_INTEGER_DIGITS')})")
    return text


def to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(value, "an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
        return int(_digits_within_limit(value.strip()))
    raise _fail(value, "an integer")


def to_number(value: Any) -> int | float:
    if _is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(value, "a finite number")
        return value
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        text = value.strip()
        if _INTEGER_TEXT.match(text):
            return int(_digits_within_limit(text))
        number = float(text)
        if not math.isfinite(number):
            raise _fail(value, "a finite number")
        return number
    raise _fail(value, "a number")


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if _is_number(value) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(value, "a boolean (true/false)")


def parse_time(value: Any) -> datetime:
    """An ISO-8601 time as Zoom writes it (``Z``, an offset, or naive meaning UTC) -> aware UTC."""
    if not isinstance(value, str):
        raise _fail(value, "an ISO-8601 time")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(value, "an ISO-8601 time (e.g. 2026-03-23T06:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_sf_datetime(moment: datetime) -> str:
    """Salesforce's datetime wire format, in UTC with milliseconds: ``2026-03-23T06:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_SF_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


_ZULU = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)  # ASCII digits only


def _is_zulu(text: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SSZ`` in ASCII digits (the form Zoom writes), the date and time not yet checked."""
    return _ZULU.fullmatch(text) is not None


def to_datetime(value: Any) -> str:
    if type(value) is str and len(value) == 20 and _ZULU.fullmatch(value) is not None:  # _is_zulu, inline
        try:
            datetime.fromisoformat(value)  # a real date and time; then only the milliseconds are added
        except ValueError:
            raise _fail(value, "an ISO-8601 time (e.g. 2026-03-23T06:00:00Z)") from None
        return value[:19] + ".000Z"
    if isinstance(value, str) and _SF_DATETIME.match(value):
        return value
    return format_sf_datetime(parse_time(value))


def to_date(value: Any) -> str:
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", value.strip()):
        try:
            return datetime.strptime(value.strip(), "%Y-%m-%d").strftime("%Y-%m-%d")
        except ValueError:
            raise _fail(value, "a date (YYYY-MM-DD)") from None
    return parse_time(value).strftime("%Y-%m-%d")


def to_email(value: Any) -> str:
    if type(value) is str and value.isascii() and value.isprintable():  # nearly every address, in one pass
        text = value.strip(" ")  # the only white space of printable ASCII is the space
        local, at, domain = text.partition("@")
        if local and at and "." in domain and "@" not in domain and " " not in text \
                and ((domain[0] != "." and domain[-1] != ".") or "." in domain[1:-1]):
            return text  # what _is_email accepts; ASCII always encodes
    elif isinstance(value, str):
        text = value.strip()
        if _is_email(text):
            return text if text.isascii() else _exact_text(text, "the e-mail address")
    raise _fail(value, "an e-mail address")


def to_url(value: Any) -> str:
    if type(value) is str and value.isascii() and value.isprintable():  # nearly every link, without _URL
        text = value.strip(" ")  # the only white space of printable ASCII is the space
        start = 8 if text.startswith("https://") else 7 if text.startswith("http://") else _scheme_length(text)
        if start and len(text) > start and text[start] not in "/$.?#" and " " not in text:
            return text  # what _URL matches; ASCII always encodes
    elif isinstance(value, str):
        text = value.strip()
        if _URL.match(text):
            return text if text.isascii() else _exact_text(text, "the link")
    raise _fail(value, "an http(s) URL")


def _scheme_length(text: str) -> int:
    """The length of an ``http://`` or ``https://`` that starts `text` in any case (as _URL takes it), else 0."""
    head = text[:8].lower()
    return 8 if head == "https://" else 7 if head.startswith("http://") else 0


def to_id(value: Any) -> str:
    if isinstance(value, float):
        raise _fail(value, "an id (text or integer; a float would lose digits)")
    if isinstance(value, str):
        return _exact_text(value, "the id")
    return to_text(value)


def passthrough(value: Any) -> Any:
    """No declared type: the value as is, its strings made to encode (lone surrogates become U+FFFD)."""
    return well_formed_deep(value)


_BY_NAME: dict[str, Coercer] = {
    coercer.__name__: coercer for coercer in (to_text, to_id, to_integer, to_number, to_boolean, to_datetime,
                                              to_date, to_email, to_url)
}

# The coercer of each value type (``engine.language.value_types``); no declared type: the value as is.
COERCERS: dict[str | None, Coercer] = {
    None: passthrough,
    **{name: _BY_NAME[value_type.coercer] for name, value_type in VALUE_TYPES.items()},
}
