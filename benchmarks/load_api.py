"""Load test of the HTTP API on loopback: concurrent case intake with triage, then search.

Usage:
  python -m benchmarks.load_api [--clients 50] [--duration 60] [--max-requests 1200]
      [--workers N] [--data demo] [--database-url URL] [--drain-timeout 600]
      [--search-duration 30] [--json-only]

A temporary data dir gets the demo data (`casebook demo`: runbooks and past cases, real ONNX
embedder), an engineer key is created, and `casebook serve` (uvicorn with its in-process
worker threads, no LLM: retrieval-only drafts, rate limit off) runs as a subprocess on a free
127.0.0.1 port. Then:

  create  N clients POST /v1/cases (ticket texts varied from the demo cases, each with an
          Idempotency-Key) for D seconds or until --max-requests; latency and status of each.
  drain   waits (bounded) until every accepted case's triage finished, reading the database;
          LOST = accepted cases with no draft and no visible error (must be 0).
  search  N clients POST /v1/search/cases for --search-duration seconds.

With --database-url postgresql+psycopg://..., the service runs on a fresh schema that is
dropped afterwards. Every request goes to 127.0.0.1, and both phases are bounded in time and
count. Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
RETRIES = 3


# --- ticket texts ----------------------------------------------------------------------------
_OPENERS = ["", "Hi team, ", "Urgent: ", "Customer reports: ", "Following up: ", "FYI - "]
_CLOSERS = [
    "",
    "Can you take a look?",
    "This is blocking our release.",
    "Started after this morning's deploy.",
    "Several customers are affected.",
]


def load_tickets(data: Path) -> list[dict[str, Any]]:
    """The demo (or --data) cases with a title and a body, as raw dicts."""
    rows = [json.loads(line) for line in (data / "cases.jsonl").read_text().splitlines() if line]
    return [r for r in rows if r.get("title") and r.get("body")]


def vary(ticket: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A realistic new ticket from a past one: reworded edges, new ids and numbers, cut body."""
    numbers = re.compile(r"\d{3,}")
    body = numbers.sub(
        lambda m: str(rng.randrange(10 ** (len(m.group()) - 1), 10 ** len(m.group()))),
        ticket["body"],
    )
    paragraphs = body.split("\n\n")
    keep = paragraphs[: rng.randint(1, len(paragraphs))]
    title = ticket["title"]
    if rng.random() < 0.3:
        title = title.lower()
    return {
        "title": f"{rng.choice(_OPENERS)}{title}"[:500],
        "body": "\n\n".join([*keep, rng.choice(_CLOSERS)]).strip(),
        "customer": ticket.get("customer"),
        "product": ticket.get("product"),
        "tags": ["loadtest"],
        "metadata": {"loadtest": True},
    }


# --- the server ------------------------------------------------------------------------------
def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL at `url`; yields the URL that uses it, then drops it."""
    name = f"load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@dataclass
class Server:
    """`casebook serve` on loopback over a prepared data dir."""

    env: dict[str, str]
    workers: int | None
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{HOST}:{self.port}"

    def start(self, timeout_s: float = 180) -> None:
        """Start and wait for /readyz."""
        cmd = [str(BIN / "casebook"), "serve", "--host", HOST, "--port", str(self.port)]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server not ready in time")

    def peak_rss_mb(self) -> float | None:
        """The server's peak resident memory so far (Linux), in MiB."""
        try:
            status = Path(f"/proc/{self.proc.pid if self.proc else 0}/status").read_text()
        except OSError:
            return None
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        return round(int(match.group(1)) / 1024, 1) if match else None

    def log_errors(self) -> list[str]:
        """The server's ERROR log lines (at most 20), to explain failures after the run."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line[:500] for line in lines if '"level": "ERROR"' in line][:20]

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down, the worker finishes its job), SIGKILL after 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def casebook(env: dict[str, str], *args: str) -> str:
    """Run a casebook CLI command; its stdout."""
    done = subprocess.run(
        [str(BIN / "casebook"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"casebook {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


# --- load ------------------------------------------------------------------------------------
@dataclass
class Phase:
    """What one phase's requests did."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu_s: float = 0.0  # this process's CPU: the load generator shares the 2 cores
    failed: int = 0  # requests that got no answer even after the retries

    @property
    def requests(self) -> int:
        """Requests answered or given up on."""
        return sum(self.statuses.values()) + self.failed

    def summary(self) -> dict[str, Any]:
        """Throughput and latency percentiles."""
        lat = sorted(self.latencies_ms)
        ok = sum(n for s, n in self.statuses.items() if 200 <= s < 300)
        return {
            "requests": self.requests,
            "ok": ok,
            "req_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99),
            "max_ms": round(lat[-1], 1) if lat else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "transport_errors": dict(self.errors),
            "unanswered": self.failed,
            "seconds": round(self.seconds, 1),
            "client_cpu_s": round(self.client_cpu_s, 1),
        }


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return round(sorted_values[rank], 1)


async def run_phase(
    url: str,
    key: str,
    clients: int,
    duration_s: float,
    max_requests: int,
    make_request: Any,
    phase: Phase,
) -> None:
    """`clients` loops sending requests until the time or the request budget runs out."""
    budget = iter(range(max_requests))
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:
        start = time.perf_counter()
        deadline = start + duration_s

        async def client(n: int) -> None:
            rng = random.Random(n)
            while time.perf_counter() < deadline and next(budget, None) is not None:
                method, path, body, extra = make_request(rng)
                t0 = time.perf_counter()
                r = None
                # A dropped connection is retried as a real client would: with the same
                # Idempotency-Key, so a case the server did create is answered, not duplicated.
                for _ in range(RETRIES + 1):
                    try:
                        r = await http.request(method, path, json=body, headers=extra)
                        break
                    except httpx.TransportError as exc:
                        phase.errors[type(exc).__name__] += 1
                if r is None:
                    phase.failed += 1
                    continue
                phase.latencies_ms.append((time.perf_counter() - t0) * 1000)
                phase.statuses[r.status_code] += 1
                if path == "/v1/cases" and r.status_code in (200, 202):
                    phase.accepted.append(r.json()["case_id"])

        cpu0 = time.process_time()
        await asyncio.gather(*(client(n) for n in range(clients)))
        phase.seconds = time.perf_counter() - start
        phase.client_cpu_s = time.process_time() - cpu0


# --- drain -----------------------------------------------------------------------------------
def triage_state(db_url: str, ids: list[str]) -> dict[str, Any]:
    """Where the accepted cases stand, read from the service database."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows: dict[str, str] = {
                r[0]: r[1] for r in conn.execute(text("SELECT id, draft_status FROM cases"))
            }
            drafted = {
                r[0] for r in conn.execute(text("SELECT DISTINCT case_id FROM draft_versions"))
            }
            times = conn.execute(
                text("SELECT MIN(created_at), MAX(created_at) FROM draft_versions")
            ).one()
            failed_with_error = {
                r[0]
                for r in conn.execute(
                    text("SELECT case_id FROM jobs WHERE state = 'dead' AND last_error IS NOT NULL")
                )
            }
    finally:
        engine.dispose()
    by_status: Counter[str] = Counter()
    lost: list[str] = []
    for case_id in ids:
        status = rows.get(case_id)
        by_status[status or "missing"] += 1
        # Lost: no row, "ready" without a stored draft, or "failed" with no error to show.
        visible = {"ready": case_id in drafted, "failed": case_id in failed_with_error}
        if status is None or not visible.get(status, True):
            lost.append(case_id)
    pending = by_status["queued"] + by_status["running"]
    return {"by_status": dict(by_status), "pending": pending, "lost": lost, "times": times}


def still_pending(state: dict[str, Any], ids: list[str], db_url: str) -> list[str]:
    """Accepted cases still queued or running: lost too once the drain gave up on them."""
    if not state["pending"]:
        return []
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            waiting = {
                r[0]
                for r in conn.execute(
                    text("SELECT id FROM cases WHERE draft_status IN ('queued', 'running')")
                )
            }
    finally:
        engine.dispose()
    return [i for i in ids if i in waiting]


def drain(db_url: str, ids: list[str], timeout_s: float) -> tuple[dict[str, Any], float]:
    """Poll until no accepted case is queued or running (or the timeout); state and seconds."""
    start = time.perf_counter()
    while True:
        state = triage_state(db_url, ids)
        if state["pending"] == 0 or time.perf_counter() - start > timeout_s:
            return state, time.perf_counter() - start
        time.sleep(2)


def api_sample(url: str, key: str, ids: list[str], n: int) -> int:
    """How many of `n` random accepted cases show no draft through GET /v1/cases/{id}/draft."""
    headers = {"Authorization": f"Bearer {key}"}
    missing = 0
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for case_id in random.Random(0).sample(ids, min(n, len(ids))):
            r = http.get(f"/v1/cases/{case_id}/draft")
            missing += r.status_code != 200 or r.json()["latest"] is None
    return missing


def _seconds(value: Any) -> float:
    if isinstance(value, str):  # SQLite hands back text
        from datetime import datetime

        value = datetime.fromisoformat(value)
    return float(value.timestamp())


# --- the run ---------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, load, drain, search, tear down; every figure."""
    data = Path(args.data)
    tickets = load_tickets(data)
    tmp = Path(tempfile.mkdtemp(prefix="casebook-load-"))
    env = {
        **os.environ,
        "CASEBOOK_DATA_DIR": str(tmp / "data"),
        "CASEBOOK_LLM_MODEL": "",
        "CASEBOOK_RATE_LIMIT_PER_MINUTE": "0",
        "ANONYMIZED_TELEMETRY": "False",
    }
    if (data / "queues.toml").exists():
        env["CASEBOOK_QUEUES_FILE"] = str(data / "queues.toml")
    with _database(args.database_url, tmp) as db_url:
        env["CASEBOOK_DATABASE_URL"] = db_url
        t0 = time.perf_counter()
        casebook(env, "demo", "--path", str(data))
        setup_s = time.perf_counter() - t0
        key = json.loads(casebook(env, "keys", "create", "--role", "engineer", "--json"))["secret"]
        server = Server(env, args.workers, tmp / "server.log")
        try:
            server.start()
            out = _measure(args, server.url, key, tickets, db_url)
            out["server_peak_rss_mb"] = server.peak_rss_mb()
        finally:
            server.stop()
        out["server_log_errors"] = server.log_errors()
        out["setup_s"] = round(setup_s, 1)
        out["database"] = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    shutil.rmtree(tmp, ignore_errors=True)
    return out


@contextmanager
def _database(url: str | None, tmp: Path) -> Iterator[str]:
    if url and url.startswith("postgresql"):
        with postgres_schema(url) as scoped:
            yield scoped
    else:
        yield url or f"sqlite:///{tmp / 'data' / 'casebook.db'}"


def _measure(
    args: argparse.Namespace, url: str, key: str, tickets: list[dict[str, Any]], db_url: str
) -> dict[str, Any]:
    def new_case(rng: random.Random) -> tuple[str, str, Any, dict[str, str]]:
        body = vary(rng.choice(tickets), rng)
        return "POST", "/v1/cases", body, {"Idempotency-Key": uuid.uuid4().hex}

    def search(rng: random.Random) -> tuple[str, str, Any, dict[str, str]]:
        t = vary(rng.choice(tickets), rng)
        query = t["title"] if rng.random() < 0.5 else f"{t['title']}\n{t['body']}"
        return "POST", "/v1/search/cases", {"query": query, "k": 10}, {}

    create = Phase()
    asyncio.run(
        run_phase(url, key, args.clients, args.duration, args.max_requests, new_case, create)
    )
    state, drain_s = drain(db_url, create.accepted, args.drain_timeout)
    lost = state["lost"] + still_pending(state, create.accepted, db_url)
    unseen = api_sample(url, key, create.accepted, 25)
    first, last = state["times"]
    accepted = len(create.accepted)
    ready = state["by_status"].get("ready", 0)
    triage_window = _seconds(last) - _seconds(first) if first and last else 0.0
    searched = Phase()
    asyncio.run(
        run_phase(url, key, args.clients, args.search_duration, args.max_requests, search, searched)
    )
    return {
        "clients": args.clients,
        "workers": args.workers,
        "create": create.summary(),
        "accepted": accepted,
        "drafts_ready": ready,
        "drafts_failed": state["by_status"].get("failed", 0),
        "pending_after_drain": state["pending"],
        "lost": len(lost),
        "lost_ids": lost[:20],
        "api_sample_without_draft": unseen,
        "drain_s_after_load": round(drain_s, 1),
        "triage_drafts_per_s": round(ready / triage_window, 2) if triage_window else None,
        "search": searched.summary(),
    }


def print_table(out: dict[str, Any]) -> None:
    """A human-readable summary."""
    c, s = out["create"], out["search"]
    workers = out["workers"] if out["workers"] is not None else "default"
    rows = [
        (
            "database / clients / worker threads",
            f"{out['database']} / {out['clients']} / {workers}",
        ),
        ("create: requests, req/s", f"{c['requests']}, {c['req_per_s']}"),
        ("create: p50 / p95 / p99 ms", f"{c['p50_ms']} / {c['p95_ms']} / {c['p99_ms']}"),
        (
            "create: statuses",
            json.dumps(c["statuses"])
            + (f" retried {c['transport_errors']}" if c["transport_errors"] else ""),
        ),
        (
            "accepted / drafts ready / failed",
            f"{out['accepted']} / {out['drafts_ready']} / {out['drafts_failed']}",
        ),
        (
            "LOST (must be 0) / API sample w/o draft",
            f"{out['lost']} / {out['api_sample_without_draft']}",
        ),
        ("drain after load, s", out["drain_s_after_load"]),
        ("triage throughput, drafts/s", out["triage_drafts_per_s"]),
        ("search: requests, req/s", f"{s['requests']}, {s['req_per_s']}"),
        ("search: p50 / p95 / p99 ms", f"{s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']}"),
        ("server peak RSS, MiB", out["server_peak_rss_mb"]),
        (
            "search: statuses",
            json.dumps(s["statuses"])
            + (f" retried {s['transport_errors']}" if s["transport_errors"] else ""),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60, help="create phase, seconds")
    parser.add_argument("--search-duration", type=float, default=30, help="seconds")
    # 1,200 cases keep the default run near 5 minutes: intake outpaces triage several times.
    parser.add_argument("--max-requests", type=int, default=1200, help="per phase")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker threads (default: settings)"
    )
    parser.add_argument("--data", default=str(DEMO), help="dir with runbooks/ and cases.jsonl")
    parser.add_argument("--database-url", default=None, help="default: SQLite in the temp dir")
    parser.add_argument("--drain-timeout", type=float, default=600, help="seconds")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    out = run(args)
    if not args.json_only:
        print_table(out)
    print(json.dumps(out))
    if out["lost"] or out["api_sample_without_draft"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
