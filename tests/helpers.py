"""Shared paths and small utilities for the tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
MAPPINGS = REPO / "mappings"
CASES = Path(__file__).resolve().parent / "cases"
