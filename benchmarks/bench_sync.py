"""``sync`` against the local emulators: records written per second, API calls against the minimum
the mappings need, wall time against the rate-limit floor, and the sync's own peak RSS.

    python benchmarks/bench_sync.py [--records N | --users N] [--latency-ms MS] [--concurrency C]
                                    [--zoom-plan PLAN] [--quick]

Runs, against the same emulated Zoom account and a fresh emulated org each time:

- a first sync through sObject Collections (the baseline);
- a second sync on the same state (unchanged records cost no Salesforce write);
- a first sync through Bulk API 2.0 (every object above the threshold).

``--records N`` (1k to 100k) sizes the account through the Zoom emulator's size options
(``meetings_per_user`` and the others, ``ACCOUNT_SIZES``) with as many users as make about N records
written; ``--users N`` keeps the emulator's default layout (a few meetings, webinars and calls each).
Every emulated Zoom response is delayed ``--latency-ms``.

Each run prints, and the last line (one JSON object) holds:

- records written per second (not records read: a listed record is not yet a result);
- Zoom calls against the minimum: every distinct request the run made (a page, a detail, an
  include) once; on the unchanged rerun, the list pages only (the mappings' ``list`` endpoints), since a listed
  record whose signal fields have not changed needs no detail read within its mapping's
  ``max_age``. ``zoom_repeated`` counts the requests sent more than once, ``zoom_detail_calls``
  those to endpoints that are no mapping's listing (details and includes);
- Salesforce calls by kind (writes, look-ups, other: describe and limits) against the least writes
  the mappings need: ``ceil(written / 200)`` sObject Collections calls per entity, six calls per
  entity on Bulk API 2.0 (create, upload, close, one poll, successful and failed results), none on
  the unchanged rerun (no look-up either);
- the wall time against the floor Zoom's rate limits (per label, on ``--zoom-plan``) and
  ``--concurrency`` allow for the calls made at that latency;
- the peak RSS of the sync alone: each run is its own process (spawned, not forked), the emulators
  stay in this one; read as VmHWM where Linux has it (``ru_maxrss`` would carry this process's peak
  into the spawned one).

``--quick`` (2 users) only proves it runs.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import resource
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import requests
from starlette.applications import Starlette

from engine.cli.demo_runner import DEMO_CREDENTIAL, _trusting, seed_people
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.emulators.zoom.data import Account, Sizes
from engine.resources import schemas_dir
from engine.salesforce.writer import COLLECTION_LIMIT, SalesforceCredentials, SalesforceWriter
from engine.serving import RunningServer, start_in_thread
from engine.sync.runner import SyncOptions, SyncRunner, default_entities
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import load_mapping_set
from engine.zoom.client import ZoomClient, ZoomCredentials
from engine.zoom.reader import ZoomSource
from engine.zoom.schemas import load_source_index
from engine.zoom.throttle import Throttle, labels_from_index

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"

# The account --records sizes (per user; the user count follows from N): every user has Zoom Phone
# calls, meetings with participants and recordings, and webinars with registrants and attendees.
ACCOUNT_SIZES = Sizes(meetings_per_user=6, calls_per_user=10, webinars_per_user=2, registrants_per_webinar=20,
                      attendees_per_webinar=12)
RECORDS_PER_USER = 60  # about what one user of ACCOUNT_SIZES gives written (checked by the run: see "written")
BULK_CALLS_PER_JOB = 6  # create, upload, close, one poll, successful and failed results
WRITE_ROUTES = ("collections_", "create", "update", "upsert", "delete", "composite", "bulk_")
LOOKUP_ROUTES = ("query", "query_more", "record", "record_by_key", "collections_retrieve")


@dataclass
class Bench:
    zoom: RunningServer
    salesforce: RunningServer
    salesforce_app: Starlette
    account: Account
    ca_file: str


@contextmanager
def emulators_with(users: int, latency_ms: int, sizes: Sizes | None) -> Iterator[Bench]:
    """Both emulators on loopback (Zoom answering after `latency_ms`), the demo's people in the org."""
    cert_dir = Path(tempfile.mkdtemp(prefix="zoomforce-bench-"))
    size_options = vars(sizes) if sizes is not None else {}
    zoom = zoom_app(ZoomEmulatorConfig(users=users, latency_ms=latency_ms, **size_options))
    sf = salesforce_app(SalesforceEmulatorConfig(catalog_dir=schemas_dir() / "salesforce"))  # the additions deployed
    servers = []
    try:
        tls = make_tls_files(cert_dir)
        servers.append(start_in_thread(zoom))
        servers.append(start_in_thread(sf, tls=tls))
        seed_people(sf.state.store, zoom.state.account)
        yield Bench(servers[0], servers[1], sf, zoom.state.account, tls.ca_file)
    finally:
        for server in servers:
            server.stop()
        close_app(zoom)
        shutil.rmtree(cert_dir, ignore_errors=True)


# ------------------------------------------------------------------------- one run, its own process


def listing_patterns(mapping_set: Any) -> list[re.Pattern[str]]:
    """The paths the mappings list records with (each `source.list` endpoint, paged or not), as patterns.

    A listing is what an unchanged rerun must still call: the panelists' ``GET
    /webinars/{webinarId}/panelists`` is one, though Zoom does not page it.
    """
    endpoints = {listing.endpoint for mapping in mapping_set.mappings.values() if mapping.source.system == "zoom"
                 for listing in mapping.source.listings}
    patterns = []
    for endpoint in sorted(endpoints):
        template = "/" + endpoint.partition(" ")[2].strip("/")
        patterns.append(re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))))
    return patterns


def one_run(zoom_url: str, salesforce_url: str, ca_file: str, state: str, bulk_threshold: int, concurrency: int,
            plan: str) -> dict[str, Any]:
    """One sync in this (fresh) process: its report, wall time, Zoom requests and peak RSS."""
    os.environ["REQUESTS_CA_BUNDLE"] = ca_file
    mapping_set = load_mapping_set([MAPPINGS]).raise_if_invalid()
    sent: list[tuple[str, str]] = []

    def record(request: httpx.Request) -> None:
        if "/v2/" in request.url.path:
            sent.append((request.method, str(request.url)))

    http = httpx.Client(timeout=30.0, event_hooks={"request": [record]})
    zoom = ZoomClient(ZoomCredentials(DEMO_CREDENTIAL, DEMO_CREDENTIAL, DEMO_CREDENTIAL,
                                      api_url=f"{zoom_url}/v2", oauth_url=f"{zoom_url}/oauth/token"), http=http)
    index = load_source_index()
    throttle = zoom.throttle = Throttle(plan, concurrency, labels_from_index(index))
    # the CLI's own Bulk poll schedule, not a faster one
    writer = SalesforceWriter(SalesforceCredentials(salesforce_url, client_id=DEMO_CREDENTIAL,
                                                    client_secret=DEMO_CREDENTIAL), bulk_threshold=bulk_threshold)
    try:
        with StateStore.open(Path(state)) as store:
            started = time.perf_counter()
            report = SyncRunner(mapping_set, store, ZoomSource(zoom, index), writer).run(
                SyncOptions(entities=tuple(default_entities(mapping_set))))
            seconds = time.perf_counter() - started
    finally:
        zoom.close()
        writer.close()
        http.close()
    listed = listing_patterns(mapping_set)
    distinct = set(sent)
    is_list = [any(p.fullmatch(httpx.URL(url).path.partition("/v2")[2]) for p in listed) for _, url in distinct]
    return {"seconds": seconds, "api_calls": dict(report.api_calls),
            "entities": {name: {"read": c.read, "written": c.written, "failed": c.failed}
                         for name, c in report.entities.items()},
            "zoom_by_label": dict(throttle.requests), "zoom_sent": len(sent), "zoom_distinct": len(distinct),
            "zoom_distinct_lists": sum(is_list), "zoom_repeated": len(sent) - len(distinct),
            "peak_rss_mb": own_peak_rss_mb()}


def own_peak_rss_mb() -> float:
    """This process's peak RSS since it started its program. Linux's VmHWM: ``ru_maxrss`` keeps, across the
    exec of a spawned process, the peak of the image it was forked from: the emulators' by the second run."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kilobytes) / 1024


def run_apart(bench: Bench, state: Path, bulk_threshold: int, concurrency: int, plan: str) -> dict[str, Any]:
    """`one_run` in a spawned process, with the Salesforce calls the org saw meanwhile, by kind."""
    before = Counter(salesforce_routes(bench))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(one_run, bench.zoom.url, bench.salesforce.url, bench.ca_file, str(state),
                             bulk_threshold, concurrency, plan).result()
    calls = Counter(salesforce_routes(bench))
    calls.subtract(before)
    kinds = {"writes": 0, "lookups": 0, "other": 0}
    for route, count in calls.items():
        kind = ("writes" if route.startswith(WRITE_ROUTES) else "lookups" if route in LOOKUP_ROUTES else "other")
        kinds[kind] += count
    result["salesforce_by_kind"] = kinds
    return result


def salesforce_routes(bench: Bench) -> dict[str, int]:
    stats = bench.salesforce_app.state.stats.as_dict()["routes"]
    return {route: sum(by_status.values()) for route, by_status in stats.items() if route != "oauth_token"}


# ----------------------------------------------------------------------------------- the figures


def floor_seconds(throttle: Throttle, by_label: dict[str, int], zoom_calls: int, latency_ms: int) -> float:
    """The least wall time the Zoom calls could take: each label at its plan's rate, `concurrency` at a time."""
    by_rate = 0.0
    for label, count in by_label.items():
        amount, period = throttle.window(label)  # a moving window: `amount` at once, the next after `period`
        by_rate = max(by_rate, max(math.ceil(count / amount) - 1, 0) * period)
    return max(by_rate, zoom_calls * latency_ms / 1000 / throttle.concurrency)


def figures(name: str, run: dict[str, Any], throttle: Throttle, latency_ms: int) -> dict[str, Any]:
    entities = run["entities"].values()
    written, read = sum(e["written"] for e in entities), sum(e["read"] for e in entities)
    seconds, zoom_calls = run["seconds"], run["api_calls"]["zoom"]
    floor = floor_seconds(throttle, run["zoom_by_label"], zoom_calls, latency_ms)
    if name == "unchanged":
        zoom_min, writes_min = run["zoom_distinct_lists"], 0
    elif name == "bulk":
        zoom_min = run["zoom_distinct"]
        writes_min = BULK_CALLS_PER_JOB * sum(1 for e in entities if e["written"])
    else:
        zoom_min = run["zoom_distinct"]
        writes_min = sum(math.ceil(e["written"] / COLLECTION_LIMIT) for e in entities)
    kinds = run["salesforce_by_kind"]
    return {"read": read, "written": written, "seconds": round(seconds, 3),
            "written_by_entity": {entity: e["written"] for entity, e in run["entities"].items()},
            "written_per_s": round(written / seconds, 1) if seconds else 0.0,
            "zoom_calls": zoom_calls, "zoom_min": zoom_min, "zoom_repeated": run["zoom_repeated"],
            "zoom_detail_calls": run["zoom_distinct"] - run["zoom_distinct_lists"],
            "zoom_calls_by_label": run["zoom_by_label"],
            "salesforce_calls": run["api_calls"]["salesforce"], "salesforce_writes": kinds["writes"],
            "salesforce_writes_min": writes_min, "salesforce_lookups": kinds["lookups"],
            "salesforce_other": kinds["other"], "floor_seconds": round(floor, 3),
            "wall_vs_floor": round(seconds / floor, 2) if floor else None,
            "peak_rss_mb": round(run["peak_rss_mb"], 1)}


def line(name: str, run: dict[str, Any]) -> str:
    return (f"{name:<22} read {run['read']:>6}  written {run['written']:>6}  {run['written_per_s']:>9,.0f} records/s  "
            f"zoom calls {run['zoom_calls']:>5}  salesforce calls {run['salesforce_calls']:>5}")


def detail(name: str, run: dict[str, Any]) -> str:
    vs_floor = f"{run['wall_vs_floor']:.2f}x" if run["wall_vs_floor"] is not None else "-"
    return (f"{name:<10} wall {run['seconds']:>8.2f} s  rate-limit floor {run['floor_seconds']:>8.2f} s ({vs_floor})  "
            f"zoom calls {run['zoom_calls']:>6} / min {run['zoom_min']:>6} (repeated {run['zoom_repeated']}, "
            f"detail {run['zoom_detail_calls']})  salesforce writes {run['salesforce_writes']:>5} / min "
            f"{run['salesforce_writes_min']:>5}, look-ups {run['salesforce_lookups']:>5}, other "
            f"{run['salesforce_other']:>3}  peak RSS {run['peak_rss_mb']:>6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--records", type=int, help="about N records written (1,000 to 100,000): a sized account")
    size.add_argument("--users", type=int, default=20, help="users in the default account layout (default 20)")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay of every emulated Zoom response (default 0)")
    parser.add_argument("--concurrency", type=int, default=8, help="Zoom requests in flight (default 8)")
    parser.add_argument("--zoom-plan", default="pro", help="the rate limits to keep: free, pro, business")
    parser.add_argument("--quick", action="store_true", help="2 users: only proves it runs")
    arguments = parser.parse_args()
    if arguments.records is not None and not 1000 <= arguments.records <= 100_000:
        parser.error("--records is between 1000 and 100000")
    sizes = ACCOUNT_SIZES if arguments.records is not None and not arguments.quick else None
    users = (2 if arguments.quick else max(1, round(arguments.records / RECORDS_PER_USER)) if sizes
             else arguments.users)
    latency, concurrency, plan = arguments.latency_ms, arguments.concurrency, arguments.zoom_plan
    throttle = Throttle(plan, concurrency)
    work = Path(tempfile.mkdtemp(prefix="zoomforce-bench-"))
    try:
        with emulators_with(users, latency, sizes) as bench, _trusting(bench.ca_file):
            first = run_apart(bench, work / "collections.db", 10**9, concurrency, plan)
            second = run_apart(bench, work / "collections.db", 10**9, concurrency, plan)
            requests.post(f"{bench.salesforce.url}/_emulator/reset", timeout=30)
            seed_people(bench.salesforce_app.state.store, bench.account)
            bulk = run_apart(bench, work / "bulk.db", 1, concurrency, plan)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    runs = {"first": figures("first", first, throttle, latency),
            "unchanged": figures("unchanged", second, throttle, latency),
            "bulk": figures("bulk", bulk, throttle, latency)}
    print(line("first run (Collections)", runs["first"]))
    print(line("second run (unchanged)", runs["unchanged"]))
    print(line("first run (Bulk 2.0)", runs["bulk"]))
    base_calls = max(runs["first"]["salesforce_calls"], 1)
    print(f"second / first salesforce calls   {runs['unchanged']['salesforce_calls'] / base_calls:>8.2f}x")
    print(f"second / first time               {runs['unchanged']['seconds'] / runs['first']['seconds']:>8.2f}x")
    print(f"bulk / collections salesforce calls {runs['bulk']['salesforce_calls'] / base_calls:>6.2f}x")
    print(f"bulk / collections time           {runs['bulk']['seconds'] / runs['first']['seconds']:>8.2f}x")
    for name, run in runs.items():
        print(detail(name, run))
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (the emulators, not the sync) {parent_mb:.0f} MB")
    summary = {"users": users, "records_asked": arguments.records, "sizes": vars(sizes) if sizes else None,
               "latency_ms": latency, "concurrency": concurrency, "zoom_plan": plan, "runs": runs,
               "peak_rss_mb": max(run["peak_rss_mb"] for run in runs.values()),
               "emulators_rss_mb": round(parent_mb, 1)}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
