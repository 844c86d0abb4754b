"""Real processes: the API under uvicorn, and a worker killed mid-triage that restarts.

The worker is held mid-job by an LLM that answers slowly (a stub on localhost), killed with
SIGKILL, and a new worker completes the job once its lease runs out: exactly one draft.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from service.container import Container
from service.models import NewCase
from storage import cases as repo
from tests.conftest import free_port
from tests.openai_stub import OpenAIStub

ROOT = Path(__file__).resolve().parents[1]
CASEBOOK = str(Path(sys.executable).parent / "casebook")

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CASEBOOK_DATA_DIR": str(tmp_path / "data"),
        "CASEBOOK_DATABASE_URL": db_url,
        "CASEBOOK_QUEUES_FILE": str(ROOT / "demo" / "queues.toml"),
        "CASEBOOK_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    db_url = f"sqlite:///{tmp_path / 'svc.db'}"
    env = _env(tmp_path, db_url, CASEBOOK_WORKER_THREADS="1")
    out = subprocess.run(
        [CASEBOOK, "keys", "create", "--role", "engineer", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    secret = json.loads(out.stdout.strip().splitlines()[-1])["secret"]
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [CASEBOOK, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _ok(f"{url}/healthz"), 60, "uvicorn to start")
        yield url, secret
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_uvicorn_serves_and_the_in_process_worker_triages(server: tuple[str, str]) -> None:
    url, secret = server
    auth = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{url}/readyz", timeout=30).json()["ready"] is True
    r = httpx.post(
        f"{url}/v1/cases",
        json={"title": "Login loop on SSO", "body": "SAML error"},
        headers=auth,
        timeout=30,
    )
    assert r.status_code == 202
    case_id = r.json()["case_id"]

    def drafted() -> bool:
        view = httpx.get(f"{url}/v1/cases/{case_id}/draft", headers=auth, timeout=30).json()
        return view["draft_status"] == "ready"

    _wait(drafted, 120, "the draft")
    assert httpx.get(f"{url}/v1/cases", timeout=5).status_code == 401
    bad = httpx.post(
        f"{url}/v1/cases", content=b"{", headers={**auth, "content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.headers["content-type"].startswith(
        "application/problem+json"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_triage_is_recovered_exactly_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db_url = (
        f"sqlite:///{tmp_path / 'kill.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    with OpenAIStub(reply="{}", delay_s=120) as llm:
        env = _env(
            tmp_path,
            db_url,
            CASEBOOK_LLM_MODEL="openai/stub-model",
            CASEBOOK_LLM_API_BASE=llm.base_url,
            CASEBOOK_LLM_API_KEY="stub-key",
            CASEBOOK_LLM_MAX_RETRIES="0",
            CASEBOOK_LLM_TIMEOUT_S="300",
            CASEBOOK_JOB_LEASE_S="3",
        )
        settings = Settings(data_dir=tmp_path / "data", database_url=db_url, llm_model="")
        container = Container(settings)
        _, created = container.cases.create(NewCase(title="Payouts delayed", body="..."), actor="t")

        first = subprocess.Popen(
            [CASEBOOK, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            assert llm.first_request.wait(120), "the worker never reached the LLM"
            first.send_signal(signal.SIGKILL)  # dies holding the job, mid-triage
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        job = container.job_queue.jobs_for_case(created.case_id)[0]
        assert job.state == "running" and job.attempts == 1
        with container.database.read() as s:
            assert repo.drafts_of(s, created.case_id) == []

        llm.delay_s = 0  # the LLM answers now (malformed: the draft falls back, still one)
        second = subprocess.Popen(
            [CASEBOOK, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait(lambda: container.job_queue.get(job.id).state == "done", 180, "the retried job")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
    done = container.job_queue.get(job.id)
    assert done.attempts == 2
    with container.database.read() as s:
        drafts = repo.drafts_of(s, created.case_id)
        assert len(drafts) == 1 and drafts[0].job_id == job.id
        assert repo.get_case(s, created.case_id).draft_status == "ready"
    container.database.dispose()
