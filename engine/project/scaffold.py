"""What ``zoomforce init`` writes: an integrator's repository, and mappings with some fields switched off.

    files = scaffold_files(mappings_dir, catalog_dir, schemas_dir, version)   # relative path -> text
    text = switch_off(text, document, [("fields", 3)], reason)                # `enabled: false` added

The repository holds ``zoomforce.yaml``, ``mappings/`` (the default mappings), ``salesforce-catalog/``
(the shipped catalog: the package plus the fields zoomforce adds, marked), ``schemas/`` (the mapping
and project schemas, where the files' ``$schema`` modelines point), a GitHub Actions workflow that
runs ``zoomforce validate --format github`` and the disclosure diff against the base branch, a
``.pre-commit-config.yaml`` and a ``.gitignore`` for the state. ``switch_off`` edits a mapping's text
(comments and layout kept) so that the given fields or links say ``enabled: false``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from engine.language.loader import LoadedDocument, PathKey, Position

MAPPINGS = "mappings"
CATALOG = "salesforce-catalog"
SCHEMAS = "schemas"
STATE = "zoomforce.db"
WORKFLOW = ".github/workflows/zoomforce.yml"

PROJECT_TEMPLATE = """\
# yaml-language-server: $schema={schemas}/project.schema.json
#
# The zoomforce project of this repository (written by `zoomforce init`). Every zoomforce command run
# in this folder or below it reads this file; a command's own options override it. Paths are
# relative to this file. The keys are described in {schemas}/project.schema.json.
mappings: {mappings}              # the mapping files: what flows, and what the disclosure says
catalog: {catalog}      # the org's Salesforce objects (zoomforce catalog pull refreshes it)
state: {state}              # sync's and serve's state (cursors, hashes, dead letters): not committed
languages: [en, fr]               # the disclosure's languages: every mapping gives its texts in each
salesforce:
  api_version: "59.0"
{disclosure}"""

DISCLOSURE_HEADER = """\
# The disclosure's document-level facts (docs/disclosure.md): who is responsible, which version is in
# force, how long data is kept and on which legal basis, who receives it and where it goes. Every
# format of `zoomforce disclose` renders them; `zoomforce validate` checks them at their lines. The
# names and addresses are EXAMPLES (validate warns about the example.com ones): put your own.
disclosure:
"""
FACTS_FILE = "disclosure.yaml"  # the facts beside the default mappings, moved into the project file

WORKFLOW_TEMPLATE = """\
# zoomforce's checks of this repository (written by `zoomforce init`): the mappings, the project file
# and the catalog are validated, with annotations at their file:line:col; on a pull request, what
# changes in data handling (the privacy disclosure's difference) is shown for the compliance review.
name: zoomforce

on:
  pull_request:
  push:
    branches: [main]

permissions:
  contents: read

env:
  ZOOMFORCE: "zoomforce=={version}"   # what pip installs: a version on your index, a wheel, or a git URL

jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: python -m pip install "$ZOOMFORCE"
      - name: Validate the mappings, the project file and the catalog
        run: zoomforce validate --format github
      - name: What changes in data handling, against the base branch
        if: github.event_name == 'pull_request'
        run: |
          git worktree add "$RUNNER_TEMP/base" "origin/$GITHUB_BASE_REF"
          zoomforce disclose --diff "$RUNNER_TEMP/base/{mappings}" --output "$RUNNER_TEMP/changes.md"
          cat "$RUNNER_TEMP/changes.md" >> "$GITHUB_STEP_SUMMARY"
"""

PRE_COMMIT_TEMPLATE = """\
# pre-commit hooks of this repository (https://pre-commit.com), written by `zoomforce init`:
# `pre-commit install`, and every commit that changes a mapping file runs `zoomforce validate` on it.
repos:
  - repo: local                     # the zoomforce installed here (pip install zoomforce)
    hooks:
      - id: zoomforce-validate
        name: zoomforce validate
        entry: zoomforce validate
        language: system
        files: ^{mappings}/.*\\.ya?ml$
# Or let pre-commit install zoomforce itself, from the zoomforce repository, which ships this hook
# (its .pre-commit-hooks.yaml), as ruff's does:
#  - repo: <the zoomforce repository's git URL>
#    rev: v{version}
#    hooks:
#      - id: zoomforce-validate
"""

GITIGNORE_TEMPLATE = """\
# zoomforce's state (written by `zoomforce init`): cursors, record hashes, dead letters, the webhook inbox
{state}
{state}-wal
{state}-shm
{state}-journal
# what `zoomforce demo` and `zoomforce disclose --output` may leave behind
zoomforce-disclosure.md
"""


def scaffold_files(mappings: Path, catalog: Path, schemas: Path, version: str) -> dict[str, str]:
    """Every file of a new repository, by path relative to its root (the mappings and catalog copied)."""
    names = {"mappings": MAPPINGS, "catalog": CATALOG, "schemas": SCHEMAS, "state": STATE, "version": version,
             "disclosure": _facts_block(mappings / FACTS_FILE)}
    files = {
        "zoomforce.yaml": PROJECT_TEMPLATE.format(**names),
        WORKFLOW: WORKFLOW_TEMPLATE.format(**names),
        ".pre-commit-config.yaml": PRE_COMMIT_TEMPLATE.format(**names),
        ".gitignore": GITIGNORE_TEMPLATE.format(**names),
    }
    for name in ("mapping.schema.json", "project.schema.json", "disclosure-facts.schema.json"):
        files[f"{SCHEMAS}/{name}"] = (schemas / name).read_text(encoding="utf-8")
    for path in sorted(mappings.glob("*.yaml")):
        if path.name != FACTS_FILE:  # its facts are the project file's `disclosure` block
            files[f"{MAPPINGS}/{path.name}"] = path.read_text(encoding="utf-8")
    for path in sorted(catalog.glob("*.json")):
        files[f"{CATALOG}/{path.name}"] = path.read_text(encoding="utf-8")
    return files


def _facts_block(facts_file: Path) -> str:
    """The facts of the default mappings' ``disclosure.yaml`` as the project file's ``disclosure`` block."""
    if not facts_file.is_file():
        return ""
    lines = facts_file.read_text(encoding="utf-8").splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)  # its own modeline and header: the block has one of its own
    return DISCLOSURE_HEADER + "".join(f"  {line}\n" if line.strip() else "\n" for line in lines)


def switch_off(text: str, document: LoadedDocument, items: Iterable[PathKey], reason: str) -> str:
    """`text` with each item (``("fields", 3)``, ``("links", 0)``, or ``()`` for the whole file) set to
    ``enabled: false``, with a comment giving `reason`; comments and layout are kept."""
    lines = text.splitlines(keepends=True)
    edits: dict[int, tuple[str, bool]] = {}  # 0-based line -> (new line, replace it rather than insert after)
    for item in items:
        enabled = (*item, "enabled")
        comment = f"  # {reason}" if reason else ""
        if enabled in document.positions.keys:
            at = document.positions.keys[enabled]
            line = lines[at.line - 1]
            edits[at.line - 1] = (f"{line[:at.column - 1]}enabled: false{comment}\n", True)
            continue
        value = document.positions.values.get(item)
        if value is not None and item and lines[value.line - 1][value.column - 1:value.column] == "{":
            line = lines[value.line - 1]  # a flow mapping, {to: ..., ...}: the key goes first inside it
            edits[value.line - 1] = (f"{line[:value.column]}enabled: false, {line[value.column:]}", True)
            continue
        first = _first_key(document, item)
        if first is None:
            continue
        indent = " " * (first.column - 1)
        edits[first.line - 1] = (f"{indent}enabled: false{comment}\n", False)
    out: list[str] = []
    for number, line in enumerate(lines):
        edit = edits.get(number)
        if edit is not None and edit[1]:
            out.append(edit[0])
            continue
        out.append(line)
        if edit is not None:
            out.append(edit[0])
    return "".join(out)


def _first_key(document: LoadedDocument, item: PathKey) -> Position | None:
    """The position of the first key of the mapping at `item` (the line after which `enabled` goes)."""
    keys = [(pos.line, pos.column, pos) for path, pos in document.positions.keys.items()
            if len(path) == len(item) + 1 and path[:len(item)] == item]
    if not keys:
        return None
    if not item:  # a whole file: after its `entity:` line
        entity = document.positions.keys.get(("entity",))
        return entity if entity is not None else min(keys)[2]
    return min(keys)[2]
