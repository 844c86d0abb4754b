"""Storage on SQLite and PostgreSQL: schema, cases, drafts, reviews, keys, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from core.domain import Case
from core.errors import Conflict, NotFound, ValidationFailed
from storage import audit, idempotency
from storage import cases as repo
from storage.api_keys import ApiKeyStore
from storage.db import Database
from storage.models import Base

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _case(i: int, **kw: object) -> Case:
    return Case(id=f"c{i:03d}", title=f"case {i}", created_at=T0 + timedelta(hours=i), **kw)


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_migrate_twice_is_a_no_op(database: Database) -> None:
    database.migrate()
    database.ping()


def test_case_round_trip_keeps_aware_times(database: Database) -> None:
    case = _case(1, queue="billing", tags=["a"], metadata={"k": 1})
    with database.write() as s:
        repo.insert_case(s, case, draft_status="queued")
    with database.read() as s:
        got = repo.get_case(s, "c001")
    assert got.case == case
    assert got.created_at.tzinfo is not None and got.created_at == case.created_at
    with database.read() as s, pytest.raises(NotFound):
        repo.get_case(s, "nope")


def test_duplicate_case_id_is_refused(database: Database) -> None:
    with database.write() as s:
        repo.insert_case(s, _case(1), draft_status="queued")
    with pytest.raises(IntegrityError), database.write() as s:
        repo.insert_case(s, _case(1), draft_status="queued")


def test_list_filters_and_cursor_pagination_visit_every_case_once(database: Database) -> None:
    with database.write() as s:
        for i in range(25):
            repo.insert_case(
                s, _case(i, queue="billing" if i % 2 else "identity"), draft_status="queued"
            )
        # Two cases at the same instant: the id breaks the tie, none is skipped.
        repo.insert_case(
            s, Case(id="z-same", created_at=T0 + timedelta(hours=3)), draft_status="queued"
        )
    seen: list[str] = []
    cursor = None
    while True:
        with database.read() as s:
            page, cursor = repo.list_cases(s, cursor=cursor, limit=4)
        seen += [r.case.id for r in page]
        if cursor is None:
            break
    assert len(seen) == 26 and len(set(seen)) == 26
    with database.read() as s:
        billing, _ = repo.list_cases(s, queue="billing", limit=100)
        window, _ = repo.list_cases(
            s, created_after=T0 + timedelta(hours=5), created_before=T0 + timedelta(hours=10)
        )
    assert {r.case.queue for r in billing} == {"billing"} and len(billing) == 12
    assert sorted(r.case.id for r in window) == [f"c{i:03d}" for i in range(5, 10)]
    with database.read() as s, pytest.raises(ValidationFailed):
        repo.list_cases(s, cursor="not-a-cursor")


def test_drafts_are_versioned_and_one_per_job(database: Database) -> None:
    with database.write() as s:
        repo.insert_case(s, _case(1), draft_status="queued")
        repo.add_draft(s, "c001", {"v": 1}, mode="retrieval-only", job_id=10)
        repo.add_draft(s, "c001", {"v": 2}, mode="llm", job_id=11)
    with database.read() as s:
        versions = repo.drafts_of(s, "c001")
        latest = repo.latest_draft(s, "c001")
    assert [d.version for d in versions] == [1, 2]
    assert latest is not None and latest.draft == {"v": 2} and latest.mode == "llm"
    with database.write() as s:
        repo.insert_case(s, _case(2), draft_status="queued")
    with database.read() as s:
        newest = repo.latest_drafts(s, ["c001", "c002", "nope"])
    assert list(newest) == ["c001"] and newest["c001"].version == 2
    with pytest.raises(IntegrityError), database.write() as s:
        repo.add_draft(s, "c001", {"v": 3}, mode="llm", job_id=11)


def test_reviews_are_kept_in_order(database: Database) -> None:
    with database.write() as s:
        repo.insert_case(s, _case(1), draft_status="ready")
        for action in ("reject", "edit", "accept"):
            repo.add_review(
                s,
                "c001",
                draft_version=1,
                action=action,
                reviewer="ana",
                comment=None,
                corrected_queue="billing" if action == "edit" else None,
                corrected_priority=None,
                data={"action": action},
            )
    with database.read() as s:
        reviews = repo.reviews_of(s, "c001")
        everything = repo.all_reviews(s)
    assert [r.action for r in reviews] == ["reject", "edit", "accept"]
    assert reviews[1].corrected_queue == "billing" and len(everything) == 3


def test_api_keys_are_hashed_shown_once_and_revocable(database: Database) -> None:
    keys = ApiKeyStore(database)
    secret, record = keys.create("engineer", "ana")
    assert keys.authenticate(secret) == record
    assert keys.authenticate(secret + "x") is None and keys.authenticate("junk") is None
    with database.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT secret_hash FROM api_keys").scalar_one()
    assert secret not in stored and len(stored) == 64
    assert keys.active(record.id) == record and keys.active("nope") is None
    keys.revoke(record.id)
    assert keys.authenticate(secret) is None and keys.active(record.id) is None
    with pytest.raises(ValidationFailed):
        keys.create("superuser", "x")


def test_idempotency_replays_and_refuses_a_reused_key(database: Database) -> None:
    h = idempotency.request_hash(b'{"a":1}')
    with database.write() as s:
        assert idempotency.replay(s, "key1", "k", h) is None
        idempotency.remember(s, "key1", "k", h, 202, {"id": "c1"})
    with database.read() as s:
        assert idempotency.replay(s, "key1", "k", h) == (202, {"id": "c1"})
        assert idempotency.replay(s, "key2", "k", h) is None  # scoped per caller
        with pytest.raises(Conflict):
            idempotency.replay(s, "key1", "k", idempotency.request_hash(b"other"))


def test_webhook_delivery_ids_are_unique(database: Database) -> None:
    with database.write() as s:
        idempotency.record_delivery(s, "github", "d-1", "c1")
    with database.read() as s:
        assert idempotency.seen_delivery(s, "github", "d-1") is not None
        assert idempotency.seen_delivery(s, "jira", "d-1") is None
    with pytest.raises(IntegrityError), database.write() as s:
        idempotency.record_delivery(s, "github", "d-1", "c2")


def test_audit_entries_newest_first(database: Database) -> None:
    with database.write() as s:
        audit.record(s, "key:1", "case.create", "case:c1", {"queue": "billing"})
        audit.record(s, "key:2", "case.review", "case:c1", {"action": "accept"})
    with database.read() as s:
        got = audit.entries(s, target="case:c1")
    assert [e.action for e in got] == ["case.review", "case.create"]
    assert got[1].details == {"queue": "billing"}


def test_old_idempotency_keys_expire(database: Database) -> None:
    from sqlalchemy import update

    from storage.models import IdempotencyRow

    with database.write() as s:
        idempotency.remember(s, "k", "old", "h", 202, {})
        idempotency.remember(s, "k", "new", "h", 202, {})
        s.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.key == "old")
            .values(created_at=T0 - timedelta(days=30))
        )
    with database.write() as s:
        assert idempotency.expire(s, older_than_days=7) == 1
    with database.read() as s:
        assert idempotency.replay(s, "k", "old", "h") is None
        assert idempotency.replay(s, "k", "new", "h") is not None
