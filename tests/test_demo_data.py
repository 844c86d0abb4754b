"""The demo data set under demo/: shape, references, counts, deliberate gaps, reproducibility."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from core.domain import Case

DEMO = Path(__file__).resolve().parents[1] / "demo"
RUNBOOKS = DEMO / "runbooks"
CASES = DEMO / "cases.jsonl"
GENERATOR = DEMO / "generate_demo.py"
RESOLVED = {"resolved", "closed"}


@cache
def generator() -> ModuleType:
    """The generator module, for its topic table and constants (importing it does no work)."""
    spec = importlib.util.spec_from_file_location("demo_generate_demo", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def raw_cases() -> tuple[dict[str, Any], ...]:
    lines = CASES.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines)


@cache
def cases() -> tuple[Case, ...]:
    return tuple(Case.model_validate(record) for record in raw_cases())


def front_matter(text: str) -> dict[str, Any] | None:
    """YAML (---) or TOML (+++) front matter of a Markdown runbook, None when absent."""
    for fence, parse in (("---", yaml.safe_load), ("+++", tomllib.loads)):
        if text.startswith(fence + "\n"):
            end = text.index("\n" + fence + "\n", len(fence))
            meta = parse(text[len(fence) + 1 : end])
            assert isinstance(meta, dict)
            return meta
    return None


@cache
def runbooks() -> dict[str, Path]:
    """Runbook id -> file; the id is the path without suffix unless front matter sets one."""
    found: dict[str, Path] = {}
    for path in sorted(RUNBOOKS.rglob("*")):
        if not path.is_file():
            continue
        rid = path.relative_to(RUNBOOKS).with_suffix("").as_posix()
        if path.suffix == ".md":
            meta = front_matter(path.read_text(encoding="utf-8")) or {}
            rid = str(meta.get("id", rid))
        assert rid not in found, f"duplicate runbook id {rid}"
        found[rid] = path
    return found


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# --- cases -------------------------------------------------------------------------------------
def test_every_line_is_a_case_with_unique_id() -> None:
    parsed = cases()
    assert len(parsed) == len(raw_cases())
    ids = [c.id for c in parsed]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"LL-\d{5}", i) for i in ids)


def test_cases_are_demo_sourced_without_precomputed_signatures() -> None:
    for case in cases():
        assert case.source == "demo"
        assert case.error_signatures == []
        assert case.title.strip() and case.body.strip()
        assert case.customer and case.account and case.account.startswith("acct_")
        # No template placeholder left unfilled.
        assert re.search(r"\{[a-z_]+\}", case.title + case.body) is None, case.id


def test_counts_and_date_range() -> None:
    parsed = cases()
    assert 300 <= len(parsed) <= 400
    start = datetime(2026, 5, 1, tzinfo=UTC)
    end = datetime(2026, 11, 26, tzinfo=UTC)
    assert all(start <= c.created_at < end for c in parsed)
    assert all(r["created_at"].endswith("Z") for r in raw_cases())
    # Oldest first, as exported from a helpdesk.
    created = [c.created_at for c in parsed]
    assert created == sorted(created)


def test_most_cases_are_resolved_with_cause_and_resolution() -> None:
    parsed = cases()
    resolved = [c for c in parsed if c.status in RESOLVED]
    share = len(resolved) / len(parsed)
    assert 0.80 <= share <= 0.90, share
    for case in resolved:
        assert case.root_cause and case.resolution
        assert case.queue and case.priority
    for case in parsed:
        if case.status not in RESOLVED:
            assert case.resolution is None and case.root_cause is None
            assert case.linked_runbooks == []
    assert {c.status for c in parsed} >= {"new", "open", "resolved", "closed"}


def test_queues_exist_in_queue_config() -> None:
    config = tomllib.loads((DEMO / "queues.toml").read_text(encoding="utf-8"))
    queues = config["queues"]
    assert len(queues) == 7
    for spec in queues.values():
        assert len(spec["description"]) > 200 and spec["signals"]
    used = {c.queue for c in cases() if c.queue is not None}
    assert used == set(queues)
    assert {c.priority for c in cases()} <= {"P1", "P2", "P3", "P4", None}


def test_untriaged_cases_have_no_queue_yet() -> None:
    new = [c for c in cases() if c.status == "new"]
    assert new
    assert all(c.queue is None and c.priority is None for c in new)


def test_topics_are_many_and_each_has_several_differently_written_cases() -> None:
    by_topic: dict[str, list[Case]] = {}
    for case in cases():
        by_topic.setdefault(case.metadata["topic"], []).append(case)
    assert 25 <= len(by_topic) <= 35
    for topic, members in by_topic.items():
        assert len(members) >= 5, topic
        bodies = {c.body for c in members}
        assert len(bodies) == len(members), f"identical bodies in {topic}"
        assert len({c.customer for c in members}) >= 3, topic


def test_request_ids_are_not_shared_across_topics() -> None:
    # Near-duplicates re-use their original's request ids; otherwise ids are per ticket.
    seen: dict[str, str] = {}
    for case in cases():
        for rid in set(re.findall(r"req_[A-Za-z0-9]{14}", case.body)):
            topic = case.metadata["topic"]
            assert seen.setdefault(rid, topic) == topic, rid


# --- runbooks ----------------------------------------------------------------------------------
def test_runbook_files_and_formats() -> None:
    books = runbooks()
    assert 30 <= len(books) <= 40
    suffixes = Counter(p.suffix for p in books.values())
    assert set(suffixes) == {".md", ".html"}
    assert 3 <= suffixes[".html"] <= 4
    toml_fronted = [p for p in books.values() if p.read_text(encoding="utf-8").startswith("+++\n")]
    assert len(toml_fronted) >= 2
    assert len({p.parent for p in books.values()}) >= 8  # organised in subfolders by area


@pytest.mark.parametrize("path", sorted(RUNBOOKS.rglob("*.md")), ids=lambda p: p.stem)
def test_markdown_runbook_structure(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    meta = front_matter(text)
    assert meta is not None
    assert meta["title"] and meta["product"] and isinstance(meta["tags"], list)
    body = text.split("\n# ", 1)[1]
    for heading in ("## Symptoms", "## Diagnosis", "## Resolution", "## Escalation"):
        assert f"\n{heading}\n" in body, heading
    diagnosis = body.split("\n## Diagnosis\n", 1)[1].split("\n## Resolution\n", 1)[0]
    assert "\n### " in diagnosis
    assert "```" in body


@pytest.mark.parametrize("path", sorted(RUNBOOKS.rglob("*.html")), ids=lambda p: p.stem)
def test_html_runbook_structure(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("<h1>") == 1
    assert text.count("<h2>") >= 4 and "<pre>" in text and "<li>" in text
    # Chrome that ingest must strip.
    assert "<footer" in text and ("<nav" in text or "<header" in text)


def test_every_linked_runbook_exists() -> None:
    books = runbooks()
    linked = Counter(rid for c in cases() for rid in c.linked_runbooks)
    missing = set(linked) - set(books)
    assert not missing, missing
    # Both id styles are exercised: path-derived and front-matter ids.
    assert any("/" not in rid for rid in linked) and any("/" in rid for rid in linked)


# --- deliberate gaps, spike and duplicates -----------------------------------------------------
def test_gap_topics_have_no_linked_runbooks() -> None:
    gaps = set(generator().GAP_TOPICS)
    assert len(gaps) >= 4
    resolved_in_gap = 0
    for case in cases():
        if case.metadata["topic"] in gaps:
            assert case.linked_runbooks == [], case.id
            resolved_in_gap += case.status in RESOLVED
    assert resolved_in_gap >= 20  # past cases exist, so the gap is visible to coverage analytics
    covered = {c.metadata["topic"] for c in cases() if c.linked_runbooks}
    assert not covered & gaps


def test_spike_topic_concentrates_in_last_three_weeks() -> None:
    spikes = set(generator().SPIKE_TOPICS)
    assert len(spikes) == 1 and spikes <= set(generator().GAP_TOPICS)
    cutoff = datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC) - timedelta(days=22)
    spike = [c for c in cases() if c.metadata["topic"] in spikes]
    recent_other = [
        c for c in cases() if c.metadata["topic"] not in spikes and c.created_at >= cutoff
    ]
    assert len(spike) >= 25
    assert all(c.created_at >= cutoff for c in spike)
    assert len(spike) > 0.5 * len(recent_other)


def test_near_duplicate_pairs_point_to_same_customer_and_one_is_unresolved() -> None:
    by_id = {c.id: c for c in cases()}
    dups = [c for c in cases() if "duplicate_of" in c.metadata]
    assert len(dups) >= 4
    for dup in dups:
        orig = by_id[dup.metadata["duplicate_of"]]
        assert orig.customer == dup.customer
        assert orig.metadata["topic"] == dup.metadata["topic"]
        assert timedelta(days=1) <= dup.created_at - orig.created_at <= timedelta(days=7)
        assert RESOLVED.isdisjoint({orig.status, dup.status})


def test_tickets_carry_pii_and_secrets_for_redaction() -> None:
    text = "\n".join(c.body for c in cases())
    assert len(re.findall(r"[\w.+-]+@[\w-]+\.example\b", text)) > 50
    assert re.search(r"\+44 7700 900\d{3}", text)
    assert re.search(r"sk_live_[A-Za-z0-9]{32}", text)
    assert re.search(r"Bearer eyJ[\w-]+\.[\w-]+\.[\w-]+", text)
    assert re.search(r"whsec_[A-Za-z0-9]{32}", text)
    cards = re.findall(r"\b(?:\d{4}[ -]?){3}\d{4}\b", text)
    assert any(luhn_ok(re.sub(r"\D", "", card)) for card in cards)


# --- reproducibility ---------------------------------------------------------------------------
def test_generator_reproduces_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "cases.jsonl"
    # A different hash seed must not change anything.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(out)],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert out.read_bytes() == CASES.read_bytes()


def test_generator_seed_changes_output() -> None:
    module = generator()
    other = module.render(module.build_cases(seed=module.SEED + 1))
    assert other != CASES.read_text(encoding="utf-8")
