"""The HTML report opens in a real browser: headless Chromium renders the seed case's
report, and the screenshot shows the claim and flag highlights in quantity."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image

from evals.dataset import load_cases
from evals.report import CLAIM_RGB, FLAG_RGB, build_report, write_report
from evals.runner import eval_settings, run_suite
from service.settings import Settings

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: A highlighted sentence covers thousands of pixels; legend squares cover ~120 each.
MIN_CLAIM_PIXELS = 3000
MIN_FLAG_PIXELS = 400


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    message = "headless Chromium is needed for the report screenshot test (.ci/run installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _pixels(image: Image.Image, rgb: tuple[int, int, int], tol: int = 6) -> int:
    r0, g0, b0 = rgb
    total = 0
    for n, color in image.getcolors(maxcolors=1 << 24) or []:
        r, g, b = cast(tuple[int, int, int], color)
        if abs(r - r0) <= tol and abs(g - g0) <= tol and abs(b - b0) <= tol:
            total += n
    return total


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    settings = eval_settings(None, "replay", Settings(prompt_version="v2", _env_file=None))
    report = build_report(run_suite(load_cases(pattern="seed-baghuz"), settings))
    _, html_path = write_report(report, tmp_path_factory.mktemp("report"))
    return html_path, report


def test_the_seed_report_renders_with_claims_and_flags_highlighted(
    seed_report: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    html_path, report = seed_report
    (case,) = report["cases"]
    assert case["outcome"] == "ok", case["detail"]
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html and "https://" not in html

    png = tmp_path / "seed.png"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                _browser(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                "--window-size=1280,2000",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert png.is_file(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    image = Image.open(png).convert("RGB")
    assert image.size == (1280, 2000)

    resp = case["response"]
    assert resp["claims"], "the recorded seed analysis has no grounded claim to highlight"
    assert _pixels(image, CLAIM_RGB) >= MIN_CLAIM_PIXELS

    flagged = {f["type"] for f in resp["flags"] if f.get("span")}
    assert flagged, "the recorded seed analysis has no flag to highlight"
    counts = {t: _pixels(image, FLAG_RGB[t]) for t in flagged}
    assert max(counts.values()) >= MIN_FLAG_PIXELS, counts
    # and nothing is painted in the colour of a flag type the analysis did not raise
    for t in set(FLAG_RGB) - flagged:
        assert _pixels(image, FLAG_RGB[t]) < MIN_FLAG_PIXELS, t
