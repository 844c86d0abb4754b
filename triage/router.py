"""The learned router: past cases' queue (or priority) labels predict where a new case goes.

Features are word and character TF-IDF plus sentence embeddings; a calibrated linear model
scores them, and its probabilities are blended with a similarity-weighted vote of the most
similar past cases (the "who handled tickets like this" signal of Einstein / bugbug).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np

from core.errors import TriageError

if TYPE_CHECKING:
    from core.domain import Case
    from retrieval.protocols import Embedder

FORMAT_VERSION = 1
MODEL_FILE = "router.joblib"
MANIFEST_FILE = "manifest.json"
Target = Literal["queue", "priority"]


@dataclass(frozen=True)
class RouterConfig:
    """Feature and model settings; defaults chosen on the Endava tickets (see benchmark)."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 2
    max_char_features: int = 300_000
    # Scale of the (unit-length) embedding block beside the two unit-length TF-IDF blocks.
    embedding_weight: float = 1.0
    C: float = 0.3
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    calibration_folds: int = 3
    knn_k: int = 20
    # Neighbour votes are weighted exp(similarity / temperature): close cases count far more.
    knn_temperature: float = 0.05
    # Weight of the kNN vote in the blend; None picks it on a validation split inside fit
    # (Endava tickets: 0.3 picked; +1.0 pt accuracy, +3.6 pt coverage at 95% precision).
    knn_blend: float | None = None
    blend_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    # Exponent applied to the blended probabilities; None picks it on the validation split.
    sharpness: float | None = None
    sharpness_grid: tuple[float, ...] = tuple(round(0.8 + 0.1 * i, 1) for i in range(23))
    validation_size: float = 0.15
    seed: int = 13


@dataclass(frozen=True)
class RoutePrediction:
    """The predicted queue, its calibrated probability and the runners-up."""

    queue: str
    confidence: float
    alternatives: list[tuple[str, float]]
    probabilities: dict[str, float] = field(default_factory=dict)


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Features:
    """Word + char TF-IDF and an optional embedding block, stacked into one sparse matrix."""

    def __init__(self, config: RouterConfig, use_embeddings: bool) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.use_embeddings = use_embeddings
        self.weight = config.embedding_weight
        self.word: TfidfVectorizer | None = TfidfVectorizer(
            ngram_range=config.word_ngrams, sublinear_tf=True, min_df=config.min_df
        )
        self.char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=config.char_ngrams,
            sublinear_tf=True,
            min_df=config.min_df,
            max_features=config.max_char_features,
        )

    def fit_transform(self, texts: Sequence[str], embeddings: np.ndarray | None) -> Any:
        """Learn vocabularies and transform the training texts."""
        # min_df=2 empties the vocabulary of a tiny corpus; one occurrence is then enough.
        if len(texts) < 20:
            for vec in (self.word, self.char):
                if vec is not None:
                    vec.set_params(min_df=1)
        blocks = [self.char.fit_transform(texts)]
        try:
            assert self.word is not None
            blocks.append(self.word.fit_transform(texts))
        except ValueError:
            # No word of two or more characters anywhere (codes, symbols): chars carry it.
            self.word = None
        return self._stack(blocks, embeddings)

    def transform(self, texts: Sequence[str], embeddings: np.ndarray | None) -> Any:
        """Transform texts with the learned vocabularies."""
        blocks = [self.char.transform(texts)]
        if self.word is not None:
            blocks.append(self.word.transform(texts))
        return self._stack(blocks, embeddings)

    def _stack(self, blocks: list[Any], embeddings: np.ndarray | None) -> Any:
        from scipy import sparse

        if self.use_embeddings:
            assert embeddings is not None
            blocks.append(sparse.csr_matrix(embeddings * self.weight))
        return sparse.hstack(blocks, format="csr")


class QueueRouter:
    """Calibrated linear model over TF-IDF + embeddings, blended with a kNN vote."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        config: RouterConfig | None = None,
        *,
        target: Target = "queue",
    ) -> None:
        """Configure only; nothing is trained or embedded until `fit`."""
        self.embedder = embedder
        self.config = config or RouterConfig()
        self.target: Target = target
        self.labels: list[str] = []
        self.counts: dict[str, int] = {}
        self.knn_blend: float = 0.0
        self.sharpness: float = 1.0
        self.validation: dict[str, float] = {}
        self.embedder_name: str | None = None
        self.embedding_dimension: int | None = None
        self.created_at: str | None = None
        self._features: _Features | None = None
        self._model: Any = None
        self._memory: np.ndarray | None = None  # training embeddings, for the kNN vote
        self._memory_labels: np.ndarray | None = None

    # -- training ----------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        embeddings: np.ndarray | None = None,
    ) -> Self:
        """Train on labelled texts; embeddings (one row per text) skip re-embedding."""
        texts = _check_texts(texts)
        labels = [str(label) for label in labels]
        if len(texts) != len(labels):
            raise TriageError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise TriageError("cannot train a router on no examples")
        self.embedding_dimension = self.embedder_name = None
        vectors = self._embeddings(texts, embeddings, fitting=True)
        self.counts = dict(sorted(Counter(labels).items()))
        self.labels = sorted(self.counts)
        y = np.array([self.labels.index(label) for label in labels])
        self._tune(texts, y, vectors)
        self._features, self._model = self._fit_linear(texts, y, vectors)
        self._memory = vectors
        self._memory_labels = y if vectors is not None else None
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        return self

    def _embeddings(
        self, texts: list[str], given: np.ndarray | None, *, fitting: bool = False
    ) -> np.ndarray | None:
        """The embedding rows for texts: given, computed, or None in text-only mode."""
        if given is None and self.embedder is None:
            if not fitting and self.embedding_dimension is not None:
                raise TriageError(
                    "this router was trained with embeddings "
                    f"({self.embedder_name}); pass an embedder or precomputed embeddings"
                )
            return None
        if given is None:
            assert self.embedder is not None
            given = self.embedder.embed(texts)
        vectors = np.asarray(given, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise TriageError(
                f"embeddings must have one row per text: got {vectors.shape} for {len(texts)}"
            )
        if fitting:  # remember what the router was trained with
            self.embedding_dimension = int(vectors.shape[1])
            self.embedder_name = getattr(self.embedder, "name", None) or "precomputed"
        elif self.embedding_dimension is None:
            return None  # a text-only router ignores embeddings it was handed
        elif vectors.shape[1] != self.embedding_dimension:
            raise TriageError(
                f"embedding dimension {vectors.shape[1]} does not match the router's "
                f"{self.embedding_dimension} ({self.embedder_name})"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _fit_linear(
        self, texts: Sequence[str], y: np.ndarray, vectors: np.ndarray | None
    ) -> tuple[_Features, Any]:
        features = _Features(self.config, use_embeddings=vectors is not None)
        x = features.fit_transform(texts, vectors)
        return features, _fit_classifier(x, y, len(self.labels), self.config)

    def _tune(self, texts: list[str], y: np.ndarray, vectors: np.ndarray | None) -> None:
        """Pick the kNN weight and the sharpening exponent on a held-out stratified split.

        Both minimise validation log-loss: the blend must keep confidences honest, not only
        ranks. Averaging two calibrated sources leaves the result under-confident, which the
        exponent (probabilities ** a, renormalised) undoes.
        """
        cfg = self.config
        grid = (cfg.knn_blend,) if cfg.knn_blend is not None else cfg.blend_grid
        if vectors is None:
            grid = (0.0,)
        self.knn_blend = float(grid[0]) if len(grid) == 1 else 0.0
        self.sharpness = cfg.sharpness if cfg.sharpness is not None else 1.0
        self.validation = {}
        if len(grid) == 1 and cfg.sharpness is not None:
            return
        split = _validation_split(y, cfg.validation_size, cfg.seed)
        if split is None:
            return
        fit_idx, val_idx = split
        fit_vectors = vectors[fit_idx] if vectors is not None else None
        val_vectors = vectors[val_idx] if vectors is not None else None
        features, model = self._fit_linear([texts[i] for i in fit_idx], y[fit_idx], fit_vectors)
        x_val = features.transform([texts[i] for i in val_idx], val_vectors)
        linear = _predict_proba(model, x_val, len(self.labels))
        knn = linear
        if vectors is not None:
            assert fit_vectors is not None and val_vectors is not None
            knn = _knn_vote(val_vectors, fit_vectors, y[fit_idx], len(self.labels), cfg)
        truth = y[val_idx]
        exponents = (cfg.sharpness,) if cfg.sharpness is not None else cfg.sharpness_grid
        scores = {
            (w, a): _log_loss(_sharpen((1 - w) * linear + w * knn, a), truth)
            for w in grid
            for a in exponents
        }
        # Ties go to the smaller blend and the milder exponent.
        w, a = min(scores, key=lambda key: (round(scores[key], 6), key))
        self.knn_blend, self.sharpness = float(w), float(a)
        blended = _sharpen((1 - w) * linear + w * knn, a)
        self.validation = {
            "n": float(len(truth)),
            "log_loss": scores[w, a],
            "accuracy": float(np.mean(blended.argmax(axis=1) == truth)),
            "linear_accuracy": float(np.mean(linear.argmax(axis=1) == truth)),
        }
        if vectors is not None:
            self.validation["knn_accuracy"] = float(np.mean(knn.argmax(axis=1) == truth))

    # -- prediction --------------------------------------------------------------------
    def predict_proba(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> np.ndarray:
        """Blended class probabilities, columns in the order of `labels`."""
        if self._model is None or self._features is None:
            raise TriageError("the router is not trained; call fit() or load() first")
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.labels)))
        vectors = self._embeddings(texts, embeddings)
        x = self._features.transform(texts, vectors)
        probs = _predict_proba(self._model, x, len(self.labels))
        if vectors is not None and self.knn_blend > 0 and self._memory is not None:
            assert self._memory_labels is not None
            knn = _knn_vote(
                vectors, self._memory, self._memory_labels, len(self.labels), self.config
            )
            probs = (1 - self.knn_blend) * probs + self.knn_blend * knn
        return _sharpen(probs, self.sharpness)

    def predict(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> list[RoutePrediction]:
        """One prediction per text: top queue, its probability and up to three alternatives."""
        probs = self.predict_proba(texts, embeddings)
        out: list[RoutePrediction] = []
        for row in probs:
            order = np.argsort(-row, kind="stable")
            ranked = [(self.labels[i], float(row[i])) for i in order]
            out.append(
                RoutePrediction(
                    queue=ranked[0][0],
                    confidence=ranked[0][1],
                    alternatives=ranked[1:4],
                    probabilities=dict(ranked),
                )
            )
        return out

    # -- persistence -------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """What the saved file is: versions, labels, data counts and feature config."""
        return {
            "format_version": FORMAT_VERSION,
            "kind": "casebook.router",
            "target": self.target,
            "sklearn_version": _sklearn_version(),
            "labels": self.labels,
            "counts": self.counts,
            "training_size": sum(self.counts.values()),
            "created_at": self.created_at,
            "embedder": self.embedder_name,
            "embedding_dimension": self.embedding_dimension,
            "knn_blend": self.knn_blend,
            "sharpness": self.sharpness,
            "validation": self.validation,
            "config": asdict(self.config),
        }

    def save(self, path: str | Path) -> Path:
        """Write the router into a directory: the model (joblib) and a JSON manifest."""
        import joblib

        if self._model is None:
            raise TriageError("cannot save an untrained router")
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        embedder, self.embedder = self.embedder, None  # the embedder is injected, never pickled
        try:
            joblib.dump(self, directory / MODEL_FILE, compress=3)
        finally:
            self.embedder = embedder
        manifest = self.manifest()
        manifest["model_sha256"] = _sha256(directory / MODEL_FILE)
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> QueueRouter:
        """Read a saved router, refusing files this version cannot use safely."""
        import joblib

        directory = Path(path)
        manifest = read_manifest(directory)
        check_compatible(manifest, embedder)
        model_path = directory / MODEL_FILE
        if not model_path.is_file():
            raise TriageError(f"{model_path} is missing", path=str(model_path))
        # Unpickling runs code: only files whose checksum the manifest vouches for are read.
        if _sha256(model_path) != manifest.get("model_sha256"):
            raise TriageError(
                f"{model_path} does not match the checksum in its manifest", path=str(model_path)
            )
        router = joblib.load(model_path)
        if not isinstance(router, QueueRouter):
            raise TriageError(f"{model_path} does not hold a router", path=str(model_path))
        router.embedder = embedder
        return router


def read_manifest(directory: Path) -> dict[str, Any]:
    """The JSON manifest of a saved router directory."""
    path = directory / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TriageError(f"no router manifest at {path}", path=str(path)) from exc
    except (OSError, ValueError) as exc:
        raise TriageError(f"unreadable router manifest {path}: {exc}", path=str(path)) from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != "casebook.router":
        raise TriageError(f"{path} is not a Casebook router manifest", path=str(path))
    return manifest


def check_compatible(manifest: Mapping[str, Any], embedder: Embedder | None) -> None:
    """Raise TriageError when a saved router cannot be used with this install and embedder."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise TriageError(
            f"router file format {version} is not supported (expected {FORMAT_VERSION}); "
            "retrain with `casebook router train`",
            format_version=version,
        )
    saved = str(manifest.get("sklearn_version", ""))
    # Pickled estimators are only guaranteed to load under the same scikit-learn minor version.
    if _major_minor(saved) != _major_minor(_sklearn_version()):
        raise TriageError(
            f"router was trained with scikit-learn {saved}, this install has "
            f"{_sklearn_version()}; retrain with `casebook router train`",
            sklearn_version=saved,
        )
    dim = manifest.get("embedding_dimension")
    if dim is not None and embedder is not None:
        name = manifest.get("embedder")
        if embedder.dimension != dim or (
            name not in (None, "precomputed") and embedder.name != name
        ):
            raise TriageError(
                f"router was trained with embedder {name} ({dim}-d), "
                f"not {embedder.name} ({embedder.dimension}-d); retrain or use the same embedder",
                embedder=name,
            )


def train_from_cases(
    cases: Sequence[Case],
    embedder: Embedder | None,
    *,
    target: Target = "queue",
    config: RouterConfig | None = None,
) -> QueueRouter:
    """Train a router on the cases that carry the target label (queue or priority)."""
    labelled = [c for c in cases if (getattr(c, target) or "").strip()]
    if not labelled:
        raise TriageError(f"no cases with a {target} to train on", total=len(cases))
    labels = [str(getattr(c, target)).strip() for c in labelled]
    router = QueueRouter(embedder, config, target=target)
    return router.fit([c.text for c in labelled], labels)


def train_priority_from_cases(
    cases: Sequence[Case], embedder: Embedder | None, *, config: RouterConfig | None = None
) -> QueueRouter:
    """The same router trained on priority labels (P1-P4) where cases have one."""
    return train_from_cases(cases, embedder, target="priority", config=config)


# -- model pieces ------------------------------------------------------------------------
def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a sequence of texts, not a single str")
    return [t if t.strip() else "(empty)" for t in texts]


class _Constant:
    """The model of a single-label training set: that label, with certainty."""

    def predict_proba(self, x: Any) -> np.ndarray:
        """Probability 1 for the only class."""
        return np.ones((x.shape[0], 1))


def _fit_classifier(x: Any, y: np.ndarray, n_classes: int, config: RouterConfig) -> Any:
    """LinearSVC calibrated by cross-validation; plain LinearSVC scores for tiny classes."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    if n_classes == 1:
        return _Constant()
    svc = LinearSVC(C=config.C)
    smallest = int(np.bincount(y, minlength=n_classes).min())
    folds = min(config.calibration_folds, smallest)
    if folds < 2:
        # A class seen once cannot be cross-validated; softmax of margins stands in.
        return _SoftmaxSVC(svc.fit(x, y))
    # ensemble=False: calibrate on out-of-fold margins, then keep one SVC fitted on all the
    # data; the default averages fold models that each saw 2/3 of it (-0.6 pt accuracy here).
    return CalibratedClassifierCV(svc, method=config.calibration, cv=folds, ensemble=False).fit(
        x, y
    )


class _SoftmaxSVC:
    """Uncalibrated fallback: softmax over LinearSVC margins."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc

    def predict_proba(self, x: Any) -> np.ndarray:
        """Softmax of the decision function (binary margins expanded to two columns)."""
        margins = self.svc.decision_function(x)
        if margins.ndim == 1:
            margins = np.column_stack([-margins, margins])
        z = np.exp(margins - margins.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def _predict_proba(model: Any, x: Any, n_classes: int) -> np.ndarray:
    probs = np.asarray(model.predict_proba(x), dtype=np.float64)
    if probs.shape[1] != n_classes:
        raise TriageError(f"model returned {probs.shape[1]} classes, expected {n_classes}")
    return probs


def _knn_vote(
    queries: np.ndarray,
    memory: np.ndarray,
    memory_labels: np.ndarray,
    n_classes: int,
    config: RouterConfig,
) -> np.ndarray:
    """Class shares of the k most similar past cases, weighted by exp(similarity / T)."""
    k = min(config.knn_k, memory.shape[0])
    out = np.zeros((queries.shape[0], n_classes))
    # Blocks bound the similarity matrix to ~64 MB whatever the corpus size.
    block = max(1, 2_000_000 // max(1, memory.shape[0]))
    for start in range(0, queries.shape[0], block):
        sims = queries[start : start + block] @ memory.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        weights = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / config.knn_temperature)
        rows = np.repeat(np.arange(top.shape[0]), k)
        np.add.at(out[start : start + block], (rows, memory_labels[top].ravel()), weights.ravel())
    # A little smoothing: a unanimous vote of 20 neighbours is strong, not certain.
    out += 1.0 / (k + n_classes)
    return out / out.sum(axis=1, keepdims=True)


def _sharpen(probs: np.ndarray, exponent: float) -> np.ndarray:
    """Rows raised to a power and renormalised (exponent > 1 makes them more confident)."""
    powered = np.power(np.clip(probs, 1e-12, None), exponent)
    return powered / powered.sum(axis=1, keepdims=True)


def _log_loss(probs: np.ndarray, truth: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(truth)), truth], 1e-12, 1))))


def _validation_split(
    y: np.ndarray, size: float, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Stratified train/validation indices, or None when the data is too small to split."""
    counts = np.bincount(y)
    if len(counts) < 2 or counts.min() < 2 or len(y) * size < len(counts):
        return None
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    fit_idx, val_idx = train_test_split(idx, test_size=size, random_state=seed, stratify=y)
    return np.sort(fit_idx), np.sort(val_idx)
