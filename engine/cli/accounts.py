"""Which Zoom account a command works for (``sync --account NAME``), and what that selects.

One deployment may serve several Zoom accounts: each has its own credentials, read from the
environment, and its own part of the state (its own cursors, record hashes and org binding): in a
PostgreSQL state a schema of its own (``account_NAME``), beside a SQLite file a file of its own
(``zoomforce.NAME.db``). The run lock of a PostgreSQL state is per account too, so syncs of two
accounts run side by side.

:func:`select_account` is the one place that decides this. An account NAME's Zoom credentials are
the variables ``PREFIX_ZOOM_ACCOUNT_ID``, ``PREFIX_ZOOM_CLIENT_ID`` and ``PREFIX_ZOOM_CLIENT_SECRET``
(and ``PREFIX_ZOOM_API_URL``, ``PREFIX_ZOOM_OAUTH_URL``): PREFIX is the ``env_prefix`` the project
file's ``accounts`` gives it, else NAME in capitals with ``-`` as ``_``. When the project file
declares accounts, ``--account`` must name one of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.resources import is_state_url as is_url
from engine.suggest import suggestion

ZOOM_VARIABLES = ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_API_URL", "ZOOM_OAUTH_URL")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


@dataclass(frozen=True)
class Account:
    """The account a command works for: ``name`` ("" for the one account of a plain deployment)."""

    name: str
    environ: Mapping[str, str]  # what the Zoom client reads its credentials from
    schema: str | None  # a PostgreSQL state's schema for this account; None: the default one

    def state(self, location: Path | str) -> Path | str:
        """Where this account's state lives, given the ``--state`` location."""
        if not self.name or is_url(location):
            return location
        path = Path(location)
        return path.with_name(f"{path.stem}.{self.name}{path.suffix}")


def select_account(name: str | None, environ: Mapping[str, str],
                   declared: Mapping[str, Mapping[str, Any]] | None = None) -> Account:
    """The account ``--account NAME`` selects (None: the plain deployment's) among those the project file
    `declared` (none: any with credentials); ConfigError (exit 2) otherwise."""
    if name is None:
        return Account("", environ, None)
    if not _NAME.fullmatch(name):
        raise ConfigError(f"--account {name!r}: an account name is letters, digits, '-' and '_' (at most 40)")
    if declared and name not in declared:
        raise ConfigError(f"--account {name}: not an account of the project file (accounts: "
                          f"{', '.join(sorted(declared))}){suggestion(name, sorted(declared))}")
    chosen = (declared or {}).get(name) or {}
    prefix = str(chosen.get("env_prefix") or name.upper().replace("-", "_")) + "_"
    if not (environ.get(prefix + "ZOOM_ACCOUNT_ID") or "").strip():
        raise ConfigError(f"--account {name}: no credentials for it: set {prefix}ZOOM_ACCOUNT_ID, "
                          f"{prefix}ZOOM_CLIENT_ID and {prefix}ZOOM_CLIENT_SECRET")
    selected = {key: value for key, value in environ.items() if key not in ZOOM_VARIABLES}
    selected.update({key: environ[prefix + key] for key in ZOOM_VARIABLES if prefix + key in environ})
    return Account(name, selected, "account_" + name.lower().replace("-", "_"))


def salesforce_org(environ: Mapping[str, str]) -> str:
    """The org a run writes to, as known before connecting (its instance URL): part of a PostgreSQL run lock's key."""
    return (environ.get("SF_INSTANCE_URL") or "").strip().rstrip("/").lower()
