"""Case workflows: create (and enqueue triage), read, review, regenerate, resolve."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casetext.preparation import prepare_case
from casetext.redaction import Redactor
from core.domain import Case, CaseStatus, utcnow
from core.errors import InvalidTransition, NotFound, ServiceError, ValidationFailed
from retrieval.filters import SearchFilters
from retrieval.index import KnowledgeIndex
from retrieval.search import HybridSearcher, SearchHit, SearchQuery
from service.models import (
    CaseView,
    CreatedCase,
    DraftVersion,
    DraftView,
    NewCase,
    ResolveInput,
    ReviewInput,
    ReviewView,
)
from service.signal import JobSignal
from storage import audit, idempotency, jobs
from storage import cases as repo
from storage.db import Database
from storage.jobs import JobQueue
from storage.records import CaseRecord, DraftRecord, JobRecord, ReviewRecord
from triage.draft import TriageDraft

TRIAGE = "triage"


def new_case_id() -> str:
    """A time-ordered, unguessable case id."""
    return f"cb-{int(time.time() * 1000):x}-{secrets.token_hex(4)}"


def _version(record: DraftRecord) -> DraftVersion:
    return DraftVersion(
        version=record.version,
        mode=record.mode,
        created_at=record.created_at,
        job_id=record.job_id,
        draft=TriageDraft.model_validate(record.draft),
    )


class CaseService:
    """Everything that happens to a case, each step one transaction with its audit entry."""

    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        index: Callable[[], KnowledgeIndex],
        *,
        redactor: Redactor | None,
        queues: Callable[[], Sequence[str]] = lambda: (),
        searcher: Callable[[], HybridSearcher] | None = None,
        signal: JobSignal | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.db = db
        self.queue = queue
        self._index = index
        self.redactor = redactor
        self._queues = queues
        self._searcher = searcher
        self.signal = signal or JobSignal()
        self.max_attempts = max_attempts

    # -- create -------------------------------------------------------------------------
    def build_case(self, new: NewCase) -> Case:
        """The stored form of a new ticket: PII redacted and signatures extracted first."""
        case_id = f"{new.source}:{new.external_id}" if new.external_id else new_case_id()
        case = Case(
            id=case_id,
            title=new.title,
            body=new.body,
            created_at=new.created_at or utcnow(),
            status=CaseStatus.new.value,
            queue=new.queue,
            priority=new.priority,
            product=new.product,
            component=new.component,
            customer=new.customer,
            account=new.account,
            tags=new.tags,
            source=new.source,
            metadata=new.metadata,
        )
        prepared, _ = prepare_case(case, self.redactor)
        return prepared

    def create(
        self,
        new: NewCase | Case,
        *,
        actor: str,
        idempotency_key: str | None = None,
        body_hash: str | None = None,
        delivery: tuple[str, str] | None = None,
    ) -> tuple[int, CreatedCase]:
        """Store a case and its triage job in one transaction; returns (HTTP status, result).

        A replayed Idempotency-Key or webhook delivery returns the first answer; a case id
        that already exists returns that case without triaging it again.
        """
        case = self.build_case(new) if isinstance(new, NewCase) else self._prepare(new)
        for attempt in range(2):
            try:
                status, result = self._create_once(
                    case,
                    actor=actor,
                    idempotency_key=idempotency_key,
                    body_hash=body_hash,
                    delivery=delivery,
                )
                break
            except IntegrityError:
                # A concurrent retry of the same request (same key, delivery or case id) won
                # the race; on the second pass we find its row and answer as a replay.
                if attempt:
                    raise
        if status == 202:
            self.signal.notify()
        return status, result

    def _create_once(
        self,
        case: Case,
        *,
        actor: str,
        idempotency_key: str | None,
        body_hash: str | None,
        delivery: tuple[str, str] | None,
    ) -> tuple[int, CreatedCase]:
        with self.db.write() as session:
            if idempotency_key and body_hash:
                replayed = idempotency.replay(session, actor, idempotency_key, body_hash)
                if replayed is not None:
                    return replayed[0], CreatedCase.model_validate(replayed[1])
            if delivery is not None:
                seen = idempotency.seen_delivery(session, *delivery)
                if seen is not None:
                    return 200, self._existing(session, seen.case_id or case.id)
            existing = repo.find_case(session, case.id)
            if existing is not None:
                result = self._existing(session, case.id)
                status = 200
            else:
                repo.insert_case(session, case, draft_status="queued")
                job = jobs.enqueue(
                    session,
                    TRIAGE,
                    {"case_id": case.id},
                    case_id=case.id,
                    max_attempts=self.max_attempts,
                )
                audit.record(
                    session,
                    actor,
                    "case.create",
                    f"case:{case.id}",
                    {"source": case.source, "job_id": job.id},
                )
                result = CreatedCase(
                    case_id=case.id, draft_status="queued", job_id=job.id, created=True
                )
                status = 202
            if delivery is not None:
                idempotency.record_delivery(session, delivery[0], delivery[1], case.id)
            if idempotency_key and body_hash:
                idempotency.remember(
                    session, actor, idempotency_key, body_hash, status, result.model_dump()
                )
        return status, result

    def _prepare(self, case: Case) -> Case:
        prepared, _ = prepare_case(case, self.redactor)
        if prepared.status not in (CaseStatus.new.value, CaseStatus.open.value):
            prepared = prepared.model_copy(update={"status": CaseStatus.new.value})
        return prepared

    def _existing(self, session: Session, case_id: str) -> CreatedCase:
        record = repo.get_case(session, case_id)
        return CreatedCase(
            case_id=case_id, draft_status=record.draft_status, job_id=None, created=False
        )

    # -- read ---------------------------------------------------------------------------
    def view(self, record: CaseRecord) -> CaseView:
        """A case with the error of its failed triage, when it failed."""
        error = None
        if record.draft_status == "failed":
            failed = [j for j in self.queue.jobs_for_case(record.case.id) if j.state == "dead"]
            error = failed[-1].last_error if failed else None
        return CaseView(**record.model_dump(), last_error=error)

    def get(self, case_id: str) -> CaseView:
        """One case; NotFound when it does not exist."""
        with self.db.read() as session:
            record = repo.get_case(session, case_id)
        return self.view(record)

    def list_cases(self, **filters: Any) -> tuple[list[CaseView], str | None]:
        """A page of cases, newest first, and the cursor of the next page."""
        with self.db.read() as session:
            records, cursor = repo.list_cases(session, **filters)
        return [self.view(r) for r in records], cursor

    def drafts(self, case_id: str) -> DraftView:
        """The latest draft of a case with all its versions and its jobs."""
        with self.db.read() as session:
            record = repo.get_case(session, case_id)
            versions = [_version(d) for d in repo.drafts_of(session, case_id)]
        return DraftView(
            case_id=case_id,
            draft_status=record.draft_status,
            latest=versions[-1] if versions else None,
            versions=versions,
            jobs=self.queue.jobs_for_case(case_id),
        )

    def latest_drafts(self, case_ids: list[str]) -> dict[str, DraftVersion]:
        """The newest draft of each of these cases (cases without one are absent)."""
        with self.db.read() as session:
            return {cid: _version(d) for cid, d in repo.latest_drafts(session, case_ids).items()}

    def reviews(self, case_id: str) -> list[ReviewRecord]:
        """Every review of a case, oldest first."""
        with self.db.read() as session:
            repo.get_case(session, case_id)
            return repo.reviews_of(session, case_id)

    def similar(
        self, case_id: str, *, k: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """Past cases most like this one (by its stored, redacted text and signatures)."""
        if self._searcher is None:
            raise ServiceError("no searcher configured")
        case = self.get(case_id).case
        query = SearchQuery(
            text=case.text[:50_000] or case.id,
            kind="case",
            k=k,
            filters=filters or SearchFilters(),
            signatures=case.error_signatures,
            exclude_ids=[case.id],
        )
        return self._searcher().search(query)

    # -- change -------------------------------------------------------------------------
    def regenerate(self, case_id: str, *, actor: str) -> CreatedCase:
        """Queue a fresh triage of an existing case (a new draft version)."""
        with self.db.write() as session:
            record = repo.get_case(session, case_id, lock=True)
            if record.draft_status in ("queued", "running"):
                pending = [j for j in self.queue.jobs_for_case(case_id) if j.state == "queued"]
                if pending:
                    return CreatedCase(
                        case_id=case_id,
                        draft_status=record.draft_status,
                        job_id=pending[-1].id,
                        created=False,
                    )
            job = jobs.enqueue(
                session,
                TRIAGE,
                {"case_id": case_id},
                case_id=case_id,
                max_attempts=self.max_attempts,
            )
            repo.set_draft_status(session, case_id, "queued")
            audit.record(session, actor, "draft.regenerate", f"case:{case_id}", {"job_id": job.id})
        self.signal.notify()
        return CreatedCase(case_id=case_id, draft_status="queued", job_id=job.id, created=False)

    def review(self, case_id: str, review: ReviewInput, *, actor: str) -> ReviewView:
        """Keep a review and apply its corrections to the case (they become labels)."""
        with self.db.write() as session:
            record = repo.get_case(session, case_id, lock=True)
            drafts = repo.drafts_of(session, case_id)
            if not drafts:
                raise InvalidTransition(f"case {case_id!r} has no draft to review yet")
            version = review.draft_version or drafts[-1].version
            chosen = next((d for d in drafts if d.version == version), None)
            if chosen is None:
                raise NotFound(f"case {case_id!r} has no draft version {version}")
            draft = TriageDraft.model_validate(chosen.draft)
            corrected_queue, corrected_priority = self._corrections(review, draft)
            case = record.case
            updates: dict[str, Any] = {}
            if review.action in ("accept", "edit"):
                updates["queue"] = corrected_queue or draft.routing.queue
                updates["priority"] = corrected_priority or draft.priority.level
                if case.status == CaseStatus.new.value:
                    updates["status"] = CaseStatus.open.value
            data = {
                "draft_queue": draft.routing.queue,
                "draft_priority": draft.priority.level,
                "draft_confidence": draft.routing.confidence,
                "draft_mode": chosen.mode,
                "hypotheses": self._kept_hypotheses(review, draft),
                "response": review.response
                if review.response is not None
                else (draft.customer_response if review.action == "accept" else None),
                "runbook_ids": list(
                    dict.fromkeys(r.id.split("#")[0] for r in draft.related_runbooks)
                ),
            }
            stored = repo.add_review(
                session,
                case_id,
                draft_version=version,
                action=review.action,
                reviewer=review.reviewer,
                comment=review.comment,
                corrected_queue=corrected_queue,
                corrected_priority=corrected_priority,
                data=data,
            )
            new_status = "reviewed" if review.action != "reject" else "rejected"
            updated = repo.update_case(
                session, case.model_copy(update=updates), draft_status=new_status
            )
            audit.record(
                session,
                actor,
                f"draft.{review.action}",
                f"case:{case_id}",
                {
                    "version": version,
                    "reviewer": review.reviewer,
                    "queue_changed": corrected_queue is not None,
                },
            )
        return ReviewView(review=stored, case=self.view(updated))

    def _corrections(
        self, review: ReviewInput, draft: TriageDraft
    ) -> tuple[str | None, str | None]:
        queues = set(self._queues())
        if review.queue is not None and queues and review.queue not in queues:
            raise ValidationFailed(
                f"unknown queue {review.queue!r}", field="queue", allowed=sorted(queues)
            )
        if review.action == "accept" and (review.queue or review.priority or review.response):
            raise ValidationFailed("accept takes no corrections; use action 'edit'", field="action")
        if review.action == "edit" and not any(
            (review.queue, review.priority, review.response, review.hypotheses is not None)
        ):
            raise ValidationFailed("edit needs at least one correction", field="action")
        if review.hypotheses is not None:
            bad = [i for i in review.hypotheses if not 0 <= i < len(draft.hypotheses)]
            if bad:
                raise ValidationFailed(f"no hypotheses at indexes {bad}", field="hypotheses")
        queue = review.queue if review.queue and review.queue != draft.routing.queue else None
        priority = (
            review.priority if review.priority and review.priority != draft.priority.level else None
        )
        return queue, priority

    @staticmethod
    def _kept_hypotheses(review: ReviewInput, draft: TriageDraft) -> list[str]:
        if review.action == "reject":
            return []
        if review.hypotheses is None:
            return [h.statement for h in draft.hypotheses]
        return [draft.hypotheses[i].statement for i in review.hypotheses]

    def resolve(self, case_id: str, resolve: ResolveInput, *, actor: str) -> CaseView:
        """Close a case with its resolution and index it as a past case, in step with the DB."""
        index = self._index()
        queues = set(self._queues())
        if resolve.queue and queues and resolve.queue not in queues:
            raise ValidationFailed(f"unknown queue {resolve.queue!r}", field="queue")
        # Drafts cite runbook sections ("doc#3"); the case links to whole runbooks.
        runbook_ids = list(dict.fromkeys(r.split("#")[0] for r in resolve.runbook_ids))
        missing = [r for r in runbook_ids if not index.lexical.get("runbook", r)]
        if missing:
            raise ValidationFailed(f"unknown runbook ids {missing}", field="runbook_ids")
        with self.db.write() as session:
            record = repo.get_case(session, case_id, lock=True)
            updates: dict[str, Any] = {
                "status": CaseStatus.resolved.value,
                "resolution": self._redact(resolve.resolution),
                "root_cause": self._redact(resolve.root_cause),
                "linked_runbooks": runbook_ids,
            }
            if resolve.queue:
                updates["queue"] = resolve.queue
            if resolve.priority:
                updates["priority"] = resolve.priority
            case = record.case.model_copy(update=updates)
            updated = repo.update_case(session, case, resolved_at=utcnow())
            audit.record(
                session, actor, "case.resolve", f"case:{case_id}", {"runbooks": runbook_ids}
            )
            # Indexed inside the transaction: if indexing fails the resolve is rolled back,
            # so the database never says "resolved" for a case search cannot find.
            index.upsert_cases([case], origin="service")
        return self.view(updated)

    def retry_job(self, job_id: int, *, actor: str) -> JobRecord:
        """Put a dead-lettered job back in the queue (its case shows "queued" again)."""
        job = self.queue.retry(job_id)
        with self.db.write() as session:
            if job.case_id:
                repo.set_draft_status(session, job.case_id, "queued")
            audit.record(session, actor, "job.retry", f"job:{job_id}")
        self.signal.notify()
        return job

    def forget_old_idempotency_keys(self, *, older_than_days: int = 7) -> int:
        """Drop idempotency keys past their retention window; returns how many."""
        with self.db.write() as session:
            return idempotency.expire(session, older_than_days=older_than_days)

    def _redact(self, text: str | None) -> str | None:
        return self.redactor.redact(text).text if text and self.redactor else text

    def labelled_cases(self, *, since: datetime | None = None) -> list[Case]:
        """Cases whose queue/priority an engineer confirmed or corrected: router training data."""
        with self.db.read() as session:
            reviews = repo.all_reviews(session, since=since)
            latest: dict[str, ReviewRecord] = {}
            for r in reviews:
                if r.action in ("accept", "edit"):
                    latest[r.case_id] = r
            out = []
            for case_id, r in latest.items():
                case = repo.get_case(session, case_id).case
                queue = r.corrected_queue or r.data.get("draft_queue")
                priority = r.corrected_priority or r.data.get("draft_priority")
                out.append(case.model_copy(update={"queue": queue, "priority": priority}))
        return out
