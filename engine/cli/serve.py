"""``zoomforce serve``: receive Zoom event notifications and sync them through the mappings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from engine.cli.messages import say, stderr_failures
from engine.cli.options import MAPPINGS_OPTION, STATE_OPTION, StateLocation, sigterm_as_interrupt
from engine.cli.settings import CATALOG_OPTION, PROJECT_OPTION, load_settings
from engine.errors import MissingCredential, RetriesExhausted, Unreachable


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@MAPPINGS_OPTION
@CATALOG_OPTION
@PROJECT_OPTION
@STATE_OPTION
@click.option("--max-attempts", type=click.IntRange(1), default=20, show_default=True,
              help="Attempts at processing one event before it is given up on (its records become dead letters).")
@click.option("--lease-seconds", type=click.FloatRange(1), default=60, show_default=True, metavar="SECONDS",
              help="How long a replica holds the events it took; a replica that dies gives them back after this.")
@click.option("--forwarded-allow-ips", metavar="IPS",
              help="Behind a TLS-terminating proxy: the proxy addresses (comma-separated, or '*') whose "
                   "X-Forwarded-For/-Proto headers are believed (default $FORWARDED_ALLOW_IPS, else 127.0.0.1).")
def serve_command(host: str, port: int, mappings_dir: Path | None, catalog_dir: Path | None,
                  project_file: Path | None, state_path: StateLocation | None, max_attempts: int,
                  lease_seconds: float, forwarded_allow_ips: str | None) -> None:
    """Receive Zoom event notifications at POST /zoom/webhook and sync them through the mappings."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.cli.connect import salesforce_from_env
    from engine.serve.app import WEBHOOK_PATH, create_app
    from engine.serve.events import EventProcessor, event_feeds, subscriptions
    from engine.serve.worker import InboxWorker
    from engine.serving import check_listen, serve_foreground
    from engine.sync.preflight import OrgDescribes, preflight  # deferred, as the imports above
    from engine.sync.state.cipher import StateCipher
    from engine.sync.state.store import StateStore
    from engine.validate.mapping_set import load_mapping_set

    settings = load_settings(project_file, mappings=mappings_dir, catalog=catalog_dir, state=state_path).usable()
    mapping_set = load_mapping_set([settings.mappings], settings.catalog, settings.languages).raise_if_invalid()
    secret = os.environ.get("ZOOM_WEBHOOK_SECRET_TOKEN", "")
    if not secret.strip():
        raise MissingCredential("ZOOM_WEBHOOK_SECRET_TOKEN", "the secret token that signs Zoom's event notifications")
    check_listen(host, port)
    salesforce = salesforce_from_env(os.environ, api_version=settings.api_version)
    assert salesforce is not None
    cipher = StateCipher.from_env(os.environ)
    fed = sorted({mapping.entity for feeds in event_feeds(mapping_set).values() for mapping, _ in feeds})
    store = StateStore.open(settings.state)
    failures = stderr_failures(None, limit=None)  # a service: every failed record is a line of its log
    processor = EventProcessor(mapping_set, store, salesforce, cipher=cipher, failures=failures)
    worker = InboxWorker(store, processor, max_attempts=max_attempts, backoff_max=600.0, lease_seconds=lease_seconds)
    try:  # the org must have what the fed mappings write, and the state be for it (exit 2 at once)
        preflight(mapping_set, fed, OrgDescribes(salesforce))
        processor.check_binding()
    except (Unreachable, RetriesExhausted) as exc:  # events are kept meanwhile: serve starts all the same
        say(f"zoomforce: warning: Salesforce cannot be reached now ({exc}); events are kept and written once "
            "it answers, after checking that this state is for its org", level="warning",
            event="serve.salesforce_unreachable")
    except BaseException:
        salesforce.close()
        store.close()
        raise
    app = create_app(store, secret, None, worker=worker, ready_check=salesforce.ping)

    def announce(url: str) -> None:
        click.echo(url)
        say(f"webhook: {url}{WEBHOOK_PATH}", event="serve.listening", url=url)
        say(f"event subscriptions: {', '.join(subscriptions(mapping_set))}", event="serve.subscriptions",
            subscriptions=subscriptions(mapping_set))
        sys.stdout.flush()

    if cipher is None:
        say("zoomforce: ZOOMFORCE_STATE_KEY is not set: secrets that events deliver are not kept in the "
            "inbox; they are written at the next sync", level="warning", event="serve.no_state_key")
    worker.start()
    try:
        with sigterm_as_interrupt():
            serve_foreground(app, host, port, announce, forwarded_allow_ips=forwarded_allow_ips)
    finally:
        worker.stop()
        salesforce.close()
        store.close()
