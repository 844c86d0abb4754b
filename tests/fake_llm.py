"""A scriptable fake behind the `LLM` protocol, for gateway and triage tests."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from triage.llm.protocol import LLMResponse


@dataclass(frozen=True)
class FakeCall:
    """What the fake received on one call."""

    messages: list[dict[str, Any]]
    response_format: dict[str, Any] | None
    max_tokens: int
    timeout: float


class FakeLLM:
    """Replays a script of replies (strings or LLMResponse) and exceptions, in order.

    Strings become responses with token counts derived from message and reply sizes, so
    sums can be checked. Running past the end of the script fails the test loudly.
    """

    def __init__(
        self,
        script: Iterable[str | LLMResponse | BaseException] = (),
        *,
        model: str = "fake/model",
        cost_per_call: float = 0.001,
        latency_ms: float = 5.0,
    ) -> None:
        self.script: deque[str | LLMResponse | BaseException] = deque(script)
        self.model = model
        self.cost_per_call = cost_per_call
        self.latency_ms = latency_ms
        self.calls: list[FakeCall] = []

    def push(self, *items: str | LLMResponse | BaseException) -> None:
        """Append replies to the script."""
        self.script.extend(items)

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None,
        max_tokens: int,
        timeout: float,
    ) -> LLMResponse:
        """Record the call and return (or raise) the next scripted item."""
        self.calls.append(FakeCall(copy.deepcopy(messages), response_format, max_tokens, timeout))
        if not self.script:
            raise AssertionError(f"FakeLLM script exhausted on call {len(self.calls)}")
        item = self.script.popleft()
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, LLMResponse):
            return item
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        return LLMResponse(
            text=item,
            model=self.model,
            input_tokens=max(1, prompt_chars // 4),
            output_tokens=max(1, len(item) // 4),
            cost_usd=self.cost_per_call,
            latency_ms=self.latency_ms,
        )
