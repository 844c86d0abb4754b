"""Questions worth asking: the diagnostic facts a ticket does not give yet."""

from __future__ import annotations

import re

from core.domain import Case

# (what is missing, how we notice it is present, the question to ask)
_CHECKS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "request id",
        re.compile(r"\b(req(uest)?[_-]?id|x-request-id|trace[_-]?id|req_[a-z0-9]+)\b", re.I),
        "Could you share one or two request IDs (or trace IDs) of failing calls?",
    ),
    (
        "timestamps",
        re.compile(
            r"\b(\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}|\d{1,2}:\d{2}\s*(am|pm|utc|gmt)?|since "
            r"(this morning|yesterday|monday|tuesday|wednesday|thursday|friday|\d))",
            re.I,
        ),
        "When did this start, and what are the timestamps (with timezone) of a few failures?",
    ),
    (
        "versions",
        re.compile(r"\b(v?\d+\.\d+(\.\d+)?|version|sdk \S+ \d)", re.I),
        "Which SDK or API version, and which language runtime, are you on?",
    ),
    (
        "exact error",
        re.compile(
            r"(\b[A-Z][A-Za-z]+(Error|Exception)\b|\b(http|status)\s*\d{3}\b|\b[45]\d\d\b|"
            r"\berror[:=]|\b[a-z]+_[a-z_]+\b)",
        ),
        "What is the exact error message or response body you receive?",
    ),
    (
        "scope",
        re.compile(
            r"\b(all|every|some|only|intermittent\w*|\d+\s*%|one (customer|account|endpoint))\b",
            re.I,
        ),
        "Is this affecting all requests or only some (which endpoints, accounts, regions)?",
    ),
    (
        "logs",
        re.compile(
            r"(\n\s+at |traceback|\blog(s)?\b.*(attached|below)|```|\[(error|warn)\])", re.I
        ),
        "Could you attach the relevant log excerpt or stack trace around a failure?",
    ),
    (
        "recent change",
        re.compile(r"\b(deploy\w*|upgrad\w*|releas\w*|changed|rotat\w*|migrat\w*|updated)\b", re.I),
        "Did anything change on your side shortly before this started (deploys, upgrades, "
        "key rotation, configuration)?",
    ),
]


def missing_information(case: Case, limit: int = 4) -> list[str]:
    """Questions for the facts the case does not yet give, most diagnostic first."""
    text = case.text
    return [question for _, present, question in _CHECKS if not present.search(text)][:limit]


def missing_facts(case: Case) -> list[str]:
    """Names of the facts the case does not give (for prompts and the response template)."""
    return [name for name, present, _ in _CHECKS if not present.search(case.text)]
