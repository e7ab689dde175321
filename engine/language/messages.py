"""The disclosure's fixed sentences per language (``engine/language/messages.yaml``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

MESSAGES_FILE = Path(__file__).resolve().parent / "messages.yaml"


@cache
def message_catalog() -> dict[str, dict[str, str]]:
    """The fixed sentences per language (``engine/language/messages.yaml``)."""
    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where PyYAML has it: 10x faster
    data = yaml.load(MESSAGES_FILE.read_text(encoding="utf-8"), Loader=safe_loader)  # a safe loader either way
    return {language: {str(k): str(v) for k, v in texts.items()} for language, texts in data.items()}


def catalog_languages() -> frozenset[str]:
    return frozenset(message_catalog())


def missing_messages(language: str) -> list[str]:
    """The keys of the catalog that `language` lacks (all of them for an unknown language)."""
    catalog = message_catalog()
    reference = set().union(*(set(texts) for texts in catalog.values()))
    return sorted(reference - set(catalog.get(language, {})))
