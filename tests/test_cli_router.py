"""`casebook router train|report` and `casebook eval routing` on small generated data."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
TOPICS = {
    "Access": ["password reset locked account", "vpn access denied login", "grant folder access"],
    "Hardware": ["laptop screen broken", "keyboard not working", "monitor cable replacement"],
    "Purchase": ["order new licence quote", "purchase request approval", "invoice for software"],
}


def _rows(n: int, seed: int = 3) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        queue = list(TOPICS)[i % 3]
        words = rng.choice(TOPICS[queue]).split() + rng.sample(
            ["please", "urgent", "hi", "today", "team", "help"], 2
        )
        rng.shuffle(words)
        rows.append({"id": f"t{i}", "text": " ".join(words), "queue": queue})
    return rows  # fmt: skip


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASEBOOK_CONFIG", raising=False)
    monkeypatch.delenv("CASEBOOK_QUEUES_FILE", raising=False)
    return tmp_path


def test_eval_routing_split_json(env: Path) -> None:
    path = env / "tickets.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "text", "queue"])
        writer.writeheader()
        writer.writerows(_rows(90))
    res = runner.invoke(app, ["eval", "routing", "--train", str(path), "--split", "0.2", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert result["n"] == 18 and result["accuracy"] > 0.8
    assert set(result["per_queue"]) == set(TOPICS)
    assert 0 <= result["coverage_at_95_precision"] <= 1
    res = runner.invoke(app, ["eval", "routing", "--train", str(path)])
    assert res.exit_code == 2


def test_router_train_report_and_triage(env: Path) -> None:
    cases = env / "cases.jsonl"
    cases.write_text(
        "\n".join(
            json.dumps({"id": r["id"], "title": r["text"], "queue": r["queue"],
                        "created_at": "2026-01-01T00:00:00Z"})
            for r in _rows(60)
        ) + "\n"
    )  # fmt: skip
    assert runner.invoke(app, ["router", "report"]).exit_code == 1  # nothing trained yet
    assert runner.invoke(app, ["ingest", "cases", str(cases)]).exit_code == 0
    res = runner.invoke(app, ["router", "train"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["router", "report", "--json"])
    manifest = json.loads(res.stdout)
    assert manifest["counts"] == {"Access": 20, "Hardware": 20, "Purchase": 20}
    res = runner.invoke(app, ["triage", "--text", "Laptop screen broken\nscreen cracked", "--json"])
    routing = json.loads(res.stdout)["routing"]
    assert routing["queue"] == "Hardware" and "learned router" in routing["rationale"]
    # 20 examples per queue: auto-apply is refused and the note says why.
    assert routing["automation"] != "auto-apply"
    if routing["confidence"] >= 0.95:
        assert "only 20 labelled examples" in routing["automation_note"]
