"""The queue catalog: which queues exist and what each one owns."""

from __future__ import annotations

import tomllib
from pathlib import Path

from core.errors import ConfigError


def load_queues(path: Path) -> dict[str, str]:
    """Queue name -> description from a TOML file of `[queues.<name>]` tables."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read queues file {path}: {exc}") from exc
    queues = data.get("queues")
    if not isinstance(queues, dict) or not queues:
        raise ConfigError(f"{path} has no [queues.<name>] tables")
    out: dict[str, str] = {}
    for name, spec in queues.items():
        description = spec.get("description", "") if isinstance(spec, dict) else str(spec)
        out[str(name)] = " ".join(str(description).split())
    return out
