"""An API client on a real app (SQLite or PostgreSQL) with keys for every role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from service.container import Container
from tests.service_support import make_container

ROLES = ("admin", "engineer", "kb_author", "integration")


@dataclass
class Api:
    """A TestClient with the container behind it and one key per role."""

    client: TestClient
    container: Container
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str | None = "admin", **extra: str) -> dict[str, str]:
        """Headers carrying the key of a role (None: no key)."""
        out = dict(extra)
        if role is not None:
            out["Authorization"] = f"Bearer {self.keys[role]}"
        return out

    def drain(self) -> int:
        """Run every due job in this thread; returns how many ran."""
        worker = self.container.worker(worker_id="test")
        n = 0
        while worker.run_once():
            n += 1
        return n


@contextmanager
def api_client(tmp_path: Path, db_url: str, **overrides: Any) -> Iterator[Api]:
    """A started app (lifespan run, no background worker) and its keys."""
    container = make_container(tmp_path, db_url, **overrides)
    app = create_app(container=container, start_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, container)
        for role in ROLES:
            api.keys[role], _ = container.api_keys.create(role, f"test {role}")
        yield api
