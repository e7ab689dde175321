"""``zoomforce emulator zoom``: serve the Zoom API emulator over HTTP on loopback.

Prints ``http://127.0.0.1:PORT`` as the first line of standard output, then serves until SIGINT or
SIGTERM and exits 0. With ``--webhook-url`` and ``--webhook-secret`` it also sends signed event
notifications for its account: ``--webhook-events`` of them once it listens, more on request
through ``POST /_emulator/webhooks/send``.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

import click
from starlette.applications import Starlette

from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app, create_app, send_startup_events
from engine.emulators.zoom.webhooks import STARTUP_EVENT_KINDS
from engine.serving import check_listen, serve_foreground


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("zoom")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--users", type=click.IntRange(1, 100_000), default=10, show_default=True,
              help="Users in the synthetic account.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the account and of failure injection.")
@click.option("--rate-limit", type=click.IntRange(0), default=0, show_default=True,
              help="Requests a second allowed per rate-limit category before 429 (0: unlimited).")
@click.option("--daily-limit", type=click.IntRange(0), default=0, show_default=True,
              help="Requests a UTC day allowed per rate-limit label (Light, Medium, Heavy) before 429 "
                   "Daily-limit (0: unlimited).")
@click.option("--latency-ms", type=click.IntRange(0), default=0, show_default=True,
              help="Milliseconds added before every API answer.")
@click.option("--fail-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Fraction of API requests answered 500, 502 or 503 (never OAuth).")
@click.option("--client-id", default="demo", show_default=True, help="OAuth client id accepted.")
@click.option("--client-secret", default="demo", show_default=True, help="OAuth client secret accepted.")
@click.option("--account-id", default="demo", show_default=True, help="Zoom account id accepted.")
@click.option("--webhook-url", default=None, help="Where to POST event notifications.")
@click.option("--webhook-secret", default=None, help="Secret token the notifications are signed with.")
@click.option("--webhook-retry-scale", type=click.FloatRange(0.0), default=1.0, show_default=True,
              help="Multiplies Zoom's retry delays (300, 1200, 3600 s); e.g. 0.001 in tests.")
@click.option("--webhook-events", type=click.IntRange(0), default=len(STARTUP_EVENT_KINDS), show_default=True,
              help=f"Events sent once listening, cycling through {', '.join(STARTUP_EVENT_KINDS)}.")
@click.option("--meetings-per-user", type=click.IntRange(0, 1000), default=None,
              help="Meetings of every user, all but the last past (default: 2 to 4 by user).")
@click.option("--calls-per-user", type=click.IntRange(0, 1000), default=None,
              help="Calls in the last 30 days of every Zoom Phone user (default: 3 to 6).")
@click.option("--webinars-per-user", type=click.IntRange(0, 1000), default=None,
              help="Webinars of every user, all but the last past (default: 2 for every third user).")
@click.option("--registrants-per-webinar", type=click.IntRange(0, 100_000), default=None,
              help="Registrants of every webinar open to registration (default: 6).")
@click.option("--attendees-per-webinar", type=click.IntRange(0, 100_000), default=None,
              help="Attendees in every past webinar's report, a rejoin aside (default: 3 to 6).")
def zoom_command(port: int, host: str, users: int, seed: int, rate_limit: int, daily_limit: int, latency_ms: int,
                 fail_rate: float, client_id: str, client_secret: str, account_id: str, webhook_url: str | None,
                 webhook_secret: str | None, webhook_retry_scale: float, webhook_events: int,
                 meetings_per_user: int | None, calls_per_user: int | None, webinars_per_user: int | None,
                 registrants_per_webinar: int | None, attendees_per_webinar: int | None) -> None:
    """Serve the local Zoom API emulator until interrupted."""
    if bool(webhook_url) != bool(webhook_secret):
        raise click.UsageError("--webhook-url and --webhook-secret go together")
    check_listen(host, port)
    config = ZoomEmulatorConfig(users=users, seed=seed, rate_limit=rate_limit, daily_limit=daily_limit,
                                latency_ms=latency_ms, fail_rate=fail_rate,
                                client_id=client_id, client_secret=client_secret, account_id=account_id,
                                webhook_url=webhook_url, webhook_secret=webhook_secret,
                                webhook_retry_scale=webhook_retry_scale, meetings_per_user=meetings_per_user,
                                calls_per_user=calls_per_user, webinars_per_user=webinars_per_user,
                                registrants_per_webinar=registrants_per_webinar,
                                attendees_per_webinar=attendees_per_webinar)
    app = create_app(config)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve_foreground(app, host, port, _announcer(app, webhook_events))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        close_app(app)


def _announcer(app: Starlette, webhook_events: int) -> Callable[[str], None]:
    def announce(url: str) -> None:
        click.echo(url)
        sys.stdout.flush()
        send_startup_events(app, webhook_events)

    return announce
