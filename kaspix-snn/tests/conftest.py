"""Shared fixtures; the tiny configs and images themselves are in kaspix_snn.testing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kaspix_snn.testing import SMALL, write_config

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("KASPIX_PLAIN_PROGRESS", "1")


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "small.yaml", SMALL)
