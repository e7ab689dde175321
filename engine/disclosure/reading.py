"""What the sync reads and when, said in words derived from the mapping itself.

A mapping's ``source`` says exactly what the sync reads: which list it walks and with which
filters, for which parent records, what it reads in full, what it joins, which events feed it; a
reverse flow's ``source.where`` says whom it selects. The disclosure states that, rather than a
hand-written text that could drift from it. Identifiers are written as Markdown code spans
(`` `GET /users` ``); the HTML renderer turns them into ``<code>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from engine.disclosure.model import Selection
from engine.language.conditions import Comparison, Condition, Junction, Literal, Negation, condition_fields
from engine.language.conditions import parse_condition as parse_where
from engine.language.expressions import compile_expression
from engine.language.model import FieldSpec
from engine.language.model import Mapping as EntityMapping

PAGE_SIZE_PARAM = "page_size"  # the paging size, which the reader takes out of the query (engine.zoom.reader)
_PLACEHOLDER = re.compile(r"\{([^}]*)\}")

Titles = Callable[[str], str]  # an entity's name -> how the document names what it reads (its section's title)


def code(text: object) -> str:
    return f"`{text}`"


def _listing(mapping: EntityMapping, m: Mapping[str, str], titles: Titles) -> str:
    source = mapping.source
    text = ""
    for index, listing in enumerate(source.listings):
        placeholders = set(_PLACEHOLDER.findall(listing.endpoint))
        query = [f"{name}={value}" for name, value in listing.params.items()
                 if name not in placeholders and name != PAGE_SIZE_PARAM]
        text += m["reads_also_list" if index else "reads_list"].format(list=code(listing.endpoint))
        if query:
            text += m["reads_query"].format(params=", ".join(code(q) for q in query))
        if listing.filter:
            text += m["reads_filter"].format(filter=code(listing.filter))
        if (listing.window_from or listing.window_field) and not listing.window_incremental:
            text += m["reads_window_given"]  # read whole unless a run bounds it
        elif listing.window_from or listing.window_field:
            text += (m["reads_window_days"].format(days=listing.window_max_days) if listing.window_max_days
                     else m["reads_window"])
        if index == 0 and source.parent:
            text += m["reads_per_parent"].format(parent=titles(source.parent))
        if listing.detail and source.endpoint:
            text += m["reads_detail"].format(endpoint=code(source.endpoint))
            if listing.detail_signals and listing.detail_max_age:  # how stale a field read in full can be
                fields = _join([code(f) for f in listing.detail_signals], m)
                text += m["reads_detail_refresh"].format(fields=fields, age=age_words(listing.detail_max_age, m))
    return text


def age_words(seconds: int, m: Mapping[str, str]) -> str:
    """``86400`` -> "24 hours": in days when whole days (over one), else hours, else minutes."""
    if seconds > 86400 and seconds % 86400 == 0:
        unit, n = "day", seconds // 86400
    elif seconds % 3600 == 0:
        unit, n = "hour", seconds // 3600
    else:
        unit, n = "minute", max(1, round(seconds / 60))
    return m[f"age_{unit}" if n == 1 else f"age_{unit}s"].format(n=n)


def reading(mapping: EntityMapping, m: Mapping[str, str], titles: Titles) -> str:
    """One sentence: what the sync reads for `mapping`, and when."""
    source = mapping.source
    if source.system == "salesforce":
        return m["reads_salesforce"].format(objects=_objects(source.objects, m)) + "."
    if source.listing is not None:
        text = _listing(mapping, m, titles)
    elif source.endpoint and source.parent:
        text = m["reads_endpoint_per_parent"].format(endpoint=code(source.endpoint), parent=titles(source.parent))
    elif source.endpoint:
        text = m["reads_endpoint"].format(endpoint=code(source.endpoint))
    else:
        text = ""
    if source.include:
        text += m["reads_includes"].format(endpoints=_join([code(i.endpoint) for i in source.include], m))
    events = [e.event for e in source.events]
    if events:
        key = "reads_events" if text else "reads_events_only"
        text += m[key].format(events=_join([code(e) for e in events], m))
    return text.strip() + "."


def _join(parts: list[str], m: Mapping[str, str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + m["word_and"] + parts[-1]


def _objects(objects: tuple[str, ...], m: Mapping[str, str]) -> str:
    return _join([code(o) for o in objects], m)


# ---- the reverse flow's selection --------------------------------------------------------------


def _value(literal: Literal, m: Mapping[str, str]) -> str:
    return m["quoted"].format(text=literal.value) if literal.kind == "string" else code(literal.value)


def condition_words(condition: Condition, m: Mapping[str, str], nested: bool = False) -> str:
    """`condition` in words: ``Email != null`` is "`Email` is filled in"."""
    if isinstance(condition, Junction):
        word = m["word_and"] if condition.operator == "and" else m["word_or"]
        text = word.join(condition_words(part, m, nested=True) for part in condition.parts)
        return f"({text})" if nested else text
    if isinstance(condition, Negation):
        return m["cond_not"].format(condition=condition_words(condition.part, m, nested=True))
    return _comparison_words(condition, m)


_OPERATOR_KEYS = {"=": "cond_eq", "!=": "cond_ne", "<": "cond_lt", "<=": "cond_le", ">": "cond_gt", ">=": "cond_ge",
                  "like": "cond_like", "in": "cond_in", "not in": "cond_not_in", "includes": "cond_includes",
                  "excludes": "cond_excludes"}


def _comparison_words(comparison: Comparison, m: Mapping[str, str]) -> str:
    field = code(comparison.field)
    if comparison.operator in ("=", "!=") and comparison.values[0].kind == "null":
        return m["cond_empty" if comparison.operator == "=" else "cond_set"].format(field=field)
    values = _join([_value(v, m) for v in comparison.values], m)
    return m[_OPERATOR_KEYS[comparison.operator]].format(field=field, value=values)


def read_fields(mapping: EntityMapping, specs: Iterable[FieldSpec] | None = None) -> list[str]:
    """The Salesforce fields the reverse flow's expressions read (the first step of each path), of
    `specs` (default: every enabled field)."""
    names: dict[str, None] = {}
    for spec in mapping.enabled_fields if specs is None else specs:
        for path in compile_expression(spec.source).field_paths():
            if path and isinstance(path[0], str):
                names.setdefault(path[0])
    return list(names)


def selection(mapping: EntityMapping, m: Mapping[str, str]) -> Selection:
    """Whom the reverse flow `mapping` selects, and every field it reads to do so."""
    source = mapping.source
    objects = _objects(source.objects, m)
    read = read_fields(mapping)
    if source.where is None:
        return Selection(mapping.entity, source.objects, None, m["select_all"].format(objects=objects),
                         tuple(read), ())
    condition = parse_where(source.where)  # validate has read it already
    where_fields = condition_fields(condition)
    words = m["select_where"].format(objects=objects, condition=condition_words(condition, m))
    return Selection(
        entity=mapping.entity,
        objects=source.objects,
        condition=source.where,
        words=words,
        fields=tuple(dict.fromkeys([*read, *where_fields])),
        selection_only=tuple(f for f in where_fields if f not in read),
    )
