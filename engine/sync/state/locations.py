"""Where a state lives: a SQLite file (a path) or a PostgreSQL database (a ``postgresql://`` URL).

Standard library only, so that telling one from the other loads no database driver.
"""

from __future__ import annotations

from engine.resources import STATE_ENV, STATE_URL_SCHEMES, is_state_url

URL_SCHEMES = STATE_URL_SCHEMES
is_url = is_state_url  # the names the state uses

__all__ = ["STATE_ENV", "URL_SCHEMES", "is_url"]
