"""The triage job: draft a stored case and keep the draft as its next version."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from storage import audit
from storage import cases as repo
from storage.db import Database
from storage.records import JobRecord
from triage.draft import TriageDraft
from triage.engine import TriageEngine

DraftObserver = Callable[[TriageDraft, float], None]


class TriageJobHandler:
    """Runs the triage engine for the job's case; the draft is stored with the job's id."""

    def __init__(
        self,
        db: Database,
        engine: Callable[[], TriageEngine],
        *,
        observe: DraftObserver | None = None,
    ) -> None:
        self.db = db
        self._engine = engine
        self.observe = observe

    def execute(self, job: JobRecord) -> Callable[[Session], dict[str, Any]]:
        """Triage the case (slow, no transaction) and return how to store the draft."""
        case_id = str(job.payload["case_id"])
        with self.db.write() as session:
            case = repo.get_case(session, case_id).case
            repo.set_draft_status(session, case_id, "running")
        started = time.perf_counter()
        draft = self._engine().triage(case)
        if self.observe is not None:
            self.observe(draft, time.perf_counter() - started)

        def apply(session: Session) -> dict[str, Any]:
            stored = repo.add_draft(
                session,
                case_id,
                draft.model_dump(mode="json"),
                mode=draft.provenance.mode,
                job_id=job.id,
            )
            record = repo.get_case(session, case_id)
            current = record.case
            if draft.routing.automation == "auto-apply" and not current.queue:
                # Confident enough for this queue's auto-apply threshold: route it now.
                current = current.model_copy(update={"queue": draft.routing.queue})
            repo.update_case(session, current, draft_status="ready")
            audit.record(
                session,
                "worker",
                "draft.create",
                f"case:{case_id}",
                {"version": stored.version, "mode": stored.mode, "job_id": job.id},
            )
            return {"case_id": case_id, "version": stored.version, "mode": stored.mode}

        return apply
