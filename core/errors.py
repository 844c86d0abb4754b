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


class NotConfigured(ConfigError):
    """A feature was asked for that this deployment has not set up (e.g. a webhook secret)."""

    code = "not_configured"


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


# --- storage -----------------------------------------------------------------
class StorageError(CasebookError):
    """Base of errors from the storage package (database unreachable, migration failed)."""

    code = "storage_error"


class Conflict(CasebookError):
    """The request conflicts with the current state (e.g. an idempotency key reused)."""

    code = "conflict"


# --- service -----------------------------------------------------------------
class ServiceError(CasebookError):
    """Base of errors from the service package (workflows around cases, drafts, jobs)."""

    code = "service_error"


class InvalidTransition(ServiceError):
    """A workflow step is not allowed in the case's current state."""

    code = "invalid_transition"


class JobFailed(ServiceError):
    """A background job failed; carries whether it will be retried."""

    code = "job_failed"


class LostClaim(ServiceError):
    """Another worker took a job over (this one's lease ran out); this result is dropped."""

    code = "lost_claim"


# --- api ---------------------------------------------------------------------
class AuthError(CasebookError):
    """Base of authentication and authorisation failures."""

    code = "unauthorized"


class Unauthorized(AuthError):
    """No API key, or an unknown or revoked one."""

    code = "unauthorized"


class Forbidden(AuthError):
    """The key is valid but its role may not do this."""

    code = "forbidden"


class RateLimited(CasebookError):
    """The caller exceeded its rate limit; retry_after is in seconds."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, **details: object) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class PayloadTooLarge(CasebookError):
    """A request body exceeds the configured size limit."""

    code = "payload_too_large"


class SignatureInvalid(AuthError):
    """A webhook delivery's signature is missing or does not verify."""

    code = "signature_invalid"


# --- evals -------------------------------------------------------------------
class EvalError(CasebookError):
    """Base of errors from the eval suite."""

    code = "eval_error"
