"""GitBugs exports: bug reports and their duplicate links, read robustly."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from core.errors import EvalError

_ID = re.compile(r"[A-Za-z0-9_.\-]+")


def _column(header: list[str], *needles: str) -> str:
    for name in header:
        low = name.strip().lower()
        if all(n in low for n in needles):
            return name
    raise EvalError(f"duplicates file has no column like {' '.join(needles)!r}: {header}")


def read_duplicate_links(path: Path) -> dict[str, set[str]]:
    """Issue id -> ids it duplicates, symmetric; a cell may list several ids."""
    csv.field_size_limit(sys.maxsize)
    links: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        issue_col = _column(header, "issue")
        dup_col = _column(header, "duplicate")
        for row in reader:
            sources = _ID.findall(row.get(issue_col) or "")
            targets = _ID.findall(row.get(dup_col) or "")
            for a in sources:
                for b in targets:
                    if a != b:
                        links.setdefault(a, set()).add(b)
                        links.setdefault(b, set()).add(a)
    return links
