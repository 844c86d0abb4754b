"""English stopwords dropped from BM25 (Lucene's classic list).

A short list on purpose: on duplicate-bug retrieval a longer one lost recall, and numbers
are kept because tickets about the same failure cite the same versions, ports and ids.
"""

STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
