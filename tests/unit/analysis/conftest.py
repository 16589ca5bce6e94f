"""Fixtures for the analysis tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import need

TMO_VOTES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "pairwise" / "tmo_votes.csv"


@pytest.fixture(scope="session")
def tmo_votes() -> Path:
    """The published tone-mapping pairwise experiment (1213 votes) from the shared data folder.

    Missing data skips locally; with PORTRAIT_LAB_REQUIRE_ALL=1 (CI) it fails, so CI skips nothing.
    """
    need(TMO_VOTES.exists(), f"real data not found at {TMO_VOTES}")
    return TMO_VOTES
