"""Route the Zoom emulator's API on the raw request path, as Zoom does.

An ASGI server hands the application a path whose ``%2F`` escapes are already decoded into ``/``,
so a meeting UUID with one inner ``/`` sent single-encoded (``abc%2Fdef==``) would split into two
path segments and miss its route. Zoom's specification asks for double encoding only when a UUID
begins with ``/`` or contains ``//``, so a single-encoded inner ``/`` works there. This middleware
rebuilds the path of every ``/v2/`` request from ``raw_path``: each escape is decoded except
``%2F`` and ``%25``, which stay escaped inside their segment. ``path_value`` of the app then decodes
a path parameter once, or twice when it was double-encoded.

It also drops one trailing ``/`` (``GET /v2/users/``), which Zoom's API serves like the path
without it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/v2/"
_KEPT = re.compile(r"(%2[fF]|%25)")


def routed_path(raw: str) -> str:
    """`raw` (a request path, escapes as sent) with every escape decoded but ``%2F`` and ``%25``."""
    pieces = _KEPT.split(raw)
    return "".join(piece.upper() if _KEPT.fullmatch(piece) else unquote(piece) for piece in pieces)


def decode_segment(value: str) -> str:
    """A path parameter as the API sees it: decoded once, or twice when it was double-encoded.

    A single-encoded value that begins with ``/`` or contains ``//`` reaches Zoom with its empty
    segments collapsed (which is why Zoom asks for double encoding there): such a value comes back
    collapsed, and so matches nothing.
    """
    if "%" not in value:
        return value
    if "%25" in value:
        return unquote(unquote(value))
    once = unquote(value)
    if once.startswith("/") or "//" in once:
        return "/".join(part for part in once.split("/") if part)
    return once


class RawPathRouting:
    """ASGI middleware: ``/v2/`` requests are routed on their raw path (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path")
            raw = raw_path.decode("latin-1").partition("?")[0] if raw_path else scope["path"]
            if raw.startswith(API_PREFIX):
                path = routed_path(raw)
                if path.endswith("/") and len(path) > len(API_PREFIX):
                    path = path[:-1]
                scope = dict(scope, path=path)
        await self.app(scope, receive, send)
