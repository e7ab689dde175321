"""``zoomforce emulator salesforce``: serve the Salesforce emulator over HTTPS on loopback.

Prints ``https://127.0.0.1:PORT`` as the first line of standard output and ``ca: PATH`` (the CA
certificate clients trust through ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``) as the second, then
serves until SIGINT or SIGTERM and exits 0.
"""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click

from engine.emulators.salesforce.app import SalesforceEmulatorConfig, create_app
from engine.emulators.salesforce.catalog import load_catalog
from engine.emulators.salesforce.limits import DAILY_API_LIMIT
from engine.emulators.tls import make_tls_files
from engine.serving import TLSFiles, check_listen, serve_foreground


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("salesforce")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--fail-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Fraction of data requests refused with 503 SERVER_UNAVAILABLE or 403 REQUEST_LIMIT_EXCEEDED.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the failure injection.")
@click.option("--api-limit", type=click.IntRange(0), default=DAILY_API_LIMIT, show_default=True,
              help="Data requests allowed (DailyApiRequests in /limits/); then 403 REQUEST_LIMIT_EXCEEDED.")
@click.option("--client-id", default="demo", show_default=True, help="OAuth client id accepted.")
@click.option("--client-secret", default="demo", show_default=True, help="OAuth client secret accepted.")
@click.option("--catalog", "catalog_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Serve the org this catalog folder describes (custom fields included). Default: the shipped "
                   "catalog as a stock org, Zoom's package without the fields zoomforce adds.")
@click.option("--cert-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write the CA and server certificate in (default: a temporary one).")
def salesforce_command(port: int, host: str, fail_rate: float, seed: int, api_limit: int, client_id: str,
                       client_secret: str, catalog_dir: Path | None, cert_dir: Path | None) -> None:
    """Serve the local Salesforce API emulator (HTTPS) until interrupted."""
    if catalog_dir is not None:
        try:
            objects = load_catalog(catalog_dir).objects()
        except ValueError as exc:  # json.JSONDecodeError: the emulator imports nothing of the product to say where
            raise click.UsageError(f"--catalog {catalog_dir}: a file is not JSON ({exc})") from exc
        if not objects:
            raise click.UsageError(f"no sObject catalog (*.json with 'fields') in {catalog_dir}")
    check_listen(host, port)
    config = SalesforceEmulatorConfig(fail_rate=fail_rate, seed=seed, client_id=client_id,
                                      client_secret=client_secret, catalog_dir=catalog_dir, api_limit=api_limit)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    tls: TLSFiles | None = None
    try:
        tls = make_tls_files(cert_dir)
        serve_foreground(create_app(config), host, port, _announcer(tls), tls=tls)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if tls is not None and cert_dir is None:
            shutil.rmtree(Path(tls.ca_file).parent, ignore_errors=True)


def _announcer(tls: TLSFiles) -> Callable[[str], None]:
    def announce(url: str) -> None:
        click.echo(url)
        click.echo(f"ca: {tls.ca_file}")
        sys.stdout.flush()

    return announce
