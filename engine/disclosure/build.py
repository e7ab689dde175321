"""The privacy disclosure, built from the loaded mapping model and the document-level facts (never
from a second list).

``build_disclosure(mapping_set, language, facts)`` gives a language-resolved ``Disclosure``
(``engine.disclosure.model``): one section per ``disclosure.section`` (entities sharing a section
share it), each with the items it lists (``engine.disclosure.items``), what the sync reads and
when (``engine.disclosure.reading``), whom the reverse flow selects, its links, its retention and
legal basis; and the permissions the enabled mappings need (``engine.disclosure.access``).
Renderers live in ``engine.disclosure.render``; the diff in ``engine.disclosure.diff``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from engine.disclosure import facts as declared
from engine.disclosure.access import salesforce_access, zoom_access
from engine.disclosure.items import build_items
from engine.disclosure.model import (
    Disclosure,
    Entity,
    Facts,
    LegalBasis,
    Link,
    Party,
    Permissions,
    Recipient,
    Retention,
    Section,
    TargetRef,
    Transfer,
)
from engine.disclosure.reading import reading, selection
from engine.errors import ConfigError
from engine.language.messages import catalog_languages, message_catalog
from engine.language.model import Mapping, Text
from engine.validate.mapping_set import MappingSet


def _text(value: Text | None, language: str) -> str | None:
    return None if value is None else value.by_language.get(language)


def disclosed_mappings(mapping_set: MappingSet) -> list[Mapping]:
    """The enabled mappings with a disclosure block, in document order."""
    return sorted(
        (m for m in mapping_set.mappings.values() if m.enabled and m.disclosure is not None),
        key=lambda m: (m.disclosure.order if m.disclosure else 0, m.entity),
    )


def _section_order(mappings: list[Mapping]) -> list[str]:
    return list(dict.fromkeys(m.disclosure.section for m in mappings if m.disclosure))


def _facts(facts: declared.DocumentFacts | None, language: str) -> Facts | None:
    if facts is None:
        return None

    def party(found: declared.Party | None) -> Party | None:
        return None if found is None else Party(found.name, found.contact, found.address, found.url)

    controller = party(facts.controller)
    assert controller is not None
    return Facts(
        version=facts.version,
        effective_date=facts.effective_date,
        controller=controller,
        dpo=party(facts.dpo),
        privacy_policy=facts.privacy_policy,
        responsibility=facts.responsibility,
        recipients=tuple(Recipient(r.name, r.role, r.purpose.get(language), r.location, r.url)
                         for r in facts.recipients),
        transfers=tuple(Transfer(t.destination, t.recipients, t.mechanism, _text(t.safeguard, language))
                        for t in facts.transfers),
    )


def _retention(facts: declared.DocumentFacts | None, section: str, language: str) -> Retention | None:
    found = facts.retention_for(section) if facts else None
    return None if found is None else Retention(found.period, _text(found.text, language))


def _legal_basis(facts: declared.DocumentFacts | None, section: str, language: str) -> LegalBasis | None:
    found = facts.legal_basis_for(section) if facts else None
    return None if found is None else LegalBasis(found.basis, _text(found.text, language))


def _sections(
    mappings: list[Mapping], language: str, facts: declared.DocumentFacts | None
) -> tuple[Section, ...]:
    m = message_catalog()[language]
    shown = build_items(mappings, language)
    titles = {mp.entity: mp.disclosure.title.get(language) for mp in mappings if mp.disclosure}

    def title_of(entity: str) -> str:
        return m["quoted"].format(text=titles[entity]) if entity in titles else f"`{entity}`"

    sections: list[Section] = []
    for key in _section_order(mappings):
        members = [mp for mp in mappings if mp.disclosure and mp.disclosure.section == key]
        first = members[0].disclosure
        assert first is not None
        events: dict[str, None] = {}
        for mp in members:
            events.update((e.event, None) for e in mp.source.events)
            events.update((f.realtime, None) for f in mp.enabled_fields if f.realtime)
            events.update((name, None) for f in mp.enabled_fields for name in f.events)
        sections.append(Section(
            key=key,
            title=first.title.get(language),
            when=_text(first.when, language),
            shown_on=_text(first.shown_on, language),
            purpose=_text(first.purpose, language),
            data_use=first.data_use,
            data_subjects=first.data_subjects,
            direction="salesforce_to_zoom" if members[0].source.system == "salesforce" else "zoom_to_salesforce",
            entities=tuple(Entity(mp.entity, _text(mp.description, language)) for mp in members),
            reading=tuple(reading(mp, m, title_of) for mp in members),
            selections=tuple(selection(mp, m) for mp in members if mp.source.system == "salesforce"),
            links=tuple(
                Link(
                    key=f"{mp.entity}:{mp.target.object}.{link.target}",
                    entity=mp.entity,
                    label=_text(link.label, language),
                    target=TargetRef(mp.target.system, mp.target.object or "", link.target),
                    object=link.object,
                    match=link.match,
                    expression=link.source,
                )
                for mp in members for link in mp.links
            ),
            events=tuple(events),
            items=tuple(shown[key].items) if key in shown else (),
            mentions=tuple(shown[key].mentions) if key in shown else (),
            bullets=tuple(shown[key].bullets) if key in shown else (),
            retention=_retention(facts, key, language),
            legal_basis=_legal_basis(facts, key, language),
        ))
    return tuple(sections)


def build_disclosure(
    mapping_set: MappingSet,
    language: str,
    facts: declared.DocumentFacts | None = None,
    catalog_dir: Path | None = None,
) -> Disclosure:
    """The disclosure of the enabled mappings in `language`, with the document-level `facts`."""
    if language not in catalog_languages():
        known = ", ".join(sorted(catalog_languages()))
        raise ConfigError(f"no disclosure messages for language '{language}' (available: {known})")
    mappings = disclosed_mappings(mapping_set)
    for mapping in mappings:
        if language not in mapping.languages:
            raise ConfigError(f"{mapping.file}: mapping '{mapping.entity}' has no '{language}' texts")
    if facts is not None and language not in facts.languages:
        raise ConfigError(f"{facts.file}: the disclosure facts have no '{language}' texts")
    sections = _sections(mappings, language, facts)
    items = [item for section in sections for item in section.items]
    scopes, operations, events = zoom_access(mappings, items, language)
    objects, fields = salesforce_access(mappings, mapping_set.mappings, catalog_dir)
    return Disclosure(
        language=language,
        facts=_facts(facts, language),
        sections=sections,
        permissions=Permissions(scopes, operations, events, objects, fields),
        messages=message_catalog()[language],
    )


def languages_of(mapping_set: MappingSet) -> list[str]:
    """Every language the disclosure of `mapping_set` can be rendered in."""
    languages: Iterable[str] = catalog_languages()
    for mapping in disclosed_mappings(mapping_set):
        languages = [lang for lang in languages if lang in mapping.languages]
    return sorted(languages)
