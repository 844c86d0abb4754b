"""The learned queue router and the automation levels built on its confidence."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from core.domain import Case
from core.errors import TriageError
from tests.fakes import HashingEmbedder
from triage.automation import (
    AutomationThresholds,
    QueueThresholds,
    auto_apply_thresholds,
    decide,
    precision_threshold,
    routing_for,
    thresholds_from_validation,
)
from triage.router import (
    MANIFEST_FILE,
    MODEL_FILE,
    QueueRouter,
    RoutePrediction,
    RouterConfig,
    train_from_cases,
    train_priority_from_cases,
)

VOCAB = {
    "Hardware": ["laptop", "screen", "keyboard", "docking", "monitor", "charger", "mouse"],
    "Access": ["password", "login", "account", "locked", "permission", "vpn", "sso"],
    "Storage": ["disk", "quota", "backup", "share", "drive", "folder", "space"],
}
NOISE = ["please", "help", "thanks", "urgent", "today", "team", "hello", "issue", "regards"]


def synthetic(n_per_queue: int = 30, seed: int = 0) -> tuple[list[str], list[str]]:
    """Tickets made of 3-5 queue words and 3-5 shared filler words, shuffled."""
    rng = random.Random(seed)
    texts, labels = [], []
    for queue, words in VOCAB.items():
        for _ in range(n_per_queue):
            tokens = rng.sample(words, rng.randint(3, 5)) + rng.sample(NOISE, rng.randint(3, 5))
            rng.shuffle(tokens)
            texts.append(" ".join(tokens))
            labels.append(queue)
    return texts, labels


@pytest.fixture(scope="module")
def trained() -> QueueRouter:
    texts, labels = synthetic()
    return QueueRouter(HashingEmbedder()).fit(texts, labels)


def test_predictions_have_the_documented_shape(trained: QueueRouter) -> None:
    texts = ["my laptop screen is broken", "locked out of my account", "", "disk quota full"]
    preds = trained.predict(texts)
    assert len(preds) == 4
    assert trained.labels == sorted(VOCAB)
    for pred in preds:
        assert set(pred.probabilities) == set(VOCAB)
        assert sum(pred.probabilities.values()) == pytest.approx(1.0)
        assert pred.confidence == max(pred.probabilities.values())
        assert pred.probabilities[pred.queue] == pred.confidence
        assert len(pred.alternatives) == 2  # only three queues: the two others
        assert pred.queue not in [q for q, _ in pred.alternatives]
        probs = [pred.confidence] + [p for _, p in pred.alternatives]
        assert probs == sorted(probs, reverse=True)
    assert [p.queue for p in preds[:2]] == ["Hardware", "Access"]
    assert preds[3].queue == "Storage"
    assert trained.predict([]) == []
    assert trained.predict_proba([]).shape == (0, 3)


def test_at_most_three_alternatives() -> None:
    rng = random.Random(1)
    labels = [f"q{i}" for i in range(6) for _ in range(8)]
    texts = [f"word{label} " + " ".join(rng.sample(NOISE, 4)) for label in labels]
    router = QueueRouter(None).fit(texts, labels)
    pred = router.predict(["wordq3 hello"])[0]
    assert pred.queue == "q3"
    assert len(pred.alternatives) == 3
    assert len(pred.probabilities) == 6


def test_more_distinctive_text_gets_higher_confidence(trained: QueueRouter) -> None:
    clear = "laptop screen keyboard monitor charger docking"
    weaker = "laptop please help thanks"
    mixed = "laptop password disk please"
    conf = {t: trained.predict([t])[0].confidence for t in (clear, weaker, mixed)}
    assert conf[clear] > conf[weaker] > conf[mixed]
    assert conf[clear] > 0.8
    assert conf[clear] - conf[mixed] > 0.05


def test_text_only_router_and_blend_choice() -> None:
    texts, labels = synthetic(seed=3)
    text_only = QueueRouter(None).fit(texts, labels)
    assert text_only.knn_blend == 0.0 and text_only.embedding_dimension is None
    # A text-only router ignores embeddings handed to it.
    assert text_only.predict(["vpn login"], embeddings=np.ones((1, 5)))[0].queue == "Access"
    with_emb = QueueRouter(HashingEmbedder()).fit(texts, labels)
    assert with_emb.knn_blend in RouterConfig().blend_grid
    assert {"log_loss", "accuracy", "knn_accuracy"} <= set(with_emb.validation)
    assert with_emb.sharpness in RouterConfig().sharpness_grid
    fixed = QueueRouter(HashingEmbedder(), RouterConfig(knn_blend=0.3)).fit(texts, labels)
    assert fixed.knn_blend == 0.3
    assert "knn_accuracy" in fixed.validation  # the exponent is still tuned
    untuned = QueueRouter(None, RouterConfig(knn_blend=0.0, sharpness=1.0)).fit(texts, labels)
    assert (untuned.knn_blend, untuned.sharpness, untuned.validation) == (0.0, 1.0, {})
    # Sharpening is a monotone per-row transform: the same queue wins, more or less surely.
    sharp = QueueRouter(None, RouterConfig(knn_blend=0.0, sharpness=2.0)).fit(texts, labels)
    probe = ["laptop please", "vpn disk", "hello team"]
    assert [p.queue for p in sharp.predict(probe)] == [p.queue for p in untuned.predict(probe)]
    assert sharp.predict(probe)[0].confidence > untuned.predict(probe)[0].confidence


def test_precomputed_embeddings_are_used_instead_of_the_embedder() -> None:
    texts, labels = synthetic(seed=4)
    embedder = HashingEmbedder()
    vectors = embedder.embed(texts)
    router = QueueRouter(embedder).fit(texts, labels, embeddings=vectors)
    assert embedder.calls == 1  # only our own call above
    a = router.predict_proba(texts[:5], embeddings=vectors[:5])
    assert embedder.calls == 1
    b = router.predict_proba(texts[:5])
    assert embedder.calls == 2
    np.testing.assert_allclose(a, b)
    with pytest.raises(TriageError, match="one row per text"):
        router.predict(texts[:3], embeddings=vectors[:2])
    with pytest.raises(TriageError, match="dimension"):
        router.predict(texts[:2], embeddings=np.ones((2, 7), dtype=np.float32))


def test_embedding_router_without_embedder_refuses_to_predict(trained: QueueRouter) -> None:
    texts, labels = synthetic(seed=5)
    router = QueueRouter(HashingEmbedder()).fit(texts, labels)
    router.embedder = None
    with pytest.raises(TriageError, match="trained with embeddings"):
        router.predict(["laptop"])


def test_bad_training_input_is_refused() -> None:
    with pytest.raises(TriageError, match="no examples"):
        QueueRouter(None).fit([], [])
    with pytest.raises(TriageError, match="labels"):
        QueueRouter(None).fit(["a", "b"], ["x"])
    with pytest.raises(TypeError):
        QueueRouter(None).fit("laptop", ["Hardware"])
    with pytest.raises(TriageError, match="not trained"):
        QueueRouter(None).predict(["x"])


def test_single_queue_and_singleton_queues() -> None:
    only = QueueRouter(HashingEmbedder()).fit(["a b c", "d e f", "g h"], ["Solo"] * 3)
    pred = only.predict(["anything at all"])[0]
    assert (pred.queue, pred.confidence, pred.alternatives) == ("Solo", 1.0, [])
    # A queue seen once cannot be cross-validated for calibration; training still works.
    texts, labels = synthetic(n_per_queue=10, seed=6)
    router = QueueRouter(HashingEmbedder()).fit([*texts, "printer toner jam"], [*labels, "Print"])
    assert router.counts["Print"] == 1
    probs = router.predict_proba(["printer toner", "vpn login password"])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert router.predict(["vpn login password"])[0].queue == "Access"


def test_save_load_round_trip_gives_identical_predictions(
    trained: QueueRouter, tmp_path: Path
) -> None:
    texts = ["laptop docking", "sso vpn", "backup folder quota", "hello", "screen login"]
    trained.save(tmp_path / "router")
    manifest = json.loads((tmp_path / "router" / MANIFEST_FILE).read_text())
    assert manifest["labels"] == sorted(VOCAB)
    assert manifest["counts"] == dict.fromkeys(sorted(VOCAB), 30)
    assert manifest["training_size"] == 90
    assert manifest["embedder"] == "fake/hashing-64"
    assert manifest["embedding_dimension"] == 64
    assert manifest["config"]["knn_k"] == RouterConfig().knn_k
    assert manifest["created_at"] and manifest["sklearn_version"]
    assert trained.embedder is not None  # saving detaches the embedder only temporarily
    loaded = QueueRouter.load(tmp_path / "router", HashingEmbedder())
    np.testing.assert_array_equal(loaded.predict_proba(texts), trained.predict_proba(texts))
    assert loaded.predict(texts) == trained.predict(texts)
    assert loaded.counts == trained.counts


def _saved(trained: QueueRouter, tmp_path: Path) -> Path:
    return trained.save(tmp_path / "router")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sklearn_version", "0.24.2", "scikit-learn 0.24.2"),
        ("format_version", 99, "format 99"),
        ("kind", "something-else", "not a Casebook router"),
        ("model_sha256", "0" * 64, "checksum"),
    ],
)
def test_incompatible_files_are_refused(
    trained: QueueRouter, tmp_path: Path, field: str, value: object, message: str
) -> None:
    path = _saved(trained, tmp_path)
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest[field] = value
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(TriageError, match=message):
        QueueRouter.load(path, HashingEmbedder())


def test_wrong_embedder_tampered_or_missing_files_are_refused(
    trained: QueueRouter, tmp_path: Path
) -> None:
    path = _saved(trained, tmp_path)
    with pytest.raises(TriageError, match="embedder"):
        QueueRouter.load(path, HashingEmbedder(dimension=32))
    with pytest.raises(TriageError, match="embedder"):
        QueueRouter.load(path, HashingEmbedder(name="other/model"))
    with (path / MODEL_FILE).open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(TriageError, match="checksum"):
        QueueRouter.load(path, HashingEmbedder())
    (path / MODEL_FILE).unlink()
    with pytest.raises(TriageError, match="missing"):
        QueueRouter.load(path, HashingEmbedder())
    (path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(TriageError, match="unreadable"):
        QueueRouter.load(path)
    with pytest.raises(TriageError, match="no router manifest"):
        QueueRouter.load(tmp_path / "nowhere")
    with pytest.raises(TriageError, match="untrained"):
        QueueRouter(None).save(tmp_path / "x")


def test_train_from_cases_skips_unlabelled_and_trains_priority() -> None:
    texts, labels = synthetic(n_per_queue=12, seed=7)
    cases = [
        Case(id=f"c{i}", title=t.split()[0], body=t, queue=q, priority="P1" if i % 2 else "P3")
        for i, (t, q) in enumerate(zip(texts, labels, strict=True))
    ]
    cases += [Case(id="nq1", body="laptop screen", queue=None), Case(id="nq2", queue="  ")]
    router = train_from_cases(cases, HashingEmbedder())
    assert router.counts == dict.fromkeys(sorted(VOCAB), 12)
    assert router.target == "queue"
    priority = train_priority_from_cases(cases, None)
    assert priority.target == "priority"
    assert priority.counts == {"P1": 18, "P3": 18}
    with pytest.raises(TriageError, match="no cases with a queue"):
        train_from_cases([Case(id="x", body="b")], None)


# -- automation -------------------------------------------------------------------------
def _pred(queue: str, confidence: float) -> RoutePrediction:
    return RoutePrediction(queue, confidence, [], {queue: confidence})


def test_automation_levels_follow_thresholds_and_overrides() -> None:
    counts = {"Hardware": 500, "Access": 120}
    t = AutomationThresholds(
        default=QueueThresholds(preselect=0.6, auto_apply=0.9),
        per_queue={"Access": QueueThresholds(preselect=0.7, auto_apply=0.98)},
    )
    assert decide(_pred("Hardware", 0.95), counts, t)[0] == "auto-apply"
    assert decide(_pred("Hardware", 0.9), counts, t)[0] == "auto-apply"  # inclusive
    assert decide(_pred("Hardware", 0.89), counts, t)[0] == "preselect"
    assert decide(_pred("Hardware", 0.59), counts, t)[0] == "suggest"
    assert decide(_pred("Access", 0.95), counts, t)[0] == "preselect"
    assert decide(_pred("Access", 0.65), counts, t)[0] == "suggest"
    level, note = decide(_pred("Access", 0.99), counts, t)
    assert level == "auto-apply" and "0.98" in note
    never = AutomationThresholds(per_queue={"Hardware": QueueThresholds(auto_apply=None)})
    assert decide(_pred("Hardware", 1.0), counts, never)[0] == "preselect"
    assert decide(_pred("Hardware", 0.99), counts)[0] == "auto-apply"  # the defaults


def test_thin_queues_never_auto_apply_and_say_why() -> None:
    counts = {"Hardware": 500, "Legal": 12}
    level, note = decide(_pred("Legal", 0.999), counts, AutomationThresholds())
    assert level == "preselect"
    assert note == "auto-apply disabled for queue Legal: only 12 labelled examples (need 50)"
    level, note = decide(_pred("Unknown", 0.999), counts, AutomationThresholds(min_examples=5))
    assert level == "preselect" and "only 0 labelled examples (need 5)" in note
    assert decide(_pred("Legal", 0.999), counts, AutomationThresholds(min_examples=12))[0] == (
        "auto-apply"
    )


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValidationError):
        QueueThresholds(preselect=0.9, auto_apply=0.8)
    with pytest.raises(ValidationError):
        QueueThresholds(preselect=1.2)


def test_precision_threshold_with_ties() -> None:
    # Sorted: 0.9 T, 0.9 F | 0.8 T | 0.7 T, 0.7 F, 0.7 F. Prefix precisions at the tie ends:
    # 1/2, 2/3, 3/6.
    conf = [0.7, 0.9, 0.8, 0.9, 0.7, 0.7]
    hits = [True, True, True, False, False, False]
    assert precision_threshold(conf, hits, 0.6) == (0.8, 3)
    assert precision_threshold(conf, hits, 0.5) == (0.7, 6)
    assert precision_threshold(conf, hits, 0.7) == (None, 0)
    # Without the tie the first prediction alone would qualify; with it, it cannot.
    assert precision_threshold([0.9, 0.9], [True, False], 0.95) == (None, 0)
    assert precision_threshold([], [], 0.95) == (None, 0)
    with pytest.raises(ValueError):
        precision_threshold([0.5], [True, False])


def test_auto_apply_thresholds_per_queue_with_minimum_support() -> None:
    predicted = ["A"] * 30 + ["B"] * 5
    actual = ["A"] * 28 + ["B", "B"] + ["B"] * 5
    conf = [1 - i / 100 for i in range(30)] + [0.99] * 5  # A's two misses are its least sure
    picked = auto_apply_thresholds(predicted, actual, conf, min_support=10)
    assert picked == {"A": pytest.approx(0.72), "B": None}
    # 29 of the 30 A predictions: 28/29 = 0.966 >= 0.95; all 30: 28/30 = 0.933 < 0.95.
    loose = auto_apply_thresholds(predicted, actual, conf, min_support=1)
    assert loose["B"] == 0.99
    thresholds = thresholds_from_validation(picked, AutomationThresholds())
    assert thresholds.for_queue("A").auto_apply == pytest.approx(0.72)
    assert thresholds.for_queue("A").preselect == pytest.approx(0.6)
    assert thresholds.for_queue("B").auto_apply is None
    assert decide(_pred("B", 0.999), {"B": 1000}, thresholds)[0] == "preselect"


def test_routing_for_fills_the_draft_routing() -> None:
    pred = RoutePrediction(
        "Access", 0.97, [("Hardware", 0.02), ("Storage", 0.01)], {"Access": 0.97}
    )
    routing = routing_for(pred, {"Access": 10}, rationale="vpn words")
    assert routing.queue == "Access" and routing.confidence == 0.97
    assert [(a.queue, a.confidence) for a in routing.alternatives] == [
        ("Hardware", 0.02),
        ("Storage", 0.01),
    ]
    assert routing.automation == "preselect"
    assert routing.automation_note.startswith("auto-apply disabled for queue Access")
