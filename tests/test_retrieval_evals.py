"""`casebook eval similar-cases` and `eval runbooks` on small fabricated data sets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from evals.gitbugs import read_duplicate_links
from evals.runbook_alerts import alert_query, render_template

runner = CliRunner()


def _bugs(path: Path) -> None:
    rows = [
        ("NameNode crashes with OutOfMemoryError during block report", "1001", "30/Sep/21 17:20",
         "java.lang.OutOfMemoryError: Java heap space at BlockManager.processReport"),
        ("Balancer hangs on large clusters", "1002", "01/Oct/21 09:00",
         "The balancer never finishes when there are more than 5000 datanodes"),
        ("OOM in NameNode while processing full block reports", "1003", "2021-10-05T10:00:00+02:00",
         "NameNode heap exhausted: java.lang.OutOfMemoryError in BlockManager.processReport"),
        ("Balancer stuck forever with thousands of datanodes", "1004", "07/Oct/21 12:00",
         "balancer hangs, never completes on a cluster of 6000 datanodes"),
        ("Typo in the YARN docs", "1005", "08/Oct/21 12:00", "spelling mistake in yarn-site docs"),
    ]  # fmt: skip
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Summary", "Issue id", "Status", "Priority", "Created", "Description"])
        for summary, issue, created, desc in rows:
            w.writerow([summary, issue, "Resolved", "Major", created, desc])


def test_duplicate_links_read_robustly(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('Issue id,Duplicate id\n1003,"1001, 1007"\n1001,1003\n')
    links = read_duplicate_links(path)
    assert links["1003"] == {"1001", "1007"} and links["1007"] == {"1003"}


def test_eval_similar_cases_json_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    _bugs(tmp_path / "bugs.csv")
    (tmp_path / "dups.csv").write_text("Issue id,Duplicate id\n1003,1001\n1004,1002\n")
    args = ["eval", "similar-cases", "--bugs", str(tmp_path / "bugs.csv"),
            "--duplicates", str(tmp_path / "dups.csv"), "--json"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["n_queries"] == 2  # only the later bug of each pair, under the time rule
    for mode in ("hybrid", "bm25", "dense"):
        assert set(out[mode]) >= {"recall@1", "recall@5", "recall@10", "mrr", "ci95"}
    assert out["hybrid"]["recall@1"] == 1.0


def test_alert_query_hides_the_answer() -> None:
    alert = {
        "alert": "KubePodCrashLooping",
        "summary": "Pod is crash looping.",
        "description": 'Pod {{ $labels.namespace }}/{{ $labels.pod }} restarts {{ printf "%.2f" '
        "$value }} times; see KubePodCrashLooping.",
    }
    q = alert_query(alert)
    assert "KubePodCrashLooping" not in q and "<namespace>/<pod>" in q and "<value>" in q
    assert render_template("{{$labels.job}}") == "<job>"


def test_eval_runbooks_json_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    rb = tmp_path / "runbooks" / "etcd"
    rb.mkdir(parents=True)
    (rb / "EtcdMembersDown.md").write_text(
        "---\ntitle: EtcdMembersDown\n---\n# EtcdMembersDown\n\n## Meaning\n\netcd cluster "
        "members are down or unreachable.\n\n## Mitigation\n\nRestart the failed member.\n"
    )
    (rb / "EtcdNoLeader.md").write_text(
        "# EtcdNoLeader\n\n## Meaning\n\nThe etcd cluster has no leader; writes fail.\n"
    )
    alerts = [
        {"alert": "EtcdMembersDown", "summary": "etcd cluster members are down.",
         "description": "etcd cluster {{ $labels.job }}: members are down.",
         "runbook_path": "runbooks/etcd/EtcdMembersDown.md"},
        {"alert": "EtcdNoLeader", "summary": "etcd cluster has no leader.",
         "description": "member {{ $labels.instance }} has no leader.",
         "runbook_path": "runbooks/etcd/EtcdNoLeader.md"},
        {"alert": "Uncovered", "summary": "no runbook", "description": "x"},
    ]  # fmt: skip
    (tmp_path / "alerts.json").write_text(json.dumps(alerts))
    res = runner.invoke(app, ["eval", "runbooks", "--alerts", str(tmp_path / "alerts.json"),
                              "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["n_queries"] == 2 and out["hybrid"]["recall@1"] == 1.0


def test_eval_embedding_cache_keeps_queries_apart_from_documents() -> None:
    import numpy as np

    from evals.embedding_cache import CachingEmbedder
    from tests.fakes import HashingEmbedder

    class FirstWordQueries(HashingEmbedder):
        def embed_query(self, text: str) -> np.ndarray:
            return self.embed([text.split()[0]])[0]

    inner = FirstWordQueries()
    cache = CachingEmbedder(inner)
    doc = cache.embed(["balancer hangs forever"])[0]
    query = cache.embed_query("balancer hangs forever")
    assert not np.allclose(doc, query)  # the query went through the inner embed_query
    calls = inner.calls
    np.testing.assert_array_equal(cache.embed_query("balancer hangs forever"), query)
    assert inner.calls == calls and cache.hits == 1
    plain = CachingEmbedder(HashingEmbedder())
    np.testing.assert_array_equal(plain.embed_query("a b"), plain.embed(["a b"])[0])
