"""Ingest pipeline: read sources, redact, extract signatures, chunk, and index idempotently."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from casetext.preparation import prepare_case
from casetext.redaction import Redactor
from casetext.signatures import extract_signatures
from casetext.tokens import TokenCounter
from core.domain import Case, Chunk, DocKind, Runbook
from core.errors import RecordError
from kb_ingest.case_mapping import CaseMapping
from kb_ingest.case_readers import read_cases
from kb_ingest.chunking import chunk_markdown
from kb_ingest.runbook_reader import read_runbooks
from retrieval.index import KnowledgeIndex, UpsertResult

Progress = Callable[[int], None]
T = TypeVar("T")
D = TypeVar("D", Case, Runbook)


@dataclass(frozen=True)
class SkippedRecord:
    """A record that was not loaded, where it was and why."""

    location: str
    reason: str


@dataclass
class IngestReport:
    """What one ingest run did."""

    kind: DocKind
    source: str
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)
    duplicates: int = 0
    chunks_embedded: int = 0
    redactions: Counter[str] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)

    @property
    def loaded(self) -> int:
        """Documents now indexed from this source (added, updated or unchanged)."""
        return self.added + self.updated + self.unchanged

    def accept(self, records: Iterable[D | RecordError]) -> Iterator[D]:
        """Count and pass on good records; note malformed ones and repeated ids."""
        for record in records:
            if isinstance(record, RecordError):
                self.skipped.append(SkippedRecord(record.location, record.message))
                continue
            self.read += 1
            if record.id in self.seen:
                self.duplicates += 1
            self.seen.add(record.id)
            yield record

    def absorb(self, result: UpsertResult) -> None:
        """Add an index upsert's counts to the report."""
        self.added += len(result.added)
        self.updated += len(result.updated)
        self.unchanged += len(result.unchanged)
        self.chunks_embedded += result.embedded_chunks


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Ingestor:
    """Loads runbooks and cases into the knowledge index."""

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        redactor: Redactor | None,
        counter: TokenCounter,
        max_tokens: int = 200,
        overlap_tokens: int = 30,
        batch_size: int = 2048,
    ) -> None:
        self.index = index
        self.redactor = redactor
        self.counter = counter
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.batch_size = batch_size

    def prepare_runbook(self, runbook: Runbook) -> tuple[Runbook, list[Chunk], Counter[str]]:
        """Redact a runbook, record its signatures and split it into heading-aware chunks."""
        counts: Counter[str] = Counter()
        if self.redactor is not None:
            result = self.redactor.redact(runbook.body)
            counts.update(result.counts)
            runbook = runbook.model_copy(update={"body": result.text})
        signatures = extract_signatures(runbook.body)
        if signatures:
            meta = {**runbook.metadata, "signatures": signatures}
            runbook = runbook.model_copy(update={"metadata": meta})
        chunks = chunk_markdown(
            runbook.id,
            runbook.body,
            title=runbook.title,
            max_tokens=self.max_tokens,
            overlap_tokens=self.overlap_tokens,
            counter=self.counter,
        )
        return runbook, chunks, counts

    def ingest_runbooks(
        self, root: Path, *, sync: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest a folder of Markdown/HTML runbooks; with sync, drop runbooks gone from it."""
        origin = str(root.resolve())
        report = IngestReport(kind="runbook", source=origin)
        items: list[tuple[Runbook, list[Chunk]]] = []
        for record in report.accept(read_runbooks(root)):
            runbook, chunks, counts = self.prepare_runbook(record)
            report.redactions.update(counts)
            items.append((runbook, chunks))
        for batch in _batches(items, self.batch_size):
            report.absorb(self.index.upsert_runbooks(batch, origin=origin, progress=progress))
        if sync:
            report.deleted = self.index.sync("runbook", origin, report.seen)
        return report

    def ingest_cases(
        self,
        path: Path,
        *,
        mapping: CaseMapping | str | None = None,
        fmt: str | None = None,
        sync: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest a file of cases; malformed records are reported and skipped."""
        origin = str(path.resolve())
        report = IngestReport(kind="case", source=origin)

        def prepared() -> Iterator[Case]:
            for record in report.accept(read_cases(path, fmt=fmt, mapping=mapping)):
                case, counts = prepare_case(record, self.redactor)
                report.redactions.update(counts)
                yield case

        for batch in _batches(prepared(), self.batch_size):
            report.absorb(self.index.upsert_cases(batch, origin=origin, progress=progress))
        if sync:
            report.deleted = self.index.sync("case", origin, report.seen)
        return report
