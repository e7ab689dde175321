"""The taxonomy keys shipped with the package are fideslang's own (run scripts/update_taxonomy.py if not)."""

from __future__ import annotations

from fideslang.default_taxonomy import DEFAULT_TAXONOMY

from engine.validate import taxonomy


def test_the_shipped_keys_equal_fideslangs_default_taxonomy() -> None:
    assert taxonomy.data_categories() == {item.fides_key for item in DEFAULT_TAXONOMY.data_category}
    assert taxonomy.data_uses() == {item.fides_key for item in DEFAULT_TAXONOMY.data_use}
    assert taxonomy.data_subjects() == {item.fides_key for item in DEFAULT_TAXONOMY.data_subject}
    assert "user.authorization.password" in taxonomy.data_categories()
