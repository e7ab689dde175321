"""What changed in the disclosure between two mapping folders (``zoomforce disclose --diff``).

The diff compares the disclosure model itself, the one every format renders, attribute by
attribute and in every language: ``flatten`` walks the model's dataclasses generically, so an
attribute added to the model is compared without anyone listing it, and only what the model holds
(what some format renders) can be reported. Things with an identity (a section, an item, a scope,
a Salesforce field, a recipient ...) are matched by it; their changes are grouped per thing, with
each attribute's value before and after. A text that changed in another language than the one
requested is reported with that language's values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from engine.disclosure.build import build_disclosure, languages_of
from engine.disclosure.export import model_data
from engine.disclosure.inputs import DisclosureInputs
from engine.disclosure.model import Disclosure

Path = tuple[str, ...]
ORDER = "#order"  # the leaf holding the order of a list's identities
ORDER_ATTRIBUTES = frozenset({"bullets"})  # plain lists whose order, not content, is what they say


@dataclass(frozen=True)
class AttributeChange:
    attribute: Path  # the path inside the thing, e.g. ("fields", "meetings:Object.Field", "label")
    before: Any
    after: Any
    language: str | None = None  # set when only that language's text changed, not the requested one's


@dataclass(frozen=True)
class Change:
    kind: str  # section, item, scope, operation, event, salesforce_object, salesforce_field, recipient, transfer,
    # facts, order
    key: str
    change: str  # added, removed, changed
    attributes: tuple[AttributeChange, ...]


@dataclass(frozen=True)
class DisclosureDiff:
    language: str
    old: Disclosure
    new: Disclosure
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


Subject = tuple[str, str]  # (kind, key)
Flat = dict[Path, Any]


def _identity(value: Any) -> str | None:
    name = getattr(type(value), "IDENTITY", None)
    return str(getattr(value, name)) if isinstance(name, str) else None


def flatten(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf of a model value: (its path, its value). A list of things with an identity is
    keyed by it (plus an ``#order`` leaf); other lists are leaves."""
    if is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            if item.metadata.get("model", True):
                yield from flatten(getattr(value, item.name), (*path, item.name))
        return
    if isinstance(value, tuple) and value and all(_identity(v) is not None for v in value):
        keys = [_identity(v) or "" for v in value]
        yield (*path, ORDER), tuple(keys)
        for key, element in zip(keys, value, strict=True):
            yield (*path, key), _Element(model_data(element))
            yield from flatten(element, (*path, key))
        return
    yield path, value


@dataclass(frozen=True)
class _Element:
    """Marks where a keyed element starts (its data, to report it whole when it is added or removed)."""

    data: Any


_SUBJECT_LISTS = {
    ("permissions", "scopes"): "scope",
    ("permissions", "operations"): "operation",
    ("permissions", "events"): "event",
    ("permissions", "objects"): "salesforce_object",
    ("permissions", "fields"): "salesforce_field",
    ("facts", "recipients"): "recipient",
    ("facts", "transfers"): "transfer",
}


def subjects(disclosure: Disclosure) -> dict[Subject, Flat]:
    """The disclosure's things, each with its attributes flattened."""
    found: dict[Subject, Flat] = {("order", "sections"): {(ORDER,): tuple(s.key for s in disclosure.sections)}}
    for section in disclosure.sections:
        flat = found.setdefault(("section", section.key), {})
        for path, value in flatten(section):
            if path[0] != "items":
                flat[path] = value
        for item in section.items:
            item_flat = found.setdefault(("item", item.key), {("section",): section.key})
            item_flat.update(flatten(item))
    permissions = disclosure.permissions
    for (parent, name), kind in _SUBJECT_LISTS.items():
        owner = permissions if parent == "permissions" else disclosure.facts
        for element in getattr(owner, name, ()) if owner is not None else ():
            found[(kind, _identity(element) or "")] = dict(flatten(element))
    if disclosure.facts is not None:
        found[("facts", "document")] = {
            path: value for path, value in flatten(disclosure.facts) if path[0] not in ("recipients", "transfers")
        }
    return found


def _relative_order(before: tuple[str, ...], after: tuple[str, ...]) -> bool:
    """Whether the elements both sides have come in another order."""
    common = set(before) & set(after)
    return [k for k in before if k in common] != [k for k in after if k in common]


def _attribute_changes(old: Flat, new: Flat) -> list[AttributeChange]:
    starts_old = {p for p, v in old.items() if isinstance(v, _Element)}
    starts_new = {p for p, v in new.items() if isinstance(v, _Element)}
    whole: list[AttributeChange] = []
    skipped: list[Path] = []
    for path in sorted(starts_old - starts_new):
        if not any(path[:len(s)] == s for s in skipped):
            whole.append(AttributeChange(path, old[path].data, None))
            skipped.append(path)
    for path in sorted(starts_new - starts_old):
        if not any(path[:len(s)] == s for s in skipped):
            whole.append(AttributeChange(path, None, new[path].data))
            skipped.append(path)
    found: list[AttributeChange] = []
    for path in sorted(old.keys() | new.keys()):
        if any(path[:len(s)] == s for s in skipped) or isinstance(old.get(path, new.get(path)), _Element):
            continue
        before, after = old.get(path), new.get(path)
        if path[-1] == ORDER or path[-1] in ORDER_ATTRIBUTES:
            if _relative_order(tuple(before or ()), tuple(after or ())):
                found.append(AttributeChange(path, before, after))
        elif before != after:
            found.append(AttributeChange(path, before, after))
    return whole + found


def _changes(old: dict[Subject, Flat], new: dict[Subject, Flat]) -> dict[Subject, Change]:
    found: dict[Subject, Change] = {}
    for subject in old.keys() | new.keys():
        kind, key = subject
        if subject not in new:
            found[subject] = Change(kind, key, "removed", ())
        elif subject not in old:
            found[subject] = Change(kind, key, "added", ())
        else:
            attributes = _attribute_changes(old[subject], new[subject])
            if attributes:
                found[subject] = Change(kind, key, "changed", tuple(attributes))
    return found


_KIND_ORDER = ("facts", "order", "section", "item", "recipient", "transfer", "scope", "operation", "event",
               "salesforce_object", "salesforce_field")


def _sort_key(change: Change, new: Disclosure, old: Disclosure) -> tuple[int, int, str]:
    position = 0
    if change.kind in ("section", "item"):
        keys = [s.key for s in new.sections] + [s.key for s in old.sections] if change.kind == "section" else [
            i.key for i in new.items] + [i.key for i in old.items]
        position = keys.index(change.key) if change.key in keys else 0
    return _KIND_ORDER.index(change.kind), position, change.key


def diff_disclosures(old: DisclosureInputs, new: DisclosureInputs, language: str = "en") -> DisclosureDiff:
    """Every change of the rendered disclosure from `old` to `new`, in any language, shown in `language`."""
    shown_old = build_disclosure(old.mapping_set, language, old.facts)
    shown_new = build_disclosure(new.mapping_set, language, new.facts)
    changes = _changes(subjects(shown_old), subjects(shown_new))
    others = sorted((set(languages_of(old.mapping_set)) & set(languages_of(new.mapping_set))) - {language})
    for other in others:
        if (old.facts and other not in old.facts.languages) or (new.facts and other not in new.facts.languages):
            continue
        extra = _changes(
            subjects(build_disclosure(old.mapping_set, other, old.facts)),
            subjects(build_disclosure(new.mapping_set, other, new.facts)),
        )
        for subject, change in extra.items():
            known = changes.get(subject)
            if known is not None and known.change != "changed":
                continue
            seen = {a.attribute for a in known.attributes} if known else set()
            added = tuple(AttributeChange(a.attribute, a.before, a.after, other) for a in change.attributes
                          if a.attribute not in seen)
            if added:
                changes[subject] = Change(change.kind, change.key, "changed", (*(known.attributes if known else ()),
                                                                                *added))
    ordered = sorted(changes.values(), key=lambda c: _sort_key(c, shown_new, shown_old))
    return DisclosureDiff(language, shown_old, shown_new, tuple(ordered))
