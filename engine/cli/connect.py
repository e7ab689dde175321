"""Build the Zoom source and the Salesforce writer from the environment (credentials live nowhere else).

Zoom: ``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``, ``ZOOM_CLIENT_SECRET``, with ``ZOOM_API_URL`` and
``ZOOM_OAUTH_URL`` to point elsewhere. Salesforce: ``SF_INSTANCE_URL`` with ``SF_ACCESS_TOKEN`` or
``SF_CLIENT_ID`` + ``SF_CLIENT_SECRET``. A missing variable is a MissingCredential naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter
from engine.zoom.client import ZoomClient, ZoomCredentials
from engine.zoom.reader import ZoomSource
from engine.zoom.schemas import load_source_index
from engine.zoom.throttle import DEFAULT_CONCURRENCY, DEFAULT_PLAN, Throttle, labels_from_index


def zoom_from_env(env: Mapping[str, str], *, concurrency: int = DEFAULT_CONCURRENCY,
                  plan: str = DEFAULT_PLAN) -> ZoomSource:
    """The source, its reads bounded by the account plan's rate limits and `concurrency` requests in flight."""
    client = ZoomClient(ZoomCredentials.from_env(env))
    index = load_source_index()
    client.throttle = Throttle(plan, concurrency, labels_from_index(index))
    return ZoomSource(client, index)


def salesforce_from_env(env: Mapping[str, str], bulk_threshold: int = 2000, *, required: bool = True,
                        api_version: str | None = None) -> SalesforceWriter | None:
    """The writer; with ``required=False`` (a dry run), None when no Salesforce is configured.

    `api_version` (the project's ``salesforce.api_version``) replaces the default REST API version.
    """
    if not required and not (env.get("SF_INSTANCE_URL") or "").strip():
        return None
    credentials = SalesforceCredentials.from_env(env)
    if api_version:
        credentials = replace(credentials, api_version=api_version)
    return SalesforceWriter(credentials, bulk_threshold=bulk_threshold)
