"""`casebook coverage report|calibrate` end to end: real embedder, embedded Chroma."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()

RUNBOOKS = {
    "webhooks.md": "# Webhook signature failures\n\n## Diagnosis\n\nCompare the signing secret "
    "with the one your endpoint uses; verify the raw body.\n",
    "exports.md": "# Export timeouts\n\n## Diagnosis\n\nLarge exports time out after 300 "
    "seconds; split the export by date range.\n",
}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASEBOOK_CONFIG", raising=False)
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, text in RUNBOOKS.items():
        (kb / name).write_text(text, encoding="utf-8")
    rows = []
    for i in range(4):
        rows.append({
            "id": f"W-{i}", "title": "Webhook signature invalid",
            "body": "webhook_signature_invalid since we rotated the signing secret",
            "queue": "integrations", "status": "resolved", "linked_runbooks": ["webhooks"],
            "created_at": f"2026-01-0{i + 1}T10:00:00Z",
        })  # fmt: skip
        rows.append({
            "id": f"S-{i}", "title": "SMS login code not received",
            "body": "Our UK users never receive the SMS login code from the carrier",
            "queue": "account-ops", "status": "resolved" if i < 3 else "open",
            "created_at": f"2026-01-1{i}T10:00:00Z",
        })  # fmt: skip
    (tmp_path / "cases.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    for cmd in (
        ["ingest", "runbooks", str(kb)],
        ["ingest", "cases", str(tmp_path / "cases.jsonl")],
    ):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 0, res.output
    return tmp_path


def test_report_json_csv_and_tables(workspace: Path) -> None:
    res = runner.invoke(app, ["coverage", "report", "--json", "--csv", str(workspace / "csv")])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["summary"]["cases"] == 8
    gaps = report["gaps"]
    assert len(gaps) == 1 and gaps[0]["size"] == 4
    assert {c for c in gaps[0]["case_ids"]} == {f"S-{i}" for i in range(4)}
    assert "sms" in " ".join(gaps[0]["terms"])
    with (workspace / "csv" / "runbooks.csv").open(encoding="utf-8", newline="") as fh:
        usage = {r["runbook_id"]: r for r in csv.DictReader(fh)}
    assert usage["webhooks"]["linked"] == "4"

    res = runner.invoke(app, ["coverage", "report", "--since", "2026-01-10", "--until",
                              "2026-01-12"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 cases" in res.output and "gap clusters" in res.output


def test_report_rejects_a_bad_date_and_bad_events(workspace: Path) -> None:
    res = runner.invoke(app, ["coverage", "report", "--since", "last tuesday"])
    assert res.exit_code != 0 and "ISO date" in res.output
    events = workspace / "events.jsonl"
    good = {"runbook_id": "webhooks", "kind": "cited", "at": "2026-01-02T00:00:00Z"}
    bad = {"runbook_id": "webhooks", "kind": "liked"}
    events.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n", encoding="utf-8")
    res = runner.invoke(app, ["coverage", "report", "--events", str(events)])
    assert res.exit_code == 1
    assert "line 2: not a usage event (kind:" in " ".join(res.output.split())


def test_report_counts_usage_events(workspace: Path) -> None:
    events = workspace / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps({"runbook_id": "webhooks", "kind": kind, "at": "2026-01-02T00:00:00Z"})
            for kind in ("cited", "cited", "accepted")
        ),
        encoding="utf-8",
    )
    res = runner.invoke(app, ["coverage", "report", "--json", "--events", str(events)])
    assert res.exit_code == 0, res.output
    usage = {r["runbook_id"]: r for r in json.loads(res.stdout)["runbooks"]}
    assert (usage["webhooks"]["cited"], usage["webhooks"]["accepted"]) == (2, 1)


def test_calibrate_on_labelled_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    topics = {
        "EtcdNoLeader": "etcd cluster has no leader; check member health and quorum",
        "DiskFull": "filesystem is almost full; free space or grow the volume",
        "CertExpiring": "TLS certificate expires soon; renew the certificate",
        "PodCrashLooping": "pod is crash looping; read the container logs and restart reason",
        "NodeNotReady": "node is not ready; check the kubelet and node conditions",
        "TargetDown": "scrape target is down; check the exporter and the network",
    }
    (tmp_path / "runbooks").mkdir()
    alerts = []
    for name, text in topics.items():
        (tmp_path / "runbooks" / f"{name}.md").write_text(
            f"# {name}\n\n## Meaning\n\n{text}\n", encoding="utf-8"
        )
        alerts.append({"alert": name, "summary": text, "description": "",
                       "runbook_path": f"runbooks/{name}.md"})  # fmt: skip
    for name, text in {
        "GrafanaDown": "grafana dashboards fail to render panels",
        "BondDegraded": "bonding interface lost a slave link",
        "SystemdFailed": "a systemd unit entered the failed state",
        "QueryLoadHigh": "query engine concurrency is saturated",
    }.items():
        alerts.append({"alert": name, "summary": text, "description": ""})
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps(alerts), encoding="utf-8")
    res = runner.invoke(app, ["coverage", "calibrate", "--alerts", str(path), "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert 0 < result["threshold"] < 1
    assert result["calibration"]["n"] + result["held_out"]["n"] == 10
    assert result["held_out"]["right_runbook_precision"] == 1.0
