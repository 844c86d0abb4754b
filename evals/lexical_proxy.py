"""The no-LLM proxy for "a hypothesis matches the reference root cause": token overlap.

Cheap and deterministic, and knowingly crude: a paraphrase with other words scores low and
a wrong cause that reuses the reference's vocabulary scores high. Its agreement with
hand labels is measured beside the LLM judge's (`evals/data/judge_agreement.jsonl`).
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.bm25 import tokenize

# Words that say nothing about which cause it was.
_FILLER = frozenset(
    [
        "was",
        "were",
        "has",
        "have",
        "had",
        "been",
        "being",
        "from",
        "which",
        "when",
        "while",
        "after",
        "before",
        "because",
        "due",
        "our",
        "its",
        "also",
        "only",
        "than",
        "so",
        "can",
        "could",
        "would",
        "should",
        "may",
        "might",
        "cause",
        "caused",
        "causes",
        "root",
        "issue",
        "problem",
        "customer",
        "customers",
        "case",
    ]
)
DEFAULT_THRESHOLD = 0.5


def content_tokens(text: str) -> set[str]:
    """Lowercase content words (BM25 tokens minus filler), with a plural 's' dropped."""
    out = set()
    for token in tokenize(text):
        if token in _FILLER:
            continue
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        out.add(token)
    return out


def token_overlap(hypothesis: str, reference: str) -> float | None:
    """Share of the reference's content tokens that the hypothesis contains (None: no tokens)."""
    ref = content_tokens(reference)
    if not ref:
        return None
    return len(content_tokens(hypothesis) & ref) / len(ref)


def lexical_hit(
    hypotheses: Sequence[str], reference: str, threshold: float = DEFAULT_THRESHOLD
) -> tuple[bool | None, float | None]:
    """(any hypothesis overlaps the reference by >= threshold, the best overlap).

    No hypotheses is a miss with overlap 0; a reference without content words is (None, None).
    """
    if not content_tokens(reference):
        return None, None
    scores = [s for h in hypotheses if (s := token_overlap(h, reference)) is not None]
    best = max(scores, default=0.0)
    return best >= threshold, best
