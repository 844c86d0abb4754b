"""One error hierarchy for Casebook; each package raises from its own subtree.

HTTP mapping happens only in `api/`.
"""

from __future__ import annotations


class CasebookError(Exception):
    """Base class of every error Casebook raises on purpose."""

    code = "casebook_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(CasebookError):
    """Settings are missing, inconsistent or point at something unusable."""

    code = "config_error"


class ValidationFailed(CasebookError):
    """Input from a user or client is not acceptable."""

    code = "validation_failed"


class NotFound(CasebookError):
    """A requested case, runbook or run does not exist."""

    code = "not_found"


# --- retrieval ---------------------------------------------------------------
class RetrievalError(CasebookError):
    """Base of errors from the retrieval package."""

    code = "retrieval_error"


class EmbeddingError(RetrievalError):
    """An embedder could not produce vectors (bad model file, provider failure)."""

    code = "embedding_error"


class ModelIntegrityError(EmbeddingError):
    """A model file does not match its expected checksum."""

    code = "model_integrity_error"


class StoreError(RetrievalError):
    """The vector store or lexical index failed or is unreachable."""

    code = "store_error"


# --- kb_ingest ---------------------------------------------------------------
class IngestError(CasebookError):
    """Base of errors from the ingest package."""

    code = "ingest_error"


class MappingError(IngestError):
    """A column mapping is invalid or does not fit the input file."""

    code = "mapping_error"


class RecordError(IngestError):
    """One input record is malformed; carries where it was found."""

    code = "record_error"

    def __init__(self, message: str, *, location: str = "", **details: object) -> None:
        super().__init__(message, location=location, **details)
        self.location = location


# --- triage ------------------------------------------------------------------
class TriageError(CasebookError):
    """Base of errors from the triage package."""

    code = "triage_error"


class LLMError(TriageError):
    """An LLM call failed after its retries."""

    code = "llm_error"


# --- evals -------------------------------------------------------------------
class EvalError(CasebookError):
    """Base of errors from the eval suite."""

    code = "eval_error"
