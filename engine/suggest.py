""""Did you mean": the names close to a misspelt one, and the hint a message ends with.

One helper for every such message (mapping keys, categories, entities, functions, Zoom endpoints
and events, Salesforce objects and fields). Standard library only, so every layer may import it.

    close_matches("form", ["from", "to"])      # ["from"]
    did_you_mean(["from"])                     # "; did you mean 'from'?"
    suggestion("form", ["from", "to"])         # "; did you mean 'from'?"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CUTOFF = 0.6  # difflib's similarity ratio a name must reach to be suggested
MAX_SHOWN = 3  # at most this many names in one hint


def close_matches(word: str, choices: Iterable[str], n: int = 1, *, ignore_case: bool = False) -> list[str]:
    """Up to `n` of `choices` that look like `word`, closest first.

    `ignore_case` compares lower-cased names (Salesforce's are case-insensitive) and answers with
    the choices' own spelling (the first one given, when two differ only in case).
    """
    import difflib  # deferred for start-up speed: only a misspelt name needs it, never --help

    if not ignore_case:
        return difflib.get_close_matches(word, list(choices), n=n, cutoff=CUTOFF)
    by_fold: dict[str, str] = {}
    for choice in choices:
        by_fold.setdefault(choice.lower(), choice)
    matches = difflib.get_close_matches(word.lower(), list(by_fold), n=n, cutoff=CUTOFF)
    return [by_fold[match] for match in matches]


def did_you_mean(names: Sequence[str]) -> str:
    """``; did you mean 'a', 'b'?`` for the first three of `names`; empty when there are none."""
    if not names:
        return ""
    quoted = ", ".join(f"'{name}'" for name in names[:MAX_SHOWN])
    return f"; did you mean {quoted}?"


def suggestion(word: str, choices: Iterable[str]) -> str:
    """The hint naming the one choice closest to `word`, or empty when none is close."""
    return did_you_mean(close_matches(word, choices))
