"""Stored analyses, idempotency keys, batches, editor marks and webhook deliveries.

One :class:`Store` per process wraps a SQLAlchemy engine: embedded SQLite under
``FACTDESK_DATA_DIR`` by default, PostgreSQL (or any SQLAlchemy URL) when
``FACTDESK_DATABASE_URL`` names one. Methods are synchronous and short; async callers run
them in a thread. Every read takes the caller's ``owner`` (the API key's digest, ``""``
when keys are off) and finds nothing that another owner created, so ids leak nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .. import errors
from ..settings import Settings
from . import migrate
from .models import (
    Analysis,
    Batch,
    BatchItem,
    ClaimMark,
    IdempotencyKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSecret,
    utcnow,
)

__all__ = ["ITEM_TERMINAL", "BatchCounts", "Store", "StoredAnalysis", "database_url", "new_id"]

#: Item states after which nothing more happens to an item.
ITEM_TERMINAL = ("done", "failed", "cancelled")
BATCH_TERMINAL = ("completed", "failed", "cancelled")


def new_id(prefix: str) -> str:
    """An unguessable id (144 random bits) with a readable kind prefix."""
    return f"{prefix}_{secrets.token_urlsafe(18)}"


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL to use: ``FACTDESK_DATABASE_URL``, else SQLite in the data dir."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{Path(settings.data_dir).expanduser() / 'factdesk.db'}"


@dataclass(frozen=True)
class StoredAnalysis:
    """An analysis as stored: the response (with ``id``), the request, when and by whom."""

    id: str
    owner: str
    created_at: datetime
    url: str | None
    request: dict[str, Any]
    response: dict[str, Any]
    callback_url: str | None


@dataclass(frozen=True)
class BatchCounts:
    """How many items of a batch are in each state."""

    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def pending(self) -> int:
        """Items not yet finished."""
        return self.queued + self.running


def _stored(row: Analysis) -> StoredAnalysis:
    return StoredAnalysis(
        row.id, row.owner, row.created_at, row.url, row.request, row.response, row.callback_url
    )


def _encode_cursor(created_at: datetime, id_: str) -> str:
    raw = json.dumps([created_at.isoformat(), id_]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor from :meth:`Store.list_analyses` stands for; raises
    :class:`~service.errors.InvalidRequest` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, id_ = json.loads(raw)
        return datetime.fromisoformat(at), str(id_)
    except (ValueError, TypeError) as exc:
        raise errors.InvalidRequest("`cursor` is not a cursor this API returned.") from exc


def _sqlite_engine(url: str) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level, so the "begin" hook decides how a transaction
        # starts: IMMEDIATE takes the write lock up front, which makes concurrent writers
        # (API and worker processes) wait their turn instead of failing with "locked".
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Store:
    """The database of one process. Construct with :meth:`open`."""

    def __init__(self, engine: Engine, quota_bytes: int | None = None) -> None:
        self.engine = engine
        self.quota_bytes = quota_bytes
        self._session = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: Settings, migrate_now: bool = True) -> Store:
        """Connect to the configured database and (by default) migrate it to the newest
        schema revision."""
        url = database_url(settings)
        engine = (
            _sqlite_engine(url)
            if url.startswith("sqlite")
            else create_engine(url, pool_pre_ping=True, pool_size=10)
        )
        store = cls(engine, settings.storage_quota_bytes)
        if migrate_now:
            migrate.upgrade(engine)
        return store

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def session(self) -> Session:
        """A new ORM session (use as a context manager)."""
        return self._session()

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    # ------------------------------------------------------------------ analyses

    def _check_quota(self, s: Session, owner: str, size: int) -> None:
        if self.quota_bytes is None:
            return
        used = s.scalar(
            select(func.coalesce(func.sum(Analysis.size_bytes), 0)).where(Analysis.owner == owner)
        )
        if int(used or 0) + size > self.quota_bytes:
            raise errors.StorageQuotaExceeded(
                f"This key stores {int(used or 0):,} bytes; storing {size:,} more would pass "
                f"the quota of {self.quota_bytes:,} bytes (FACTDESK_STORAGE_QUOTA_BYTES)."
            )

    @staticmethod
    def _row(
        owner: str,
        request: dict[str, Any],
        response: dict[str, Any],
        cache_key: str,
        analysis_id: str,
        batch_item_id: str | None,
        callback_url: str | None,
    ) -> Analysis:
        size = len(json.dumps(request)) + len(json.dumps(response))
        return Analysis(
            id=analysis_id,
            owner=owner,
            created_at=utcnow(),
            url=request.get("url"),
            request=request,
            response=response,
            meta=response.get("meta", {}),
            cache_key=cache_key,
            size_bytes=size,
            batch_item_id=batch_item_id,
            callback_url=callback_url,
        )

    def save_analysis(
        self,
        owner: str,
        request: dict[str, Any],
        response: dict[str, Any],
        cache_key: str,
        analysis_id: str,
        callback_url: str | None = None,
    ) -> StoredAnalysis:
        """Store one analysis under ``analysis_id``; raises
        :class:`~service.errors.StorageQuotaExceeded` when it does not fit the owner's quota."""
        row = self._row(owner, request, response, cache_key, analysis_id, None, callback_url)
        with self.session() as s, s.begin():
            self._check_quota(s, owner, row.size_bytes)
            s.add(row)
        return _stored(row)

    def get_analysis(self, analysis_id: str, owner: str) -> StoredAnalysis | None:
        """The analysis when it exists and belongs to ``owner``; else ``None``."""
        with self.session() as s:
            row = s.get(Analysis, analysis_id)
            return _stored(row) if row is not None and row.owner == owner else None

    def find_cached(self, owner: str, cache_key: str) -> dict[str, Any] | None:
        """The newest response this owner got for the same cache key, if any."""
        with self.session() as s:
            row = s.scalars(
                select(Analysis)
                .where(Analysis.owner == owner, Analysis.cache_key == cache_key)
                .order_by(Analysis.created_at.desc())
                .limit(1)
            ).first()
            return dict(row.response) if row is not None else None

    def list_analyses(
        self,
        owner: str,
        url: str | None = None,
        since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[StoredAnalysis], str | None]:
        """The owner's analyses oldest first (optionally for one ``url``, created at or
        after ``since``), ``limit`` at a time, and the cursor of the next page (``None``
        on the last). A cursor stays valid while rows are added or deleted."""
        q = select(Analysis).where(Analysis.owner == owner)
        if url is not None:
            q = q.where(Analysis.url == url)
        if since is not None:
            q = q.where(Analysis.created_at >= since)
        if cursor:
            at, last_id = decode_cursor(cursor)
            q = q.where(
                (Analysis.created_at > at) | ((Analysis.created_at == at) & (Analysis.id > last_id))
            )
        q = q.order_by(Analysis.created_at, Analysis.id).limit(limit + 1)
        with self.session() as s:
            rows = list(s.scalars(q))
        page = rows[:limit]
        more = len(rows) > limit
        nxt = _encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
        return [_stored(r) for r in page], nxt

    def delete_analysis(self, analysis_id: str, owner: str) -> bool:
        """Delete the owner's analysis (and its marks); False when there is none."""
        with self.session() as s, s.begin():
            row = s.get(Analysis, analysis_id)
            if row is None or row.owner != owner:
                return False
            s.execute(delete(ClaimMark).where(ClaimMark.analysis_id == analysis_id))
            s.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.analysis_id == analysis_id)
                .values(analysis_id=None)
            )
            s.execute(
                update(BatchItem)
                .where(BatchItem.analysis_id == analysis_id)
                .values(analysis_id=None)
            )
            s.delete(row)
            return True

    # ------------------------------------------------------------------ idempotency

    def reserve_key(self, owner: str, key: str, body_sha256: str) -> str | None:
        """Claim ``key`` for a request whose body hashes to ``body_sha256``. Returns
        ``None`` when the caller should run the request (then :meth:`finish_key` or
        :meth:`release_key`), or the id of the analysis stored for it before. Raises
        :class:`~service.errors.IdempotencyConflict` for another body and
        :class:`~service.errors.IdempotencyInProgress` while the first request runs."""
        with self.session() as s:
            try:
                with s.begin():
                    s.add(
                        IdempotencyKey(
                            owner=owner,
                            key=key,
                            body_sha256=body_sha256,
                            analysis_id=None,
                            created_at=utcnow(),
                        )
                    )
                return None
            except IntegrityError:
                pass
            row = s.get(IdempotencyKey, (owner, key))
            if row is None:  # released in between
                return self.reserve_key(owner, key, body_sha256)
            if row.body_sha256 != body_sha256:
                raise errors.IdempotencyConflict(
                    "This Idempotency-Key was used with a different request body; "
                    "send a new key for a new request."
                )
            if row.analysis_id is None:
                raise errors.IdempotencyInProgress(
                    "The first request with this Idempotency-Key has not finished; retry "
                    "in a few seconds."
                )
            return row.analysis_id

    def finish_key(self, owner: str, key: str, analysis_id: str) -> None:
        """Point ``key`` at the analysis its request stored."""
        with self.session() as s, s.begin():
            s.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
                .values(analysis_id=analysis_id)
            )

    def release_key(self, owner: str, key: str) -> None:
        """Forget ``key`` (its request failed, so a retry may run it again)."""
        with self.session() as s, s.begin():
            s.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.owner == owner, IdempotencyKey.key == key
                )
            )

    # ------------------------------------------------------------------ batches

    def create_batch(
        self,
        owner: str,
        items: Sequence[tuple[dict[str, Any], dict[str, Any] | None]],
        callback_url: str | None,
    ) -> tuple[str, list[str]]:
        """Store a batch of ``(request, problem)`` items (an item with a problem is
        failed from the start) and return its id and the ids of the items to run."""
        batch_id = new_id("bt")
        now = utcnow()
        to_run: list[str] = []
        with self.session() as s, s.begin():
            s.add(
                Batch(
                    id=batch_id,
                    owner=owner,
                    status="queued",
                    callback_url=callback_url,
                    total=len(items),
                    created_at=now,
                    updated_at=now,
                )
            )
            s.flush()
            for idx, (request, problem) in enumerate(items):
                item_id = new_id("bi")
                s.add(
                    BatchItem(
                        id=item_id,
                        batch_id=batch_id,
                        idx=idx,
                        request=request,
                        status="failed" if problem else "queued",
                        attempts=0,
                        problem=problem,
                        finished_at=now if problem else None,
                    )
                )
                if not problem:
                    to_run.append(item_id)
        return batch_id, to_run

    def get_batch(self, batch_id: str, owner: str) -> Batch | None:
        """The owner's batch, or ``None``."""
        with self.session() as s:
            row = s.get(Batch, batch_id)
            return row if row is not None and row.owner == owner else None

    def batch_items(self, batch_id: str) -> list[BatchItem]:
        """The batch's items in submission order."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.idx)
                )
            )

    def batch_counts(self, batch_id: str) -> BatchCounts:
        """How many of the batch's items are in each state."""
        with self.session() as s:
            rows = s.execute(
                select(BatchItem.status, func.count())
                .where(BatchItem.batch_id == batch_id)
                .group_by(BatchItem.status)
            ).all()
        return BatchCounts(**{str(status): int(n) for status, n in rows})

    def pending_items(self) -> list[str]:
        """Ids of every item not yet finished, oldest batch first (recovery after a
        restart of the in-process queue)."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(BatchItem.id)
                    .join(Batch, Batch.id == BatchItem.batch_id)
                    .where(
                        BatchItem.status.in_(("queued", "running")),
                        Batch.status.not_in(BATCH_TERMINAL),
                    )
                    .order_by(Batch.created_at, BatchItem.idx)
                )
            )

    def claim_item(
        self, item_id: str, worker: str, max_tries: int
    ) -> tuple[dict[str, Any], str, int] | None:
        """Start a run of the item: returns its request, the batch owner and which run
        this is, or ``None`` when there is nothing to do (finished, cancelled, gone, or
        out of tries, in which case it is marked failed)."""
        with self.session() as s, s.begin():
            item = s.get(BatchItem, item_id, with_for_update=True)
            if item is None or item.status in ITEM_TERMINAL:
                return None
            batch = s.get(Batch, item.batch_id)
            assert batch is not None
            now = utcnow()
            if batch.status == "cancelled":
                item.status, item.finished_at = "cancelled", now
                return None
            if item.attempts >= max_tries:
                item.status, item.finished_at = "failed", now
                item.problem = {
                    "type": errors.PROBLEM_BASE + "item-retries-exhausted",
                    "title": "The item was started too often",
                    "status": 500,
                    "detail": f"{item.attempts} runs of this item did not finish "
                    "(the worker running it stopped each time).",
                }
                return None
            item.status, item.worker, item.started_at = "running", worker, now
            item.attempts += 1
            if batch.status == "queued":
                batch.status, batch.updated_at = "running", now
            return dict(item.request), batch.owner, item.attempts

    def complete_item(
        self,
        item_id: str,
        owner: str,
        request: dict[str, Any],
        response: dict[str, Any],
        cache_key: str,
        analysis_id: str,
    ) -> str:
        """Store the item's analysis and mark it done, in one transaction. The unique
        ``batch_item_id`` means a second run of the same item can never store a second
        result: it gets the id of the first instead."""
        row = self._row(owner, request, response, cache_key, analysis_id, item_id, None)
        with self.session() as s:
            try:
                with s.begin():
                    self._check_quota(s, owner, row.size_bytes)
                    s.add(row)
                    s.flush()
                    s.execute(
                        update(BatchItem)
                        .where(BatchItem.id == item_id)
                        .values(
                            status="done",
                            analysis_id=analysis_id,
                            finished_at=utcnow(),
                            problem=None,
                        )
                    )
                return analysis_id
            except IntegrityError:
                pass
            with s.begin():
                existing = s.scalar(select(Analysis.id).where(Analysis.batch_item_id == item_id))
                assert existing is not None
                s.execute(
                    update(BatchItem)
                    .where(BatchItem.id == item_id, BatchItem.status != "done")
                    .values(status="done", analysis_id=existing, finished_at=utcnow())
                )
                return existing

    def fail_item(self, item_id: str, problem: dict[str, Any]) -> None:
        """Mark the item failed with the problem that ended it."""
        with self.session() as s, s.begin():
            s.execute(
                update(BatchItem)
                .where(BatchItem.id == item_id, BatchItem.status.not_in(ITEM_TERMINAL))
                .values(status="failed", problem=problem, finished_at=utcnow())
            )

    def refresh_batch(self, batch_id: str) -> str | None:
        """Recompute the batch's status from its items. Returns the final status when
        this call is the one that finished the batch (exactly one caller ever does),
        else ``None``."""
        counts = self.batch_counts(batch_id)
        with self.session() as s, s.begin():
            batch = s.get(Batch, batch_id, with_for_update=True)
            if batch is None or batch.finished_at is not None:
                return None
            now = utcnow()
            batch.updated_at = now
            if counts.pending:
                if batch.status == "queued" and (counts.running or counts.done or counts.failed):
                    batch.status = "running"
                return None
            if batch.status != "cancelled":
                batch.status = "failed" if counts.failed and not counts.done else "completed"
            batch.finished_at = now
            return batch.status

    def cancel_batch(self, batch_id: str, owner: str) -> Batch | None:
        """Cancel the owner's batch: items not yet started will not run; running ones
        finish. ``None`` when there is no such batch."""
        with self.session() as s, s.begin():
            batch = s.get(Batch, batch_id, with_for_update=True)
            if batch is None or batch.owner != owner:
                return None
            if batch.status not in BATCH_TERMINAL:
                now = utcnow()
                batch.status, batch.updated_at = "cancelled", now
                s.execute(
                    update(BatchItem)
                    .where(BatchItem.batch_id == batch_id, BatchItem.status == "queued")
                    .values(status="cancelled", finished_at=now)
                )
        self.refresh_batch(batch_id)
        return self.get_batch(batch_id, owner)

    def analyses_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored responses by analysis id."""
        if not ids:
            return {}
        with self.session() as s:
            rows = s.execute(select(Analysis.id, Analysis.response).where(Analysis.id.in_(ids)))
            return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------------ marks

    def set_mark(
        self,
        analysis_id: str,
        claim_id: str,
        status: str | None,
        note: str | None,
        editor: str | None,
        key_id: str | None,
    ) -> ClaimMark | None:
        """Set (or with ``status=None`` clear) the mark on one claim."""
        with self.session() as s, s.begin():
            row = s.get(ClaimMark, (analysis_id, claim_id))
            if status is None:
                if row is not None:
                    s.delete(row)
                return None
            if row is None:
                row = ClaimMark(analysis_id=analysis_id, claim_id=claim_id)
                s.add(row)
            row.status, row.note, row.editor, row.key_id = status, note, editor, key_id
            row.marked_at = utcnow()
            return row

    def marks(self, analysis_id: str) -> list[ClaimMark]:
        """Every mark on the analysis's claims."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(ClaimMark)
                    .where(ClaimMark.analysis_id == analysis_id)
                    .order_by(ClaimMark.claim_id)
                )
            )

    # ------------------------------------------------------------------ webhooks

    def webhook_secret(self, owner: str, rotate: bool = False) -> str:
        """The owner's webhook signing secret, created on first use (or anew when
        ``rotate``)."""
        with self.session() as s:
            try:
                with s.begin():
                    row = s.get(WebhookSecret, owner)
                    if row is None or rotate:
                        secret = "whsec_" + secrets.token_urlsafe(32)
                        if row is None:
                            s.add(WebhookSecret(owner=owner, secret=secret, created_at=utcnow()))
                        else:
                            row.secret, row.created_at = secret, utcnow()
                        return secret
                    return row.secret
            except IntegrityError:
                return self.webhook_secret(owner)

    def add_delivery(
        self, owner: str, event: str, subject_id: str, url: str, payload: dict[str, Any]
    ) -> str:
        """Record a webhook to deliver; returns its id."""
        delivery_id = new_id("wh")
        with self.session() as s, s.begin():
            s.add(
                WebhookDelivery(
                    id=delivery_id,
                    owner=owner,
                    event=event,
                    subject_id=subject_id,
                    url=url,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    created_at=utcnow(),
                )
            )
        return delivery_id

    def pending_deliveries(self) -> list[str]:
        """Ids of deliveries still to be tried, oldest first."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.status == "pending")
                    .order_by(WebhookDelivery.created_at)
                )
            )

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        """One delivery."""
        with self.session() as s:
            return s.get(WebhookDelivery, delivery_id)

    def record_attempt(
        self,
        delivery_id: str,
        attempt: int,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        final_status: str | None,
    ) -> None:
        """Store one delivery attempt; ``final_status`` (delivered / failed) ends it."""
        with self.session() as s, s.begin():
            s.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    attempt=attempt,
                    at=utcnow(),
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            values: dict[str, Any] = {"attempts": attempt}
            if final_status is not None:
                values.update(status=final_status, finished_at=utcnow())
            s.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
            )

    def deliveries(
        self, owner: str, subject_id: str
    ) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
        """The owner's deliveries about one analysis or batch, each with its attempts."""
        with self.session() as s:
            rows = list(
                s.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.owner == owner, WebhookDelivery.subject_id == subject_id)
                    .order_by(WebhookDelivery.created_at)
                )
            )
            out = []
            for d in rows:
                attempts = list(
                    s.scalars(
                        select(WebhookAttempt)
                        .where(WebhookAttempt.delivery_id == d.id)
                        .order_by(WebhookAttempt.attempt)
                    )
                )
                out.append((d, attempts))
            return out
