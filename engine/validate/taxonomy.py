"""The privacy taxonomy: Fides data categories, uses and subjects from fideslang's defaults."""

from __future__ import annotations

from functools import cache

#: Categories whose values are credentials: a field in one of them must say ``secret: true``.
CREDENTIAL_PREFIXES = ("user.authorization", "system.authentication")


@cache
def _taxonomy() -> dict[str, frozenset[str]]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return {
        "data_category": frozenset(item.fides_key for item in DEFAULT_TAXONOMY.data_category),
        "data_use": frozenset(item.fides_key for item in DEFAULT_TAXONOMY.data_use),
        "data_subject": frozenset(item.fides_key for item in DEFAULT_TAXONOMY.data_subject),
    }


def data_categories() -> frozenset[str]:
    return _taxonomy()["data_category"]


def data_uses() -> frozenset[str]:
    return _taxonomy()["data_use"]


def data_subjects() -> frozenset[str]:
    return _taxonomy()["data_subject"]


def is_credential(category: str) -> bool:
    return any(category == prefix or category.startswith(prefix + ".") for prefix in CREDENTIAL_PREFIXES)
