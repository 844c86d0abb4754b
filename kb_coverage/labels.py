"""Distinctive terms of groups of texts: class-based TF-IDF (c-TF-IDF, as in BERTopic).

Each group's texts are one "class document"; a term weighs tf(t, c) / |c| * log(1 + A / f(t)),
where A is the average class length and f(t) the term's frequency over all classes.
Background classes (the covered cases, grouped by their runbook) make words common to every
topic (the product name, greetings, form fields) weigh little. Term frequencies are
sublinear per text, so a stack trace repeating a frame is one mention.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from retrieval.bm25 import tokenize

_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")
# Paths, URLs, package names and source file names: where a trace was, not what failed.
_PATHISH = re.compile(r"\S*/\S*|\b[\w.-]+\.(?:js|ts|mjs|cjs|py|kt|java|go|rb|php|cs)\b")
_HAS_DIGIT = re.compile(r"\d")


def _keep(token: str) -> bool:
    # Ids, hashes, amounts and timestamps are unique per ticket and name no topic; short
    # versioned words (tls1) may. Two letters (v1, ok, id) rarely make a label.
    if token.isdigit() or len(token) < 3:
        return False
    return not (_HAS_DIGIT.search(token) and len(token) > 6)


def text_terms(text: str) -> list[str]:
    """Unigrams and adjacent-word bigrams of a text; ids, paths and placeholders removed."""
    tokens = [t for t in tokenize(_PATHISH.sub(" ", _PLACEHOLDER.sub(" ", text))) if _keep(t)]
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens) if a != b]


def class_terms(
    groups: Sequence[Sequence[str]],
    background: Sequence[Sequence[str]] = (),
    *,
    top: int = 5,
    min_doc_share: float = 0.25,
    max_class_share: float = 0.5,
) -> list[list[str]]:
    """The `top` most distinctive terms of each group of texts, best first.

    A term must occur in at least `min_doc_share` of a group's texts (and in two of them
    when the group has two or more), so one talkative ticket cannot label a group, and in
    at most `max_class_share` of all classes (with three or more): the product's own name
    labels nothing.
    """
    classes: list[dict[str, float]] = []
    doc_freq: list[Counter[str]] = []
    for texts in [*groups, *background]:
        tf: dict[str, float] = defaultdict(float)
        df: Counter[str] = Counter()
        for text in texts:
            counts = Counter(text_terms(text))
            # Sublinear tf: a stack trace repeating a frame name ten times is one mention.
            for term, n in counts.items():
                tf[term] += 1.0 + math.log(n)
            df.update(counts.keys())
        classes.append(tf)
        doc_freq.append(df)
    spread: Counter[str] = Counter()
    for df in doc_freq:
        spread.update(df.keys())
    n_classes = sum(1 for df in doc_freq if df)
    common = (
        {t for t, n in spread.items() if n > max_class_share * n_classes}
        if n_classes >= 3
        else set()
    )
    total: dict[str, float] = defaultdict(float)
    for tf in classes:
        for term, mass in tf.items():
            total[term] += mass
    sizes = [sum(tf.values()) for tf in classes]
    average = sum(sizes) / max(sum(1 for s in sizes if s), 1)
    out: list[list[str]] = []
    for tf, df, size, texts in zip(classes, doc_freq, sizes, groups, strict=False):
        need = max(min(2, len(texts)), math.ceil(min_doc_share * len(texts)))
        weights = {
            t: n / size * math.log(1 + average / total[t])
            for t, n in tf.items()
            if df[t] >= need and t not in common
        }
        ranked = sorted(weights, key=lambda t: (-weights[t], t))
        chosen: list[str] = []
        for term in ranked:
            words = set(term.split())
            # "webhook signature" and "signature" say the same: keep the better one only.
            if any(words & set(c.split()) for c in chosen):
                continue
            chosen.append(term)
            if len(chosen) == top:
                break
        out.append(chosen)
    return out
