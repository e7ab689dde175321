"""The quick checks of addresses, links and names give what their plain definitions give, for any text.

``to_email`` and ``to_url`` decide printable ASCII (nearly every value) without a regular expression
or a slice, ``normalize_email`` checks an address in one pass, and ``first_name``/``last_name``
split a name with no dict in between. Each is compared here with the rule written plainly: the
regular expression of a link, the dotted labels of an address, the split of the name. The lean path
of a plan writes ``normalize_email(...)`` as an email without a second check: proven by the last test.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.errors import CoercionError, InvalidText, TransformValueError
from engine.language.coerce import to_email, to_url
from engine.language.functions import ZoomforceFunctions

# the rules as documented, written the slow and obvious way
LINK = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
SPACE = re.compile(r"\s")

# text near the edge of each rule: schemes in any case, dots and @ in odd places, every kind of white space
pieces = st.sampled_from(["http://", "https://", "HTTPS://", "hTtP://", "http:/", "https:", "@", "@@", ".", "..",
                          "a", "Z", "9", "/", "$", "?", "#", " ", "\t", "\n", "\x0b", "\x1c", "\x1f", "\x00",
                          "\x7f", "é", "\u00a0", "\u2028", "\u3000", "-", "_", "+", "%", ","])
edgy_text = st.one_of(st.lists(pieces, max_size=12).map("".join), st.text(max_size=40),
                      st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40))
functions = ZoomforceFunctions()


def _outcome(function: Any, value: Any) -> Any:
    try:
        return function(value)
    except (CoercionError, InvalidText, TransformValueError) as exc:
        return type(exc)


def _link_by_rule(value: str) -> Any:
    text = value.strip()
    if not LINK.match(text):
        return CoercionError
    return text if text.isascii() or not re.search("[\ud800-\udfff]", text) else InvalidText


def _email_by_rule(value: str) -> Any:
    text = value.strip()
    local, at, domain = text.partition("@")
    if not (at and local and "@" not in domain and "." in domain[1:-1]) or SPACE.search(text):
        return CoercionError
    return text if not re.search("[\ud800-\udfff]", text) else InvalidText


def _normalized_by_rule(value: str) -> Any:
    address = value.strip().lower()
    if not address:
        return None
    local, _, domain = address.partition("@")
    labels = domain.split(".")
    if address.count("@") != 1 or not local or len(labels) < 2 or "" in labels or SPACE.search(address):
        return TransformValueError
    return address


def _name_by_rule(full_name: str) -> tuple[str | None, str] | None:
    text = " ".join(full_name.split())
    if "," in text:
        last, _, first = (part.strip(" ,") for part in text.partition(","))
        if last and first:
            return first, last
        text = last or first
    if not text:
        return None
    first, _, last = text.rpartition(" ")
    return first or None, last


@settings(max_examples=1000, deadline=None)
@given(edgy_text)
@example("https://")
@example("http://x")
@example("HTTP://x y")
@example("https:///x")
@example("http:/x")
def test_a_link_is_what_the_pattern_matches(value: str) -> None:
    assert _outcome(to_url, value) == _link_by_rule(value)


@settings(max_examples=1000, deadline=None)
@given(edgy_text)
@example("a@b.")
@example("a@.b")
@example("a@.")
@example("a@b.c.")
@example(".a@b.c")
@example("a@b..c")
def test_an_address_is_one_at_a_dotted_domain_and_no_white_space(value: str) -> None:
    assert _outcome(to_email, value) == _email_by_rule(value)


@settings(max_examples=1000, deadline=None)
@given(edgy_text)
@example("a@b.")
@example("a@.b")
@example("a@b..c")
@example("A@B.C ")
@example("a b@c.d")
@example("a@b@c.d")
def test_normalize_email_keeps_the_documented_rule(value: str) -> None:
    assert _outcome(functions._func_normalize_email, value) == _normalized_by_rule(value)


@settings(max_examples=1000, deadline=None)
@given(edgy_text)
def test_a_normalized_ascii_address_is_an_email_as_it_is(value: str) -> None:
    """What lets the lean path write normalize_email(...) as an email without checking it again."""
    normalized = _outcome(functions._func_normalize_email, value)
    if isinstance(normalized, str) and normalized.isascii():
        assert to_email(normalized) == normalized


@settings(max_examples=1000, deadline=None)
@given(st.one_of(edgy_text, st.lists(st.sampled_from(["Ada", "Lovelace", ",", " ", "  ", "\t", "O'Brien", "de"]),
                                     max_size=6).map("".join)))
def test_a_name_splits_as_its_rule_says(value: str) -> None:
    expected = _name_by_rule(value)
    assert functions._func_first_name(value) == (None if expected is None else expected[0])
    assert functions._func_last_name(value) == (None if expected is None else expected[1])
    assert functions._func_split_name(value) == (None if expected is None
                                                 else {"first": expected[0], "last": expected[1]})
