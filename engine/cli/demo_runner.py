"""``zoomforce demo``: the whole job on this machine, with no account.

It starts the local Zoom emulator (a synthetic account) and the Salesforce emulator (HTTPS with a
fresh self-signed CA) on 127.0.0.1, puts a few Contacts and Leads in the Salesforce org (some with
the e-mail of a Zoom registrant, so the links by e-mail resolve; some new, for the reverse flow),
syncs every entity through the real httpx and simple-salesforce clients, registers the Contacts and
Leads for a webinar (the reverse flow), and stops the emulators. The disclosure is written first, so
that a bad ``--output`` or ``--lang`` is told at once rather than after the sync.

The state starts empty: the emulators do every time, and a state that remembered records would
skip writing them to the new org. A ``--state`` that already holds data is refused, lest the demo's
cursors and hashes land in an operator's real state file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.disclosure.build import build_disclosure
from engine.disclosure.inputs import DisclosureInputs, load_inputs
from engine.disclosure.render import render
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.emulators.zoom.data import Account
from engine.errors import InputError
from engine.resources import default_mappings_dir, schemas_dir
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter
from engine.serving import RunningServer, start_in_thread
from engine.sync.report import Failures, Progress, SyncReport, no_failures
from engine.sync.runner import SyncOptions, SyncRunner, default_entities
from engine.sync.state.store import StateStore
from engine.zoom.client import ZoomClient, ZoomCredentials
from engine.zoom.reader import ZoomSource

DEMO_CREDENTIAL = "demo"


@dataclass
class DemoResult:
    report: SyncReport
    webinar: str
    disclosure: Path


@dataclass
class Emulators:
    zoom: RunningServer
    salesforce: RunningServer
    account: Account
    ca_file: str


@contextmanager
def running_emulators(users: int) -> Iterator[Emulators]:
    """Both emulators on loopback, with the demo's people in the Salesforce org."""
    cert_dir = Path(tempfile.mkdtemp(prefix="zoomforce-demo-"))
    zoom = zoom_app(ZoomEmulatorConfig(users=users))
    # The org has the fields zoomforce adds deployed (the shipped catalog, as it is): the demo syncs everything.
    sf = salesforce_app(SalesforceEmulatorConfig(catalog_dir=schemas_dir() / "salesforce"))
    zoom_server = salesforce_server = None
    try:
        tls = make_tls_files(cert_dir)
        zoom_server = start_in_thread(zoom)
        salesforce_server = start_in_thread(sf, tls=tls)
        account: Account = zoom.state.account
        seed_people(sf.state.store, account)
        yield Emulators(zoom_server, salesforce_server, account, tls.ca_file)
    finally:
        for server in (zoom_server, salesforce_server):
            if server is not None:
                server.stop()
        close_app(zoom)
        shutil.rmtree(cert_dir, ignore_errors=True)


def seed_people(org: object, account: Account) -> None:
    """Contacts with the e-mails of a few Zoom registrants, and new Contacts and Leads to register."""
    create = org.create  # type: ignore[attr-defined]
    emails = []
    for webinar_id in account.webinar_ids():
        webinar = account.find_webinar(str(webinar_id))
        if webinar is not None:
            emails += [r.get("email") for r in webinar.registrants if r.get("email")]
    for number, email in enumerate(emails[:3]):
        create("Contact", {"FirstName": "Known", "LastName": f"Registrant {number + 1}", "Email": email})
    people = [("Ada", "Lovelace", "ada.lovelace@example.com"), ("Alan", "Turing", "alan.turing@example.com")]
    for first, last, email in people:
        create("Contact", {"FirstName": first, "LastName": last, "Email": email})
    create("Lead", {"FirstName": "Grace", "LastName": "Hopper", "Email": "grace.hopper@example.com", "Company": "Navy"})
    create("Lead", {"FirstName": "Ada", "LastName": "Lovelace", "Email": "Ada.Lovelace@example.com",
                    "Company": "Analytical Engines"})


@contextmanager
def _trusting(ca_file: str) -> Iterator[None]:
    """The Salesforce client trusts the emulator's CA through the standard variable, for the demo only."""
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = ca_file
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous


def _fresh_state(path: Path | None) -> None:
    if path is not None and path.exists() and (not path.is_file() or path.stat().st_size > 0):
        raise InputError(f"--state {path} already exists; the demo starts from an empty state: give a new file")


def _write_disclosure(inputs: DisclosureInputs, language: str, output: Path) -> None:
    text = render(build_disclosure(inputs.mapping_set, language, inputs.facts), "markdown")
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from exc


def run_demo(
    *, users: int, state_path: Path | None, output: Path, language: str, progress: Progress,
    say: Callable[[str], object], failures: Failures = no_failures,
) -> DemoResult:
    _fresh_state(state_path)
    inputs = load_inputs(default_mappings_dir())
    mapping_set = inputs.mapping_set
    _write_disclosure(inputs, language, output)
    work = Path(tempfile.mkdtemp(prefix="zoomforce-demo-state-"))
    try:
        with running_emulators(users) as emulators, _trusting(emulators.ca_file):
            say(f"zoomforce: Zoom emulator at {emulators.zoom.url}, Salesforce emulator at {emulators.salesforce.url}")
            webinar = str(next(iter(emulators.account.webinar_ids())))
            zoom = ZoomClient(ZoomCredentials(DEMO_CREDENTIAL, DEMO_CREDENTIAL, DEMO_CREDENTIAL,
                                              api_url=f"{emulators.zoom.url}/v2",
                                              oauth_url=f"{emulators.zoom.url}/oauth/token"))
            salesforce = SalesforceWriter(SalesforceCredentials(emulators.salesforce.url, client_id=DEMO_CREDENTIAL,
                                                                client_secret=DEMO_CREDENTIAL))
            try:
                with StateStore.open(state_path or work / "zoomforce.db") as store:
                    runner = SyncRunner(mapping_set, store, ZoomSource(zoom), salesforce, progress=progress,
                                        failures=failures)
                    entities = (*default_entities(mapping_set), "registrations")
                    report = runner.run(SyncOptions(entities=entities, webinar=webinar))
            finally:
                zoom.close()
                salesforce.close()
        return DemoResult(report, webinar, output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
