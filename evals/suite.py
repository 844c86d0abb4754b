"""The labelled suite format: one JSONL file, a header line, corpus lines and example lines.

Line types (the `type` key):

* `suite` (first line): name, description, how it was made, and references to corpus files
  (past cases, runbook folders) read with the ingest readers;
* `corpus_case`: a past case given inline (for corpora an importer had to reshape);
* `example`: a case as it looked when filed, with whichever labels exist.

Every example is scored only against what existed before it (see `docs/evals.md`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.domain import Case, Runbook
from core.errors import EvalError, RecordError

SUITE_FORMAT = 1
PRIORITIES = ("P1", "P2", "P3", "P4")
# Metadata keys that are ground truth for evaluation: triage must never read them.
TRUTH_METADATA = ("topic", "duplicate_of", "assignee", "resolved_at")
TaskName = Literal[
    "routing", "priority", "similar_cases", "runbooks", "coverage", "hypotheses", "response"
]
TASKS: tuple[TaskName, ...] = (
    "routing",
    "priority",
    "similar_cases",
    "runbooks",
    "coverage",
    "hypotheses",
    "response",
)


class Labels(BaseModel):
    """Whichever labels an example has; None means unlabelled for that task."""

    model_config = ConfigDict(extra="forbid")

    queue: str | None = None
    priority: Literal["P1", "P2", "P3", "P4"] | None = None
    duplicate_of: list[str] | None = Field(
        default=None, description="ids of earlier cases this one duplicates"
    )
    relevant_runbooks: list[str] | None = Field(
        default=None, description="runbook ids that cover this case"
    )
    root_cause: str | None = Field(default=None, description="the reference root cause")
    reference_response: str | None = Field(
        default=None, description="a reviewed first response to the customer"
    )
    covered: bool | None = Field(
        default=None, description="False when no runbook covers this case (a KB gap)"
    )

    def tasks(self) -> list[TaskName]:
        """Tasks this example is labelled for."""
        out: list[TaskName] = []
        if self.queue:
            out.append("routing")
        if self.priority:
            out.append("priority")
        if self.duplicate_of:
            out.append("similar_cases")
        if self.relevant_runbooks:
            out.append("runbooks")
        if self.covered is not None:
            out.append("coverage")
        if self.root_cause:
            out.append("hypotheses")
        if self.reference_response:
            out.append("response")
        return out


class Example(BaseModel):
    """One labelled example: the case as filed (no answers in it) and its labels."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["example"] = "example"
    id: str = Field(min_length=1)
    case: Case
    labels: Labels = Field(default_factory=Labels)
    source: str = ""


class CorpusSource(BaseModel):
    """A corpus file or folder, read with Casebook's ingest readers."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["cases", "runbooks"]
    path: str = Field(description="relative to the suite file, or absolute")
    format: str | None = Field(default=None, description="case format (jsonl, csv, ...)")
    mapping: str | None = Field(default=None, description="column mapping preset or file")
    ids: list[str] | None = Field(default=None, description="only these records (a subset)")


class SuiteHeader(BaseModel):
    """The first line of a suite file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["suite"] = "suite"
    format_version: int = SUITE_FORMAT
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    made_by: str = Field(default="", description="the command or importer that wrote it")
    corpus: list[CorpusSource] = Field(default_factory=list)


class CorpusCase(BaseModel):
    """A past case given inline in the suite file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["corpus_case"] = "corpus_case"
    case: Case


@dataclass
class Corpus:
    """What a suite indexes and trains on (before the per-example time rule applies)."""

    cases: list[Case] = field(default_factory=list)
    runbooks: list[Runbook] = field(default_factory=list)
    skipped: int = 0


@dataclass
class Suite:
    """A suite in memory: header, inline corpus cases, examples and where it came from."""

    header: SuiteHeader
    examples: list[Example]
    inline_cases: list[Case] = field(default_factory=list)
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def name(self) -> str:
        """The suite's name (also the part name in a run)."""
        return self.header.name

    def resolve(self, path: str) -> Path:
        """A corpus path: absolute, or relative to the suite file's folder."""
        candidate = Path(os.path.expandvars(path))
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()

    def load_corpus(self) -> Corpus:
        """Read every corpus source; malformed records are counted and skipped."""
        from kb_ingest.case_readers import read_cases
        from kb_ingest.runbook_reader import read_runbooks

        corpus = Corpus(cases=list(self.inline_cases))
        for source in self.header.corpus:
            path = self.resolve(source.path)
            if not path.exists():
                raise EvalError(f"suite {self.name}: corpus {path} does not exist", path=str(path))
            wanted = set(source.ids) if source.ids is not None else None
            records: Iterable[Any]
            if source.kind == "cases":
                records = read_cases(path, fmt=source.format, mapping=source.mapping)
            else:
                records = read_runbooks(path)
            for record in records:
                if isinstance(record, RecordError):
                    corpus.skipped += 1
                    continue
                if wanted is not None and record.id not in wanted:
                    continue
                if isinstance(record, Case):
                    corpus.cases.append(record)
                else:
                    corpus.runbooks.append(record)
        return corpus

    def dataset_hash(self, corpus: Corpus, examples: Iterable[Example] | None = None) -> str:
        """sha256 over the examples (all, or those used) and every corpus document's content."""
        digest = hashlib.sha256()
        digest.update(f"suite-format-{self.header.format_version}\n".encode())
        for example in self.examples if examples is None else examples:
            digest.update(_canonical(example.model_dump(mode="json")).encode())
            digest.update(b"\n")
        for doc_hash in sorted(c.content_hash() for c in corpus.cases):
            digest.update(f"c {doc_hash}\n".encode())
        for doc_hash in sorted(r.content_hash() for r in corpus.runbooks):
            digest.update(f"r {doc_hash}\n".encode())
        return digest.hexdigest()


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def as_filed(case: Case) -> Case:
    """The case as it looked when filed: no queue, priority, resolution, links or truth labels."""
    metadata = {k: v for k, v in case.metadata.items() if k not in TRUTH_METADATA}
    return case.model_copy(
        update={
            "queue": None,
            "priority": None,
            "resolution": None,
            "root_cause": None,
            "linked_runbooks": [],
            "status": "new",
            "metadata": metadata,
        }
    )


def read_suite(path: str | Path) -> Suite:
    """Parse a suite file; EvalError names the line of anything malformed."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read suite {path}: {exc}", path=str(path)) from exc
    header: SuiteHeader | None = None
    examples: list[Example] = []
    inline: list[Case] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{where}: not JSON: {exc.msg}", location=where) from exc
        kind = obj.get("type") if isinstance(obj, dict) else None
        try:
            if kind == "suite":
                if header is not None:
                    raise EvalError(f"{where}: a second suite header", location=where)
                header = SuiteHeader.model_validate(obj)
            elif header is None:
                raise EvalError(f"{where}: the first line must be the suite header")
            elif kind == "example":
                example = Example.model_validate(obj)
                if example.id in seen:
                    raise EvalError(f"{where}: duplicate example id {example.id!r}")
                seen.add(example.id)
                examples.append(example)
            elif kind == "corpus_case":
                inline.append(CorpusCase.model_validate(obj).case)
            else:
                raise EvalError(f"{where}: unknown line type {kind!r}", location=where)
        except ValidationError as exc:
            raise EvalError(f"{where}: {_errors(exc)}", location=where) from exc
    if header is None:
        raise EvalError(f"{path}: empty suite file", path=str(path))
    if header.format_version != SUITE_FORMAT:
        raise EvalError(f"{path}: suite format {header.format_version} is not supported")
    return Suite(header=header, examples=examples, inline_cases=inline, base_dir=path.parent)


def suite_lines(suite: Suite) -> Iterator[str]:
    """The suite as JSONL lines: header, inline corpus cases, examples."""
    yield _canonical(suite.header.model_dump(mode="json", exclude_none=True))
    for case in suite.inline_cases:
        yield _canonical(CorpusCase(case=case).model_dump(mode="json"))
    for example in suite.examples:
        yield _canonical(example.model_dump(mode="json", exclude_none=True))


def write_suite(suite: Suite, path: str | Path) -> Path:
    """Write a suite file; corpus paths are made relative to its folder where possible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()
    sources = []
    for source in suite.header.corpus:
        absolute = suite.resolve(source.path)
        try:
            relative = os.path.relpath(absolute, base)
        except ValueError:  # another drive on Windows
            relative = str(absolute)
        sources.append(source.model_copy(update={"path": relative}))
    out = Suite(
        header=suite.header.model_copy(update={"corpus": sources}),
        examples=suite.examples,
        inline_cases=suite.inline_cases,
        base_dir=base,
    )
    path.write_text("\n".join(suite_lines(out)) + "\n", encoding="utf-8")
    return path


def earliest(examples: Iterable[Example]) -> datetime | None:
    """Creation time of the earliest example (the cut-off for trained models)."""
    times = [e.case.created_at for e in examples]
    return min(times) if times else None


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
