"""A private copy of the workflow and the library, to run Snakemake from.

The render fingerprint follows the rendering code, so a run from the live checkout re-renders
whenever that code changes between two runs of a test (another engineer's edit, a
checkout). Tests that compare two runs run from a copy taken once: ``Snakefile``,
``workflow/``, ``config/`` and ``src/neurovid`` (first on ``PYTHONPATH``, so the render jobs
import it too).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import REPO


def copy_repo(destination: Path) -> tuple[Path, dict[str, str]]:
    """Copy what a run needs into ``destination``; return it and the environment to use."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "Snakefile", destination / "Snakefile")
    for name in ("workflow", "config"):
        shutil.copytree(REPO / name, destination / name)
    shutil.copytree(
        REPO / "src" / "neurovid",
        destination / "src" / "neurovid",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return destination, {**os.environ, "PYTHONPATH": str(destination / "src")}


_SHARED: list[tuple[Path, dict[str, str]]] = []


def shared_copy() -> tuple[Path, dict[str, str]]:
    """One copy per test session (made on first use, removed at exit)."""
    if not _SHARED:
        import atexit
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="neurovid-repo-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _SHARED.append(copy_repo(root / "repo"))
    return _SHARED[0]
