"""Counts of rendered and failed images, and the run's closing line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def summarize(sidecar_paths: Iterable[str | os.PathLike[str]]) -> dict[str, Any]:
    """Count images by status; a sidecar that cannot be read counts as failed."""
    rendered, failed = [], []
    for path in sidecar_paths:
        try:
            sidecar = json.loads(Path(path).read_text())
            status, source = sidecar.get("status"), sidecar.get("source", str(path))
            error = sidecar.get("error")
        except (OSError, ValueError, AttributeError) as exc:
            status, source, error = "failed", str(path), f"unreadable sidecar: {exc}"
        if status == "rendered":
            rendered.append(source)
        else:
            failed.append({"source": source, "error": error})
    return {"images": len(rendered) + len(failed), "rendered": len(rendered),
            "failed": len(failed), "failures": failed}  # fmt: skip


def summary_line(summary_json: str | os.PathLike[str]) -> str:
    """``"N rendered, M failed (see PATH/index.html)"`` from the run's summary file."""
    path = Path(summary_json)
    summary = json.loads(path.read_text())
    index = path.parent.parent / "index.html"
    return f"{summary['rendered']} rendered, {summary['failed']} failed (see {index})"
