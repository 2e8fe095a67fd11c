"""Signed webhooks: a stored analysis or a finished batch is POSTed to the callback URL
its creator named.

* Signature: header ``FactDesk-Signature: t=UNIX_SECONDS,v1=HEX`` where ``HEX`` is
  HMAC-SHA256, keyed with the API key's webhook secret (``GET /v1/webhook-secret``), over
  ``f"{t}."`` followed by the exact body bytes. :func:`verify_signature` checks one.
* Retries: a delivery is tried up to ``FACTDESK_WEBHOOK_TRIES`` times, waiting
  ``FACTDESK_WEBHOOK_BACKOFF_S`` and doubling after each failure (network error or a
  non-2xx answer); every attempt is stored with its status code, error and duration.
* SSRF: a callback URL must be http(s) and every address its host resolves to must be
  public; loopback, link-local, private, multicast and reserved addresses are refused
  (when the URL is given and again before each attempt) unless
  ``FACTDESK_WEBHOOK_ALLOW_PRIVATE`` is on.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import __version__, errors
from .settings import Settings
from .storage import Store

log = logging.getLogger("factdesk.webhooks")

SIGNATURE_HEADER = "FactDesk-Signature"


def _public(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


def check_callback_url(url: str, allow_private: bool) -> str:
    """``url`` when FactDesk may POST to it; raises
    :class:`~service.errors.CallbackRefused` saying why not. Resolves the host, so call it
    off the event loop."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.CallbackRefused(
            f"callback_url must be an http(s) URL with a host, not {url!r}."
        )
    if parts.username or parts.password:
        raise errors.CallbackRefused("callback_url must not carry credentials.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise errors.CallbackRefused(f"The host of callback_url does not resolve ({exc}).") from exc
    if allow_private:
        return url
    for info in infos:
        addr = str(info[4][0])
        if not _public(addr):
            raise errors.CallbackRefused(
                f"callback_url resolves to {addr}, a loopback, link-local or private "
                "address; FactDesk only calls public addresses."
            )
    return url


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``FactDesk-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """True when ``header`` is a valid signature of ``body`` under ``secret`` made
    within ``tolerance_s`` of ``now`` (what a receiver should check)."""
    fields: dict[str, str] = {}
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        fields.setdefault(k, v)
    try:
        t = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(secret, t, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def _body(delivery_id: str, event: str, data: dict[str, Any]) -> bytes:
    payload = {"id": delivery_id, "type": event, "created": int(time.time()), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def deliver(store: Store, settings: Settings, delivery_id: str) -> str:
    """Try the delivery until it is accepted (2xx) or its tries run out; store every
    attempt. Returns the final status, ``delivered`` or ``failed``."""
    delivery = await asyncio.to_thread(store.get_delivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return delivery.status if delivery is not None else "failed"
    secret = await asyncio.to_thread(store.webhook_secret, delivery.owner)
    body = _body(delivery.id, delivery.event, delivery.payload)
    wait = settings.webhook_backoff_s
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_s, follow_redirects=False, trust_env=False
    ) as client:
        for attempt in range(delivery.attempts + 1, settings.webhook_tries + 1):
            last = attempt == settings.webhook_tries
            t0 = time.perf_counter()
            code: int | None = None
            error: str | None = None
            try:
                await asyncio.to_thread(
                    check_callback_url, delivery.url, settings.webhook_allow_private
                )
                ts = int(time.time())
                response = await client.post(
                    delivery.url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "User-Agent": f"FactDesk-Webhook/{__version__}",
                        "FactDesk-Event": delivery.event,
                        "FactDesk-Delivery": delivery.id,
                        SIGNATURE_HEADER: sign(secret, ts, body),
                    },
                )
                code = response.status_code
                if 200 <= code < 300:
                    await asyncio.to_thread(
                        store.record_attempt,
                        delivery.id,
                        attempt,
                        code,
                        None,
                        (time.perf_counter() - t0) * 1000,
                        "delivered",
                    )
                    return "delivered"
                error = f"HTTP {code}"
            except errors.CallbackRefused as exc:
                error, last = exc.detail, True
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            await asyncio.to_thread(
                store.record_attempt,
                delivery.id,
                attempt,
                code,
                error,
                (time.perf_counter() - t0) * 1000,
                "failed" if last else None,
            )
            if last:
                log.warning("webhook %s to %s failed: %s", delivery.id, delivery.url, error)
                return "failed"
            await asyncio.sleep(wait)
            wait *= 2
    return "failed"
