"""Case workflows on SQLite and PostgreSQL: create, triage job, review, regenerate, resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.domain import Case
from core.errors import InvalidTransition, NotFound, ValidationFailed
from retrieval.search import SearchQuery
from service.container import Container
from service.models import NewCase, ResolveInput, ReviewInput, RunbookInput
from storage import audit
from tests.service_support import make_container

TICKET = NewCase(
    title="Webhook deliveries failing with signature errors",
    body="Since we rotated the signing secret all webhook deliveries fail with "
    "LedgerlineSignatureVerificationError: webhook_signature_invalid. "
    "Contact me at jane.doe@example.com",
    customer="acme",
)


@pytest.fixture
def container(tmp_path: Path, db_url: str) -> Container:
    return make_container(tmp_path, db_url)


def _drain(container: Container) -> int:
    worker = container.worker(worker_id="test")
    n = 0
    while worker.run_once():
        n += 1
    return n


def test_create_then_worker_drafts_the_case(container: Container) -> None:
    status, created = container.cases.create(TICKET, actor="t")
    assert status == 202 and created.created and created.draft_status == "queued"
    view = container.cases.get(created.case_id)
    # PII is redacted before anything is stored.
    assert "jane.doe@example.com" not in view.case.body
    assert view.case.error_signatures  # extracted at intake
    assert _drain(container) == 1
    drafts = container.cases.drafts(created.case_id)
    assert drafts.draft_status == "ready" and drafts.latest is not None
    assert drafts.latest.version == 1 and drafts.latest.mode == "retrieval-only"
    assert drafts.latest.draft.routing.queue == "integrations"
    assert drafts.jobs[0].state == "done"


def test_idempotency_key_replays_and_a_different_body_conflicts(container: Container) -> None:
    first = container.cases.create(TICKET, actor="k1", idempotency_key="abc", body_hash="h1")
    again = container.cases.create(TICKET, actor="k1", idempotency_key="abc", body_hash="h1")
    assert first == again
    assert len(container.cases.list_cases(limit=50)[0]) == 1
    from core.errors import Conflict

    with pytest.raises(Conflict):
        container.cases.create(TICKET, actor="k1", idempotency_key="abc", body_hash="h2")


def test_external_id_is_created_once(container: Container) -> None:
    new = TICKET.model_copy(update={"external_id": "T-1", "source": "zendesk"})
    s1, c1 = container.cases.create(new, actor="t")
    s2, c2 = container.cases.create(new, actor="t")
    assert (s1, s2) == (202, 200) and c1.case_id == c2.case_id == "zendesk:T-1"
    assert not c2.created and _drain(container) == 1


def test_webhook_delivery_is_recognised(container: Container) -> None:
    case = Case(id="github:o:r#1", title="x", body="y", source="github")
    s1, _ = container.cases.create(case, actor="w", delivery=("github", "d1"))
    s2, c2 = container.cases.create(case, actor="w", delivery=("github", "d1"))
    assert (s1, s2) == (202, 200) and not c2.created and _drain(container) == 1


def test_review_accept_edit_reject(container: Container) -> None:
    _, created = container.cases.create(TICKET, actor="t")
    with pytest.raises(InvalidTransition):
        container.cases.review(
            created.case_id, ReviewInput(action="accept", reviewer="a"), actor="t"
        )
    _drain(container)
    with pytest.raises(ValidationFailed):
        container.cases.review(
            created.case_id, ReviewInput(action="edit", reviewer="a", queue="nope"), actor="t"
        )
    with pytest.raises(ValidationFailed):
        container.cases.review(created.case_id, ReviewInput(action="edit", reviewer="a"), actor="t")
    edited = container.cases.review(
        created.case_id,
        ReviewInput(
            action="edit",
            reviewer="ana",
            queue="identity",
            priority="P1",
            response="Thanks, we are on it.",
            comment="wrong queue",
        ),
        actor="t",
    )
    assert edited.review.corrected_queue == "identity" and edited.case.case.queue == "identity"
    assert edited.case.draft_status == "reviewed"
    container.cases.review(created.case_id, ReviewInput(action="reject", reviewer="bo"), actor="t")
    reviews = container.cases.reviews(created.case_id)
    assert [r.action for r in reviews] == ["edit", "reject"]
    labelled = container.cases.labelled_cases()
    assert [(c.id, c.queue, c.priority) for c in labelled] == [(created.case_id, "identity", "P1")]
    with container.database.read() as s:
        actions = [e.action for e in audit.entries(s, target=f"case:{created.case_id}")]
    assert actions[:3] == ["draft.reject", "draft.edit", "draft.create"]


def test_regenerate_adds_a_version(container: Container) -> None:
    _, created = container.cases.create(TICKET, actor="t")
    _drain(container)
    again = container.cases.regenerate(created.case_id, actor="t")
    assert again.draft_status == "queued" and again.job_id
    _drain(container)
    drafts = container.cases.drafts(created.case_id)
    assert [v.version for v in drafts.versions] == [1, 2] and drafts.draft_status == "ready"
    with pytest.raises(NotFound):
        container.cases.regenerate("nope", actor="t")


def test_resolve_puts_the_case_in_the_index(container: Container) -> None:
    _, created = container.cases.create(TICKET, actor="t")
    _drain(container)
    with pytest.raises(ValidationFailed):
        container.cases.resolve(
            created.case_id, ResolveInput(resolution="x", runbook_ids=["no/such"]), actor="t"
        )
    resolved = container.cases.resolve(
        created.case_id,
        ResolveInput(
            resolution="Customer redeployed with the new secret; mail ops@example.com",
            root_cause="old signing secret",
            queue="integrations",
        ),
        actor="t",
    )
    assert resolved.case.status == "resolved" and resolved.resolved_at is not None
    indexed = container.index.get_case(created.case_id)
    assert indexed.resolution and "ops@example.com" not in indexed.resolution
    query = SearchQuery(text="rotated signing secret webhook_signature_invalid", kind="case", k=5)
    assert created.case_id in [h.doc_id for h in container.searcher.search(query)]


def test_similar_cases_for_a_new_case(container: Container) -> None:
    _, created = container.cases.create(TICKET, actor="t")
    hits = container.cases.similar(created.case_id, k=5)
    assert hits and created.case_id not in [h.doc_id for h in hits]
    assert hits[0].queue == "integrations"


def test_a_failing_job_is_retried_then_dead_lettered_with_a_visible_error(
    tmp_path: Path, db_url: str
) -> None:
    container = make_container(tmp_path, db_url, job_max_attempts=2)

    class Broken:
        def triage(self, case: Case) -> None:
            raise RuntimeError("vector store unreachable")

    container.triage_engine = Broken()  # type: ignore[assignment]
    _, created = container.cases.create(TICKET, actor="t")
    worker = container.worker(worker_id="t")
    assert worker.run_once()
    from datetime import timedelta

    from sqlalchemy import update

    from core.domain import utcnow
    from storage.models import JobRow

    with container.database.write() as s:
        s.execute(update(JobRow).values(run_after=utcnow() - timedelta(seconds=1)))
    assert worker.run_once()
    view = container.cases.get(created.case_id)
    assert view.draft_status == "failed" and "vector store unreachable" in (view.last_error or "")
    dead = container.job_queue.list(state="dead")
    assert len(dead) == 1
    del container.triage_engine  # the real engine again
    container.cases.retry_job(dead[0].id, actor="admin")
    assert container.cases.get(created.case_id).draft_status == "queued"
    assert worker.run_once()
    assert container.cases.get(created.case_id).draft_status == "ready"


def test_runbook_put_update_delete_keeps_the_index_in_step(container: Container) -> None:
    body = RunbookInput(
        title="Rotate webhook secrets", body="# Rotate\n\n## Steps\n\nUse `ll webhooks rotate`."
    )
    assert container.knowledge.put_runbook("ops/rotate", body, actor="t")["outcome"] == "added"
    assert container.knowledge.put_runbook("ops/rotate", body, actor="t")["outcome"] == "unchanged"
    changed = body.model_copy(update={"body": body.body + "\n\nThen verify deliveries."})
    assert container.knowledge.put_runbook("ops/rotate", changed, actor="t")["outcome"] == "updated"
    assert container.knowledge.get_runbook("ops/rotate").title == "Rotate webhook secrets"
    container.knowledge.delete_runbook("ops/rotate", actor="t")
    with pytest.raises(NotFound):
        container.knowledge.delete_runbook("ops/rotate", actor="t")
    with pytest.raises(ValidationFailed):
        container.knowledge.put_runbook("../etc", body, actor="t")


def test_ingest_upload_runs_as_a_job(container: Container) -> None:
    content = (Path(__file__).resolve().parents[1] / "demo" / "cases.jsonl").read_bytes()
    lines = content.splitlines()[200:210]
    job = container.knowledge.enqueue_upload(
        "cases", "more.jsonl", b"\n".join(lines) + b"\n{broken\n", actor="t"
    )
    _drain(container)
    done = container.job_queue.get(job.id)
    assert done.state == "done" and done.result is not None
    assert done.result["added"] == 10 and done.result["skipped_total"] == 1
    with pytest.raises(ValidationFailed):
        container.knowledge.enqueue_upload("cases", "x.exe", b"1", actor="t")


def test_runbook_usage_events_come_from_drafts_and_reviews(container: Container) -> None:
    from service.coverage import usage_events

    _, created = container.cases.create(TICKET, actor="t")
    _drain(container)
    container.cases.review(created.case_id, ReviewInput(action="accept", reviewer="a"), actor="t")
    events = usage_events(container.database)
    cited = {e.runbook_id for e in events if e.kind == "cited"}
    accepted = {e.runbook_id for e in events if e.kind == "accepted"}
    assert cited and accepted and accepted <= cited
    assert all("#" not in e.runbook_id for e in events)
    assert all(container.index.lexical.get("runbook", r) for r in cited)


def test_reviews_export_as_a_labelled_suite(container: Container, tmp_path: Path) -> None:
    from evals.importers import reviewed_drafts, suite_from_reviews

    ids = []
    for title in ("Webhooks failing", "Refund 500s", "SSO broken"):
        ids.append(
            container.cases.create(TICKET.model_copy(update={"title": title}), actor="t")[1].case_id
        )
    _drain(container)
    container.cases.review(ids[0], ReviewInput(action="accept", reviewer="a"), actor="t")
    container.cases.review(
        ids[1], ReviewInput(action="edit", reviewer="a", queue="billing", response="Hi"), actor="t"
    )
    container.cases.review(ids[2], ReviewInput(action="reject", reviewer="a"), actor="t")
    records = reviewed_drafts(container.database)
    assert [r.action for r in records] == ["accepted", "edited", "rejected"]
    assert records[0].case.queue is None  # labels are not leaked into the case text
    suite = suite_from_reviews(records)
    labels = {e.case.id: e.labels for e in suite.examples}
    assert labels[ids[1]].queue == "billing" and labels[ids[1]].reference_response == "Hi"
    assert labels[ids[0]].queue == container.cases.drafts(ids[0]).latest.draft.routing.queue
    assert ids[2] not in labels or labels[ids[2]].queue is None


def test_concurrent_retries_of_one_delivery_create_one_case(tmp_path: Path, db_url: str) -> None:
    import threading

    container = make_container(tmp_path, db_url, seed_cases=None)
    case = Case(id="zendesk:77", title="Payouts delayed", body="...", source="zendesk")
    results: list[tuple[int, object]] = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        barrier.wait()
        results.append(container.cases.create(case, actor="w", delivery=("zendesk", "evt-1")))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 5 + [202]
    assert len(container.job_queue.jobs_for_case("zendesk:77")) == 1
