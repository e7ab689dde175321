"""What a command imports at start-up: `--help` loads no engine layer (nor logging), `validate` neither fideslang
nor pydantic, and `validate` of valid mappings not jsonschema either (jsonschema-rs finds them valid;
jsonschema only explains an invalid file).

Start-up time is measured by ``python -X importtime`` and reported in docs (tests never assert on
time); what is imported is asserted here, since that is what the time follows from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

PROBE = """
import sys
from engine.cli.main import cli
try:
    cli({args!r}, prog_name="zoomforce")
except SystemExit:
    pass
loaded = sorted(sys.modules)  # before the probe's own json
import json
print(json.dumps(loaded), file=sys.stderr)
"""


def _modules_after(args: list[str]) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_help_imports_no_layer_of_the_engine_and_no_client() -> None:
    loaded = _modules_after(["--help"])
    heavy = {"jsonschema", "jsonschema_rs", "fideslang", "pydantic", "httpx", "simple_salesforce", "sqlite3", "yaml",
             "jmespath", "json", "logging", "engine.logs.records", "difflib", "signal", "engine.language",
             "engine.sync", "engine.validate", "engine.zoom", "engine.salesforce"}
    assert "engine.cli.main" in loaded
    assert heavy.isdisjoint(loaded), sorted(heavy & loaded)


def test_validate_reads_the_taxonomy_from_shipped_data_not_from_fideslang() -> None:
    loaded = _modules_after(["validate", str(REPO / "mappings")])
    assert "engine.validate.taxonomy" in loaded
    assert {"fideslang", "pydantic", "httpx", "simple_salesforce"}.isdisjoint(loaded)


def test_validate_of_valid_mappings_imports_no_jsonschema_nor_what_only_other_commands_use() -> None:
    loaded = _modules_after(["validate", str(REPO / "mappings")])
    assert "jsonschema_rs" in loaded
    deferred = {"jsonschema", "referencing", "attrs", "fideslang", "pydantic", "httpx", "simple_salesforce", "jinja2",
                "sqlite3", "starlette", "uvicorn", "cryptography", "psycopg", "engine.sync", "engine.serve",
                "engine.language.schema_errors"}
    assert deferred.isdisjoint(loaded), sorted(deferred & loaded)


def test_validate_of_an_invalid_mapping_explains_it_with_jsonschema(tmp_path: Path) -> None:
    broken = tmp_path / "users.yaml"
    broken.write_text((REPO / "mappings" / "users.yaml").read_text(encoding="utf-8").replace(
        "entity: users", "entitty: users", 1), encoding="utf-8")
    loaded = _modules_after(["validate", str(broken)])
    assert {"jsonschema", "engine.language.schema_errors"} <= loaded
