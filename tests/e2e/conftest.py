"""Fixtures of the end-to-end tests: the real `fleet` command. Its helpers live in
tests/e2e/fleet_process.py, imported by its full name, because `from conftest import ...` finds
whichever conftest.py pytest imported first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fleet_process import FleetCLI


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FleetCLI]:
    cli = FleetCLI(tmp_path / "logs")
    yield cli
    cli.kill_leftovers()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "fleet-data"
