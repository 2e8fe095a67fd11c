"""Locate ../shared beside the repository (tests skip only when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).parents[2].parent / "shared"
SEED = SHARED / "data/seed/baghuz-voa-2019-03.txt"


def shared_file(relative: str) -> Path:
    """The file under ``../shared/data``; skips the test when ../shared is absent and
    fails it when ../shared exists but the file does not."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the repository")
    path = SHARED / "data" / relative
    assert path.exists(), f"{path} is missing from ../shared"
    return path
