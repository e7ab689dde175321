"""The mapping model: typed, immutable views of a mapping file that passed the JSON Schema.

``build_mapping`` turns the loaded data into these dataclasses; it runs only on documents that the
schema accepted, so it can rely on types and required keys. Positions stay reachable through
``Mapping.document`` (paths such as ``("fields", 3, "from")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.language.loader import LoadedDocument
from engine.secrets import link_parameter

DEFAULT_LANGUAGES = ("en", "fr")
PAYLOAD_OBJECT = "payload.object"  # where an event notification holds its record, unless `records` says otherwise
NO_DEFAULT: Any = object()
_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Text:
    """A text per language."""

    by_language: MappingProxyType[str, str]

    @classmethod
    def of(cls, value: dict[str, str] | None) -> Text | None:
        return None if value is None else cls(MappingProxyType(dict(value)))

    def get(self, language: str) -> str:
        return self.by_language[language]


@dataclass(frozen=True)
class FieldSpec:
    index: int
    source: str  # the `from` expression
    target: str  # the `to` field
    label: Text
    category: str
    secret: bool
    enabled: bool
    type: str | None
    max_length: int | None
    on_missing: str
    on_overflow: str
    default: Any
    values: MappingProxyType[str, Any] | None
    scope: str
    undocumented: str | None
    realtime: str | None
    description: Text | None
    events: MappingProxyType[str, str] = field(default_factory=lambda: _EMPTY)
    credential_params: tuple[str, ...] = ()
    lists: MappingProxyType[str, str | None] = field(default_factory=lambda: _EMPTY)  # per named listing (None: not)

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("fields", self.index)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(frozen=True)
class IncludeSpec:
    endpoint: str
    name: str
    params: MappingProxyType[str, Any]
    optional: bool


@dataclass(frozen=True)
class ListSpec:
    endpoint: str
    records: str | None
    params: MappingProxyType[str, Any]
    window_from: str | None
    window_to: str | None
    window_max_days: int | None
    detail: bool
    key: str | None
    window_field: str | None = None  # the listed record's time, when the sync filters the window itself
    window_incremental: bool = True  # the window follows the entity's cursor (else only --since / --until)
    filter: str | None = None  # an expression over each listed item: only those it holds true for are read
    name: str | None = None  # `as`: a second or later listing's name (None for the first)
    index: int = 0  # its place in `source.list`
    nested: bool = False  # `source.list` was written as a list of listings (positions differ)
    # `detail: {refresh_when_changed, max_age}`: the listed fields that signal a change of the detail, and how
    # long (seconds) a detail read stands while they are unchanged; () / None: every item is read in detail
    detail_signals: tuple[str, ...] = ()
    detail_max_age: int | None = None

    @property
    def windowed(self) -> bool:
        """Whether the listing can be bounded in time (query parameters, or a time the sync filters on)."""
        return bool(self.window_from or self.window_to or self.window_field)

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("source", "list", self.index) if self.nested else ("source", "list")


@dataclass(frozen=True)
class EventSpec:
    event: str
    records: str
    parent: str | None = None
    all_fields: bool = False


@dataclass(frozen=True)
class SourceSpec:
    system: str
    endpoint: str | None
    records: str | None
    include: tuple[IncludeSpec, ...]
    listings: tuple[ListSpec, ...]
    parent: str | None
    objects: tuple[str, ...]
    where: str | None
    events: tuple[EventSpec, ...]
    each: str | None = None  # the key of the list, in each record, whose items are the records

    @property
    def listing(self) -> ListSpec | None:
        """The first listing (the one whose records are read with every field's `from`)."""
        return self.listings[0] if self.listings else None

    def named_listing(self, name: str) -> ListSpec | None:
        return next((listing for listing in self.listings if listing.name == name), None)


@dataclass(frozen=True)
class TargetListSpec:
    """Who is in a Zoom target already (the reverse flow's registrants): read before anything is written."""

    endpoint: str
    records: str
    params: MappingProxyType[str, Any]
    statuses: tuple[str, ...]  # each read with ?status=; empty: one reading with no status
    cancelled: str  # leave | register: someone registered before who is no longer listed


@dataclass(frozen=True)
class TargetSpec:
    system: str
    object: str | None
    upsert_keys: tuple[str, ...]
    endpoint: str | None
    match_key: str | None
    listing: TargetListSpec | None = None
    match: tuple[tuple[str, ...], ...] = ()  # sets of fields that together identify a record, tried in order
    match_nested: bool = False  # `match` was written as a list of lists (positions differ)


@dataclass(frozen=True)
class ParentSpec:
    entity: str
    relationship: str
    key: str
    source: str
    type: str
    required: bool


@dataclass(frozen=True)
class LinkSpec:
    index: int
    target: str
    object: str
    match: str
    source: str
    label: Text | None
    scope: str = "record"  # `from` over the record or its parent
    entity: str | None = None  # the mapping that writes the linked records (synced first)
    unless_set: str | None = None  # left out for a record that has a value for this field
    on_unmatched: str = "write"  # write (without the lookup), skip, reject
    lists: MappingProxyType[str, str | None] = field(default_factory=lambda: _EMPTY)

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("links", self.index)

    def reader(self, listing: str | None) -> str | None:
        """The expression for a record of `listing` (None: the first); None when that listing gives none."""
        if listing is not None and listing in self.lists:
            return self.lists[listing]
        return self.source


@dataclass(frozen=True)
class DisclosureSpec:
    section: str
    order: int
    title: Text
    when: Text | None
    shown_on: Text | None
    purpose: Text | None
    data_use: str | None
    data_subjects: tuple[str, ...]


@dataclass(frozen=True)
class PermissionsSpec:
    """Least privilege, declared: a justification per Zoom OAuth scope, and each event subscription's scope."""

    scopes: MappingProxyType[str, Text] = field(default_factory=lambda: MappingProxyType({}))
    events: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Mapping:
    entity: str
    file: str
    enabled: bool
    languages: tuple[str, ...]
    description: Text | None
    source: SourceSpec
    target: TargetSpec
    parent: ParentSpec | None
    links: tuple[LinkSpec, ...]  # the enabled ones (`enabled: false` takes a link out of sync and disclosure)
    disclosure: DisclosureSpec | None
    fields: tuple[FieldSpec, ...]
    document: LoadedDocument
    permissions: PermissionsSpec = field(default_factory=PermissionsSpec)

    @property
    def enabled_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.enabled)

    @property
    def secret_targets(self) -> frozenset[str]:
        """The target fields marked secret, and the link parameters its credential links name (``?sig``)."""
        names = {f.target for f in self.fields if f.secret}
        names |= {link_parameter(p) for f in self.fields if f.type == "credential_url" for p in f.credential_params}
        return frozenset(names)


def _frozen(value: dict[str, Any] | None) -> MappingProxyType[str, Any]:
    return MappingProxyType(dict(value or {}))


def _field(index: int, data: dict[str, Any], defaults: dict[str, Any]) -> FieldSpec:
    default = data.get("default", NO_DEFAULT)
    on_missing = data.get("on_missing") or ("default" if "default" in data else defaults.get("on_missing", "skip"))
    values = data.get("values")
    return FieldSpec(
        index=index,
        source=data["from"],
        target=data["to"],
        label=Text.of(data["label"]),  # type: ignore[arg-type]
        category=data["category"],
        secret=bool(data.get("secret", False)),
        enabled=bool(data.get("enabled", True)),
        type=data.get("type"),
        max_length=data.get("max_length"),
        on_missing=on_missing,
        on_overflow=data.get("on_overflow") or defaults.get("on_overflow", "truncate"),
        default=default,
        values=None if values is None else _frozen(values),
        scope=data.get("scope", "record"),
        undocumented=data.get("undocumented"),
        realtime=data.get("realtime"),
        description=Text.of(data.get("description")),
        events=_frozen(data.get("events")),
        credential_params=tuple(data.get("credential_params") or ()),
        lists=_frozen(data.get("lists")),
    )


_AGE_UNITS = {"m": 60, "h": 3600, "d": 86400}


def age_seconds(text: str) -> int:
    """``"24h"`` -> 86400: a positive whole number of minutes (m), hours (h) or days (d)."""
    return int(text[:-1]) * _AGE_UNITS[text[-1]]


def _listing(listing: dict[str, Any], index: int, nested: bool) -> ListSpec:
    window = listing.get("window") or {}
    detail = listing.get("detail", False)
    refresh = detail if isinstance(detail, dict) else {}
    return ListSpec(
        endpoint=listing["endpoint"],
        records=listing.get("records"),
        params=_frozen(listing.get("params")),
        window_from=window.get("from"),
        window_to=window.get("to"),
        window_max_days=window.get("max_days"),
        detail=bool(detail),
        key=listing.get("key"),
        window_field=window.get("field"),
        window_incremental=bool(window.get("incremental", True)),
        filter=listing.get("filter"),
        name=listing.get("as"),
        index=index,
        nested=nested,
        detail_signals=tuple(str(f) for f in refresh.get("refresh_when_changed") or ()),
        detail_max_age=age_seconds(str(refresh["max_age"])) if refresh.get("max_age") else None,
    )


def _source(data: dict[str, Any]) -> SourceSpec:
    listed = data.get("list")
    nested = isinstance(listed, list)
    listings = [] if listed is None else listed if nested else [listed]
    return SourceSpec(
        system=data["system"],
        endpoint=data.get("endpoint"),
        records=data.get("records"),
        include=tuple(
            IncludeSpec(item["endpoint"], item["as"], _frozen(item.get("params")), bool(item.get("optional", False)))
            for item in data.get("include", ())
        ),
        listings=tuple(_listing(item, i, nested) for i, item in enumerate(listings)),
        parent=data.get("parent"),
        objects=(data["object"],) if isinstance(data.get("object"), str) else tuple(data.get("object", ())),
        where=data.get("where"),
        events=tuple(
            EventSpec(e["event"], e.get("records", PAYLOAD_OBJECT), e.get("parent"), bool(e.get("all_fields")))
            for e in data.get("events", ())
        ),
        each=data.get("each"),
    )


def _target(data: dict[str, Any]) -> TargetSpec:
    keys = data.get("upsert_key")
    upsert_keys = (keys,) if isinstance(keys, str) else tuple(keys or ())
    listing = data.get("list")
    target_list = None if listing is None else TargetListSpec(
        endpoint=listing["endpoint"],
        records=listing["records"],
        params=_frozen(listing.get("params")),
        statuses=tuple(listing.get("statuses", ())),
        cancelled=listing.get("cancelled", "leave"),
    )
    match = data.get("match") or []
    nested = bool(match) and all(isinstance(item, list) for item in match)
    sets = tuple(tuple(item) for item in match) if nested else ((tuple(match),) if match else ())
    return TargetSpec(data["system"], data.get("object"), upsert_keys, data.get("endpoint"), data.get("match_key"),
                      target_list, sets, nested)


def _parent(data: dict[str, Any] | None) -> ParentSpec | None:
    if data is None:
        return None
    return ParentSpec(
        data["entity"],
        data["relationship"],
        data["key"],
        data["from"],
        data.get("type", "string"),
        bool(data.get("required", True)),
    )


def _link(index: int, link: dict[str, Any]) -> LinkSpec:
    return LinkSpec(
        index, link["to"], link["object"], link["match"], link["from"], Text.of(link.get("label")),
        scope=link.get("scope", "record"),
        entity=link.get("entity"),
        unless_set=link.get("unless_set"),
        on_unmatched=link.get("on_unmatched", "write"),
        lists=_frozen(link.get("lists")),
    )


def _disclosure(data: dict[str, Any] | None) -> DisclosureSpec | None:
    if data is None:
        return None
    return DisclosureSpec(
        section=data["section"],
        order=int(data.get("order", 100)),
        title=Text.of(data["title"]),  # type: ignore[arg-type]
        when=Text.of(data.get("when")),
        shown_on=Text.of(data.get("shown_on")),
        purpose=Text.of(data.get("purpose")),
        data_use=data.get("data_use"),
        data_subjects=tuple(data.get("data_subjects", ())),
    )


def _permissions(data: dict[str, Any] | None) -> PermissionsSpec:
    data = data or {}
    scopes = {name: Text.of(text) for name, text in (data.get("scopes") or {}).items()}
    return PermissionsSpec(
        scopes=MappingProxyType({name: text for name, text in scopes.items() if text is not None}),
        events=MappingProxyType(dict(data.get("events") or {})),
    )


def build_mapping(document: LoadedDocument) -> Mapping:
    """The model of a document the JSON Schema accepted."""
    data = document.data
    defaults = data.get("defaults", {})
    return Mapping(
        entity=data["entity"],
        file=document.file,
        enabled=bool(data.get("enabled", True)),
        languages=tuple(data.get("languages", DEFAULT_LANGUAGES)),
        description=Text.of(data.get("description")),
        source=_source(data["source"]),
        target=_target(data["target"]),
        parent=_parent(data.get("parent")),
        links=tuple(_link(i, link) for i, link in enumerate(data.get("links", ())) if link.get("enabled", True)),
        disclosure=_disclosure(data.get("disclosure")),
        fields=tuple(_field(i, item, defaults) for i, item in enumerate(data["fields"])),
        document=document,
        permissions=_permissions(data.get("permissions")),
    )
