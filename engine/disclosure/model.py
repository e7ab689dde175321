"""The disclosure model: one language-resolved, immutable document that every format renders.

Markdown, HTML, JSON, the Fides manifests and the Salesforce permission set are all rendered from
a ``Disclosure`` and its messages, and ``--diff`` compares two of them attribute by attribute. So
the model holds exactly what is rendered, nothing less (a format cannot show what the diff would
miss) and nothing more (the diff cannot report what no format shows): every attribute of every
class below reaches the JSON export, and tests check it.

Lists whose elements have an identity say so with ``IDENTITY`` (the attribute that names an
element); the diff matches elements by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class SourceRef:
    """Where a value is read: the system, the operation, event(s) or object(s), and the expression."""

    system: str
    endpoint: str
    expression: str


@dataclass(frozen=True)
class TargetRef:
    """Where a value is written: the system, the object (or Zoom operation) and the field."""

    system: str
    object: str
    field: str

    @property
    def name(self) -> str:
        return f"{self.object}.{self.field}"


@dataclass(frozen=True)
class ItemField:
    """One field of one mapping: a source value written to a target, as that mapping labels it."""

    IDENTITY: ClassVar[str] = "key"

    key: str  # "entity:Object.Field": a mapping writes a target once
    entity: str
    section: str
    label: str
    source: SourceRef
    target: TargetRef
    realtime: tuple[str, ...]  # the event notifications that deliver it
    also_rest: bool  # read from a REST response too (the events only bring it sooner)
    description: str | None


@dataclass(frozen=True)
class Item:
    """One item of the disclosure: one source value, or one Salesforce field, with every field that
    writes it. Its label and its section are those of its first field."""

    IDENTITY: ClassVar[str] = "key"

    key: str  # the first target, "Object.Field"
    category: str
    secret: bool
    fields: tuple[ItemField, ...]
    credential_link: bool = False  # a link shown in Salesforce whose credential (pwd=, tk=) is kept out of logs

    @property
    def label(self) -> str:
        return self.fields[0].label

    @property
    def sources(self) -> list[ItemField]:
        """The fields with distinct sources, first of each."""
        seen: dict[tuple[str, str, str], ItemField] = {}
        for item_field in self.fields:
            seen.setdefault((item_field.entity, item_field.source.endpoint, item_field.source.expression), item_field)
        return list(seen.values())

    @property
    def targets(self) -> list[TargetRef]:
        return list(dict.fromkeys(f.target for f in self.fields))

    @property
    def realtime(self) -> list[str]:
        return list(dict.fromkeys(event for f in self.fields for event in f.realtime))

    @property
    def first(self) -> ItemField:
        return self.fields[0]

    def fields_of(self, section: str) -> list[ItemField]:
        """The fields of the item that the mappings of `section` write."""
        return [f for f in self.fields if f.section == section]

    def realtime_in(self, section: str) -> list[str]:
        """The events through which `section`'s mappings deliver the item."""
        return list(dict.fromkeys(event for f in self.fields_of(section) for event in f.realtime))

    def also_rest_in(self, section: str) -> bool:
        return any(f.also_rest for f in self.fields_of(section))


@dataclass(frozen=True)
class Mention:
    """An item listed in another section that this section's mappings write too (they update it)."""

    IDENTITY: ClassVar[str] = "key"

    key: str  # the item's key
    label: str  # this section's own label for it
    entity: str
    listed_in: str  # the key of the section that lists the item


@dataclass(frozen=True)
class Entity:
    IDENTITY: ClassVar[str] = "name"

    name: str
    description: str | None


@dataclass(frozen=True)
class Selection:
    """Whom the reverse flow selects: its ``source.where``, as written and in words."""

    IDENTITY: ClassVar[str] = "entity"

    entity: str
    objects: tuple[str, ...]
    condition: str | None
    words: str  # every record, or those matching the condition, said in the document's language
    fields: tuple[str, ...]  # every field the reverse flow reads, the condition's included
    selection_only: tuple[str, ...]  # those read only to select the records


@dataclass(frozen=True)
class Link:
    """A lookup the sync fills by searching another object for a value (a registrant's Contact)."""

    IDENTITY: ClassVar[str] = "key"

    key: str  # "entity:Object.Field" of the lookup written
    entity: str
    label: str | None
    target: TargetRef
    object: str  # the object searched
    match: str  # the field compared with the value
    expression: str  # the value, over the source record


@dataclass(frozen=True)
class Retention:
    period: str  # an ISO 8601 duration
    text: str | None


@dataclass(frozen=True)
class LegalBasis:
    basis: str  # consent, contract, legal_obligation, vital_interests, public_interest, legitimate_interests
    text: str | None


@dataclass(frozen=True)
class Section:
    """One section of the document: what some entities read, when, where it is shown, and why."""

    IDENTITY: ClassVar[str] = "key"

    key: str
    title: str
    when: str | None
    shown_on: str | None
    purpose: str | None
    data_use: str | None
    data_subjects: tuple[str, ...]
    direction: str  # zoom_to_salesforce, salesforce_to_zoom
    entities: tuple[Entity, ...]
    reading: tuple[str, ...]  # how the sync reads each entity, derived from its source (one sentence each)
    selections: tuple[Selection, ...]  # for the reverse flow: whom it selects
    links: tuple[Link, ...]
    events: tuple[str, ...]  # the event notifications that feed the section
    items: tuple[Item, ...]  # the items this section lists
    mentions: tuple[Mention, ...]  # items listed elsewhere that this section's mappings update
    bullets: tuple[str, ...]  # the keys of its items and mentions, in the order its fields come
    retention: Retention | None
    legal_basis: LegalBasis | None

    def mention(self, key: str) -> Mention | None:
        """The mention of the item `key`, when another section lists it."""
        return next((x for x in self.mentions if x.key == key), None)


@dataclass(frozen=True)
class ScopeGrant:
    """One Zoom OAuth scope: what needs it, what is read through it, and why."""

    IDENTITY: ClassVar[str] = "scope"

    scope: str  # granular, account-wide
    classic: tuple[str, ...]  # the classic scopes of the same operations, for apps without granular scopes
    operations: tuple[str, ...]
    events: tuple[str, ...]
    fields: tuple[str, ...]  # the labels of the items read through it
    justifications: tuple[str, ...]


@dataclass(frozen=True)
class Operation:
    """One Zoom operation the sync calls."""

    IDENTITY: ClassVar[str] = "operation"

    operation: str
    scope: str | None
    classic: str | None
    entities: tuple[str, ...]


@dataclass(frozen=True)
class EventSubscription:
    IDENTITY: ClassVar[str] = "event"

    event: str
    scope: str | None
    entities: tuple[str, ...]
    fields: tuple[str, ...]  # the labels of the items it delivers


@dataclass(frozen=True)
class ObjectAccess:
    """What the Salesforce integration user needs on one object."""

    IDENTITY: ClassVar[str] = "object"

    object: str
    read: bool
    create: bool
    edit: bool


@dataclass(frozen=True)
class FieldAccess:
    """What the Salesforce integration user needs on one field, and why."""

    IDENTITY: ClassVar[str] = "name"

    name: str  # "Object.Field"
    object: str
    field: str
    read: bool
    edit: bool
    permissionable: bool  # False: a required field, always readable and editable (no field permission exists)
    reasons: tuple[str, ...]  # written, read, matched, selects, relationship, parent_key
    categories: tuple[str, ...]  # the data categories of the items it holds or gives (none for a lookup)


@dataclass(frozen=True)
class Permissions:
    scopes: tuple[ScopeGrant, ...]
    operations: tuple[Operation, ...]
    events: tuple[EventSubscription, ...]
    objects: tuple[ObjectAccess, ...]
    fields: tuple[FieldAccess, ...]


@dataclass(frozen=True)
class Party:
    name: str
    contact: str
    address: str | None
    url: str | None


@dataclass(frozen=True)
class Recipient:
    IDENTITY: ClassVar[str] = "name"

    name: str
    role: str  # controller, processor, sub_processor
    purpose: str
    location: str | None
    url: str | None


@dataclass(frozen=True)
class Transfer:
    IDENTITY: ClassVar[str] = "destination"

    destination: str
    recipients: tuple[str, ...]
    mechanism: str  # adequacy_decision, sccs, bcrs, supplementary_measures, other
    safeguard: str | None


@dataclass(frozen=True)
class Facts:
    """The document-level facts, in the document's language."""

    version: str
    effective_date: str
    controller: Party
    dpo: Party | None
    privacy_policy: str | None
    responsibility: str | None
    recipients: tuple[Recipient, ...]
    transfers: tuple[Transfer, ...]


@dataclass(frozen=True)
class Disclosure:
    """The whole document in one language. ``messages`` (its fixed sentences) is not part of the
    model: it changes with zoomforce, not with the mappings."""

    language: str
    facts: Facts | None  # None: no document-level facts declared
    sections: tuple[Section, ...]
    permissions: Permissions
    messages: dict[str, str] = field(compare=False, repr=False, metadata={"model": False})

    @property
    def zoom_sections(self) -> list[Section]:
        return [s for s in self.sections if s.direction == "zoom_to_salesforce"]

    @property
    def salesforce_sections(self) -> list[Section]:
        return [s for s in self.sections if s.direction == "salesforce_to_zoom"]

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def item(self, key: str) -> Item | None:
        return next((i for i in self.items if i.key == key), None)
