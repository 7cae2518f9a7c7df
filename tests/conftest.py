"""Shared fixtures: the project root, quiet and offline tools, and small frames."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture
def penguins() -> pd.DataFrame:
    from stages.acquire import load_builtin

    return load_builtin("penguins")
