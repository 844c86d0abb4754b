"""Best runbook match of a text, with a score that is comparable across queries.

RRF ranks say which runbook is best for one query, not whether it is good enough, so the
match score is built from two absolute measures of the best candidate:

* the cosine similarity of its best chunk to the text (dense), and
* term coverage: the idf-weighted share of the text's KB-vocabulary terms that the runbook
  contains (a 0..1 stand-in for BM25, whose raw score grows with query length).

score = sqrt(dense * coverage) of the runbook hybrid search ranks first. Chosen on the
calibration half of the Prometheus alerts (`casebook coverage calibrate`), ROC AUC covered
vs not covered: dense cosine alone 0.78, coverage alone 0.82, their geometric mean 0.91
(0.82 held out). Raw BM25 separates the terse alerts well but not the longer demo tickets
(AUC about 0.5); alerts carry no error signatures to measure. Scoring the best of several
candidates instead of the top-ranked one names the wrong runbook more often (0.80 vs 0.88
right on the calibration half). On long tickets the score alone is weaker (AUC 0.73 on the
demo cases), so the coverage decision also weighs agents' links (kb_coverage/assessment.py).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from retrieval.bm25 import tokenize
from retrieval.fusion import weighted_rrf
from retrieval.index import COLLECTIONS, KnowledgeIndex, doc_id_of
from retrieval.search import FusionWeights


class RunbookMatch(BaseModel):
    """The best runbook for a text and why: dense similarity and shared vocabulary."""

    runbook_id: str
    title: str = ""
    score: float = Field(description="sqrt(dense_score * term_coverage), 0..1")
    dense_score: float = Field(description="cosine similarity of the best chunk")
    term_coverage: float = Field(description="idf-weighted share of the text's KB terms")
    chunk_id: str | None = None
    heading: str = ""
    shared_terms: list[str] = Field(default_factory=list)
    shared_signatures: list[str] = Field(default_factory=list)


def match_score(dense: float, coverage: float) -> float:
    """The combined match score of one runbook: geometric mean of cosine and coverage."""
    return math.sqrt(max(dense, 0.0) * max(coverage, 0.0))


@dataclass
class RunbookVocabulary:
    """Terms of every indexed runbook and their idf over runbooks."""

    terms: dict[str, frozenset[str]]
    titles: dict[str, str]
    idf: dict[str, float]

    @classmethod
    def from_index(cls, index: KnowledgeIndex) -> RunbookVocabulary:
        """Read every runbook's title and chunks from the catalog."""
        ids = index.lexical.doc_ids("runbook")
        records = index.lexical.get_many("runbook", ids)
        chunks = index.lexical.chunks("runbook", index.lexical.chunk_ids("runbook", ids))
        terms: dict[str, set[str]] = {d: set(tokenize(r.title)) for d, r in records.items()}
        for chunk in chunks.values():
            terms.setdefault(chunk.doc_id, set()).update(tokenize(chunk.text))
        n = len(terms)
        df = Counter(t for words in terms.values() for t in words)
        # The BM25 idf (retrieval/bm25.py), over whole runbooks.
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        return cls(
            terms={d: frozenset(w) for d, w in terms.items()},
            titles={d: r.title for d, r in records.items()},
            idf=idf,
        )

    def query_terms(self, text: str) -> frozenset[str]:
        """The text's terms that occur in some runbook (others cannot be covered by any)."""
        return frozenset(t for t in tokenize(text) if t in self.idf)

    def coverage(self, terms: frozenset[str], runbook_id: str) -> tuple[float, list[str]]:
        """Share of the terms' idf mass the runbook holds, and the shared terms, rarest first."""
        mass = sum(self.idf[t] for t in terms)
        if mass <= 0:
            return 0.0, []
        shared = sorted(terms & self.terms.get(runbook_id, frozenset()), key=self.idf.__getitem__)
        shared.reverse()
        return sum(self.idf[t] for t in shared) / mass, shared


class RunbookMatcher:
    """Finds the best runbook for texts and scores how well it covers them.

    Which runbook is best comes from the same weighted RRF of the dense, BM25 and signature
    channels that search uses; how good it is comes from `match_score`.
    """

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        weights: FusionWeights | None = None,
        vocabulary: RunbookVocabulary | None = None,
    ) -> None:
        self.index = index
        self.weights = weights or FusionWeights()
        self.vocabulary = vocabulary or RunbookVocabulary.from_index(index)

    def match(
        self, text: str, vector: np.ndarray, signatures: Sequence[str] = ()
    ) -> RunbookMatch | None:
        """The best runbook for one text and its score (None when no runbook matches)."""
        pool = self.weights.pool
        dense: dict[str, tuple[float, str]] = {}
        for hit in self.index.store.query(
            COLLECTIONS["runbook"], vector, pool, with_metadata=False
        ):
            doc_id = doc_id_of(hit.id)
            if doc_id not in dense or hit.score > dense[doc_id][0]:
                dense[doc_id] = (hit.score, hit.id)
        bm25: list[str] = []
        for lex in self.index.lexical.search("runbook", text, pool):
            if lex.doc_id not in bm25:  # hits arrive best first
                bm25.append(lex.doc_id)
        sigs = {
            doc_id: shared
            for doc_id, _, shared in self.index.lexical.signature_matches(
                "runbook", list(signatures), pool
            )
        }
        rankings = {
            "dense": sorted(dense, key=lambda d: -dense[d][0]),
            "bm25": bm25,
            "signature": list(sigs),
        }
        w = self.weights
        channel_weights = {"dense": w.dense, "bm25": w.bm25, "signature": w.signature}
        fused = weighted_rrf(rankings, channel_weights, w.k)
        if not fused:
            return None
        doc_id = fused[0][0]
        # A runbook outside the dense pool is at most as similar as the pool's last one.
        floor = min((score for score, _ in dense.values()), default=0.0)
        cosine, chunk_id = dense.get(doc_id, (floor, None))
        coverage, shared = self.vocabulary.coverage(self.vocabulary.query_terms(text), doc_id)
        heading = ""
        if chunk_id:
            chunk = self.index.lexical.chunks("runbook", [chunk_id]).get(chunk_id)
            heading = chunk.heading if chunk else ""
        return RunbookMatch(
            runbook_id=doc_id,
            title=self.vocabulary.titles.get(doc_id, ""),
            score=match_score(cosine, coverage),
            dense_score=cosine,
            term_coverage=coverage,
            chunk_id=chunk_id,
            heading=heading,
            shared_terms=shared[:10],
            shared_signatures=sigs.get(doc_id, []),
        )


def embed_texts(
    index: KnowledgeIndex,
    texts: Sequence[str],
    batch: int = 16,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed texts in batches with the index's embedder (L2-normalised rows)."""
    out = np.zeros((len(texts), index.embedder.dimension), dtype=np.float32)
    for start in range(0, len(texts), batch):
        piece = list(texts[start : start + batch])
        out[start : start + len(piece)] = index.embedder.embed([t or " " for t in piece])
        if progress is not None:
            progress(len(piece))
    return out
