"""Settings: embedded offline defaults, CASEBOOK_* env vars over a TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import LOCAL_EMBEDDER, Settings


def test_defaults_are_embedded_and_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("CASEBOOK_CONFIG", "CASEBOOK_CHROMA_MODE", "CASEBOOK_LLM_MODEL"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.chroma_mode == "embedded" and s.embedding_model == LOCAL_EMBEDDER
    assert s.llm_model == "" and s.uses_local_embedder
    assert s.chroma_path == Path(".casebook/chroma")


def test_env_overrides_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "casebook.toml"
    config.write_text('chroma_mode = "http"\nchroma_port = 9000\nfusion_k = 30\n')
    monkeypatch.setenv("CASEBOOK_CONFIG", str(config))
    monkeypatch.setenv("CASEBOOK_CHROMA_PORT", "9100")
    s = Settings()
    assert s.chroma_mode == "http" and s.fusion_k == 30 and s.chroma_port == 9100


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_CHROMA_MODE", "cloud")
    with pytest.raises(ValidationError):
        Settings()
