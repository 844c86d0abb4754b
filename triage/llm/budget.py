"""Token budgeting: how much evidence fits, and packing it most-relevant-first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from casetext.tokens import TokenCounter
from core.errors import TriageError
from core.offline import configure_offline_env

DEFAULT_CONTEXT_TOKENS = 8192
TRUNCATION_MARKER = "…[truncated]"
SEPARATOR = "\n\n"
# Below this many tokens of body, a truncated item says too little to be worth its header.
MIN_TRUNCATED_BODY_TOKENS = 16

EvidenceKind = Literal["case", "runbook", "other"]


class BudgetError(TriageError):
    """The prompt and the reserved output alone do not fit in the model's context window."""

    code = "budget_error"


@dataclass(frozen=True)
class EvidenceItem:
    """One ranked piece of evidence offered to the model: a similar case or a runbook chunk."""

    id: str
    text: str
    kind: EvidenceKind = "other"
    title: str = ""
    heading: str = ""

    def header(self) -> str:
        """The line that introduces the item, carrying the id the model must cite."""
        label = {"case": "similar case", "runbook": "runbook section", "other": "evidence"}[
            self.kind
        ]
        parts = [f"[{self.id}] {label}"]
        if self.title:
            parts.append(self.title)
        if self.heading:
            parts.append(self.heading)
        return " — ".join(parts)

    def render(self, text: str | None = None) -> str:
        """Header and (possibly truncated) body."""
        body = self.text if text is None else text
        return f"{self.header()}\n{body}".rstrip()


@dataclass(frozen=True)
class PackedEvidence:
    """Evidence text that fits a token budget, and which ids made it in."""

    text: str
    included_ids: list[str] = field(default_factory=list)
    dropped_ids: list[str] = field(default_factory=list)
    truncated_ids: list[str] = field(default_factory=list)
    tokens_used: int = 0


def pack_evidence(
    items: Sequence[EvidenceItem], *, budget_tokens: int, counter: TokenCounter
) -> PackedEvidence:
    """Pack ranked items into at most `budget_tokens` tokens, best first.

    The first item that does not fit whole is truncated with a visible marker (when enough
    of it fits to be useful); everything after it is dropped, so ranking is never inverted.
    """
    parts: list[str] = []
    included: list[str] = []
    truncated: list[str] = []
    used = 0
    stop_at = len(items)
    for index, item in enumerate(items):
        whole = item.render()
        candidate = SEPARATOR.join([*parts, whole])
        tokens = counter.count(candidate)
        if tokens <= budget_tokens:
            parts.append(whole)
            included.append(item.id)
            used = tokens
            continue
        cut = _truncate_to_fit(item, parts, budget_tokens, counter)
        if cut is not None:
            parts.append(cut[0])
            included.append(item.id)
            truncated.append(item.id)
            used = cut[1]
            stop_at = index + 1
        else:
            stop_at = index
        break
    dropped = [item.id for item in items[stop_at:]]
    return PackedEvidence(
        text=SEPARATOR.join(parts),
        included_ids=included,
        dropped_ids=dropped,
        truncated_ids=truncated,
        tokens_used=used,
    )


def _truncate_to_fit(
    item: EvidenceItem, parts: list[str], budget_tokens: int, counter: TokenCounter
) -> tuple[str, int] | None:
    """The item cut (with marker) to fit after `parts`, and the new total; None if it can't."""
    prefix = SEPARATOR.join([*parts, ""]) if parts else ""
    overhead = counter.count(prefix + item.render("") + "\n" + TRUNCATION_MARKER)
    room = budget_tokens - overhead
    if room < MIN_TRUNCATED_BODY_TOKENS:
        return None
    # Token counts of a concatenation can differ by a token or two from the sum of its
    # parts, so shrink until the whole text really fits.
    while room >= MIN_TRUNCATED_BODY_TOKENS:
        body = counter.truncate(item.text, room).rstrip() + TRUNCATION_MARKER
        rendered = item.render(body)
        total = counter.count(prefix + rendered)
        if total <= budget_tokens:
            return rendered, total
        room -= max(1, total - budget_tokens)
    return None


def context_budget(
    model_context_tokens: int,
    prompt_tokens: int,
    max_output_tokens: int,
    *,
    safety: float = 0.05,
    min_safety_tokens: int = 64,
) -> int:
    """Tokens left for evidence so prompt + evidence + output stay inside the context window.

    `safety` (a fraction of the window, at least `min_safety_tokens`) absorbs the gap between
    tiktoken's count and the model's own tokenizer and the chat template's overhead.
    Raises BudgetError when the prompt and the output reservation alone do not fit.
    """
    if model_context_tokens <= 0 or prompt_tokens < 0 or max_output_tokens < 0:
        raise ValueError("token counts must be non-negative and the window positive")
    reserve = max(min_safety_tokens, int(model_context_tokens * safety))
    left = model_context_tokens - prompt_tokens - max_output_tokens - reserve
    if left < 0:
        raise BudgetError(
            f"prompt ({prompt_tokens}) + output ({max_output_tokens}) + safety ({reserve}) "
            f"tokens exceed the model's context window ({model_context_tokens})",
            context_tokens=model_context_tokens,
            prompt_tokens=prompt_tokens,
            max_output_tokens=max_output_tokens,
        )
    return left


def model_context_window(model: str, default: int = DEFAULT_CONTEXT_TOKENS) -> int:
    """The model's input window per litellm's model map, else `default` (local aliases)."""
    if not model:
        return default
    configure_offline_env()
    try:
        import litellm  # lazy: heavy, and only needed when an LLM is configured

        info = litellm.get_model_info(model)
    except Exception:  # unknown models raise; a default window is the documented fallback
        return default
    window = info.get("max_input_tokens") or info.get("max_tokens")
    try:
        return int(window) if window else default
    except (TypeError, ValueError):
        return default
