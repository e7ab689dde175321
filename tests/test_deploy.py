"""Packaging for a cluster: the Dockerfile (hadolint), deploy/kubernetes/ (kubernetes-validate), compose.yaml.

No container engine runs here: the image is not built, the manifests are not applied (docs/service.md
has the commands). What can be checked without one is: the linters pass on ours and fail on a broken
copy (so the check can fail), and every command line in the manifests is one zoomforce accepts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
COMPOSE = REPO / "deploy" / "compose.yaml"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def _documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def _accepted(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`zoomforce ARGS --help`: exit 0 when every option in ARGS exists (click refuses an unknown one, exit 2)."""
    return subprocess.run([sys.executable, "-m", "engine", *args, "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


# ---- the Dockerfile -----------------------------------------------------------------------------


def test_hadolint_passes_on_the_dockerfile_and_fails_on_a_broken_one(tmp_path: Path) -> None:
    hadolint = _tool("hadolint")
    ours = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN apt-get install curl\nRUN pip install zoomforce\n", encoding="utf-8")
    theirs = subprocess.run([hadolint, str(broken)], capture_output=True, text=True, timeout=60)
    assert theirs.returncode != 0 and "DL3007" in theirs.stdout


def test_the_image_runs_the_wheel_as_a_non_root_user_with_zoomforce_as_entrypoint() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert all("slim" in image for image in froms)
    assert [rest for word, rest in instructions if word == "ENTRYPOINT"] == ['["zoomforce"]']
    user = [rest for word, rest in instructions if word == "USER"]
    assert user and not user[-1].startswith(("root", "0"))
    assert "pip wheel" in text and "pip install --no-cache-dir /wheels/*.whl" in text
    code = "\n".join(line for line in text.upper().splitlines() if not line.lstrip().startswith("#"))
    assert "PYTHONUNBUFFERED" in code
    for word in ("SECRET", "TOKEN", "PASSWORD", "ZOOMFORCE_STATE", "SF_", "ZOOM_"):
        assert word not in code, "no credential baked in"


# ---- Kubernetes -----------------------------------------------------------------------------------


def test_kubernetes_validate_passes_on_the_manifests_and_fails_on_a_broken_one(tmp_path: Path) -> None:
    validate = _tool("kubernetes-validate")
    files = sorted(str(path) for path in KUBERNETES.glob("*.yaml"))
    assert len(files) >= 3
    ours = subprocess.run([validate, "--strict", *files], capture_output=True, text=True, timeout=120)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    broken = tmp_path / "serve.yaml"
    broken.write_text((KUBERNETES / "serve.yaml").read_text(encoding="utf-8").replace("containerPort: 8000",
                                                                                     "containerPort: eight"))
    theirs = subprocess.run([validate, "--strict", str(broken)], capture_output=True, text=True, timeout=120)
    assert theirs.returncode != 0


def _kinds() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in KUBERNETES.glob("*.yaml"):
        for document in _documents(path):
            found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


def test_serve_has_probes_resources_and_its_credentials_and_state_from_secrets() -> None:
    kinds = _kinds()
    deployment = kinds["Deployment/zoomforce-serve"]
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    secrets = {item["secretRef"]["name"] for item in container["envFrom"]}
    assert secrets == {"zoomforce-credentials", "zoomforce-state"}
    assert "ZOOMFORCE_STATE" in kinds["Secret/zoomforce-state"]["stringData"]
    assert "env" not in container, "no credential in the Deployment itself"
    assert kinds["Service/zoomforce-serve"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert _accepted(container["args"]).returncode == 0, _accepted(container["args"]).stderr


def test_the_sync_cronjob_forbids_overlapping_runs() -> None:
    cronjob = _kinds()["CronJob/zoomforce-sync"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert {item["secretRef"]["name"] for item in container["envFrom"]} == {"zoomforce-credentials",
                                                                           "zoomforce-state"}
    assert container["args"][0] == "sync" and _accepted(container["args"]).returncode == 0


def test_an_unknown_option_in_a_manifest_would_be_caught() -> None:
    assert _accepted(["serve", "--no-such-option"]).returncode == 2


# ---- compose --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (document,) = _documents(COMPOSE)
    return document


def test_compose_runs_postgres_two_serve_replicas_and_a_scheduled_sync(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "serve-a", "serve-b", "sync"} <= set(services)
    serves = [services[name] for name in ("serve-a", "serve-b")]
    for service in [*serves, services["sync"]]:
        assert service["environment"]["ZOOMFORCE_STATE"].startswith("postgresql://")
        assert service["environment"]["ZOOMFORCE_STATE"] == serves[0]["environment"]["ZOOMFORCE_STATE"]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    for service in serves:
        assert service["command"][0] == "serve" and _accepted(service["command"]).returncode == 0
    assert "zoomforce sync" in " ".join(services["sync"]["entrypoint"])
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"


def test_compose_holds_no_secret(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for line in text.splitlines():
        if "PASSWORD:" in line:
            assert "${POSTGRES_PASSWORD:?" in line, line
    assert compose["x-zoomforce"]["env_file"] == ["zoomforce.env"]
