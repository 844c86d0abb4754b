"""The LLM seam: a one-method protocol, its typed errors, and the litellm backend behind it."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from core.errors import LLMError
from core.offline import configure_offline_env


# --- errors ------------------------------------------------------------------
class LLMTimeout(LLMError):
    """The provider did not answer within the timeout."""

    code = "llm_timeout"


class LLMRateLimited(LLMError):
    """The provider refused the call for rate or quota reasons (HTTP 429)."""

    code = "llm_rate_limited"

    def __init__(self, message: str, *, retry_after_s: float | None = None, **details: object):
        super().__init__(message, retry_after_s=retry_after_s, **details)
        self.retry_after_s = retry_after_s


class LLMUnavailable(LLMError):
    """The provider is down or unreachable (HTTP 5xx, connection refused or reset)."""

    code = "llm_unavailable"


class LLMBadRequest(LLMError):
    """The provider rejected the request itself (HTTP 4xx other than 429); retrying won't help."""

    code = "llm_bad_request"


class LLMOutputInvalid(LLMError):
    """The model's output never parsed into the requested schema, re-asks included."""

    code = "llm_output_invalid"


# --- protocol ----------------------------------------------------------------
@dataclass(frozen=True)
class LLMResponse:
    """One chat completion: the text and what it cost."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0


@runtime_checkable
class LLM(Protocol):
    """Anything that turns chat messages into one completion; raises the errors above."""

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None,
        max_tokens: int,
        timeout: float,
    ) -> LLMResponse:
        """Return one completion for `messages`."""
        ...


# --- litellm backend ---------------------------------------------------------
class LiteLLMBackend:
    """Any provider litellm speaks: `openai/...`, `anthropic/...`, `ollama/...`, or
    `openai/<alias>` with `api_base` for a llama.cpp or vLLM server."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        fallbacks: Sequence[str] = (),
        num_retries: int = 0,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.api_base = api_base
        self._api_key = api_key
        self.fallbacks = list(fallbacks)
        # Retries belong to the gateway (it logs and backs off per attempt); litellm's own
        # stay at 0 unless a caller explicitly wants both layers.
        self.num_retries = num_retries
        self.extra_params = dict(extra_params or {})

    def __repr__(self) -> str:
        return f"LiteLLMBackend(model={self.model!r}, api_base={self.api_base!r})"

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None,
        max_tokens: int,
        timeout: float,
    ) -> LLMResponse:
        """Call `litellm.completion` and map its exceptions to ours."""
        litellm = _import_litellm()
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "timeout": timeout,
            "num_retries": self.num_retries,
            **self.extra_params,
        }
        if response_format is not None:
            params["response_format"] = response_format
        if self.api_base:
            params["api_base"] = self.api_base
        if self._api_key:
            params["api_key"] = self._api_key
        if self.fallbacks:
            params["fallbacks"] = self.fallbacks
        start = time.perf_counter()
        try:
            response = litellm.completion(**params)
        except Exception as exc:
            raise map_litellm_error(exc, model=self.model) from exc
        latency_ms = (time.perf_counter() - start) * 1000.0
        choice = response.choices[0]
        text = getattr(choice.message, "content", None) or ""
        usage = getattr(response, "usage", None)
        return LLMResponse(
            text=text,
            model=str(getattr(response, "model", None) or self.model),
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=_cost(litellm, response),
            latency_ms=latency_ms,
        )


def _import_litellm() -> Any:
    # Lazy: litellm costs seconds and hundreds of MB; the offline env must be set first so
    # it never fetches its price map or tokenizer files.
    configure_offline_env()
    import litellm

    # litellm prints provider banners to stdout on errors; we log errors ourselves.
    litellm.suppress_debug_info = True
    return litellm


def _cost(litellm: Any, response: Any) -> float:
    """Price of a completion, 0.0 for models litellm has no price for."""
    try:
        cost = litellm.completion_cost(completion_response=response)
    except Exception:  # unpriced models raise assorted errors; cost is best-effort
        return 0.0
    try:
        return float(cost or 0.0)
    except (TypeError, ValueError):
        return 0.0


def map_litellm_error(exc: BaseException, *, model: str = "") -> LLMError:
    """Translate a litellm/openai exception into one of the gateway's typed errors."""
    name = type(exc).__name__
    status = _status_code(exc)
    # Only the class and status code go into the message: provider error bodies can echo
    # the prompt back, and the prompt holds case text.
    summary = f"{name} (status {status})" if status else name
    details: dict[str, object] = {"model": model, "status": status, "error_type": name}
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return LLMTimeout(f"LLM call timed out: {summary}", **details)
    if status == 429 or "RateLimit" in name:
        return LLMRateLimited(
            f"LLM call rate limited: {summary}", retry_after_s=retry_after_seconds(exc), **details
        )
    if "Connection" in name or isinstance(exc, ConnectionError):
        return LLMUnavailable(f"LLM provider unreachable: {summary}", **details)
    if status is not None and status >= 500:
        return LLMUnavailable(f"LLM provider error: {summary}", **details)
    if status == 408:
        return LLMTimeout(f"LLM call timed out: {summary}", **details)
    if status is not None and 400 <= status < 500:
        return LLMBadRequest(f"LLM request rejected: {summary}", **details)
    if "ServiceUnavailable" in name or "InternalServer" in name or "BadGateway" in name:
        return LLMUnavailable(f"LLM provider error: {summary}", **details)
    # Unknown failures inside the client are treated as transient, like a 5xx.
    return LLMUnavailable(f"LLM call failed: {summary}", **details)


def _status_code(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds a 429 asks us to wait (`retry-after-ms`, `retry-after` seconds or HTTP date)."""
    headers: dict[str, str] = {}
    for source in (
        getattr(getattr(exc, "response", None), "headers", None),
        exc.__dict__.get("headers"),
    ):
        if source:
            try:
                headers.update({str(k).lower(): str(v) for k, v in dict(source).items()})
            except (TypeError, ValueError):
                continue
    return parse_retry_after(headers)


def parse_retry_after(headers: dict[str, str]) -> float | None:
    """Parse lower-cased response headers into a non-negative wait in seconds, if any."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
