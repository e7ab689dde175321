"""``zoomforce map`` streams: a record is written as it is mapped, so memory stays flat however long the input.

Before streaming, 20,000 meeting lines held about 250 MB (every record and result kept); the run
below must stay under 100 MB of peak RSS, measured by the process itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.language.streaming import iter_records
from tests.helpers import REPO

LINES = 20_000
PROBE = """
import sys
from engine.cli.main import cli
code = None
try:
    cli(["map", "meetings", "--input", sys.argv[1]], prog_name="zoomforce")
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
# VmHWM, this process's own peak (ru_maxrss would carry the forking parent's across exec)
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(peak, code, file=sys.stderr)
"""


def _meeting(n: int) -> dict[str, object]:
    return {"id": 85746065432 + n, "topic": f"Weekly sync #{n} " + "x" * 200, "duration": 30,
            "join_url": f"https://example.zoom.us/j/{n}", "start_time": "2026-03-01T08:00:00Z",
            "host_id": "h", "agenda": "a" * 2000}


def test_map_writes_every_line_in_flat_memory(tmp_path: Path) -> None:
    source = tmp_path / "meetings.jsonl"
    source.write_text("".join(json.dumps(_meeting(n)) + "\n" for n in range(LINES)), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    with output.open("w", encoding="utf-8") as sink:
        result = subprocess.run([sys.executable, "-c", PROBE, str(source)], stdout=sink, stderr=subprocess.PIPE,
                                text=True, timeout=600, cwd=REPO)
    peak_kb, code = result.stderr.strip().splitlines()[-1].split()
    assert code in ("0", "None"), result.stderr[-2000:]
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == LINES
    assert json.loads(lines[-1])["upsert_key"] == {"zoom_app__Zoom_Meeting_Id__c": str(85746065432 + LINES - 1)}
    assert int(peak_kb) < 100 * 1024, f"peak RSS {int(peak_kb) // 1024} MB"


def test_json_lines_are_read_one_by_one_and_other_input_whole() -> None:
    consumed: list[int] = []

    def lines() -> object:
        for n in range(5):
            consumed.append(n)
            yield json.dumps({"id": n}) + "\n"

    records = iter_records(lines())  # type: ignore[arg-type]
    assert next(records) == {"id": 0}
    assert consumed == [0, 1]  # the first record comes once two lines are read, not all five
    assert [r["id"] for r in records] == [1, 2, 3, 4]
    assert list(iter_records(['{"records": [\n', '{"id": 1}, {"id": 2}\n', "]}\n"],
                             None)) == [{"records": [{"id": 1}, {"id": 2}]}]
    assert list(iter_records(["\n", '[{"id": 1},\n', '{"id": 2}]\n'])) == [{"id": 1}, {"id": 2}]
    bad = list(iter_records(["\n", '{"id": 1}\n', "\n", "nope\n"]))
    assert bad[0] == {"id": 1} and str(bad[1].reason if hasattr(bad[1], "reason") else bad[1]).startswith(
        "input line 3 is not JSON")
