"""A SQLite log of every LLM attempt and outcome, read back by the eval suite.

Sizes only, never text: prompts and replies carry case content (PII).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Outcome = Literal[
    "ok", "reask", "invalid_output", "timeout", "rate_limited", "unavailable", "bad_request"
]
RecordKind = Literal["attempt", "final"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_name TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_ms REAL NOT NULL,
    prompt_chars INTEGER NOT NULL,
    output_chars INTEGER NOT NULL,
    error_type TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_calls_ts ON llm_calls (ts);
CREATE INDEX IF NOT EXISTS llm_calls_prompt ON llm_calls (prompt_name, prompt_version);
"""
_COLUMNS = (
    "ts, request_id, kind, attempt, outcome, model, prompt_name, prompt_version, input_tokens, "
    "output_tokens, cost_usd, latency_ms, prompt_chars, output_chars, error_type"
)


@dataclass(frozen=True)
class CallRecord:
    """One attempt (kind="attempt") or one call's final outcome (kind="final")."""

    request_id: str
    kind: RecordKind
    attempt: int
    outcome: Outcome
    model: str
    prompt_name: str
    prompt_version: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    prompt_chars: int = 0
    output_chars: int = 0
    error_type: str = ""
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def prompt_id(self) -> str:
        """`name@version` of the prompt this call rendered."""
        return f"{self.prompt_name}@{self.prompt_version}"


@dataclass(frozen=True)
class CallSummary:
    """Totals over a set of calls: counts, failures, tokens, cost and latency percentiles."""

    calls: int
    attempts: int
    ok: int
    failures: dict[str, int]
    attempt_outcomes: dict[str, int]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_p50_ms: float
    latency_p95_ms: float


class CallLog:
    """Append-only, thread-safe log of LLM calls in a SQLite table (`llm_calls`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One connection shared under a lock: simple, and works for ":memory:" too.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        with self._lock, self._conn:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"CallLog(path={self.path!r})"

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def append(self, record: CallRecord) -> None:
        """Store one record."""
        row = asdict(record)
        row["ts"] = _aware(record.ts).isoformat()
        values = tuple(row[c.strip()] for c in _COLUMNS.split(","))
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT INTO llm_calls ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                values,
            )

    def records(
        self,
        since: datetime | None = None,
        prompt: str | None = None,
        *,
        kind: RecordKind | None = None,
        request_id: str | None = None,
    ) -> list[CallRecord]:
        """Records in insertion order, optionally filtered.

        `prompt` matches a prompt name (`triage_draft`) or id (`triage_draft@v1`).
        """
        where: list[str] = []
        args: list[object] = []
        if since is not None:
            where.append("ts >= ?")
            args.append(_aware(since).isoformat())
        if prompt is not None:
            name, _, version = prompt.partition("@")
            where.append("prompt_name = ?")
            args.append(name)
            if version:
                where.append("prompt_version = ?")
                args.append(version)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if request_id is not None:
            where.append("request_id = ?")
            args.append(request_id)
        sql = f"SELECT {_COLUMNS} FROM llm_calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        names = [c.strip() for c in _COLUMNS.split(",")]
        out = []
        for row in rows:
            data = dict(zip(names, row, strict=True))
            data["ts"] = datetime.fromisoformat(data["ts"])
            out.append(CallRecord(**data))
        return out

    def summary(self, since: datetime | None = None, prompt: str | None = None) -> CallSummary:
        """Totals over the records matching the filters (see `records`)."""
        return summarize(self.records(since=since, prompt=prompt))


def summarize(records: list[CallRecord]) -> CallSummary:
    """Aggregate records: tokens and cost from attempts, outcomes and latency from finals."""
    attempts = [r for r in records if r.kind == "attempt"]
    finals = [r for r in records if r.kind == "final"]
    failures: Counter[str] = Counter(r.outcome for r in finals if r.outcome != "ok")
    latencies = sorted(r.latency_ms for r in finals)
    return CallSummary(
        calls=len(finals),
        attempts=len(attempts),
        ok=sum(1 for r in finals if r.outcome == "ok"),
        failures=dict(failures),
        attempt_outcomes=dict(Counter[str](r.outcome for r in attempts)),
        input_tokens=sum(r.input_tokens for r in attempts),
        output_tokens=sum(r.output_tokens for r in attempts),
        cost_usd=sum(r.cost_usd for r in attempts),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def percentile(sorted_values: list[float], pct: float) -> float:
    """Linear-interpolated percentile of already sorted values (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = (len(sorted_values) - 1) * pct / 100.0
    lo = int(rank)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo)


def _aware(value: datetime) -> datetime:
    # Stored as UTC ISO strings so that text comparison in SQL orders by time.
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
