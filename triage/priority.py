"""Priority from impact signals in the text, the customer's tier, and similar past cases."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from core.domain import Case
from triage.draft import PriorityCall

LEVELS = ("P1", "P2", "P3", "P4")

# Each pattern is evidence for a level; the most urgent level with evidence wins, then the
# tier and the past cases can move it by one step. Patterns are deliberately specific:
# "down" alone appears in too many calm tickets ("drop-down", "scaled down").
_SIGNALS: list[tuple[str, str, re.Pattern[str]]] = [
    (
        "P1",
        "production down",
        re.compile(
            r"\b(prod(uction)?\s+(is\s+)?(down|outage)|outage|completely down|"
            r"all (requests|payments|transactions|customers|users)\s+(are\s+)?"
            r"(fail|down|broken|blocked)|sev(erity)?[- ]?1|p1\b|"
            r"cannot (process|take|accept) (any )?(payments|orders|charges)|site is down)",
            re.I,
        ),
    ),
    (
        "P1",
        "money or data at risk",
        re.compile(
            r"\b(double[- ]charg\w*|charged twice|duplicate (charges|payouts)|data (loss|leak)|"
            r"security (incident|breach)|leaked (key|secret|token)|funds? (missing|lost))",
            re.I,
        ),
    ),
    (
        "P2",
        "degraded service",
        re.compile(
            r"\b(intermittent\w*|degraded|partial outage|some (customers|users|requests|payments)|"
            r"spik(e|es|ing)|elevated (errors|latency)|timeouts?|5\d\d errors?|since (the )?"
            r"(deploy|upgrade|release|this morning|yesterday)|urgent|asap|blocking)",
            re.I,
        ),
    ),
    (
        "P4",
        "question or request",
        re.compile(
            r"^(how (do|can|should) (i|we)|is it possible|can you (explain|clarify)|question:|"
            r"feature request|documentation)",
            re.I | re.M,
        ),
    ),
]
_TIER_BUMP = {"enterprise", "strategic", "premium", "platinum", "tier 1", "tier1"}


def _tier(case: Case) -> str | None:
    for key in ("tier", "plan", "customer_tier", "sla"):
        value = case.metadata.get(key)
        if isinstance(value, str) and value:
            return value.lower()
    return None


def assess_priority(case: Case, similar_priorities: Sequence[str] = ()) -> PriorityCall:
    """Priority level with its rationale and the signals that drove it."""
    found = [(lvl, label) for lvl, label, pattern in _SIGNALS if pattern.search(case.text)]
    signals = [label for _, label in found]
    levels = {lvl for lvl, _ in found}
    # The most urgent signal wins; a "question" only counts when nothing else was seen.
    level = next((lvl for lvl in ("P1", "P2") if lvl in levels), "P4" if levels else "P3")
    reasons = [f"text shows: {', '.join(signals)}"] if signals else ["no impact signals in text"]
    tier = _tier(case)
    if tier and any(t in tier for t in _TIER_BUMP) and level in ("P3", "P4"):
        level = LEVELS[LEVELS.index(level) - 1]
        signals.append(f"customer tier {tier}")
        reasons.append(f"raised one level for {tier} customer")
    votes = Counter(p for p in similar_priorities if p in LEVELS)
    if votes:
        top, count = votes.most_common(1)[0]
        # Past cases only nudge: a clear majority more urgent than the text suggests
        # moves us one step, never more, and never below what the text itself shows.
        if count >= max(2, len(similar_priorities) // 2 + 1) and LEVELS.index(top) < LEVELS.index(
            level
        ):
            level = LEVELS[LEVELS.index(level) - 1]
            reasons.append(f"{count} of {len(similar_priorities)} similar past cases were {top}")
    if case.priority in LEVELS and not signals:
        # The reporter's own priority stands when the text gives us nothing better.
        level = case.priority
        reasons.append(f"reporter set {case.priority}")
    return PriorityCall(level=level, rationale="; ".join(reasons), signals=signals)  # type: ignore[arg-type]
