"""Prepare a case for storage, embedding and LLM use: redact, then extract signatures."""

from __future__ import annotations

from casetext.redaction import Redactor
from casetext.signatures import extract_signatures
from core.domain import Case

_REDACTED_FIELDS = ("title", "body", "resolution", "root_cause")


def prepare_case(case: Case, redactor: Redactor | None) -> tuple[Case, dict[str, int]]:
    """Redact PII from free-text fields and add error signatures; returns counts redacted.

    Signatures are extracted after redaction so that no PII can leak into them.
    """
    updates: dict[str, object] = {}
    counts: dict[str, int] = {}
    if redactor is not None:
        for field in _REDACTED_FIELDS:
            value = getattr(case, field)
            if value:
                result = redactor.redact(value)
                if result.text != value:
                    updates[field] = result.text
                for kind, n in result.counts.items():
                    counts[kind] = counts.get(kind, 0) + n
    prepared = case.model_copy(update=updates) if updates else case
    found = extract_signatures(prepared.text)
    merged = list(dict.fromkeys([*prepared.error_signatures, *found]))
    if merged != prepared.error_signatures:
        prepared = prepared.model_copy(update={"error_signatures": merged})
    return prepared, counts
