"""The `casebook` CLI end to end, on the real embedder and embedded Chroma."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASEBOOK_CONFIG", raising=False)
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "webhooks.md").write_text(
        "# Webhook signature failures\n\n## Diagnosis\n\nCompare the signing secret in the "
        "dashboard with the one your endpoint uses.\n\n## Resolution\n\nRotate the secret.\n",
        encoding="utf-8",
    )
    (kb / "exports.html").write_text(
        "<html><body><nav>menu</nav><h1>Export timeouts</h1><h2>Diagnosis</h2>"
        "<p>Large exports time out after 300 seconds; split by date range.</p></body></html>",
        encoding="utf-8",
    )
    rows = [
        {
            "id": "C-1",
            "title": "Webhook signature invalid",
            "body": "webhook_signature_invalid since we rotated the secret",
            "queue": "integrations",
            "created_at": "2026-01-01T00:00:00Z",
        },
        {
            "id": "C-2",
            "title": "Export job timed out",
            "body": "ExportJobTimeout on the monthly export",
            "queue": "data-platform",
            "created_at": "2026-01-02T00:00:00Z",
        },
        {
            "id": "C-3",
            "title": "Signature mismatch on webhooks",
            "body": "webhook_signature_invalid again after rotation",
            "queue": "integrations",
            "created_at": "2026-01-03T00:00:00Z",
        },
    ]
    lines = [json.dumps(r) for r in rows]
    lines.insert(1, '{"id": ')  # a malformed line 2
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_ingest_search_similar_stats(workspace: Path) -> None:
    res = runner.invoke(app, ["ingest", "runbooks", str(workspace / "kb")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["ingest", "cases", str(workspace / "cases.jsonl")])
    assert res.exit_code == 0, res.output
    assert "cases.jsonl:line 2" in res.output

    res = runner.invoke(app, ["search", "webhook signature", "--json"])
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert {h["doc_id"] for h in hits[:2]} == {"C-1", "C-3"}
    assert hits[0]["explanation"]["bm25_terms"]

    res = runner.invoke(app, ["search", "webhook", "--filter", "queue=data-platform", "--json"])
    assert {h["doc_id"] for h in json.loads(res.stdout)} <= {"C-2"}

    res = runner.invoke(app, ["search", "export timeout", "--kind", "runbooks", "--json"])
    assert json.loads(res.stdout)[0]["doc_id"] == "exports"

    res = runner.invoke(app, ["similar", "C-3", "--before-creation", "--json"])
    assert json.loads(res.stdout)[0]["doc_id"] == "C-1"

    res = runner.invoke(app, ["stats", "--json"])
    data = json.loads(res.stdout)
    assert data["cases"]["documents"] == 3 and data["cases"]["vectors"] == 3
    assert data["runbooks"]["documents"] == 2

    res = runner.invoke(
        app, ["triage", "--text", "Webhook signature invalid\nwebhook_signature_invalid again"]
    )
    assert res.exit_code == 0, res.output
    assert "Queue integrations" in res.output and "First response" in res.output
    res = runner.invoke(app, ["triage", "--case-id", "C-3", "--json"])
    draft = json.loads(res.stdout)
    assert draft["provenance"]["mode"] == "retrieval-only"
    assert draft["routing"]["queue"] == "integrations"
    assert draft["similar_cases"][0]["id"] == "C-1"

    # Re-ingest costs nothing: every case is unchanged.
    res = runner.invoke(app, ["ingest", "cases", str(workspace / "cases.jsonl")])
    assert re.search(r"unchanged \(skipped, same content\)\s*│\s*3\b", res.output), res.output
    assert re.search(r"chunks embedded\s*│\s*0\b", res.output), res.output


def test_clear_errors(workspace: Path) -> None:
    res = runner.invoke(app, ["similar", "nope"])
    assert res.exit_code == 1 and "not indexed" in res.output
    res = runner.invoke(app, ["search", "x", "--filter", "colour=red"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["ingest", "cases", str(workspace / "missing.csv")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["triage"])
    assert res.exit_code == 2 and "exactly one" in res.output
