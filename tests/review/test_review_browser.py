"""The review page in a real browser: headless Chromium driven by Playwright opens the
seed article's review page, clicks a claim, marks claims (mouse and keyboard), reloads
and sees the marks; the page loads nothing from anywhere but this server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from tests.conftest import seed_llm_output
from tests.fakes import FakeLLM
from tests.reliability.conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is needed for the review page test (.ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def seeded(settings: Settings, seed_text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    answer = seed_llm_output(seed_text)
    # one claim the article does not support, so the page has a rejected claim to list
    invented = dict(answer["claims"][0], text="About 90,000 people have fled Baghuz.")
    answer["claims"].append(invented)
    app = create_app(settings, FakeLLM(answer))
    with LiveServer(app) as server:
        r = httpx.post(
            f"{server.url}/v1/analyses",
            json={
                "text": seed_text,
                "title": "Waiting for Final Nail in Islamic State Caliphate's Coffin",
                "url": "https://www.voanews.com/a/baghuz",
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        yield server.url, r.json()


def test_review_page_click_mark_reload(
    browser: Any, seeded: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    base, analysis = seeded
    aid = analysis["id"]
    claims = analysis["claims"]
    assert len(claims) >= 2 and analysis["rejected_claims"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/review/{aid}")
    page.wait_for_selector(".claim")

    assert page.locator(".claim").count() == len(claims)
    assert page.locator(".seg.ev").count() > 0
    assert page.locator(".seg.quote").count() >= 1
    assert page.locator(".seg.speaker").count() >= 1
    assert page.locator(".margin .mflag").count() >= 1
    assert page.locator("#rejected li").count() == len(analysis["rejected_claims"])

    # every highlighted quote sits exactly at its offsets
    quoted = next(c for c in claims if c["quote"])
    assert quoted["quote"]["text"] in page.locator(".seg.quote").all_inner_texts()[0] or any(
        quoted["quote"]["text"].startswith(t) for t in page.locator(".seg.quote").all_inner_texts()
    )

    # click a highlight in the article: its claim opens with verdict and reasons
    first = page.locator(".seg[data-claims]").first
    index = int(first.get_attribute("data-claims").split()[0])
    first.click()
    card = page.locator(f"#claim-{claims[index]['id']}")
    assert "active" in card.get_attribute("class")
    assert card.locator(".details").is_visible()
    assert claims[index]["verification"]["status"].replace("_", " ") in card.inner_text()

    # mark it with the mouse, the next one with the keyboard
    page.fill("#editor", "Rosa Editor")
    page.dispatch_event("#editor", "change")
    card.locator("button[data-action=confirmed]").click()
    page.wait_for_selector(f"#claim-{claims[index]['id']} [data-mark=confirmed]")
    other = (index + 1) % len(claims)
    page.locator(f"#claim-{claims[other]['id']}").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("d")
    page.wait_for_selector(f"#claim-{claims[other]['id']} [data-mark=disputed]")

    page.reload()
    page.wait_for_selector(".claim")
    assert page.locator(f"#claim-{claims[index]['id']} [data-mark=confirmed]").count() == 1
    assert page.locator(f"#claim-{claims[other]['id']} [data-mark=disputed]").count() == 1
    page.locator(f"#claim-{claims[index]['id']}").click()
    assert "by Rosa Editor" in page.locator(f"#claim-{claims[index]['id']} .markinfo").inner_text()

    stored = httpx.get(f"{base}/v1/analyses/{aid}").json()["marks"]
    assert {(m["claim_id"], m["status"], m["editor"]) for m in stored} == {
        (claims[index]["id"], "confirmed", "Rosa Editor"),
        (claims[other]["id"], "disputed", "Rosa Editor"),
    }
    assert not errors, errors
    assert all(u.startswith(base) for u in requested), requested

    page.reload()
    page.wait_for_selector(".claim")
    page.locator(f"#claim-{claims[0]['id']}").click()
    shot = tmp_path / "review-seed.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("FACTDESK_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
    page.close()
