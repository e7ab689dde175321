"""Build the Zoom source and the Salesforce writer from the environment (credentials live nowhere else).

Zoom: ``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``, ``ZOOM_CLIENT_SECRET``, with ``ZOOM_API_URL`` and
``ZOOM_OAUTH_URL`` to point elsewhere. Salesforce: ``SF_INSTANCE_URL`` with ``SF_ACCESS_TOKEN`` or
``SF_CLIENT_ID`` + ``SF_CLIENT_SECRET``. A missing variable is a MissingCredential naming it.

The servers (``serve`` and the emulators) check their address with :func:`check_listen` first, so
that a port in use is one line and exit 2, not a failure inside the server thread.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

from engine.errors import ConfigError

if TYPE_CHECKING:  # the clients import httpx and simple-salesforce: not needed by check_listen
    from engine.salesforce.writer import SalesforceWriter
    from engine.zoom.reader import ZoomSource


def zoom_from_env(env: Mapping[str, str]) -> ZoomSource:
    from engine.zoom.client import ZoomClient, ZoomCredentials
    from engine.zoom.reader import ZoomSource

    return ZoomSource(ZoomClient(ZoomCredentials.from_env(env)))


def salesforce_from_env(env: Mapping[str, str], bulk_threshold: int = 2000, *, required: bool = True
                        ) -> SalesforceWriter | None:
    """The writer; with ``required=False`` (a dry run), None when no Salesforce is configured."""
    from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter

    if not required and not (env.get("SF_INSTANCE_URL") or "").strip():
        return None
    return SalesforceWriter(SalesforceCredentials.from_env(env), bulk_threshold=bulk_threshold)


def check_listen(host: str, port: int) -> None:
    """ConfigError (exit 2) when `host`:`port` cannot be listened on: a port in use, an address not of this host."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
