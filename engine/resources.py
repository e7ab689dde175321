"""Where the shipped data lives: inside the wheel, or at the top of a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent

#: The state database a command opens when none is given (here so that ``--help`` need not import the state).
DEFAULT_STATE_PATH = Path("zoomforce.db")
#: The variable that names the state (a path, or a PostgreSQL URL), and the schemes of such a URL.
STATE_ENV = "ZOOMFORCE_STATE"
STATE_URL_SCHEMES = ("postgresql://", "postgres://")


def is_state_url(location: object) -> bool:
    """True for a PostgreSQL URL (``postgresql://`` or ``postgres://``); anything else is a SQLite path."""
    return isinstance(location, str) and location.lower().startswith(STATE_URL_SCHEMES)


def data_dir(name: str) -> Path:
    """The folder `name` (``schemas``, ``mappings``, ...) as shipped with this installation.

    A wheel carries it as ``engine/_data/NAME``; an editable install or a checkout has it at the
    repository's top level, beside the package.
    """
    packaged = _PACKAGE_DIR / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / name


def schemas_dir() -> Path:
    return data_dir("schemas")


def default_mappings_dir() -> Path:
    return data_dir("mappings")
