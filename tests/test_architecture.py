"""Dependencies point one way; a backwards import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> Casebook packages it may import
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "casetext": {"core"},
    "retrieval": {"core", "casetext"},
    "kb_ingest": {"core", "casetext", "retrieval"},
    "triage": {"core", "casetext", "retrieval"},
    "kb_coverage": {"core", "casetext", "retrieval"},
    "storage": {"core"},
    "service": {"core", "casetext", "retrieval", "kb_ingest", "triage", "storage", "kb_coverage"},
    "api": {
        "core",
        "casetext",
        "retrieval",
        "kb_ingest",
        "triage",
        "storage",
        "service",
        "kb_coverage",
    },
    "evals": {"core", "casetext", "retrieval", "kb_ingest", "triage", "storage", "kb_coverage"},
    "cli": {
        "core",
        "casetext",
        "retrieval",
        "kb_ingest",
        "triage",
        "storage",
        "service",
        "kb_coverage",
        "api",
        "evals",
    },
}
# Heavy or networked libraries that must only be imported lazily, inside functions.
LAZY_ONLY = {"litellm", "chromadb"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name.split(".")[0], id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module.split(".")[0], id(node) in top_level))
    return found


def test_imports_point_one_way() -> None:
    bad = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for module, _ in _imports(path):
                if module in ALLOWED and module != package and module not in allowed:
                    bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not bad, "backwards imports:\n" + "\n".join(bad)


def test_heavy_libraries_are_imported_lazily() -> None:
    bad = []
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module, at_top in _imports(path):
                if module in LAZY_ONLY and at_top:
                    bad.append(f"{path.relative_to(ROOT)} imports {module} at module level")
    assert not bad, "\n".join(bad)


def test_the_guard_itself_catches_a_backwards_import(tmp_path: Path) -> None:
    # Guard against a guard that cannot fail: a retrieval module importing triage is caught.
    probe = tmp_path / "probe.py"
    probe.write_text("from triage.engine import x\nimport litellm\n")
    found = _imports(probe)
    assert ("triage", True) in found and ("litellm", True) in found
    assert "triage" not in ALLOWED["retrieval"]
