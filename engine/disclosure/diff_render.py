"""Render a DisclosureDiff in the requested language: Markdown, HTML, or JSON
(``schemas/disclosure-diff.schema.json``).

Each change names the thing (an item, a section, a scope ...), what a reviewer approves about it
(for an item: its label, section, sources, targets, category, data use and subjects, secret flag
and real-time events) and every attribute that changed, before and after. Every word of the
framing comes from the message catalog, so ``--lang fr`` renders the whole diff in French.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.disclosure.diff import ORDER, ORDER_ATTRIBUTES, AttributeChange, Change, DisclosureDiff
from engine.disclosure.export import model_data
from engine.disclosure.model import Disclosure, Item
from engine.disclosure.render import TEMPLATES_DIR, code, duration, environment, long_date
from engine.errors import ConfigError

_TEMPLATES = {"markdown": "diff.md.j2", "html": "diff.html.j2"}
ORDERED = ORDER_ATTRIBUTES | {ORDER}  # lists whose order is what changed: shown whole, before and after
_TRANSLATED = {"basis": "basis_", "role": "role_", "responsibility": "role_", "mechanism": "mechanism_",
               "direction": "direction_", "reasons": "reason_"}


@dataclass(frozen=True)
class Line:
    """One attribute of a change, or of its context, in words."""

    name: str
    before: str | None
    after: str
    note: str = ""  # "(in French)" when the change is in another language than the document's


@dataclass(frozen=True)
class Entry:
    heading: str
    context: tuple[Line, ...]
    lines: tuple[Line, ...]


class _Words:
    def __init__(self, m: dict[str, str]) -> None:
        self.m = m

    def value(self, attribute: str, value: Any) -> str:
        m = self.m
        if value is None or value == [] or value == ():
            return m["none"]
        if isinstance(value, bool):
            return m["answer_yes"] if value else m["answer_no"]
        prefix = _TRANSLATED.get(attribute)
        if isinstance(value, list | tuple):
            return ", ".join(self.value(attribute, v) for v in value)
        if isinstance(value, dict):
            parts = [f"{self.name(k)}{m['label_sep']}{self.value(k, v)}" for k, v in value.items()
                     if not isinstance(v, dict | list) and v is not None]
            return m["note_sep"].join(parts)
        if prefix and f"{prefix}{value}" in m:
            return m[f"{prefix}{value}"]
        if attribute == "period":
            return f"{duration(str(value), m)} ({value})"
        if attribute == "effective_date":
            return long_date(str(value), m)
        return str(value)

    def name(self, attribute: str) -> str:
        return self.m.get(f"attr_{attribute}", attribute)

    def path(self, path: tuple[str, ...]) -> str:
        """An attribute path in words: names translated, identities as code."""
        words: list[str] = []
        for part in path:
            words.append(self.name(part) if f"attr_{part}" in self.m else code(part))
        return " › ".join(words)


_PROSE = frozenset({"label", "title", "when", "shown_on", "purpose", "words", "text", "description",
                    "justifications", "reading", "safeguard", "section"})
_CONTEXT = {  # what a reviewer approves about each kind of thing, besides items and sections
    "scope": ("scope", "classic", "operations", "events", "justifications"),
    "operation": ("operation", "scope", "classic", "entities"),
    "event": ("event", "scope", "entities"),
    "salesforce_object": ("object", "read", "create", "edit"),
    "salesforce_field": ("name", "read", "edit", "permissionable", "reasons", "categories"),
    "recipient": ("name", "role", "purpose", "location"),
    "transfer": ("destination", "recipients", "mechanism", "safeguard"),
}


def _item_context(item: Item, disclosure: Disclosure) -> dict[str, Any]:
    owner = next((s for s in disclosure.sections if item in s.items), None)
    return {
        "label": item.label,
        "section": owner.title if owner else None,
        "sources": [{"entity": f.entity, "endpoint": f.source.endpoint, "expression": f.source.expression}
                    for f in item.sources],
        "targets": [t.name for t in item.targets],
        "category": item.category,
        "data_use": owner.data_use if owner else None,
        "data_subjects": list(owner.data_subjects) if owner else [],
        "secret": item.secret,
        "realtime": item.realtime,
    }


def _context(change: Change, disclosure: Disclosure) -> tuple[str, dict[str, Any]]:
    """The change's title and what a reviewer approves about the thing (from the side that has it)."""
    m = disclosure.messages
    if change.kind == "item":
        item = disclosure.item(change.key)
        if item is not None:
            return item.label, _item_context(item, disclosure)
    if change.kind == "section":
        section = disclosure.section(change.key)
        if section is not None:
            return section.title, {"direction": section.direction, "data_use": section.data_use,
                                   "data_subjects": list(section.data_subjects)}
    if change.kind in ("order", "facts"):
        return m[f"kind_{change.kind}"], {}
    data = _thing_data(change, disclosure)
    return change.key, {k: data[k] for k in _CONTEXT.get(change.kind, ()) if k in data}


def _thing_data(change: Change, disclosure: Disclosure) -> dict[str, Any]:
    owner: Any = disclosure.facts if change.kind in ("recipient", "transfer") else disclosure.permissions
    name = {"scope": "scopes", "operation": "operations", "event": "events", "salesforce_object": "objects",
            "salesforce_field": "fields", "recipient": "recipients", "transfer": "transfers"}.get(change.kind)
    if owner is None or name is None:
        return {}
    for element in getattr(owner, name):
        if str(getattr(element, type(element).IDENTITY)) == change.key:
            data: dict[str, Any] = model_data(element)
            return data
    return {}


def _words(attribute: str, value: Any, words: _Words, prose: bool) -> str:
    """A value in words: prose in quotes, identifiers as code, keys (a legal basis ...) translated."""
    m = words.m
    if isinstance(value, list | tuple) and value and not isinstance(value[0], dict):
        return ", ".join(_words(attribute, v, words, prose) for v in value)
    if isinstance(value, str) and not (_TRANSLATED.get(attribute) and f"{_TRANSLATED[attribute]}{value}" in m) \
            and attribute not in ("period", "effective_date"):
        return m["quoted"].format(text=value) if prose else code(value)
    return words.value(attribute, value)


def _line(attribute: AttributeChange, words: _Words, m: dict[str, str]) -> Line:
    path = attribute.attribute
    last = next((p for p in reversed(path) if f"attr_{p}" in m), "")
    prose = last in _PROSE or (last == "fields" and "selections" not in path)
    note = m["diff_in_language"].format(language=m[f"lang_{attribute.language}"]) if attribute.language else ""
    name = m["attr_order"] if path == ("#order",) else words.path(tuple(p for p in path if p != "#order"))
    before, after = attribute.before, attribute.after
    if isinstance(before, list | tuple) and isinstance(after, list | tuple) and path[-1] not in ORDERED:
        gone = [v for v in before if v not in after]
        new = [v for v in after if v not in before]
        if gone or new:  # a list that gained or lost elements: say which
            parts = [m["diff_list_removed"].format(items=_words(last, gone, words, prose))] if gone else []
            parts += [m["diff_list_added"].format(items=_words(last, new, words, prose))] if new else []
            return Line(name, None, m["note_sep"].join(parts), note)
    return Line(name, _words(last, before, words, prose), _words(last, after, words, prose), note)


def _context_lines(context: dict[str, Any], words: _Words) -> tuple[Line, ...]:
    m = words.m
    names = {"sources": m["ctx_sources"], "targets": m["ctx_targets"]}
    lines = []
    for key, value in context.items():
        if key == "sources":
            shown = m["note_sep"].join(f"{v['entity']}{m['label_sep']}{code(v['endpoint'])} {code(v['expression'])}"
                                       for v in value)
        elif key == "realtime" and not value:
            shown = m["answer_no"]
        else:
            shown = _words(key, value, words, key in _PROSE)
        lines.append(Line(names.get(key, words.name(key)), None, shown))
    return tuple(lines)


def _entries(diff: DisclosureDiff) -> list[Entry]:
    m = diff.new.messages
    words = _Words(m)
    entries = []
    for change in diff.changes:
        side = diff.old if change.change == "removed" else diff.new
        title, context = _context(change, side)
        shown = title if change.kind in ("item", "section", "order", "facts") else code(title)
        heading = m["diff_heading"].format(change=m[f"change_{change.change}"], kind=m[f"kind_{change.kind}"],
                                           title=shown)
        entries.append(Entry(heading, _context_lines(context, words),
                             tuple(_line(a, words, m) for a in change.attributes)))
    return entries


def _versions(diff: DisclosureDiff) -> str:
    m = diff.new.messages
    old = diff.old.facts.version if diff.old.facts else m["none"]
    new = diff.new.facts.version if diff.new.facts else m["none"]
    text = m["diff_versions"].format(old=old, new=new)
    if diff.changed and old == new:
        text += " " + m["diff_same_version"]
    return text


def diff_json(diff: DisclosureDiff) -> dict[str, Any]:
    """The diff as data (schemas/disclosure-diff.schema.json)."""
    m = diff.new.messages
    words = _Words(m)
    changes = []
    for change in diff.changes:
        side = diff.old if change.change == "removed" else diff.new
        title, context = _context(change, side)
        changes.append({
            "kind": change.kind,
            "key": change.key,
            "change": change.change,
            "title": title,
            "context": model_data(context),
            "attributes": [
                {"attribute": list(a.attribute), "name": _line(a, words, m).name, "language": a.language,
                 "before": model_data(a.before), "after": model_data(a.after)}
                for a in change.attributes
            ],
        })
    return {
        "language": diff.language,
        "changed": diff.changed,
        "old_version": diff.old.facts.version if diff.old.facts else None,
        "new_version": diff.new.facts.version if diff.new.facts else None,
        "changes": changes,
    }


def render_diff(diff: DisclosureDiff, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(diff_json(diff), ensure_ascii=False, indent=2) + "\n"
    if output_format not in _TEMPLATES:
        raise ConfigError(f"--diff renders markdown, json or html, not {output_format}")
    page = environment(output_format == "html", TEMPLATES_DIR).get_template(_TEMPLATES[output_format])
    return page.render(diff=diff, entries=_entries(diff), versions=_versions(diff), m=diff.new.messages)
