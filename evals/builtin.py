"""Named suites built on the fly by the importers: `demo`, `ci`, and the real sets.

`ci` is the fast suite the gate runs: the demo data (always present) and, when the shared
data exists, fixed bounded subsets of the real sets. Parts whose data is absent are skipped
and recorded as such, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.errors import EvalError
from evals.importers import (
    DEMO_DIR,
    import_alerts,
    import_demo,
    import_endava,
    import_gitbugs,
)
from evals.suite import Suite, read_suite

SuiteFactory = Callable[[Path, Path], Suite]

# name -> factory(shared root, demo dir); each builds one part.
PARTS: dict[str, SuiteFactory] = {
    "demo": lambda shared, demo: import_demo(demo, holdout=100),
    "gitbugs": lambda shared, demo: import_gitbugs(shared),
    "gitbugs-ci": lambda shared, demo: import_gitbugs(shared, distractors=100, name="gitbugs-ci"),
    "alerts": lambda shared, demo: import_alerts(shared),
    "endava": lambda shared, demo: import_endava(shared, examples=2000),
    "endava-ci": lambda shared, demo: import_endava(
        shared, examples=200, corpus=600, stride=20, name="endava-ci"
    ),
}
BUILTIN: dict[str, tuple[str, ...]] = {
    "demo": ("demo",),
    "ci": ("demo", "gitbugs-ci", "alerts", "endava-ci"),
    "gitbugs": ("gitbugs",),
    "alerts": ("alerts",),
    "endava": ("endava",),
    "real": ("gitbugs", "alerts", "endava"),
}
NEEDS_SHARED = {"gitbugs", "gitbugs-ci", "alerts", "endava", "endava-ci"}


def resolve_suites(
    refs: list[str], *, shared: Path, demo_dir: Path = DEMO_DIR
) -> tuple[list[Suite], dict[str, str]]:
    """Suites for references (suite files or builtin names) and the parts skipped, with why."""
    suites: list[Suite] = []
    skipped: dict[str, str] = {}
    for ref in refs:
        path = Path(ref)
        if path.is_file():
            suites.append(read_suite(path))
            continue
        if ref not in BUILTIN:
            raise EvalError(
                f"{ref!r} is neither a suite file nor a builtin suite "
                f"({', '.join(sorted(BUILTIN))})"
            )
        for part in BUILTIN[ref]:
            if part in NEEDS_SHARED and not shared.is_dir():
                skipped[part] = f"shared data not found at {shared}"
                continue
            suites.append(PARTS[part](shared, demo_dir))
    names = [s.name for s in suites]
    if len(set(names)) != len(names):
        raise EvalError(f"two suites share a name: {names}")
    return suites, skipped
