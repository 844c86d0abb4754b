"""The LLM gateway: every LLM call in Casebook goes through `LLMGateway`.

Importing this package is cheap: litellm is imported only when a call is made.
"""

from triage.llm.budget import (
    BudgetError,
    EvidenceItem,
    PackedEvidence,
    context_budget,
    model_context_window,
    pack_evidence,
)
from triage.llm.call_log import CallLog, CallRecord, CallSummary
from triage.llm.gateway import GatewayResult, LLMGateway
from triage.llm.prompts import PromptError, PromptTemplate, load_prompt
from triage.llm.protocol import (
    LLM,
    LiteLLMBackend,
    LLMBadRequest,
    LLMOutputInvalid,
    LLMRateLimited,
    LLMResponse,
    LLMTimeout,
    LLMUnavailable,
)
from triage.llm.structured import ResponseFormatMode, extract_json, parse_output

__all__ = [
    "LLM",
    "BudgetError",
    "CallLog",
    "CallRecord",
    "CallSummary",
    "EvidenceItem",
    "GatewayResult",
    "LLMBadRequest",
    "LLMGateway",
    "LLMOutputInvalid",
    "LLMRateLimited",
    "LLMResponse",
    "LLMTimeout",
    "LLMUnavailable",
    "LiteLLMBackend",
    "PackedEvidence",
    "PromptError",
    "PromptTemplate",
    "ResponseFormatMode",
    "context_budget",
    "extract_json",
    "load_prompt",
    "model_context_window",
    "pack_evidence",
    "parse_output",
]
