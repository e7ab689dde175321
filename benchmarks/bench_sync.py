"""API calls and throughput of ``sync`` against the local emulators, as ratios between runs in one process.

    python benchmarks/bench_sync.py [--users N]

Runs, against the same emulated Zoom account and a fresh emulated org each time:

- a first sync through sObject Collections (the baseline);
- a second sync on the same state (unchanged records cost no Salesforce write);
- a first sync through Bulk API 2.0 (every object above the threshold).

It prints the records written per second and the API calls of each, and the ratios against the
baseline. The emulators run in this process on loopback, so the numbers measure zoomforce and the
clients, not a network; compare ratios between versions, not the absolute rates.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import requests

from engine.cli.demo_runner import DEMO_CREDENTIAL, Emulators, _trusting, running_emulators
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter
from engine.sync.report import SyncReport
from engine.sync.runner import SyncOptions, SyncRunner, default_entities
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import load_mapping_set
from engine.zoom.client import ZoomClient, ZoomCredentials
from engine.zoom.reader import ZoomSource

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def one_run(emulators: Emulators, state: Path, bulk_threshold: int) -> tuple[SyncReport, float]:
    mapping_set = load_mapping_set([MAPPINGS]).raise_if_invalid()
    root = emulators.zoom.url
    zoom = ZoomClient(ZoomCredentials(DEMO_CREDENTIAL, DEMO_CREDENTIAL, DEMO_CREDENTIAL,
                                      api_url=f"{root}/v2", oauth_url=f"{root}/oauth/token"))
    writer = SalesforceWriter(SalesforceCredentials(emulators.salesforce.url, client_id=DEMO_CREDENTIAL,
                                                    client_secret=DEMO_CREDENTIAL),
                              bulk_threshold=bulk_threshold, poll_interval=0.01)
    try:
        with StateStore.open(state) as store:
            started = time.perf_counter()
            report = SyncRunner(mapping_set, store, ZoomSource(zoom), writer).run(
                SyncOptions(entities=tuple(default_entities(mapping_set))))
            return report, time.perf_counter() - started
    finally:
        zoom.close()
        writer.close()


def line(name: str, report: SyncReport, seconds: float) -> str:
    written = sum(c.written for c in report.entities.values())
    read = sum(c.read for c in report.entities.values())
    calls = report.api_calls
    return (f"{name:<22} read {read:>6}  written {written:>6}  {read / seconds:>9,.0f} records/s  "
            f"zoom calls {calls['zoom']:>5}  salesforce calls {calls['salesforce']:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zoomforce-bench-"))
    with running_emulators(arguments.users) as emulators, _trusting(emulators.ca_file):
        first, first_time = one_run(emulators, work / "collections.db", bulk_threshold=10**9)
        second, second_time = one_run(emulators, work / "collections.db", bulk_threshold=10**9)
        requests.post(f"{emulators.salesforce.url}/_emulator/reset", timeout=30)
        bulk, bulk_time = one_run(emulators, work / "bulk.db", bulk_threshold=1)
    print(line("first run (Collections)", first, first_time))
    print(line("second run (unchanged)", second, second_time))
    print(line("first run (Bulk 2.0)", bulk, bulk_time))
    base_calls = max(first.api_calls["salesforce"], 1)
    print(f"second / first salesforce calls   {second.api_calls['salesforce'] / base_calls:>8.2f}x")
    print(f"second / first time               {second_time / first_time:>8.2f}x")
    print(f"bulk / collections salesforce calls {bulk.api_calls['salesforce'] / base_calls:>6.2f}x")
    print(f"bulk / collections time           {bulk_time / first_time:>8.2f}x")


if __name__ == "__main__":
    main()
