"""The editor's review page, ``GET /review/{id}``: the article with every claim's
evidence, quote and speaker highlighted at their offsets, flags in the margin, verdicts
and reasons on click, rejected claims listed, and confirm / dispute marks stored through
``PATCH /v1/analyses/{id}/claims/{claim_id}``.

One self-contained HTML document (CSS and JS are package files inlined at render time,
under a nonce-based Content-Security-Policy): it needs no network beyond this server.
With API keys configured the page, like the analysis, is visible only to the key that
created it: send the key as ``X-API-Key`` / ``Authorization``, or in a ``factdesk_key``
cookie (the page then reuses it for its own requests).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from .. import errors
from ..routers import PROBLEMS, caller, ensure_started, get_store
from ..routers.analyses import full_response

router = APIRouter(tags=["review"], responses=PROBLEMS, dependencies=[Depends(ensure_started)])


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _json_for_html(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>`` breakout)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(data: dict[str, Any], nonce: str) -> str:
    """The review page for one stored analysis (``data``: analysis, text, title, url)."""
    title = str(data.get("title") or "Untitled article")
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        _asset("review.html")
        .replace("{{title}}", escaped)
        .replace("{{nonce}}", nonce)
        .replace("{{css}}", _asset("review.css"))
        .replace("{{js}}", _asset("review.js"))
        .replace("{{data}}", _json_for_html(data))
    )


@router.get(
    "/review/{analysis_id}",
    response_class=HTMLResponse,
    summary="Review page of a stored analysis (HTML)",
)
async def review_page(analysis_id: str, request: Request) -> HTMLResponse:
    store = get_store(request)
    stored = await asyncio.to_thread(store.get_analysis, analysis_id, caller(request))
    if stored is None:
        raise errors.NotFound(f"No analysis {analysis_id[:60]!r}.")
    analysis = await asyncio.to_thread(full_response, store, stored)
    data = {
        "analysis": analysis,
        "text": stored.request.get("text", ""),
        "title": stored.request.get("title"),
        "url": stored.request.get("url"),
        "created_at": stored.created_at.isoformat(),
    }
    nonce = secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return HTMLResponse(
        render(data, nonce),
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
