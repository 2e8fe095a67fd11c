"""Where the rate limiter's token buckets live, so that every worker process counts
against the same limit.

* ``FACTDESK_REDIS_URL`` set: in Redis (:class:`RedisLimiter`), shared by every worker
  on every host that points at it; the refill uses Redis's own clock.
* more than one worker and no Redis: in a SQLite file under ``FACTDESK_DATA_DIR``
  (:class:`SQLiteLimiter`), shared by the workers of this host.
* one worker: in the process's memory (:class:`~service.security.RateLimiter`).

Each kind refills ``per_minute / 60`` tokens a second up to ``per_minute`` and answers
the same way: ``None`` when the request may proceed, else the seconds to wait (at least
1). When Redis cannot be reached the request is let through and the failure logged: the
limit protects capacity, and an outage of Redis should not become an outage of the API.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from .security import RateLimiter
from .settings import Settings

log = logging.getLogger("factdesk.ratelimit")


class Limiter(Protocol):
    """A per-client token bucket, wherever its state lives."""

    capacity: float

    async def take(self, client: str) -> float | None:
        """Take one token for ``client``: ``None`` when the request may proceed, else the
        seconds until a token is available (never less than 1)."""
        ...


def _wait_s(tokens: float, rate: float) -> float:
    return float(max(1.0, math.ceil((1.0 - tokens) / rate)))


class SQLiteLimiter:
    """Token buckets in one SQLite file, shared by the processes that open it. Each
    take is one short write transaction; full buckets are pruned as they carry no
    state."""

    def __init__(self, path: Path, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, timeout=5.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        # Losing the last fraction of a second of buckets in a crash is harmless.
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS rate_buckets "
            "(client TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL)"
        )
        self._takes = 0

    def take_sync(self, client: str, now: float | None = None) -> float | None:
        """:meth:`take` without the event loop (``now``: seconds since the epoch)."""
        now = time.time() if now is None else now
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT tokens, updated FROM rate_buckets WHERE client = ?", (client,)
                ).fetchone()
                tokens = self.capacity if row is None else float(row[0])
                updated = now if row is None else float(row[1])
                tokens = min(self.capacity, tokens + max(0.0, now - updated) * self.rate)
                wait = None
                if tokens >= 1.0:
                    tokens -= 1.0
                else:
                    wait = _wait_s(tokens, self.rate)
                conn.execute(
                    "INSERT INTO rate_buckets (client, tokens, updated) VALUES (?, ?, ?) "
                    "ON CONFLICT(client) DO UPDATE SET tokens = excluded.tokens, "
                    "updated = excluded.updated",
                    (client, tokens, now),
                )
                self._takes += 1
                if self._takes % 1000 == 0:
                    full_after = self.capacity / self.rate
                    conn.execute("DELETE FROM rate_buckets WHERE updated < ?", (now - full_after,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return wait

    async def take(self, client: str) -> float | None:
        """One token for ``client`` (see :class:`Limiter`); the transaction takes
        microseconds, so it runs on the calling loop."""
        return self.take_sync(client)


# KEYS[1] bucket; ARGV capacity, rate per second. Returns the wait in seconds, or -1.
_REDIS_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(b[1]) or capacity
local updated = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local wait = -1
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return tostring(wait)
"""


class RedisLimiter:
    """Token buckets in Redis, updated atomically by one server-side script per take;
    a bucket expires once it would be full again."""

    prefix = "factdesk:rate:"

    def __init__(self, url: str, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.url = url
        self._clients: dict[int, tuple[Any, Any]] = {}  # per event loop: client, script
        self._last_error_log = 0.0

    def _script(self) -> Any:
        import redis.asyncio as aioredis

        key = id(asyncio.get_running_loop())
        if key not in self._clients:
            client = aioredis.Redis.from_url(
                self.url, socket_timeout=2.0, socket_connect_timeout=2.0
            )
            self._clients[key] = (client, client.register_script(_REDIS_TAKE))
        return self._clients[key][1]

    async def take(self, client: str) -> float | None:
        """One token for ``client`` (see :class:`Limiter`); lets the request through,
        logging why, when Redis does not answer."""
        from redis.exceptions import RedisError

        try:
            raw = await self._script()(keys=[self.prefix + client], args=[self.capacity, self.rate])
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._last_error_log > 60:
                self._last_error_log = now
                log.error("rate limit store %s unreachable, not limiting: %s", self.url, exc)
            return None
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        return None if wait < 0 else wait


class MemoryLimiter:
    """The in-process :class:`~service.security.RateLimiter` behind the async protocol."""

    def __init__(self, per_minute: int) -> None:
        self.inner = RateLimiter(per_minute)
        self.capacity = self.inner.capacity

    async def take(self, client: str) -> float | None:
        """One token for ``client`` (see :class:`Limiter`)."""
        return self.inner.acquire(client)


def rate_limiter(settings: Settings) -> Limiter | None:
    """The limiter ``settings`` ask for (``None``: no limit), kept where every worker
    process sees the same buckets (see the module docstring)."""
    per_minute = settings.rate_limit_per_minute
    if not per_minute:
        return None
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, per_minute)
    if (settings.workers or 1) > 1:
        return SQLiteLimiter(settings.data_dir / "ratelimit.sqlite3", per_minute)
    return MemoryLimiter(per_minute)
