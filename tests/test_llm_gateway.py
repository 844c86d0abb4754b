"""The LLM gateway: structured output, re-ask, retries, call logging and token budgets."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from casetext.tokens import TokenCounter
from tests.fake_llm import FakeLLM
from triage.draft import TriageDraft
from triage.llm import (
    BudgetError,
    CallLog,
    CallRecord,
    EvidenceItem,
    LiteLLMBackend,
    LLMBadRequest,
    LLMGateway,
    LLMOutputInvalid,
    LLMRateLimited,
    LLMResponse,
    LLMTimeout,
    LLMUnavailable,
    context_budget,
    pack_evidence,
)
from triage.llm.budget import TRUNCATION_MARKER, model_context_window
from triage.llm.call_log import Outcome
from triage.llm.protocol import map_litellm_error, parse_retry_after
from triage.llm.structured import OutputParseError, extract_json, parse_output

# Distinctive strings that must never reach the call log.
SECRET_NAME = "Zebulon Quixotic-Fairweather"
SECRET_EMAIL = "zebulon.qf@example.org"
CASE_BODY = (
    f"Hi, this is {SECRET_NAME} ({SECRET_EMAIL}). Since 09:00 every webhook delivery to our "
    "endpoint fails with 'TLS handshake timeout'. Production is affected."
)


def draft_dict(**routing: Any) -> dict[str, Any]:
    """A minimal valid TriageDraft as the model would return it."""
    return {
        "case_id": "CASE-1",
        "routing": {"queue": "webhooks", "confidence": 0.8, **routing},
        "priority": {"level": "P2", "rationale": "production webhooks failing"},
        "hypotheses": [
            {
                "statement": "Endpoint TLS config rejects our ciphers",
                "likelihood": 0.6,
                "evidence": [{"id": "RB-tls#2", "quote": "handshake timeout"}],
                "next_step": "Check the endpoint's TLS versions",
            }
        ],
        "customer_response": "We are looking into the failed deliveries.",
        "provenance": {"mode": "llm"},
    }


VALID = json.dumps(draft_dict())


@pytest.fixture
def variables() -> dict[str, Any]:
    return {
        "allowed_queues": "- webhooks: delivery failures\n- payments: charges and refunds",
        "router_queue": "webhooks",
        "router_confidence": "0.81",
        "evidence": "[RB-tls#2] runbook section — TLS > Handshake\nCheck cipher suites.",
        "evidence_ids": "RB-tls#2",
        "case_title": "Webhooks failing",
        "case_body": CASE_BODY,
        "case_product": "Webhooks",
        "customer_tier": None,
        "signatures": "TLS handshake timeout",
    }


class Sleeps:
    """An injected sleep that records waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def call_log(tmp_path: Path) -> Iterator[CallLog]:
    log = CallLog(tmp_path / "calls.sqlite3")
    yield log
    log.close()


def gateway(llm: Any, sleeps: Sleeps, call_log: CallLog | None = None, **kw: Any) -> LLMGateway:
    options: dict[str, Any] = {"model_name": "fake/model", "max_retries": 2, "timeout_s": 12.5}
    options.update(kw)
    return LLMGateway(llm, call_log=call_log, sleep=sleeps, rng=random.Random(7), **options)


# --- structured output and re-ask ---------------------------------------------------------
def test_valid_draft_first_try(variables: dict[str, Any], sleeps: Sleeps) -> None:
    llm = FakeLLM([VALID])
    result = gateway(llm, sleeps).generate(
        "triage_draft", variables, TriageDraft, max_output_tokens=700
    )
    assert isinstance(result.value, TriageDraft)
    assert result.value.routing.queue == "webhooks"
    assert (result.attempts, result.reasks, result.prompt_id) == (1, 0, "triage_draft@v1")
    assert result.prompt_version == "v1" and result.raw_text == VALID
    call = llm.calls[0]
    assert (call.max_tokens, call.timeout) == (700, 12.5)
    fmt = call.response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "TriageDraft"
    assert fmt["json_schema"]["strict"] is False
    assert "routing" in fmt["json_schema"]["schema"]["properties"]
    assert [m["role"] for m in call.messages] == ["system", "user"]
    assert result.input_tokens > 0 and result.cost_usd == pytest.approx(0.001)
    assert sleeps.waits == []


def test_malformed_json_then_valid_reasks_with_the_error(
    variables: dict[str, Any], sleeps: Sleeps
) -> None:
    bad = '{"case_id": "CASE-1", "routing": {"queue": "webhooks",'
    llm = FakeLLM([bad, VALID])
    result = gateway(llm, sleeps).generate("triage_draft@v1", variables, TriageDraft)
    assert (result.attempts, result.reasks) == (2, 1)
    first, second = llm.calls
    assert second.messages[: len(first.messages)] == first.messages
    assistant, user = second.messages[-2:]
    assert assistant == {"role": "assistant", "content": bad}
    assert user["role"] == "user"
    assert "not valid JSON" in user["content"] and "JSON object only" in user["content"]
    # Usage is summed over both attempts.
    assert result.cost_usd == pytest.approx(0.002)
    assert result.input_tokens == sum(
        max(1, sum(len(m["content"]) for m in c.messages) // 4) for c in llm.calls
    )


def test_validation_errors_are_quoted_by_path(variables: dict[str, Any], sleeps: Sleeps) -> None:
    wrong = draft_dict(confidence=1.7)
    del wrong["customer_response"]
    llm = FakeLLM([json.dumps(wrong), VALID])
    result = gateway(llm, sleeps).generate("triage_draft", variables, TriageDraft)
    assert result.reasks == 1
    feedback = llm.calls[1].messages[-1]["content"]
    assert "routing.confidence" in feedback and "customer_response" in feedback


def test_invalid_twice_raises_output_invalid(
    variables: dict[str, Any], sleeps: Sleeps, call_log: CallLog
) -> None:
    llm = FakeLLM(["I think it is a TLS issue.", json.dumps({"case_id": "x"})])
    with pytest.raises(LLMOutputInvalid) as info:
        gateway(llm, sleeps, call_log).generate("triage_draft", variables, TriageDraft)
    assert len(llm.calls) == 2
    assert info.value.details["attempts"] == 2 and info.value.details["reasks"] == 1
    assert info.value.details["cost_usd"] == pytest.approx(0.002)
    outcomes = [(r.kind, r.outcome) for r in call_log.records()]
    assert outcomes == [
        ("attempt", "reask"),
        ("attempt", "invalid_output"),
        ("final", "invalid_output"),
    ]


def test_no_reasks_means_one_call(variables: dict[str, Any], sleeps: Sleeps) -> None:
    llm = FakeLLM(["not json"])
    with pytest.raises(LLMOutputInvalid):
        gateway(llm, sleeps, max_reasks=0).generate("triage_draft", variables, TriageDraft)
    assert len(llm.calls) == 1


def test_json_object_mode_puts_schema_in_prompt(variables: dict[str, Any], sleeps: Sleeps) -> None:
    llm = FakeLLM([VALID, VALID])
    gateway(llm, sleeps, response_format_mode="json_object").generate(
        "triage_draft", variables, TriageDraft
    )
    gateway(llm, sleeps, response_format_mode="none").generate(
        "triage_draft", variables, TriageDraft
    )
    obj, none = llm.calls
    assert obj.response_format is not None and obj.response_format["type"] == "json_object"
    assert "routing" in obj.response_format["schema"]["properties"]
    assert none.response_format is None
    for call in (obj, none):
        system = call.messages[0]
        assert system["role"] == "system" and '"customer_response"' in system["content"]


# --- retries ------------------------------------------------------------------------------
def test_timeouts_then_success_back_off_exponentially(
    variables: dict[str, Any], sleeps: Sleeps
) -> None:
    llm = FakeLLM([LLMTimeout("t1"), LLMTimeout("t2"), LLMUnavailable("503"), VALID])
    gw = gateway(llm, sleeps, max_retries=3, backoff_base_s=0.5, jitter=0.25)
    result = gw.generate("triage_draft", variables, TriageDraft)
    assert result.attempts == 4 and len(llm.calls) == 4
    assert len(sleeps.waits) == 3
    assert sleeps.waits == sorted(sleeps.waits) and len(set(sleeps.waits)) == 3
    for n, wait in enumerate(sleeps.waits):
        assert 0.5 * 2**n <= wait <= 0.5 * 2**n * 1.25


def test_retries_are_bounded(variables: dict[str, Any], sleeps: Sleeps, call_log: CallLog) -> None:
    llm = FakeLLM([LLMTimeout("t")] * 3)
    with pytest.raises(LLMTimeout) as info:
        gateway(llm, sleeps, call_log, max_retries=2).generate(
            "triage_draft", variables, TriageDraft
        )
    assert len(llm.calls) == 3 and len(sleeps.waits) == 2
    assert info.value.details["attempts"] == 3
    finals = call_log.records(kind="final")
    assert [(r.outcome, r.attempt, r.error_type) for r in finals] == [("timeout", 3, "LLMTimeout")]


def test_backoff_is_capped(variables: dict[str, Any], sleeps: Sleeps) -> None:
    llm = FakeLLM([LLMUnavailable("x")] * 6 + [VALID])
    gateway(llm, sleeps, max_retries=6, backoff_base_s=1.0, backoff_max_s=5.0).generate(
        "triage_draft", variables, TriageDraft
    )
    assert max(sleeps.waits) == 5.0 and sleeps.waits[0] < 5.0


def test_rate_limit_retry_after_is_honoured_and_capped(
    variables: dict[str, Any], sleeps: Sleeps
) -> None:
    llm = FakeLLM(
        [LLMRateLimited("429", retry_after_s=7.0), LLMRateLimited("429", retry_after_s=900), VALID]
    )
    gw = gateway(llm, sleeps, backoff_base_s=0.1, backoff_max_s=30.0)
    result = gw.generate("triage_draft", variables, TriageDraft)
    assert result.attempts == 3
    assert sleeps.waits == [7.0, 30.0]


def test_bad_request_is_not_retried(
    variables: dict[str, Any], sleeps: Sleeps, call_log: CallLog
) -> None:
    llm = FakeLLM([LLMBadRequest("422 json_schema unsupported"), VALID])
    with pytest.raises(LLMBadRequest):
        gateway(llm, sleeps, call_log).generate("triage_draft", variables, TriageDraft)
    assert len(llm.calls) == 1 and sleeps.waits == []
    assert [r.outcome for r in call_log.records()] == ["bad_request", "bad_request"]


def test_retries_inside_a_reask_keep_counting_attempts(
    variables: dict[str, Any], sleeps: Sleeps
) -> None:
    llm = FakeLLM(["{", LLMTimeout("t"), VALID])
    result = gateway(llm, sleeps).generate("triage_draft", variables, TriageDraft)
    assert (result.attempts, result.reasks, len(sleeps.waits)) == (3, 1, 1)
    # The retried call repeats the re-ask conversation, not the original one.
    assert llm.calls[2].messages == llm.calls[1].messages


# --- call log ------------------------------------------------------------------------------
def test_call_log_records_every_attempt_without_case_text(
    variables: dict[str, Any], sleeps: Sleeps, call_log: CallLog
) -> None:
    llm = FakeLLM(
        [
            LLMTimeout("t " + CASE_BODY),
            "```json\n{oops\n```",
            LLMResponse(VALID, "fake/served", input_tokens=900, output_tokens=120, cost_usd=0.01),
        ]
    )
    result = gateway(llm, sleeps, call_log).generate(
        "triage_draft", variables, TriageDraft, request_id="req-1"
    )
    records = call_log.records()
    assert [(r.kind, r.attempt, r.outcome) for r in records] == [
        ("attempt", 1, "timeout"),
        ("attempt", 2, "reask"),
        ("attempt", 3, "ok"),
        ("final", 3, "ok"),
    ]
    assert {r.request_id for r in records} == {"req-1"}
    assert {r.prompt_id for r in records} == {"triage_draft@v1"}
    ok = records[2]
    assert (ok.input_tokens, ok.output_tokens, ok.cost_usd, ok.model) == (
        900,
        120,
        0.01,
        "fake/served",
    )
    final = records[3]
    assert final.input_tokens == result.input_tokens == records[1].input_tokens + 900
    assert final.cost_usd == pytest.approx(0.011)
    assert all(r.prompt_chars > len(CASE_BODY) for r in records)
    # Sizes only: no case text, names or emails anywhere in the database file.
    call_log.close()
    raw = Path(call_log.path).read_bytes()
    for suffix in ("-wal", "-shm"):
        extra = Path(call_log.path + suffix)
        if extra.exists():
            raw += extra.read_bytes()
    for secret in (SECRET_NAME, SECRET_EMAIL, "TLS handshake", "Webhooks failing", "oops"):
        assert secret.encode() not in raw


def test_call_log_filters_and_summary(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "log.sqlite3")
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    outcomes: list[Outcome] = ["ok", "ok", "ok", "timeout"]
    for i, (latency, outcome) in enumerate(
        zip([100.0, 200.0, 300.0, 400.0], outcomes, strict=True)
    ):
        for kind in ("attempt", "final"):
            record = CallRecord(
                request_id=f"r{i}",
                kind="attempt" if kind == "attempt" else "final",
                attempt=1,
                outcome=outcome,
                model="m",
                prompt_name="triage_draft",
                prompt_version="v1",
                input_tokens=10,
                output_tokens=2,
                cost_usd=0.5,
                latency_ms=latency,
                ts=t0 + timedelta(minutes=i),
            )
            log.append(record)
    log.append(CallRecord("x", "final", 1, "ok", "m", "other", "v2", ts=t0))
    assert len(log.records(prompt="triage_draft")) == 8
    assert len(log.records(prompt="triage_draft@v1")) == 8
    assert log.records(prompt="triage_draft@v2") == []
    # A non-UTC `since` is compared as the same instant.
    since = (t0 + timedelta(minutes=2)).astimezone(timezone_plus_two())
    assert {r.request_id for r in log.records(since=since)} == {"r2", "r3"}
    summary = log.summary(prompt="triage_draft")
    assert (summary.calls, summary.attempts, summary.ok) == (4, 4, 3)
    assert summary.failures == {"timeout": 1}
    # Tokens and cost come from attempts only, so finals do not double count.
    assert (summary.input_tokens, summary.output_tokens) == (40, 8)
    assert summary.cost_usd == pytest.approx(2.0)
    assert summary.latency_p50_ms == pytest.approx(250.0)
    assert 350.0 < summary.latency_p95_ms <= 400.0
    log.close()


def timezone_plus_two() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_call_log_is_thread_safe(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "log.sqlite3")

    def worker(n: int) -> None:
        for i in range(25):
            log.append(CallRecord(f"{n}-{i}", "attempt", 1, "ok", "m", "p", "v1"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.request_id for r in log.records()}) == 200
    # Another reader (the eval suite) sees the same rows.
    with sqlite3.connect(log.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == 200
    log.close()


# --- JSON extraction ------------------------------------------------------------------------
class Small(BaseModel):
    name: str
    score: float = Field(ge=0, le=1)


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "a", "score": 0.5}',
        '```json\n{"name": "a", "score": 0.5}\n```',
        'Here is the JSON:\n```\n{"name": "a", "score": 0.5}\n```\nLet me know!',
        'Sure! {"name": "a", "score": 0.5} Hope this helps {really}.',
        '<think>maybe {"name": "b"}?</think>\n{"name": "a", "score": 0.5}',
        'prefix {not json} then {"name": "a", "score": 0.5}',
    ],
)
def test_json_is_extracted_from_fences_and_prose(text: str) -> None:
    assert parse_output(text, Small) == Small(name="a", score=0.5)


def test_extraction_keeps_braces_inside_strings() -> None:
    assert extract_json('ok: {"name": "}{", "score": 1}')["name"] == "}{"


@pytest.mark.parametrize("text", ["", "   ", "no json here", "[1, 2, 3]", '{"name": "a",'])
def test_unusable_replies_raise_parse_errors(text: str) -> None:
    with pytest.raises(OutputParseError):
        parse_output(text, Small)


def test_schema_violations_do_not_echo_the_input() -> None:
    with pytest.raises(OutputParseError) as info:
        parse_output(f'{{"name": "{SECRET_NAME}", "score": 4}}', Small)
    assert "score" in info.value.feedback and SECRET_NAME not in info.value.feedback


# --- error mapping --------------------------------------------------------------------------
class _FakeResponse:
    def __init__(self, status_code: int, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.headers = headers


def _exc(name: str, status: int | None, headers: dict[str, str] | None = None) -> Exception:
    cls = type(name, (Exception,), {})
    exc = cls("provider said: " + CASE_BODY)
    if status is not None:
        # Shaped like litellm's errors: a status code and an httpx-like response.
        exc.status_code = status
        exc.response = _FakeResponse(status, headers or {})
    return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_exc("Timeout", 408), LLMTimeout),
        (_exc("RateLimitError", 429), LLMRateLimited),
        (_exc("ServiceUnavailableError", 503), LLMUnavailable),
        (_exc("InternalServerError", 500), LLMUnavailable),
        (_exc("APIConnectionError", None), LLMUnavailable),
        (_exc("BadRequestError", 400), LLMBadRequest),
        (_exc("UnprocessableEntityError", 422), LLMBadRequest),
        (_exc("AuthenticationError", 401), LLMBadRequest),
        (_exc("NotFoundError", 404), LLMBadRequest),
    ],
)
def test_provider_errors_map_to_typed_errors(exc: Exception, expected: type) -> None:
    mapped = map_litellm_error(exc, model="m")
    assert type(mapped) is expected
    assert SECRET_NAME not in mapped.message


def test_retry_after_parsing() -> None:
    mapped = map_litellm_error(_exc("RateLimitError", 429, {"Retry-After": "12"}))
    assert isinstance(mapped, LLMRateLimited) and mapped.retry_after_s == 12.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    later = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    wait = parse_retry_after({"retry-after": later})
    assert wait is not None and 50 <= wait <= 61


# --- token budget ---------------------------------------------------------------------------
WORDS = ["timeout", "webhook", "TLS", "handshake", "502", "über", "日本語", "😀", "```json", "{}"]


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


def _items(rng: random.Random, n: int) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            id=f"EVX{i:03d}Q",
            text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 120))),
            kind=rng.choice(["case", "runbook", "other"]),
            title=rng.choice(["", "Webhook retries"]),
            heading=rng.choice(["", "Gateway > Timeouts"]),
        )
        for i in range(n)
    ]


def test_packing_never_exceeds_the_budget(counter: TokenCounter) -> None:
    rng = random.Random(1234)
    for _ in range(150):
        items = _items(rng, rng.randint(0, 8))
        budget = rng.randint(0, 400)
        packed = pack_evidence(items, budget_tokens=budget, counter=counter)
        assert counter.count(packed.text) == packed.tokens_used <= budget
        ids = [item.id for item in items]
        # Most relevant first: what is kept is a prefix of the ranking, the rest is dropped.
        assert packed.included_ids + packed.dropped_ids == ids
        for item_id in packed.included_ids:
            assert f"[{item_id}]" in packed.text
        for item_id in packed.dropped_ids:
            assert item_id not in packed.text
        assert set(packed.truncated_ids) <= set(packed.included_ids[-1:])
        assert (TRUNCATION_MARKER in packed.text) == bool(packed.truncated_ids)


def test_an_oversized_first_item_is_truncated_visibly(counter: TokenCounter) -> None:
    big = EvidenceItem("RB-1", "webhook retries " * 500, kind="runbook", heading="A > B")
    small = EvidenceItem("C-2", "short", kind="case")
    packed = pack_evidence([big, small], budget_tokens=100, counter=counter)
    assert packed.included_ids == ["RB-1"] and packed.truncated_ids == ["RB-1"]
    assert packed.dropped_ids == ["C-2"]
    assert packed.text.endswith(TRUNCATION_MARKER) and 90 <= packed.tokens_used <= 100
    assert packed.text.startswith("[RB-1] runbook section — A > B\n")


def test_everything_fits_when_the_budget_allows(counter: TokenCounter) -> None:
    items = [EvidenceItem(f"E{i}", f"text {i}") for i in range(5)]
    packed = pack_evidence(items, budget_tokens=10_000, counter=counter)
    assert packed.included_ids == [f"E{i}" for i in range(5)] and packed.dropped_ids == []
    assert TRUNCATION_MARKER not in packed.text


def test_context_budget_keeps_the_total_inside_the_window() -> None:
    rng = random.Random(99)
    for _ in range(200):
        window = rng.randint(512, 200_000)
        prompt, output = rng.randint(0, window), rng.randint(0, window // 2)
        try:
            left = context_budget(window, prompt, output)
        except BudgetError:
            assert prompt + output + max(64, int(window * 0.05)) > window
            continue
        assert left >= 0 and prompt + output + left <= window
    assert context_budget(8192, 1000, 1000, safety=0.0, min_safety_tokens=0) == 6192
    with pytest.raises(BudgetError):
        context_budget(8192, 7000, 1024)


# --- litellm end to end against a local fake OpenAI-compatible server ------------------------
class FakeOpenAIServer:
    """A chat-completions endpoint on 127.0.0.1 replaying scripted (status, headers) replies."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                outer.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                status, headers = outer.script.pop(0) if outer.script else (200, {})
                if status == 200:
                    body: dict[str, Any] = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 1700000000,
                        "model": "fake",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": VALID},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 321,
                            "completion_tokens": 45,
                            "total_tokens": 366,
                        },
                    }
                else:
                    body = {"error": {"message": "slow down", "type": "rate_limit", "code": status}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_litellm_backend_sends_response_format_and_reads_usage(
    openai_server: FakeOpenAIServer, variables: dict[str, Any], sleeps: Sleeps, call_log: CallLog
) -> None:
    backend = LiteLLMBackend("openai/fake", api_base=openai_server.api_base, api_key="sk-dummy")
    result = gateway(backend, sleeps, call_log).generate(
        "triage_draft", variables, TriageDraft, max_output_tokens=600
    )
    assert result.value.routing.queue == "webhooks"
    assert (result.input_tokens, result.output_tokens) == (321, 45)
    assert result.cost_usd == 0.0  # an unpriced model costs nothing, it does not raise
    (request,) = openai_server.requests
    assert request["model"] == "fake" and request["max_tokens"] == 600
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["name"] == "TriageDraft"
    assert request["messages"][0]["role"] == "system"
    assert call_log.summary().input_tokens == 321


def test_litellm_backend_429_then_200_goes_through_the_gateway_retry(
    openai_server: FakeOpenAIServer, variables: dict[str, Any], sleeps: Sleeps, call_log: CallLog
) -> None:
    openai_server.script = [(429, {"retry-after": "3"}), (200, {})]
    backend = LiteLLMBackend("openai/fake", api_base=openai_server.api_base, api_key="sk-dummy")
    result = gateway(backend, sleeps, call_log, backoff_base_s=0.01).generate(
        "triage_draft", variables, TriageDraft
    )
    # litellm's own retries are off: the gateway saw the 429, waited retry-after, retried.
    assert len(openai_server.requests) == 2 and result.attempts == 2
    assert sleeps.waits == [3.0]
    assert [r.outcome for r in call_log.records(kind="attempt")] == ["rate_limited", "ok"]


def test_litellm_backend_maps_server_errors(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = [(503, {}), (400, {})]
    backend = LiteLLMBackend("openai/fake", api_base=openai_server.api_base, api_key="sk-dummy")
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(LLMUnavailable):
        backend.complete(messages, response_format=None, max_tokens=5, timeout=10)
    with pytest.raises(LLMBadRequest):
        backend.complete(messages, response_format=None, max_tokens=5, timeout=10)


def test_unknown_models_get_the_default_context_window() -> None:
    assert model_context_window("openai/some-local-alias", default=4096) == 4096
    assert model_context_window("", default=1234) == 1234
    assert model_context_window("gpt-4o-mini") > 8192
