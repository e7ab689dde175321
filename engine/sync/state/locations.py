"""Where a state lives: a SQLite file (a path) or a PostgreSQL database (a ``postgresql://`` URL).

Standard library only, so that telling one from the other loads no database driver.
"""

from __future__ import annotations

URL_SCHEMES = ("postgresql://", "postgres://")
STATE_ENV = "ZOOMFORCE_STATE"


def is_url(location: object) -> bool:
    """True for a PostgreSQL URL (``postgresql://`` or ``postgres://``); anything else is a SQLite path."""
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)
