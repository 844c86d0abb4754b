"""Gap clusters on small synthetic sets, and their c-TF-IDF labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from kb_coverage.assessment import CaseCoverage
from kb_coverage.clustering import (
    build_gap_clusters,
    cluster_indices,
    rare_signatures,
    similarity_matrix,
)
from kb_coverage.config import CoverageConfig
from kb_coverage.labels import class_terms, text_terms
from kb_coverage.matching import RunbookMatch
from kb_coverage.weeks import week_starts

END = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_text_terms_drop_ids_paths_and_placeholders() -> None:
    terms = text_terms(
        "Contact [EMAIL]: request req_8f3a9c2b1d failed 20260101 at /srv/app/webhook.ts "
        "in handler.py with webhook signature invalid"
    )
    assert "webhook signature" in terms and "signature" in terms
    for noise in ("email", "req_8f3a9c2b1d", "20260101", "srv", "handler", "py"):
        assert noise not in terms


def test_class_terms_are_distinctive_and_need_several_texts() -> None:
    sms = [
        "SMS login code never arrives for UK numbers, carrier blocked it",
        "Our users in Ireland get no SMS login code; the carrier filters sender ids",
        "SMS code missing at login for UK customers",
    ]
    vat = [
        "Invoice total is 0.01 off: VAT rounding with two tax rates",
        "VAT rounding makes the invoice total differ from the sum of lines",
        "Tax rounding on invoices with several VAT rates, mentions zebra once",
    ]
    background = [
        ["Login to the dashboard fails for some customers", "Customers cannot login today"],
        ["Refund failed for customers", "Refund stuck for our customers in the dashboard"],
    ]
    sms_terms, vat_terms = class_terms([sms, vat], background, top=4)
    assert "sms" in sms_terms and "carrier" not in vat_terms
    assert "vat" in vat_terms or "vat rounding" in vat_terms
    assert "zebra" not in vat_terms  # in one text only
    assert "customers" not in sms_terms  # common to the background classes
    # "vat rounding" and "vat" say the same: at most one of them.
    assert not {"vat", "vat rounding"} <= set(vat_terms)


def test_agglomerative_groups_close_vectors_and_keeps_outliers_apart() -> None:
    vectors = np.stack(
        [_unit(1, 0.05, 0), _unit(1, 0, 0.05), _unit(1, 0.02, 0.02),
         _unit(0, 1, 0.05), _unit(0.05, 1, 0), _unit(0, 0, 1)]
    )  # fmt: skip
    sim = similarity_matrix(vectors, [[]] * 6, set(), 0.0)
    groups = cluster_indices(sim, 0.3)
    assert groups == [[0, 1, 2], [3, 4], [5]]
    assert cluster_indices(sim[:1, :1], 0.3) == [[0]]
    assert cluster_indices(np.zeros((0, 0)), 0.3) == []


def test_a_shared_rare_signature_pulls_two_cases_together() -> None:
    vectors = np.stack([_unit(1, 1, 0), _unit(1, -0.3, 0)])  # cosine about 0.47
    sigs = [["exc:IllegalStateException"], ["exc:IllegalStateException"]]
    apart = cluster_indices(similarity_matrix(vectors, sigs, set(), 0.3), 0.5)
    together = cluster_indices(
        similarity_matrix(vectors, sigs, {"exc:IllegalStateException"}, 0.3), 0.5
    )
    assert len(apart) == 2 and together == [[0, 1]]


def test_rare_signatures_leave_out_common_ones() -> None:
    sigs = [["http:500"] for _ in range(30)] + [["exc:Rare"], ["exc:Rare"]]
    assert rare_signatures(sigs) == {"exc:Rare"}


def _coverage(cid: str, days_ago: float, covered: bool, **kw: object) -> CaseCoverage:
    return CaseCoverage(
        case_id=cid,
        title=f"title {cid}",
        created_at=END - timedelta(days=days_ago),
        match_covered=covered,
        covered=covered,
        basis="runbook_match",
        **kw,  # type: ignore[arg-type]
    )


def test_gap_clusters_are_labelled_ranked_and_phrased() -> None:
    near = RunbookMatch(runbook_id="webhooks/signature", score=0.4, dense_score=0.5,
                        term_coverage=0.3)  # fmt: skip
    rows, texts, vecs = [], [], []
    # A growing gap: 6 cases in the last 30 days, 1 before.
    for i, days in enumerate([2, 5, 9, 12, 20, 25, 40]):
        rows.append(_coverage(f"W{i}", days, False, best_match=near, queue="integrations",
                              signatures=["msg:key_id mismatch"]))  # fmt: skip
        texts.append("Webhook signature key_id mismatch after SDK upgrade, signing key rotation")
        vecs.append(_unit(1, 0.01 * i, 0))
    # An older gap: 4 cases two months ago.
    for i in range(4):
        rows.append(_coverage(f"S{i}", 60 + i, False, queue="account-ops"))
        texts.append("SMS login code not delivered to UK numbers by the carrier")
        vecs.append(_unit(0, 1, 0.01 * i))
    # A lone uncovered case and covered ones.
    rows.append(_coverage("L0", 3, False))
    texts.append("Something unusual about fonts")
    vecs.append(_unit(0, 0, 1))
    for i in range(5):
        rows.append(_coverage(f"C{i}", i, True, runbook_id="rb"))
        texts.append("Card declined for customers with insufficient funds")
        vecs.append(_unit(0.5, 0.5, 0.5))
    config = CoverageConfig(min_cluster_size=3, cluster_distance=0.3)
    gaps, unclustered = build_gap_clusters(
        rows, texts, np.stack(vecs), until=END, starts=week_starts(END - timedelta(days=70), END),
        config=config,
    )  # fmt: skip
    assert unclustered == 1 and [g.size for g in gaps] == [7, 4]
    first, second = gaps
    assert first.id == "gap-1" and first.recent == 6 and first.previous == 1
    assert first.growth == 5.0
    assert first.summary.startswith("6 tickets in the last 30 days about ")
    assert first.summary.endswith(", no runbook")
    assert any("key_id" in t or "rotation" in t for t in first.terms)
    assert first.signatures == ["msg:key_id mismatch"]
    assert first.nearest_runbook == "webhooks/signature"
    assert first.queues == {"integrations": 7}
    assert len(first.representatives) == 3
    assert sum(w.count for w in first.weekly) == 7
    assert second.recent == 0 and "none lately" in second.summary
    sms_words = set(texts[7].lower().split())
    assert second.terms and all(set(t.split()) <= sms_words for t in second.terms)


def test_no_uncovered_cases_no_clusters() -> None:
    rows = [_coverage("C0", 1, True)]
    gaps, unclustered = build_gap_clusters(
        rows, ["x"], np.ones((1, 3), dtype=np.float32), until=END, starts=week_starts(END, END)
    )
    assert gaps == [] and unclustered == 0


def test_only_the_most_recent_gaps_are_clustered_beyond_the_cap() -> None:
    rows = [_coverage(f"G{i}", 50 - i, False) for i in range(6)]
    vectors = np.stack([_unit(1, 0.01 * i, 0) for i in range(6)])
    config = CoverageConfig(max_cluster_cases=4, min_cluster_size=2, cluster_distance=0.3)
    gaps, unclustered = build_gap_clusters(
        rows, ["sms code"] * 6, vectors, until=END,
        starts=week_starts(END - timedelta(days=60), END), config=config,
    )  # fmt: skip
    assert unclustered == 2 and gaps[0].case_ids == ["G2", "G3", "G4", "G5"]
