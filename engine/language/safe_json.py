"""JSON from outside (input files, Zoom's answers, webhook bodies) parsed within the limits, and records checked.

:func:`loads` never fails because of what a value holds, only because the text is not JSON: an
object or array nested deeper than :data:`~engine.language.limits.MAX_NESTING_DEPTH` is replaced by
a marker before the text is parsed (so no parser ever recurses past the limit, whatever Python's
recursion limit is), an integer longer than ``MAX_INTEGER_DIGITS`` digits and ``NaN``/``Infinity``
become :class:`Oversized` markers. :func:`check_record` then refuses a record that holds a marker or
is over a limit with a typed :class:`~engine.errors.RecordError` (``MAPPING_INPUT_TOO_DEEP``,
``MAPPING_NUMBER_TOO_LARGE``, ``MAPPING_INVALID_NUMBER``, ``MAPPING_INPUT_TOO_LARGE``), so that one
hostile record is one per-record error and the others go on.

Duplicate keys in an object keep the last value, as every JSON parser does. Lone surrogates
(``"\\ud800"``) are kept here; the coercers repair them in text fields and refuse them in e-mail
addresses, links and ids (``MAPPING_INVALID_TEXT``), and :func:`well_formed_deep` repairs what is
stored or hashed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import InputTooDeep, InputTooLarge, InvalidNumber, NumberTooLarge
from engine.language import limits

# The text a container nested too deep is replaced with (a JSON string, so the document stays JSON).
TOO_DEEP = "\u0000zoomforce: nested too deep"
_TOO_DEEP_JSON = json.dumps(TOO_DEEP)
_SPECIAL = re.compile(r'[\[\]{}"\\]')
# A string, or an unterminated one up to the end of the text (a lone backslash may end it): the
# pattern cannot fail where it starts, so removing strings is one linear pass whatever the text.
# (A pattern that can fail is retried at every later quote: quadratic on '"\\"\\"\\...'.)
_STRINGS = re.compile(r'"[^"\\]*(?:\\[\s\S][^"\\]*)*\\?(?:"|\Z)')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_LONG_DIGITS = re.compile(rf"\d{{{limits.MAX_INTEGER_DIGITS + 1},}}")
_OPEN = frozenset("[{")
# What a certified document (:func:`loads_certified`) may not show.
_DIGIT_RUN = re.compile(rf"\d{{{limits.MAX_INTEGER_DIGITS},}}")
_BIG_EXPONENT = re.compile(r"[eE][+-]?\d{3}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# The longest certified text: no string in it can pass MAX_STRING_LENGTH, nor its size estimate MAX_RECORD_SIZE.
CERTIFIED_LENGTH = min(limits.MAX_STRING_LENGTH, limits.MAX_RECORD_SIZE // 8)
_LOG10_2 = math.log10(2)


@dataclass(frozen=True)
class Oversized:
    """A JSON number the engine will not compute with: too many digits, NaN or Infinity."""

    kind: str  # "integer" or "not-finite"
    text: str  # what it was: "an integer of 5000 digits", "NaN"

    def __str__(self) -> str:
        return f"<{self.text}>"


def _parse_int(text: str) -> int | Oversized:
    digits = len(text) - (1 if text[:1] == "-" else 0)
    if digits > limits.MAX_INTEGER_DIGITS:
        return Oversized("integer", f"an integer of {digits} digits")
    return int(text)


def _parse_constant(text: str) -> Oversized:
    return Oversized("not-finite", text)


def _brackets(text: str) -> Iterator[tuple[int, str]]:
    """(position, bracket) of every bracket outside strings, in one linear pass (no backtracking)."""
    in_string = False
    skip = -1  # the position of a character escaped by a backslash
    for match in _SPECIAL.finditer(text):
        position = match.start()
        if position == skip:
            continue
        char = match.group()
        if in_string:
            if char == "\\":
                skip = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char != "\\":
            yield position, char


def _depth_of_skeleton(skeleton: str) -> int:
    if skeleton.count("[") + skeleton.count("{") <= limits.MAX_NESTING_DEPTH:
        return min(limits.MAX_NESTING_DEPTH, skeleton.count("[") + skeleton.count("{"))  # cannot be deeper
    return _deepest(skeleton)


def _deepest(skeleton: str) -> int:
    depth = deepest = 0
    for char in _NOT_BRACKETS.sub("", skeleton):
        if char in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def nesting_depth(text: str) -> int:
    """How deep objects and arrays nest in the JSON `text` (strings skipped), without parsing it.

    At most ``MAX_NESTING_DEPTH`` is reported for a text with no more brackets than that.
    """
    return _depth_of_skeleton(_STRINGS.sub("", text))


def _cut_too_deep(text: str, limit: int) -> str:
    """`text` with every object or array at depth ``limit + 1`` replaced by :data:`TOO_DEEP`."""
    parts: list[str] = []
    depth = 0
    start: int | None = None
    kept = 0
    for position, char in _brackets(text):
        if char in _OPEN:
            depth += 1
            if depth == limit + 1:
                start = position
        else:
            if depth == limit + 1 and start is not None:
                parts += [text[kept:start], _TOO_DEEP_JSON]
                kept = position + 1
                start = None
            depth -= 1
    if start is not None:  # never closed: not JSON anyway, and the parser says where
        parts += [text[kept:start], _TOO_DEEP_JSON]
        kept = len(text)
    parts.append(text[kept:])
    return "".join(parts)


def loads(text: str | bytes) -> Any:
    """Parse JSON from outside within the limits; ``json.JSONDecodeError`` (a ValueError) if it is not JSON.

    Bytes must be UTF-8 (``UnicodeDecodeError``, also a ValueError, otherwise).
    """
    return loads_certified(text)[0]


def loads_certified(text: str | bytes) -> tuple[Any, int | None]:
    """:func:`loads`, and the length of the text when the document is certified (None when it is not).

    A certified document needs no :func:`check_record`: every value in it, and every record joined
    from certified documents whose lengths add up to at most :data:`CERTIFIED_LENGTH` (each nested
    at most one level under another), is within the limits and holds no marker, and its strings
    encode as UTF-8 (:func:`is_certified` lists what the text must show). The facts come from scans
    in C over the text and the string-stripped skeleton that parsing makes anyway.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")  # strict: a str decoded from bytes has no lone surrogate
        encodes = True
    else:
        encodes = text.isascii() or is_well_formed(text)
    skeleton = _STRINGS.sub("", text)  # what is outside strings: brackets, numbers, literals
    depth = _depth_of_skeleton(skeleton)
    long_digits = _LONG_DIGITS.search(skeleton) is not None
    certified = encodes and is_certified(text, skeleton, depth)
    if depth > limits.MAX_NESTING_DEPTH:
        text = _cut_too_deep(text, limits.MAX_NESTING_DEPTH)
    if long_digits:  # only then pay for a Python call per integer
        document = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    else:
        document = json.loads(text, parse_constant=_parse_constant)  # 1e999 is inf: check_record refuses it
    return document, (len(text) if certified else None)


def is_certified(text: str, skeleton: str, depth: int) -> bool:
    """Whether the JSON `text` (`skeleton`: it without its strings, nesting `depth` deep) is certainly within
    the limits, with room for one level of nesting when records are joined. Not certified: one of

    * nested deeper than ``MAX_NESTING_DEPTH - 2`` (so never cut, and a join nests it one level more);
    * a run of ``MAX_INTEGER_DIGITS`` digits or more outside strings (check_record's estimate of an
      integer's digits can say one more than it has), ``NaN`` or ``Infinity`` (``N``, ``I``), or an
      exponent of three digits or more (``1e999`` is infinite);
    * a ``\\u0000`` escape (the :data:`TOO_DEEP` marker's first character) or any escape of a surrogate
      (``\\ud83d``: a pair encodes, a lone one does not; neither is told apart here);
    * longer than :data:`CERTIFIED_LENGTH`: then a string could pass ``MAX_STRING_LENGTH``, or the size
      estimate (at most 8 per character of the text) ``MAX_RECORD_SIZE``.

    The caller checks that the text encodes as UTF-8. `depth` may be an upper bound (see :func:`nesting_depth`).
    """
    deepest = limits.MAX_NESTING_DEPTH - 2
    if len(text) > CERTIFIED_LENGTH or depth > limits.MAX_NESTING_DEPTH:
        return False
    if depth > deepest and _deepest(skeleton) > deepest:
        return False
    if "N" in skeleton or "I" in skeleton or _DIGIT_RUN.search(skeleton) or _BIG_EXPONENT.search(skeleton):
        return False
    return "\\u0000" not in text and _SURROGATE_ESCAPE.search(text) is None


# ---- records -------------------------------------------------------------------------------------


def _where(path: tuple[str | int, ...]) -> str:
    shown = path[:6]
    text = ""
    for step in shown:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    if len(path) > len(shown):
        text += "..."
    return f" at {text}" if text else ""


def _integer_digits(value: int) -> int:
    return int(abs(value).bit_length() * _LOG10_2) + 1


def check_record(record: Any) -> None:
    """Raise a RecordError if `record` holds a marker of :func:`loads` or is over a limit (no recursion).

    A quick pass over the plain JSON types decides; only a record it cannot pass is walked again
    with paths, to say where the problem is.
    """
    if not _plainly_within_limits(record):
        _check_record_located(record)


_INTEGER_BOUND = 10 ** (limits.MAX_INTEGER_DIGITS - 1)  # fewer digits than the limit, whatever the estimate


def _plainly_within_limits(record: Any) -> bool:
    """True when `record` is within the limits (the size counted as the located walk counts it).

    Only objects and arrays are stacked; the scalars of either are checked where they are met.
    """
    longest = limits.MAX_STRING_LENGTH
    deepest = limits.MAX_NESTING_DEPTH
    bound = _INTEGER_BOUND
    marker = len(TOO_DEEP)
    isfinite = math.isfinite
    kind = type(record)
    if kind is not dict and kind is not list:  # a scalar record
        if kind is str:
            return len(record) <= longest and not (len(record) == marker and record == TOO_DEEP)
        if kind is int:
            return bool(-bound < record < bound)
        return kind is bool or record is None or (kind is float and isfinite(record))
    size = 0
    stack: list[tuple[Any, int]] = [(record, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth >= deepest:
            return False
        size += 8
        if type(value) is dict:
            for key, item in value.items():
                if type(key) is str:
                    length = len(key)
                    if length > longest:
                        return False
                    size += length
                kind = type(item)
                if kind is str:
                    length = len(item)
                    if length > longest or (length == marker and item == TOO_DEEP):
                        return False
                    size += length
                elif kind is int:
                    if not -bound < item < bound:
                        return False
                    size += 8
                elif kind is dict or kind is list:
                    push((item, depth + 1))
                elif kind is bool or item is None or (kind is float and isfinite(item)):
                    size += 8
                else:
                    return False  # a marker, anything else: the located walk decides
        else:
            for item in value:
                kind = type(item)
                if kind is dict or kind is list:
                    push((item, depth + 1))
                elif kind is str:
                    length = len(item)
                    if length > longest or (length == marker and item == TOO_DEEP):
                        return False
                    size += length
                elif kind is int:
                    if not -bound < item < bound:
                        return False
                    size += 8
                elif kind is bool or item is None or (kind is float and isfinite(item)):
                    size += 8
                else:
                    return False
    return size <= limits.MAX_RECORD_SIZE


def _check_record_located(record: Any) -> None:
    size = 0
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(record, 0, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict | list):
            if depth >= limits.MAX_NESTING_DEPTH:
                raise InputTooDeep(f"the record is nested too deep{_where(path)} "
                                   f"({limits.limit_text('MAX_NESTING_DEPTH')})")
            items: Iterator[tuple[str | int, Any]] = (
                iter(value.items()) if isinstance(value, dict) else enumerate(value))
            for key, item in items:
                if isinstance(key, str):
                    size += len(key)
                    if len(key) > limits.MAX_STRING_LENGTH:
                        raise InputTooLarge(f"a key of {len(key)} characters{_where(path)} "
                                            f"({limits.limit_text('MAX_STRING_LENGTH')})")
                stack.append((item, depth + 1, (*path, key)))
            size += 8
        elif isinstance(value, str):
            if value == TOO_DEEP:
                raise InputTooDeep(f"the record is nested too deep{_where(path)} "
                                   f"({limits.limit_text('MAX_NESTING_DEPTH')})")
            if len(value) > limits.MAX_STRING_LENGTH:
                raise InputTooLarge(f"a string of {len(value)} characters{_where(path)} "
                                    f"({limits.limit_text('MAX_STRING_LENGTH')})")
            size += len(value)
        elif isinstance(value, Oversized):
            if value.kind == "integer":
                raise NumberTooLarge(f"{value.text}{_where(path)} ({limits.limit_text('MAX_INTEGER_DIGITS')})")
            raise InvalidNumber(f"{value.text}{_where(path)}: JSON numbers are finite")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidNumber(f"{value}{_where(path)}: JSON numbers are finite")
        elif isinstance(value, int) and not isinstance(value, bool):
            digits = _integer_digits(value)
            if digits > limits.MAX_INTEGER_DIGITS:
                raise NumberTooLarge(f"an integer of about {digits} digits{_where(path)} "
                                     f"({limits.limit_text('MAX_INTEGER_DIGITS')})")
            size += 8
        else:
            size += 8
        if size > limits.MAX_RECORD_SIZE:
            raise InputTooLarge(f"the record is larger than {limits.MAX_RECORD_SIZE} characters "
                                f"({limits.limit_text('MAX_RECORD_SIZE')})")


# ---- text that encodes ---------------------------------------------------------------------------


def well_formed(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates (from broken JSON escapes) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def is_well_formed(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def well_formed_deep(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON value whose strings (keys too) encode as UTF-8, cut at the nesting limit.

    What a dead letter or a snapshot stores: a container deeper than ``MAX_NESTING_DEPTH`` becomes
    :data:`TOO_DEEP`, so that no encoder recurses past the limit either.
    """
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict | list | tuple) and depth >= limits.MAX_NESTING_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {well_formed(k) if isinstance(k, str) else k: well_formed_deep(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [well_formed_deep(item, depth + 1) for item in value]
    return value
