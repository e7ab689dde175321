"""API calls and throughput of ``sync`` against the local emulators, as ratios between runs in one process.

    python benchmarks/bench_sync.py [--users N] [--latency-ms MS] [--concurrency C] [--zoom-plan PLAN] [--quick]

Runs, against the same emulated Zoom account and a fresh emulated org each time:

- a first sync through sObject Collections (the baseline);
- a second sync on the same state (unchanged records cost no Salesforce write);
- a first sync through Bulk API 2.0 (every object above the threshold).

It prints the records read and written per second and the API calls of each, and the ratios
against the baseline; then per run the wall time against the floor that Zoom's rate limits (per
label, on ``--zoom-plan``) and ``--concurrency`` allow at the given ``--latency-ms`` (every emulated
Zoom response is delayed that long), and the process's peak RSS. The last line is one JSON object
with all of it. The emulators run in this process on loopback; the account is sized by ``--users``
(each user has a few meetings, webinars with registrants and attendees, and calls).
``--quick`` (2 users) only proves it runs.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from engine.cli.demo_runner import DEMO_CREDENTIAL, Emulators, _trusting, seed_people
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.resources import schemas_dir
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter
from engine.serving import start_in_thread
from engine.sync.report import SyncReport
from engine.sync.runner import SyncOptions, SyncRunner, default_entities
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import load_mapping_set
from engine.zoom.client import ZoomClient, ZoomCredentials
from engine.zoom.reader import ZoomSource
from engine.zoom.schemas import load_source_index
from engine.zoom.throttle import Throttle, labels_from_index

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


@contextmanager
def emulators_with(users: int, latency_ms: int) -> Iterator[Emulators]:
    """Both emulators on loopback (Zoom answering after `latency_ms`), the demo's people in the org."""
    cert_dir = Path(tempfile.mkdtemp(prefix="zoomforce-bench-"))
    zoom = zoom_app(ZoomEmulatorConfig(users=users, latency_ms=latency_ms))
    sf = salesforce_app(SalesforceEmulatorConfig(catalog_dir=schemas_dir() / "salesforce"))  # the additions deployed
    servers = []
    try:
        tls = make_tls_files(cert_dir)
        servers.append(start_in_thread(zoom))
        servers.append(start_in_thread(sf, tls=tls))
        seed_people(sf.state.store, zoom.state.account)
        yield Emulators(servers[0], servers[1], zoom.state.account, tls.ca_file)
    finally:
        for server in servers:
            server.stop()
        close_app(zoom)
        shutil.rmtree(cert_dir, ignore_errors=True)


def one_run(emulators: Emulators, state: Path, bulk_threshold: int, concurrency: int = 8,
            plan: str = "pro") -> tuple[SyncReport, float, Throttle]:
    mapping_set = load_mapping_set([MAPPINGS]).raise_if_invalid()
    root = emulators.zoom.url
    zoom = ZoomClient(ZoomCredentials(DEMO_CREDENTIAL, DEMO_CREDENTIAL, DEMO_CREDENTIAL,
                                      api_url=f"{root}/v2", oauth_url=f"{root}/oauth/token"))
    index = load_source_index()
    throttle = zoom.throttle = Throttle(plan, concurrency, labels_from_index(index))
    # the CLI's own poll schedule (the first poll at once, then from 0.1 s), not a faster one
    writer = SalesforceWriter(SalesforceCredentials(emulators.salesforce.url, client_id=DEMO_CREDENTIAL,
                                                    client_secret=DEMO_CREDENTIAL),
                              bulk_threshold=bulk_threshold)
    try:
        with StateStore.open(state) as store:
            started = time.perf_counter()
            report = SyncRunner(mapping_set, store, ZoomSource(zoom, index), writer).run(
                SyncOptions(entities=tuple(default_entities(mapping_set))))
            return report, time.perf_counter() - started, throttle
    finally:
        zoom.close()
        writer.close()


def floor_seconds(throttle: Throttle, zoom_calls: int, latency_ms: int) -> float:
    """The least wall time the Zoom calls could take: each label at its plan's rate, `concurrency` at a time."""
    by_rate = 0.0
    for label, count in throttle.requests.items():
        amount, period = throttle.window(label)  # a moving window: `amount` at once, the next after `period`
        by_rate = max(by_rate, max(math.ceil(count / amount) - 1, 0) * period)
    return max(by_rate, zoom_calls * latency_ms / 1000 / throttle.concurrency)


def figures(report: SyncReport, seconds: float, throttle: Throttle, latency_ms: int) -> dict[str, Any]:
    written = sum(c.written for c in report.entities.values())
    read = sum(c.read for c in report.entities.values())
    floor = floor_seconds(throttle, report.api_calls["zoom"], latency_ms)
    return {"read": read, "written": written, "seconds": round(seconds, 3),
            "written_per_s": round(written / seconds, 1) if seconds else 0.0,
            "read_per_s": round(read / seconds, 1) if seconds else 0.0,
            "zoom_calls": report.api_calls["zoom"], "zoom_calls_by_label": dict(throttle.requests),
            "salesforce_calls": report.api_calls["salesforce"], "floor_seconds": round(floor, 3),
            "wall_vs_floor": round(seconds / floor, 2) if floor else None}


def line(name: str, report: SyncReport, seconds: float) -> str:
    written = sum(c.written for c in report.entities.values())
    read = sum(c.read for c in report.entities.values())
    calls = report.api_calls
    return (f"{name:<22} read {read:>6}  written {written:>6}  {read / seconds:>9,.0f} records/s  "
            f"zoom calls {calls['zoom']:>5}  salesforce calls {calls['salesforce']:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="users in the emulated Zoom account (default 20)")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay of every emulated Zoom response (default 0)")
    parser.add_argument("--concurrency", type=int, default=8, help="Zoom requests in flight (default 8)")
    parser.add_argument("--zoom-plan", default="pro", help="the rate limits to keep: free, pro, business")
    parser.add_argument("--quick", action="store_true", help="2 users: only proves it runs")
    arguments = parser.parse_args()
    users = 2 if arguments.quick else arguments.users
    latency, concurrency, plan = arguments.latency_ms, arguments.concurrency, arguments.zoom_plan
    work = Path(tempfile.mkdtemp(prefix="zoomforce-bench-"))
    with emulators_with(users, latency) as emulators, _trusting(emulators.ca_file):
        first, first_time, first_throttle = one_run(emulators, work / "collections.db", 10**9, concurrency, plan)
        second, second_time, second_throttle = one_run(emulators, work / "collections.db", 10**9, concurrency, plan)
        requests.post(f"{emulators.salesforce.url}/_emulator/reset", timeout=30)
        bulk, bulk_time, bulk_throttle = one_run(emulators, work / "bulk.db", 1, concurrency, plan)
    print(line("first run (Collections)", first, first_time))
    print(line("second run (unchanged)", second, second_time))
    print(line("first run (Bulk 2.0)", bulk, bulk_time))
    base_calls = max(first.api_calls["salesforce"], 1)
    print(f"second / first salesforce calls   {second.api_calls['salesforce'] / base_calls:>8.2f}x")
    print(f"second / first time               {second_time / first_time:>8.2f}x")
    print(f"bulk / collections salesforce calls {bulk.api_calls['salesforce'] / base_calls:>6.2f}x")
    print(f"bulk / collections time           {bulk_time / first_time:>8.2f}x")
    runs = {"first": figures(first, first_time, first_throttle, latency),
            "unchanged": figures(second, second_time, second_throttle, latency),
            "bulk": figures(bulk, bulk_time, bulk_throttle, latency)}
    for name, run in runs.items():
        print(f"{name:<10} wall {run['seconds']:>8.2f} s  rate-limit floor {run['floor_seconds']:>8.2f} s  "
              f"written {run['written_per_s']:>9,.1f}/s  zoom calls {run['zoom_calls']:>6}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (the whole benchmark process, emulators included) {peak_mb:.0f} MB")
    summary = {"users": users, "latency_ms": latency, "concurrency": concurrency, "zoom_plan": plan,
               "runs": runs, "peak_rss_mb": round(peak_mb, 1)}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
