"""Hypothesis strategies for hostile JSON values, as raw JSON text (what a parser has to survive).

Each value is the text of one JSON value a record may hold: nesting far past the limit, integers of
thousands of digits, NaN and Infinity, lone surrogates written as escapes, control characters,
duplicate keys, long strings, and ordinary odd text. ``hostile_json`` draws one; ``record_with``
places it under a key of an otherwise good record.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from engine.language import limits

deep = st.integers(min_value=limits.MAX_NESTING_DEPTH - 2, max_value=4_000).flatmap(
    lambda n: st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n,
                               '[{"a":' * (n // 2) + "1" + "}]" * (n // 2)]))
huge_integer = st.integers(min_value=limits.MAX_INTEGER_DIGITS - 2, max_value=6_000).map(lambda n: "9" * n)
not_finite = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
surrogates = st.sampled_from([r'"a\ud800@example.com"', r'"\udfff"', r'"x\ud83d"', r'"https://a.example/\udc00"',
                              r'"\ud800\ud800"'])
controls = st.sampled_from([r'"\u0000"', r'"a\u001bb"', r'"\u0007@example.com"', r'"\ufeff"', r'"\uffff"'])
duplicate_keys = st.sampled_from(['{"a": 1, "a": 2}', '{"a": {"b": 1}, "a": [1, 2]}'])
long_string = st.integers(min_value=limits.MAX_STRING_LENGTH - 1, max_value=limits.MAX_STRING_LENGTH + 10).map(
    lambda n: '"' + "x" * n + '"')
ordinary = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
).map(json.dumps)

hostile_json = st.one_of(deep, huge_integer, not_finite, surrogates, controls, duplicate_keys, long_string, ordinary)


def record_with(good: dict[str, object], key: str, value_text: str) -> str:
    """The JSON text of `good` with `key` set to the raw JSON `value_text`."""
    rest = {k: v for k, v in good.items() if k != key}
    body = json.dumps(rest)
    return body[:-1] + (", " if rest else "") + json.dumps(key) + ": " + value_text + "}"
