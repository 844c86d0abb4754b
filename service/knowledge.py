"""Knowledge-base workflows: write or delete one runbook, and ingest uploaded files as jobs."""

from __future__ import annotations

import re
import shutil
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from core.domain import Runbook, utcnow
from core.errors import NotFound, ValidationFailed
from kb_ingest.case_mapping import preset_names
from kb_ingest.html_text import html_to_markdown
from kb_ingest.pipeline import Ingestor, IngestReport
from kb_ingest.runbook_reader import RUNBOOK_SUFFIXES
from retrieval.index import KnowledgeIndex
from service.models import RunbookInput
from service.signal import JobSignal
from storage import audit, jobs
from storage.db import Database
from storage.records import JobRecord

INGEST = "ingest"
RUNBOOK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
CASE_SUFFIXES = frozenset({".jsonl", ".json", ".csv"})


def report_summary(report: IngestReport) -> dict[str, Any]:
    """The JSON a job keeps of an ingest report (counts, and where records were skipped)."""
    return {
        "kind": report.kind,
        "read": report.read,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "duplicates": report.duplicates,
        "deleted": len(report.deleted),
        "chunks_embedded": report.chunks_embedded,
        "skipped": [{"location": s.location, "reason": s.reason} for s in report.skipped[:100]],
        "skipped_total": len(report.skipped),
        "redactions": dict(report.redactions),
    }


class KnowledgeService:
    """Runbook writes and deletes keep Chroma, the BM25 index and the audit log in step."""

    def __init__(
        self,
        db: Database,
        index: Callable[[], KnowledgeIndex],
        ingestor: Callable[[], Ingestor],
        *,
        uploads_dir: Path,
        signal: JobSignal | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.db = db
        self._index = index
        self._ingestor = ingestor
        self.uploads_dir = uploads_dir
        self.signal = signal or JobSignal()
        self.max_attempts = max_attempts

    def put_runbook(self, runbook_id: str, data: RunbookInput, *, actor: str) -> dict[str, Any]:
        """Create or replace a runbook; returns whether it was added, updated or unchanged."""
        if not RUNBOOK_ID.match(runbook_id) or ".." in runbook_id:
            raise ValidationFailed(
                "runbook id: letters, digits and ._/- only, up to 200", field="runbook_id"
            )
        body, fmt = data.body, data.format
        if fmt == "html":
            body, _ = html_to_markdown(body)
        runbook = Runbook(
            id=runbook_id,
            title=data.title,
            source=data.source or f"api:{runbook_id}",
            body=body.strip(),
            tags=data.tags,
            product=data.product,
            updated_at=utcnow(),
            metadata={"format": fmt, "via": "api"},
        )
        prepared, chunks, _ = self._ingestor().prepare_runbook(runbook)
        if not chunks:
            raise ValidationFailed("runbook body has no text to index", field="body")
        result = self._index().upsert_runbooks([(prepared, chunks)], origin="api")
        outcome = "added" if result.added else "updated" if result.updated else "unchanged"
        with self.db.write() as session:
            audit.record(
                session,
                actor,
                f"runbook.{outcome}",
                f"runbook:{runbook_id}",
                {"chunks": len(chunks)},
            )
        return {"id": runbook_id, "outcome": outcome, "chunks": len(chunks)}

    def delete_runbook(self, runbook_id: str, *, actor: str) -> None:
        """Remove a runbook from every index; NotFound when there is none."""
        if not self._index().delete("runbook", [runbook_id]):
            raise NotFound(f"runbook {runbook_id!r} not found", runbook_id=runbook_id)
        with self.db.write() as session:
            audit.record(session, actor, "runbook.delete", f"runbook:{runbook_id}")

    def get_runbook(self, runbook_id: str) -> Runbook:
        """One runbook as indexed."""
        return self._index().get_runbook(runbook_id)

    def enqueue_upload(
        self,
        kind: str,
        filename: str,
        content: bytes,
        *,
        actor: str,
        mapping: str | None = None,
    ) -> JobRecord:
        """Keep an uploaded file and queue its ingest; the job reports what was loaded."""
        name = PurePosixPath(filename or "upload").name
        suffix = Path(name).suffix.lower()
        if kind == "runbooks" and suffix not in RUNBOOK_SUFFIXES | {".zip"}:
            raise ValidationFailed("runbooks: upload .md, .html or a .zip of them", field="file")
        if kind == "cases" and suffix not in CASE_SUFFIXES:
            raise ValidationFailed("cases: upload .jsonl, .json or .csv", field="file")
        if mapping is not None and mapping not in preset_names():
            raise ValidationFailed(
                f"unknown mapping {mapping!r}", field="mapping", allowed=preset_names()
            )
        if not content:
            raise ValidationFailed("the uploaded file is empty", field="file")
        folder = self.uploads_dir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / name
        path.write_bytes(content)
        with self.db.write() as session:
            job = jobs.enqueue(
                session,
                INGEST,
                {"kind": kind, "path": str(path), "mapping": mapping},
                max_attempts=self.max_attempts,
            )
            audit.record(
                session,
                actor,
                f"ingest.{kind}",
                f"job:{job.id}",
                {"file": name, "bytes": len(content)},
            )
        self.signal.notify()
        return job


class IngestJobHandler:
    """Ingests an uploaded file; re-running is harmless (upserts are by content hash)."""

    def __init__(self, ingestor: Callable[[], Ingestor]) -> None:
        self._ingestor = ingestor

    def execute(self, job: JobRecord) -> Callable[[Session], dict[str, Any]]:
        """Run the ingest and return its summary as the job's result."""
        path = Path(job.payload["path"])
        if not path.is_file():
            raise ValidationFailed("the uploaded file is gone", field="path")
        ingestor = self._ingestor()
        if job.payload["kind"] == "runbooks":
            root = _unpack(path)
            report = ingestor.ingest_runbooks(root)
        else:
            report = ingestor.ingest_cases(path, mapping=job.payload.get("mapping"))
        summary = report_summary(report)

        def apply(session: Session) -> dict[str, Any]:
            audit.record(
                session,
                "worker",
                "ingest.done",
                f"job:{job.id}",
                {k: summary[k] for k in ("added", "updated", "skipped_total")},
            )
            return summary

        return apply


def _unpack(path: Path) -> Path:
    """The folder of runbooks: the upload's own folder, or a zip safely extracted into it."""
    if path.suffix.lower() != ".zip":
        return path.parent
    target = path.parent / "runbooks"
    if target.exists():
        shutil.rmtree(target)
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                name = PurePosixPath(member.filename)
                if member.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue  # never write outside the target (zip-slip)
                if name.suffix.lower() not in RUNBOOK_SUFFIXES:
                    continue
                out = target.joinpath(*name.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
    except zipfile.BadZipFile as exc:
        raise ValidationFailed("not a valid zip file", field="file") from exc
    target.mkdir(exist_ok=True)
    return target
