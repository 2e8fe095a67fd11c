"""Stored analyses on SQLite and PostgreSQL: ids, read / list / delete, Idempotency-Key,
the result cache, access by key, limits, marks, migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect

from service.app import create_app
from service.security import hash_key
from service.settings import Settings
from service.storage import Store, migrate
from service.storage.models import Base
from tests.conftest import seed_llm_output
from tests.fakes import FakeLLM
from tests.fakeserver import FakeModelServer, Reply
from tests.reliability.conftest import CITES_S1, AlwaysLLM
from tests.storage.conftest import backend_settings

PROBLEM = "application/problem+json"


def problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"/problems/{slug}", body
    return body


@pytest.fixture
def always() -> AlwaysLLM:
    return AlwaysLLM(json.dumps(CITES_S1))


@pytest.fixture
def client(settings: Settings, database_url: str, always: AlwaysLLM) -> Iterator[TestClient]:
    s = backend_settings(settings, database_url)
    with TestClient(create_app(s, always), raise_server_exceptions=False) as c:
        yield c


def test_analysis_is_stored_with_an_unguessable_id(
    settings: Settings, database_url: str, seed_text: str
) -> None:
    fake = FakeLLM(seed_llm_output(seed_text))
    s = backend_settings(settings, database_url)
    with TestClient(create_app(s, fake)) as c:
        r = c.post("/v1/analyses", json={"text": seed_text, "url": "https://example.org/a"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["id"].startswith("an_") and len(body["id"]) >= 24
        assert r.headers["location"] == f"/v1/analyses/{body['id']}"
        assert body["meta"]["cached"] is False
        got = c.get(f"/v1/analyses/{body['id']}")
        assert got.status_code == 200
        stored = got.json()
        assert stored["claims"] == body["claims"] and stored["summary"] == body["summary"]
        assert stored["id"] == body["id"] and stored["marks"] == []
    # a new process (new app, same database) still has it
    with TestClient(create_app(s, FakeLLM())) as c:
        assert c.get(f"/v1/analyses/{body['id']}").json()["claims"] == body["claims"]
        problem(c.get("/v1/analyses/an_doesnotexist"), 404, "not-found")


def test_list_pages_by_cursor_and_filters(client: TestClient) -> None:
    ids = []
    for i in range(5):
        url = "https://example.org/x" if i % 2 else "https://example.org/y"
        r = client.post("/v1/analyses", json={"text": f"Article {i} says a thing.", "url": url})
        ids.append(r.json()["id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/analyses", params=params).json()
        assert len(page["data"]) <= 2
        seen += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids  # oldest first, each exactly once
    only_x = client.get("/v1/analyses", params={"url": "https://example.org/x"}).json()
    assert [d["id"] for d in only_x["data"]] == [ids[1], ids[3]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/v1/analyses", params={"since": future}).json()["data"] == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len(client.get("/v1/analyses", params={"since": past}).json()["data"]) == 5
    problem(client.get("/v1/analyses", params={"cursor": "garbage!"}), 422, "invalid-request")


def test_delete(client: TestClient) -> None:
    aid = client.post("/v1/analyses", json={"text": "One sentence here."}).json()["id"]
    assert client.delete(f"/v1/analyses/{aid}").status_code == 204
    problem(client.get(f"/v1/analyses/{aid}"), 404, "not-found")
    problem(client.delete(f"/v1/analyses/{aid}"), 404, "not-found")


def test_idempotency_key_makes_one_model_call_over_http(
    settings: Settings, database_url: str, fake_server: FakeModelServer, seed_text: str
) -> None:
    """The real path: litellm over HTTP to a fake OpenAI-compatible server, which counts."""
    fake_server.always(Reply(content=json.dumps(seed_llm_output(seed_text))))
    s = backend_settings(settings, database_url, api_base=fake_server.base_url)
    body = {"text": seed_text, "title": "Baghuz"}
    with TestClient(create_app(s)) as c:
        first = c.post("/v1/analyses", json=body, headers={"Idempotency-Key": "cms-42"})
        assert first.status_code == 200, first.text
        again = c.post("/v1/analyses", json=body, headers={"Idempotency-Key": "cms-42"})
        assert again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["claims"] == first.json()["claims"]
        assert len(fake_server.requests) == 1
        other = c.post(
            "/v1/analyses", json={**body, "title": "Other"}, headers={"Idempotency-Key": "cms-42"}
        )
        problem(other, 409, "idempotency-key-reused")
        assert len(fake_server.requests) == 1


def test_failed_request_releases_its_idempotency_key(
    settings: Settings, database_url: str, seed_text: str
) -> None:
    fake = FakeLLM("not json", "still not", "nope", seed_llm_output(seed_text))
    s = backend_settings(settings, database_url)
    with TestClient(create_app(s, fake), raise_server_exceptions=False) as c:
        h = {"Idempotency-Key": "retry-me"}
        problem(
            c.post("/v1/analyses", json={"text": seed_text}, headers=h), 502, "model-output-invalid"
        )
        r = c.post("/v1/analyses", json={"text": seed_text}, headers=h)
        assert r.status_code == 200, r.text


def test_result_cache_answers_without_a_model_call(client: TestClient, always: AlwaysLLM) -> None:
    body = {"text": "The minister said taxes will rise.", "options": {"summary_sentences": 2}}
    first = client.post("/v1/analyses", json=body).json()
    second = client.post("/v1/analyses", json=body).json()
    assert always.calls == 1
    assert second["meta"]["cached"] is True and first["meta"]["cached"] is False
    assert second["id"] != first["id"] and second["claims"] == first["claims"]
    # a different option is a different analysis
    client.post("/v1/analyses", json={**body, "options": {"summary_sentences": 3}})
    assert always.calls == 2
    # and a client can insist on a fresh one
    fresh = client.post("/v1/analyses", json=body, headers={"Cache-Control": "no-cache"})
    assert fresh.json()["meta"]["cached"] is False and always.calls == 3


def test_stored_objects_are_visible_only_to_their_key(
    settings: Settings, database_url: str, always: AlwaysLLM
) -> None:
    s = backend_settings(
        settings, database_url, api_keys=(hash_key("key-alice"), hash_key("key-bob"))
    )
    alice = {"Authorization": "Bearer key-alice"}
    bob = {"X-API-Key": "key-bob"}
    with TestClient(create_app(s, always), raise_server_exceptions=False) as c:
        r = c.post(
            "/v1/analyses", json={"text": "Police said two people were hurt."}, headers=alice
        )
        aid = r.json()["id"]
        claim = (r.json()["claims"] + r.json()["rejected_claims"])[0]["id"]
        assert c.get(f"/v1/analyses/{aid}", headers=alice).status_code == 200
        problem(c.get(f"/v1/analyses/{aid}", headers=bob), 404, "not-found")
        problem(c.delete(f"/v1/analyses/{aid}", headers=bob), 404, "not-found")
        problem(
            c.patch(f"/v1/analyses/{aid}/claims/{claim}", json={"status": "disputed"}, headers=bob),
            404,
            "not-found",
        )
        assert c.get(f"/review/{aid}", headers=bob).status_code == 404
        assert c.get(f"/review/{aid}").status_code == 404
        assert c.get(f"/review/{aid}", headers=alice).status_code == 200
        c.cookies.set("factdesk_key", "key-alice")
        assert c.get(f"/review/{aid}").status_code == 200
        c.cookies.clear()
        assert c.get("/v1/analyses", headers=bob).json()["data"] == []
        batch = c.post("/v1/batches", json={"items": [{"text": "A b c."}]}, headers=alice)
        bid = batch.json()["id"]
        problem(c.get(f"/v1/batches/{bid}", headers=bob), 404, "not-found")
        problem(c.get(f"/v1/batches/{bid}/results", headers=bob), 404, "not-found")
        problem(c.post(f"/v1/batches/{bid}/cancel", json={}, headers=bob), 404, "not-found")
        # the same Idempotency-Key from another key is another request
        h = {"Idempotency-Key": "shared"}
        a1 = c.post("/v1/analyses", json={"text": "X said y."}, headers={**alice, **h})
        b1 = c.post("/v1/analyses", json={"text": "Z said w."}, headers={**bob, **h})
        assert a1.status_code == b1.status_code == 200
        assert a1.json()["id"] != b1.json()["id"]


def test_storage_quota_is_a_problem(
    settings: Settings, database_url: str, always: AlwaysLLM
) -> None:
    s = backend_settings(settings, database_url, storage_quota_bytes=3_000)
    with TestClient(create_app(s, always), raise_server_exceptions=False) as c:
        ok = c.post("/v1/analyses", json={"text": "The mayor said the bridge reopens."})
        assert ok.status_code == 200
        over = [c.post("/v1/analyses", json={"text": f"Story {i} said so."}) for i in range(5)]
        assert over[-1].status_code == 507
        problem(over[-1], 507, "storage-quota-exceeded")


def test_marks_are_stored_with_who_and_when(client: TestClient) -> None:
    r = client.post("/v1/analyses", json={"text": "The senator said the vote failed."}).json()
    aid, cid = r["id"], (r["claims"] + r["rejected_claims"])[0]["id"]
    m = client.patch(
        f"/v1/analyses/{aid}/claims/{cid}", json={"status": "disputed", "editor": "Rosa"}
    )
    assert m.status_code == 200, m.text
    assert m.json()["status"] == "disputed" and m.json()["editor"] == "Rosa"
    stored = client.get(f"/v1/analyses/{aid}").json()["marks"]
    assert [(x["claim_id"], x["status"], x["editor"]) for x in stored] == [
        (cid, "disputed", "Rosa")
    ]
    assert datetime.fromisoformat(stored[0]["marked_at"]) <= datetime.now(UTC)
    client.patch(f"/v1/analyses/{aid}/claims/{cid}", json={"status": "confirmed"})
    assert client.get(f"/v1/analyses/{aid}").json()["marks"][0]["status"] == "confirmed"
    client.patch(f"/v1/analyses/{aid}/claims/{cid}", json={"status": None})
    assert client.get(f"/v1/analyses/{aid}").json()["marks"] == []
    problem(
        client.patch(f"/v1/analyses/{aid}/claims/C999", json={"status": "confirmed"}),
        404,
        "not-found",
    )
    problem(
        client.patch(f"/v1/analyses/{aid}/claims/{cid}", json={"status": "maybe"}),
        422,
        "invalid-request",
    )


def test_migrations_reach_head_and_rerun_as_no_op(settings: Settings, database_url: str) -> None:
    s = backend_settings(settings, database_url)
    store = Store.open(s, migrate_now=False)
    assert migrate.current(store.engine) is None
    migrate.upgrade(store.engine)
    assert migrate.current(store.engine) == migrate.head()
    migrate.upgrade(store.engine)
    tables = set(inspect(store.engine).get_table_names())
    assert {"analyses", "batches", "batch_items", "claim_marks", "webhook_deliveries"} <= tables
    # the migrations build exactly the tables the code declares
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff
    store.close()


def test_db_upgrade_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"FACTDESK_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"-> {migrate.head()}" in done.stderr
    engine = create_engine(url)
    assert migrate.current(engine) == migrate.head()
    engine.dispose()
