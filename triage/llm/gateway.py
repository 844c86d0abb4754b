"""The LLM gateway: every LLM call in Casebook goes through `LLMGateway.generate`.

It renders a versioned prompt, asks for structured output, retries transient failures with
backoff, re-asks once on invalid output, logs every attempt, and either returns a fully
validated object or raises a typed `LLMError` (the caller then falls back to retrieval-only).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from core.errors import LLMError
from triage.llm.call_log import CallLog, CallRecord, Outcome
from triage.llm.prompts import PromptTemplate, load_prompt
from triage.llm.protocol import (
    LLM,
    LLMBadRequest,
    LLMOutputInvalid,
    LLMRateLimited,
    LLMResponse,
    LLMTimeout,
)
from triage.llm.structured import (
    OutputParseError,
    ResponseFormatMode,
    parse_output,
    reask_messages,
    response_format_for,
    schema_instruction,
)

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class GatewayResult(Generic[T]):
    """A validated output and what it took to get it (summed over every attempt)."""

    value: T
    prompt_id: str
    prompt_version: str
    model: str
    request_id: str
    attempts: int
    reasks: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    raw_text: str


@dataclass
class _Call:
    """Running state of one `generate` call."""

    request_id: str
    prompt: PromptTemplate
    prompt_chars: int
    model: str
    attempts: int = 0
    reasks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0

    def add(self, response: LLMResponse) -> None:
        self.input_tokens += response.input_tokens
        self.output_tokens += response.output_tokens
        self.cost_usd += response.cost_usd
        self.latency_ms += response.latency_ms
        self.model = response.model or self.model

    def usage(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "prompt": self.prompt.id,
            "attempts": self.attempts,
            "reasks": self.reasks,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
        }


class LLMGateway:
    """Structured, retried, logged LLM calls over any `LLM` backend."""

    def __init__(
        self,
        llm: LLM,
        *,
        model_name: str,
        max_retries: int = 2,
        timeout_s: float = 60.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        jitter: float = 0.25,
        max_reasks: int = 1,
        response_format_mode: ResponseFormatMode = "json_schema",
        call_log: CallLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_retries < 0 or max_reasks < 0:
            raise ValueError("max_retries and max_reasks must be >= 0")
        if response_format_mode not in ("json_schema", "json_object", "none"):
            raise ValueError(f"unknown response_format_mode {response_format_mode!r}")
        self.llm = llm
        self.model_name = model_name
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.jitter = jitter
        self.max_reasks = max_reasks
        self.response_format_mode: ResponseFormatMode = response_format_mode
        self.call_log = call_log
        self._sleep = sleep
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return (
            f"LLMGateway(model={self.model_name!r}, mode={self.response_format_mode!r}, "
            f"max_retries={self.max_retries}, max_reasks={self.max_reasks})"
        )

    def generate(
        self,
        prompt: PromptTemplate | str,
        variables: Mapping[str, Any],
        output_model: type[T],
        *,
        max_output_tokens: int = 1024,
        version: str = "latest",
        request_id: str | None = None,
    ) -> GatewayResult[T]:
        """Render `prompt`, call the model, and return its output validated as `output_model`.

        `prompt` is a template or a name (`"triage_draft"`, `"triage_draft@v1"`; `version`
        applies to a bare name). Raises LLMTimeout / LLMRateLimited / LLMUnavailable /
        LLMBadRequest when the call itself fails after its retries, and LLMOutputInvalid when
        the output never validates; `error.details` carries the usage spent so far.
        """
        template = self._resolve(prompt, version)
        messages = self._with_schema(template.render(**variables), output_model)
        response_format = response_format_for(output_model, self.response_format_mode)
        call = _Call(
            request_id=request_id or uuid.uuid4().hex,
            prompt=template,
            prompt_chars=_chars(messages),
            model=self.model_name,
        )
        while True:
            response = self._complete_with_retries(
                call, messages, response_format, max_output_tokens
            )
            try:
                value = parse_output(response.text, output_model)
            except OutputParseError as exc:
                if call.reasks >= self.max_reasks:
                    self._log_attempt(call, "invalid_output", response=response)
                    self._log_final(call, "invalid_output", len(response.text))
                    raise LLMOutputInvalid(
                        f"{template.id}: model output did not match {output_model.__name__} "
                        f"after {call.reasks} re-ask(s)",
                        **call.usage(),
                    ) from exc
                self._log_attempt(call, "reask", response=response)
                call.reasks += 1
                messages = [*messages, *reask_messages(response.text, exc.feedback)]
                call.prompt_chars = _chars(messages)
                continue
            self._log_attempt(call, "ok", response=response)
            self._log_final(call, "ok", len(response.text))
            return GatewayResult(
                value=value,
                prompt_id=template.id,
                prompt_version=template.version,
                model=call.model,
                request_id=call.request_id,
                attempts=call.attempts,
                reasks=call.reasks,
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                cost_usd=call.cost_usd,
                latency_ms=call.latency_ms,
                raw_text=response.text,
            )

    # --- internals -----------------------------------------------------------
    @staticmethod
    def _resolve(prompt: PromptTemplate | str, version: str) -> PromptTemplate:
        if isinstance(prompt, PromptTemplate):
            return prompt
        name, _, pinned = prompt.partition("@")
        return load_prompt(name, pinned or version)

    def _with_schema(
        self, messages: list[dict[str, str]], output_model: type[BaseModel]
    ) -> list[dict[str, str]]:
        # With json_schema the provider enforces the schema; otherwise the model only
        # knows it if the prompt says it.
        if self.response_format_mode == "json_schema":
            return messages
        instruction = schema_instruction(output_model)
        out = [dict(m) for m in messages]
        for message in out:
            if message["role"] == "system":
                message["content"] = f"{message['content']}\n\n{instruction}"
                return out
        return [{"role": "system", "content": instruction}, *out]

    def _complete_with_retries(
        self,
        call: _Call,
        messages: list[dict[str, str]],
        response_format: dict[str, Any] | None,
        max_output_tokens: int,
    ) -> LLMResponse:
        retry = 0
        while True:
            call.attempts += 1
            start = time.perf_counter()
            try:
                response = self.llm.complete(
                    messages,
                    response_format=response_format,
                    max_tokens=max_output_tokens,
                    timeout=self.timeout_s,
                )
            except LLMError as exc:
                elapsed_ms = (time.perf_counter() - start) * 1000.0
                call.latency_ms += elapsed_ms
                outcome = _outcome_of(exc)
                self._log_attempt(call, outcome, latency_ms=elapsed_ms, error=exc)
                if outcome == "bad_request" or retry >= self.max_retries:
                    self._log_final(call, outcome, 0, error=exc)
                    exc.details.update(call.usage())
                    raise
                self._sleep(self._backoff(retry, exc))
                retry += 1
                continue
            call.add(response)
            return response

    def _backoff(self, retry: int, exc: LLMError) -> float:
        """Exponential backoff with jitter; a rate limit's retry-after is a floor."""
        wait = self.backoff_base_s * (2**retry) * (1.0 + self.jitter * self._rng.random())
        if isinstance(exc, LLMRateLimited) and exc.retry_after_s is not None:
            wait = max(wait, exc.retry_after_s)
        return min(wait, self.backoff_max_s)

    def _log_attempt(
        self,
        call: _Call,
        outcome: Outcome,
        *,
        response: LLMResponse | None = None,
        latency_ms: float = 0.0,
        error: BaseException | None = None,
    ) -> None:
        if self.call_log is None:
            return
        self.call_log.append(
            CallRecord(
                request_id=call.request_id,
                kind="attempt",
                attempt=call.attempts,
                outcome=outcome,
                model=(response.model if response else "") or call.model,
                prompt_name=call.prompt.name,
                prompt_version=call.prompt.version,
                input_tokens=response.input_tokens if response else 0,
                output_tokens=response.output_tokens if response else 0,
                cost_usd=response.cost_usd if response else 0.0,
                latency_ms=response.latency_ms if response else latency_ms,
                prompt_chars=call.prompt_chars,
                output_chars=len(response.text) if response else 0,
                error_type=type(error).__name__ if error else "",
            )
        )

    def _log_final(
        self, call: _Call, outcome: Outcome, output_chars: int, error: BaseException | None = None
    ) -> None:
        if self.call_log is None:
            return
        self.call_log.append(
            CallRecord(
                request_id=call.request_id,
                kind="final",
                attempt=call.attempts,
                outcome=outcome,
                model=call.model,
                prompt_name=call.prompt.name,
                prompt_version=call.prompt.version,
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                cost_usd=call.cost_usd,
                latency_ms=call.latency_ms,
                prompt_chars=call.prompt_chars,
                output_chars=output_chars,
                error_type=type(error).__name__ if error else "",
            )
        )


def _outcome_of(exc: LLMError) -> Outcome:
    if isinstance(exc, LLMTimeout):
        return "timeout"
    if isinstance(exc, LLMRateLimited):
        return "rate_limited"
    if isinstance(exc, LLMBadRequest):
        return "bad_request"
    # LLMUnavailable, and any other LLMError a custom backend raises, count as an outage.
    return "unavailable"


def _chars(messages: list[dict[str, str]]) -> int:
    return sum(len(str(m.get("content", ""))) for m in messages)
