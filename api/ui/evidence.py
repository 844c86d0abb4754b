"""The evidence beside a draft: runbook sections with their matching lines, shared signatures."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from core.domain import Case
from retrieval.index import KnowledgeIndex
from retrieval.lexical import query_terms
from retrieval.search import SearchHit
from triage.draft import TriageDraft

MARKED_PER_SECTION = 3  # the best lines by shared terms; quoted lines are marked as well
MIN_SHARED_TERMS = 2
_SPACE = re.compile(r"\s+")


class SectionLine(BaseModel):
    """One line of a runbook section and whether it matches the case."""

    text: str
    marked: bool = False


class RunbookSection(BaseModel):
    """A runbook section the draft relies on, its lines marked where they match the case."""

    id: str
    doc_id: str
    title: str
    heading: str = ""
    score: float = 0.0
    why: str = ""
    cited: bool = Field(default=False, description="a hypothesis cites it")
    lines: list[SectionLine] = Field(default_factory=list)


class SharedSignature(BaseModel):
    """An error signature of the case and the similar cases that share it."""

    signature: str
    case_ids: list[str] = Field(default_factory=list)


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def mark_lines(text: str, terms: set[str], quotes: list[str]) -> list[SectionLine]:
    """Split a section into lines; mark the quoted ones and the few sharing most case terms."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    quoted = [_norm(q).rstrip(".…") for q in quotes if len(q.strip()) >= 8]
    scores = [len(set(query_terms(ln)) & terms) for ln in lines]
    best = sorted(
        (i for i, s in enumerate(scores) if s >= MIN_SHARED_TERMS), key=lambda i: -scores[i]
    )[:MARKED_PER_SECTION]
    out = []
    for i, line in enumerate(lines):
        norm = _norm(line)
        by_quote = any(q and (q in norm or (len(norm) >= 8 and norm in q)) for q in quoted)
        out.append(SectionLine(text=line, marked=by_quote or i in best))
    return out


def runbook_sections(index: KnowledgeIndex, case: Case, draft: TriageDraft) -> list[RunbookSection]:
    """The draft's related runbook sections with their text and matching lines."""
    terms = set(query_terms(case.text))
    quotes: dict[str, list[str]] = {}
    for hypothesis in draft.hypotheses:
        for citation in hypothesis.evidence:
            quotes.setdefault(citation.id, []).append(citation.quote)
    ids = [doc.id for doc in draft.related_runbooks]
    chunks = index.lexical.chunks("runbook", ids) if ids else {}
    sections = []
    for doc in draft.related_runbooks:
        chunk = chunks.get(doc.id)
        sections.append(
            RunbookSection(
                id=doc.id,
                doc_id=chunk.doc_id if chunk else doc.id.split("#")[0],
                title=doc.title,
                heading=doc.heading or (chunk.heading if chunk else ""),
                score=doc.score,
                why=doc.why,
                cited=doc.id in quotes,
                lines=mark_lines(chunk.text, terms, quotes.get(doc.id, [])) if chunk else [],
            )
        )
    return sections


def shared_signatures(case: Case, hits: list[SearchHit]) -> list[SharedSignature]:
    """Each of the case's error signatures with the similar cases that share it."""
    out = []
    for signature in case.error_signatures:
        sharing = [h.doc_id for h in hits if signature in h.explanation.shared_signatures]
        out.append(SharedSignature(signature=signature, case_ids=sharing))
    return out


def cited_ids(draft: TriageDraft) -> set[str]:
    """Every evidence id a hypothesis cites."""
    return {c.id for h in draft.hypotheses for c in h.evidence}
