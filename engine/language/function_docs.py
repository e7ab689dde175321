"""The reference of the transform functions: one entry per function with an example the tests run.

``docs/functions.md``, the one place the function table lives, is generated from it:

    python scripts/update_function_docs.py            # rewrites docs/functions.md
    python scripts/update_function_docs.py --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from engine.language.functions import RETURN_TYPES

# ---- documentation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionDoc:
    """One function's reference entry; the example is run by the tests."""

    signature: str
    summary: str
    example_expression: str
    example_input: object
    example_result: object


FUNCTION_DOCS: Mapping[str, FunctionDoc] = {
    "sf_datetime": FunctionDoc(
        "sf_datetime(time)",
        "A Zoom ISO-8601 time (`Z`, an offset, fractional seconds, or naive meaning UTC) or a number of epoch "
        "milliseconds (`event_ts`) as a Salesforce datetime in UTC; sub-millisecond digits are dropped, a bare "
        "date is midnight UTC.",
        "sf_datetime(start_time)",
        {"start_time": "2022-03-23T11:30:00+05:30"},
        "2022-03-23T06:00:00.000Z",
    ),
    "sf_date": FunctionDoc(
        "sf_date(time)",
        "The UTC date (`YYYY-MM-DD`) of a time or epoch milliseconds; a bare date passes through.",
        "sf_date(start_time)",
        {"start_time": "2022-03-23T23:30:00-02:00"},
        "2022-03-24",
    ),
    "add_minutes": FunctionDoc(
        "add_minutes(time, minutes)",
        "A time plus a number of minutes (negative or fractional too), as `YYYY-MM-DDTHH:MM:SSZ` in UTC; "
        "null when either is null.",
        "add_minutes(start_time, duration)",
        {"start_time": "2022-03-23T06:00:00Z", "duration": 90},
        "2022-03-23T07:30:00Z",
    ),
    "add_seconds": FunctionDoc(
        "add_seconds(time, seconds)",
        "A time plus a number of seconds, as `YYYY-MM-DDTHH:MM:SSZ` in UTC; null when either is null.",
        "add_seconds(join_time, duration)",
        {"join_time": "2022-03-23T06:00:00Z", "duration": 125},
        "2022-03-23T06:02:05Z",
    ),
    "minutes_to_seconds": FunctionDoc(
        "minutes_to_seconds(n)",
        "Minutes as seconds; numeric text is accepted.",
        "minutes_to_seconds(duration)",
        {"duration": 45},
        2700,
    ),
    "seconds_to_minutes": FunctionDoc(
        "seconds_to_minutes(n)",
        "Seconds as minutes, exactly (`90` gives `1.5`, `120` gives `2`); numeric text is accepted.",
        "seconds_to_minutes(duration)",
        {"duration": 90},
        1.5,
    ),
    "seconds_to_hms": FunctionDoc(
        "seconds_to_hms(n)",
        "Seconds as `HH:MM:SS` (hours may pass 24; fractions of a second are dropped).",
        "seconds_to_hms(duration)",
        {"duration": 93784},
        "26:03:04",
    ),
    "truncate": FunctionDoc(
        "truncate(text, length)",
        "At most `length` characters (code points), never ending inside a surrogate pair or a combining "
        "sequence (the whole sequence is dropped instead).",
        "truncate(topic, `9`)",
        {"topic": "Quarterly business review"},
        "Quarterly",
    ),
    "lower": FunctionDoc("lower(text)", "Lower case.", "lower(email)", {"email": "Ada@Example.COM"}, "ada@example.com"),
    "upper": FunctionDoc("upper(text)", "Upper case.", "upper(status)", {"status": "approved"}, "APPROVED"),
    "trim": FunctionDoc(
        "trim(text)",
        "Without surrounding Unicode white space (no-break space included).",
        "trim(name)",
        {"name": "  Ada Lovelace\t"},
        "Ada Lovelace",
    ),
    "concat": FunctionDoc(
        "concat(value, ...)",
        "The string forms of the non-null values, joined (numbers as JSON writes them, `1.0` as `1`).",
        "concat(topic, ' #', id)",
        {"topic": "Weekly sync", "id": 85746065432},
        "Weekly sync #85746065432",
    ),
    "concat_ws": FunctionDoc(
        "concat_ws(separator, value, ...)",
        "Like `concat`, with `separator` between the values; null values and empty strings are skipped.",
        "concat_ws(', ', city, state, country)",
        {"city": "Lyon", "state": None, "country": "FR"},
        "Lyon, FR",
    ),
    "coalesce": FunctionDoc(
        "coalesce(value, ...)",
        "The first value that is neither null nor empty or blank text; null when there is none.",
        "coalesce(user_email, registrant_id)",
        {"user_email": " ", "registrant_id": "9tboDiHUQAeOnbmudzWa5g"},
        "9tboDiHUQAeOnbmudzWa5g",
    ),
    "default": FunctionDoc(
        "default(value, fallback)",
        "`value`, or `fallback` when `value` is null (empty text and `false` are kept).",
        "default(agenda, 'No agenda')",
        {"agenda": None},
        "No agenda",
    ),
    "lookup": FunctionDoc(
        "lookup(value, table[, fallback])",
        'The table\'s entry for the value\'s string form (`0`, `0.0` and `"0"` all find key `"0"`, `true` '
        'finds `"true"`); a value not in the table gives `fallback` when one is given, else it is an error. '
        "Null gives null.",
        'lookup(settings.approval_type, `{"0": "Automatically Approve", "1": "Manually Approve", '
        '"2": "No Registration Required"}`)',
        {"settings": {"approval_type": 2}},
        "No Registration Required",
    ),
    "split_name": FunctionDoc(
        "split_name(full_name)",
        "`{first, last}` from a full name: white space is collapsed, the last word is the last name and the "
        "rest the first name (null for a single word); `Last, First` splits at the comma. Null when blank.",
        "split_name(name)",
        {"name": "  Ada  King Lovelace "},
        {"first": "Ada King", "last": "Lovelace"},
    ),
    "first_name": FunctionDoc(
        "first_name(full_name)",
        "The `first` part of `split_name`.",
        "first_name(name)",
        {"name": "de la Cruz, María"},
        "María",
    ),
    "last_name": FunctionDoc(
        "last_name(full_name)",
        "The `last` part of `split_name` (a single word is the last name: Salesforce requires one).",
        "last_name(name)",
        {"name": "Seán O'Brien"},
        "O'Brien",
    ),
    "normalize_email": FunctionDoc(
        "normalize_email(text)",
        "Trimmed and lower-cased; null when blank; an error when not a plausible address (one `@`, a local "
        "part, a dotted domain, no spaces).",
        "normalize_email(email)",
        {"email": " Ada.Lovelace@Example.COM "},
        "ada.lovelace@example.com",
    ),
    "to_boolean": FunctionDoc(
        "to_boolean(value)",
        "A boolean from `true`/`false`, `1`/`0`, or the text `true`/`false`/`yes`/`no`/`on`/`off`/`1`/`0` "
        "(any case, trimmed); anything else is an error.",
        "to_boolean(settings.waiting_room)",
        {"settings": {"waiting_room": " Yes"}},
        True,
    ),
    "to_integer": FunctionDoc(
        "to_integer(value)",
        'An exact integer from an integer, a float of integral value, or numeric text (`" 42 "`, `"1e3"`); '
        "digit strings never pass through a float, so 64-bit ids stay exact. Booleans and fractions are errors.",
        "to_integer(id)",
        {"id": "85746065432123456"},
        85746065432123456,
    ),
    "digits": FunctionDoc(
        "digits(text)",
        "Only the digits, keeping a leading `+` (phone numbers); null when no digit is left.",
        "digits(caller_number)",
        {"caller_number": "+1 (555) 010-0199"},
        "+15550100199",
    ),
}


def _code(text: str) -> str:
    """Markdown inline code that may itself contain backticks."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_function_table() -> str:
    """The Markdown index of the registry: signature, result type, summary (no trailing newline)."""
    rows = ["| function | result | what it does |", "| --- | --- | --- |"]
    for name, doc in FUNCTION_DOCS.items():
        rows.append(f"| {_cell(_code(doc.signature))} | {RETURN_TYPES[name]} | {_cell(doc.summary)} |")
    return "\n".join(rows)


def _render_example(doc: FunctionDoc) -> str:
    return "\n".join(
        [
            f"### {_code(doc.signature)}",
            "",
            doc.summary,
            "",
            f"- expression: {_code(doc.example_expression)}",
            f"- input: {_code(_json(doc.example_input))}",
            f"- result: {_code(_json(doc.example_result))}",
        ]
    )


_DOCS_INTRO = """\
# Transform functions

<!-- Generated by engine.language.function_docs.render_function_docs(); regenerate with
     python scripts/update_function_docs.py -->

A mapping's `from` is a JMESPath expression. Besides JMESPath's own functions (`join`, `length`,
`to_string`, `not_null`, ...), it can call the transforms below, from `engine/language/functions.py`.

- A null argument where a value is expected gives null; the field's missing-value policy decides.
- A value a transform cannot handle (an unparseable time, a value missing from a lookup table) is
  an error for that record, naming the function, what it expected and the value.
- Unknown functions and wrong argument counts are `zoomforce validate` errors.
- Every transform is pure: no clock, no I/O. Times are computed in UTC.

To add a function, see [CONTRIBUTING.md](../CONTRIBUTING.md#how-to-add-a-transform-function).
"""


def render_function_docs() -> str:
    """The text of ``docs/functions.md``: the index table, then one example per function."""
    sections = [_DOCS_INTRO, render_function_table(), "", "## Examples", ""]
    sections.append("\n\n".join(_render_example(doc) for doc in FUNCTION_DOCS.values()))
    return "\n".join(sections) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_function_docs())
