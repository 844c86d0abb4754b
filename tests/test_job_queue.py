"""The durable job queue on SQLite and PostgreSQL: leases, fencing, retries, dead letters."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.domain import Case, utcnow
from core.errors import InvalidTransition
from storage import cases as repo
from storage import jobs
from storage.db import Database
from storage.jobs import JobQueue
from storage.models import JobRow


def _enqueue(db: Database, n: int = 1, **kw: object) -> list[int]:
    with db.write() as s:
        return [jobs.enqueue(s, "triage", {"i": i}, **kw).id for i in range(n)]  # type: ignore[arg-type]


def test_claim_complete_exactly_once(database: Database) -> None:
    q = JobQueue(database)
    (job_id,) = _enqueue(database)
    job = q.claim("w1")
    assert job is not None and job.id == job_id and job.attempts == 1 and job.state == "running"
    assert q.claim("w2") is None  # held by w1
    with database.write() as s:
        assert q.complete(s, job, {"ok": True})
    with database.write() as s:
        assert not q.complete(s, job, {"ok": True})  # second completion refused
    done = q.get(job_id)
    assert done.state == "done" and done.result == {"ok": True} and done.finished_at
    assert q.depth() == {"queued": 0, "running": 0, "done": 1, "dead": 0}


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_off(
    database: Database,
) -> None:
    q = JobQueue(database, lease_s=0.2)
    _enqueue(database)
    first = q.claim("w1")
    assert first is not None
    time.sleep(0.4)  # w1 "died": its lease runs out
    second = q.claim("w2")
    assert second is not None and second.id == first.id and second.attempts == 2
    assert not q.heartbeat(first)
    with database.write() as s:
        assert not q.complete(s, first, {"by": "w1"})
    with database.write() as s:
        assert q.complete(s, second, {"by": "w2"})
    assert q.get(first.id).result == {"by": "w2"}


def test_heartbeat_keeps_the_lease(database: Database) -> None:
    q = JobQueue(database, lease_s=0.5)
    _enqueue(database)
    job = q.claim("w1")
    assert job is not None
    for _ in range(3):
        time.sleep(0.25)
        assert q.heartbeat(job)
    assert q.claim("w2") is None


def test_failures_back_off_then_dead_letter_then_retry(database: Database) -> None:
    q = JobQueue(database)
    with database.write() as s:
        repo.insert_case(s, Case(id="c1"), draft_status="queued")
    (job_id,) = _enqueue(database, max_attempts=2, case_id="c1")
    job = q.claim("w")
    assert job is not None
    failed = q.fail(job, "boom 1")
    assert failed is not None and failed.state == "queued" and failed.run_after > utcnow()
    assert q.claim("w") is None  # not due yet
    with database.write() as s:
        s.execute(update(JobRow).values(run_after=utcnow() - timedelta(seconds=1)))
    job = q.claim("w")
    assert job is not None and job.attempts == 2
    dead = q.fail(job, "boom 2")
    assert dead is not None and dead.state == "dead" and dead.last_error == "boom 2"
    with database.read() as s:
        assert repo.get_case(s, "c1").draft_status == "failed"
    assert q.claim("w") is None
    again = q.retry(job_id)
    assert again.state == "queued" and again.max_attempts == 3
    assert q.claim("w") is not None
    with pytest.raises(InvalidTransition):
        q.retry(job_id)


def test_non_retryable_failure_goes_straight_to_dead(database: Database) -> None:
    q = JobQueue(database)
    _enqueue(database, max_attempts=5)
    job = q.claim("w")
    assert job is not None
    dead = q.fail(job, "bad payload", retryable=False)
    assert dead is not None and dead.state == "dead" and dead.attempts == 1


def test_a_worker_lost_on_the_last_attempt_dead_letters_the_job(database: Database) -> None:
    q = JobQueue(database, lease_s=0.1)
    (job_id,) = _enqueue(database, max_attempts=1)
    assert q.claim("w1") is not None
    time.sleep(0.3)
    assert q.claim("w2") is None
    assert q.get(job_id).state == "dead"


def test_two_workers_drain_one_queue_with_no_job_run_twice(db_url: str) -> None:
    # Each worker has its own Database (own connection pool), as separate processes would.
    setup = Database(db_url)
    setup.migrate()
    _enqueue(setup, 60)
    ran: dict[str, list[int]] = {"a": [], "b": []}

    def drain(name: str) -> None:
        db = Database(db_url)
        q = JobQueue(db)
        while (job := q.claim(name)) is not None:
            ran[name].append(job.id)
            with db.write() as s:
                assert q.complete(s, job, {"by": name})
        db.dispose()

    threads = [threading.Thread(target=drain, args=(n,)) for n in ran]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    everything = ran["a"] + ran["b"]
    assert len(everything) == 60 and len(set(everything)) == 60
    assert JobQueue(setup).depth()["done"] == 60
    setup.dispose()


def test_next_due_in(database: Database) -> None:
    q = JobQueue(database)
    assert q.next_due_in() is None
    _enqueue(database, run_after=utcnow() + timedelta(seconds=30))
    due = q.next_due_in()
    assert due is not None and 20 < due <= 30
