"""Runbook usage from the service database, for the coverage report's runbook utility."""

from __future__ import annotations

from sqlalchemy import func, select

from kb_coverage.utility import RunbookUsageEvent
from storage import cases as repo
from storage.db import Database
from storage.models import DraftRow


def _runbook_id(ref: str) -> str:
    return ref.split("#")[0]  # drafts cite sections ("doc#3"); utility is per runbook


def usage_events(db: Database) -> list[RunbookUsageEvent]:
    """Runbooks cited in each case's latest draft, and accepted in accept/edit reviews."""
    events: list[RunbookUsageEvent] = []
    with db.read() as session:
        latest = (
            select(DraftRow.case_id, func.max(DraftRow.version).label("v"))
            .group_by(DraftRow.case_id)
            .subquery()
        )
        rows = session.execute(
            select(DraftRow).join(
                latest, (DraftRow.case_id == latest.c.case_id) & (DraftRow.version == latest.c.v)
            )
        ).scalars()
        for row in rows:
            cited = {_runbook_id(r["id"]) for r in row.data.get("related_runbooks") or []}
            for hypothesis in row.data.get("hypotheses") or []:
                cited |= {
                    _runbook_id(c["id"])
                    for c in hypothesis.get("evidence") or []
                    if "#" in c.get("id", "")
                }
            events += [
                RunbookUsageEvent(
                    runbook_id=r, kind="cited", at=row.created_at, case_id=row.case_id
                )
                for r in sorted(cited)
            ]
        for review in repo.all_reviews(session):
            if review.action not in ("accept", "edit"):
                continue
            events += [
                RunbookUsageEvent(
                    runbook_id=_runbook_id(str(r)),
                    kind="accepted",
                    at=review.created_at,
                    case_id=review.case_id,
                )
                for r in review.data.get("runbook_ids") or []
            ]
    return events
