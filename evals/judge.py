"""The LLM judge: a written rubric (versioned prompt), asked N times, failures counted.

Prompts: `triage/prompts/judge_hypotheses/v1.md` and `triage/prompts/judge_response/v1.md`,
loaded and called through the one LLM gateway like every other LLM call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core.errors import EvalError, LLMError
from evals.lexical_proxy import lexical_hit
from evals.metrics import cohen_kappa
from triage.llm import LLMGateway, PromptTemplate, load_prompt

HYPOTHESES_PROMPT = "judge_hypotheses"
RESPONSE_PROMPT = "judge_response"
AGREEMENT_SET = Path(__file__).resolve().parent / "data" / "judge_agreement.jsonl"
V = TypeVar("V", bound=BaseModel)
RESPONSE_CRITERIA = ("grounded", "asks_missing_info", "no_invented_facts", "tone")


class HypothesisVerdict(BaseModel):
    """Whether any hypothesis names the reference root cause."""

    model_config = ConfigDict(extra="ignore")

    matches: bool
    best: int | None = None
    reason: str = ""


class ResponseVerdict(BaseModel):
    """Rubric scores of a customer response, 1 (poor) to 5 (excellent)."""

    model_config = ConfigDict(extra="ignore")

    grounded: int = Field(ge=1, le=5)
    asks_missing_info: int = Field(ge=1, le=5)
    no_invented_facts: int = Field(ge=1, le=5)
    tone: int = Field(ge=1, le=5)
    reason: str = ""


@dataclass
class JudgeUsage:
    """What the judge cost, and how often it failed to give a verdict."""

    calls: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    failure_reasons: dict[str, int] = field(default_factory=dict)


class Judge:
    """Asks the rubric prompts `repeats` times per item; a failed call is None, counted."""

    def __init__(
        self,
        gateway: LLMGateway,
        *,
        repeats: int = 3,
        version: str = "latest",
        max_output_tokens: int = 300,
    ) -> None:
        if repeats < 1:
            raise ValueError("repeats must be >= 1")
        self.gateway = gateway
        self.repeats = repeats
        self.max_output_tokens = max_output_tokens
        self.hypotheses_prompt = load_prompt(HYPOTHESES_PROMPT, version)
        self.response_prompt = load_prompt(RESPONSE_PROMPT, version)
        self.usage = JudgeUsage()

    @property
    def model(self) -> str:
        """The judging model's name."""
        return self.gateway.model_name

    @property
    def prompt_ids(self) -> list[str]:
        """`name@version` of both rubric prompts."""
        return [self.hypotheses_prompt.id, self.response_prompt.id]

    def hypotheses(
        self, case_text: str, hypotheses: Sequence[str], reference: str
    ) -> list[HypothesisVerdict | None]:
        """One verdict per repeat; no hypotheses is a miss without asking."""
        if not hypotheses:
            return [HypothesisVerdict(matches=False, reason="no hypotheses")] * self.repeats
        numbered = "\n".join(f"{i}. {h}" for i, h in enumerate(hypotheses, start=1))
        variables = {"case_text": case_text[:4000], "reference": reference, "hypotheses": numbered}
        return [
            self._ask(self.hypotheses_prompt, variables, HypothesisVerdict)
            for _ in range(self.repeats)
        ]

    def response(
        self, case_text: str, response: str, evidence: str, reference: str | None
    ) -> list[ResponseVerdict | None]:
        """Rubric scores per repeat."""
        variables = {
            "case_text": case_text[:4000],
            "evidence": evidence[:6000] or "(none)",
            "response": response,
            "reference": reference or "(no reference reply)",
        }
        return [
            self._ask(self.response_prompt, variables, ResponseVerdict) for _ in range(self.repeats)
        ]

    def _ask(self, prompt: PromptTemplate, variables: dict[str, str], model: type[V]) -> V | None:
        self.usage.calls += 1
        try:
            result = self.gateway.generate(
                prompt,
                variables,
                model,
                max_output_tokens=self.max_output_tokens,
            )
        except LLMError as exc:
            self.usage.failures += 1
            self.usage.failure_reasons[exc.code] = self.usage.failure_reasons.get(exc.code, 0) + 1
            for key in ("input_tokens", "output_tokens"):
                spent = exc.details.get(key, 0)
                if isinstance(spent, int):
                    setattr(self.usage, key, getattr(self.usage, key) + spent)
            return None
        self.usage.input_tokens += result.input_tokens
        self.usage.output_tokens += result.output_tokens
        self.usage.cost_usd += result.cost_usd
        return result.value


# -- agreement with hand labels ----------------------------------------------------------
class AgreementItem(BaseModel):
    """A hand-labelled item: does any hypothesis name the reference root cause?"""

    model_config = ConfigDict(extra="forbid")

    id: str
    case: str
    reference: str
    hypotheses: list[str]
    human: bool
    note: str = ""


def read_agreement_set(path: Path = AGREEMENT_SET) -> list[AgreementItem]:
    """The hand-labelled items."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read {path}: {exc}", path=str(path)) from exc
    return [AgreementItem.model_validate(json.loads(line)) for line in lines if line.strip()]


def agreement(human: Sequence[bool], rater: Sequence[bool | None]) -> dict[str, float | None]:
    """Accuracy and Cohen's kappa of a rater against hand labels; items it skipped are
    left out and counted."""
    pairs = [(h, r) for h, r in zip(human, rater, strict=True) if r is not None]
    if not pairs:
        return {"accuracy": None, "kappa": None, "n": 0.0, "missing": float(len(human))}
    hs, rs = [p[0] for p in pairs], [p[1] for p in pairs]
    return {
        "accuracy": sum(h == r for h, r in pairs) / len(pairs),
        "kappa": cohen_kappa(hs, rs),
        "n": float(len(pairs)),
        "missing": float(len(human) - len(pairs)),
    }


def lexical_ratings(items: Sequence[AgreementItem], threshold: float) -> list[bool | None]:
    """The lexical proxy's verdict on each item."""
    return [lexical_hit(item.hypotheses, item.reference, threshold)[0] for item in items]


def judge_ratings(items: Sequence[AgreementItem], judge: Judge) -> list[list[bool | None]]:
    """The judge's verdict on each item, one list per repeat."""
    per_item = [judge.hypotheses(i.case, i.hypotheses, i.reference) for i in items]
    return [
        [v.matches if v is not None else None for v in (verdicts[r] for verdicts in per_item)]
        for r in range(judge.repeats)
    ]
