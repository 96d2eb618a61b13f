"""Counts of rendered and failed images, and the run's closing line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def summarize(
    sidecar_paths: Iterable[str | os.PathLike[str]], not_rendered: int = 0
) -> dict[str, Any]:
    """Count images by status; a sidecar that cannot be read counts as failed.
    ``not_rendered``: files discovery left out (recorded as a count)."""
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
            "failed": len(failed), "failures": failed,
            "not_rendered": not_rendered}  # fmt: skip


def summary_line(summary_json: str | os.PathLike[str]) -> str:
    """``"N rendered, M failed (see PATH/index.html)"`` from the run's summary file, and
    ``"; K files not rendered (listed there)"`` when discovery left files out."""
    path = Path(summary_json)
    summary = json.loads(path.read_text())
    index = path.parent.parent / "index.html"
    line = f"{summary['rendered']} rendered, {summary['failed']} failed (see {index})"
    not_rendered = summary.get("not_rendered", 0)
    if not_rendered:
        files = f"{not_rendered} file{'s' if not_rendered > 1 else ''}"
        line += f"; {files} not rendered (listed there)"
    return line


def closing_line(output_dir: str | os.PathLike[str], *, since: float) -> str:
    """The last line of a run: :func:`summary_line` if the page was rebuilt since ``since``
    (a Unix time), else a line saying that it was not (a run for chosen targets only)."""
    summary_json = Path(output_dir) / "logs" / "summary.json"
    try:
        rebuilt = summary_json.stat().st_mtime >= since - 1
        if rebuilt:
            return summary_line(summary_json)
    except (OSError, ValueError, KeyError):
        pass
    return (
        f"done; the review page {Path(output_dir) / 'index.html'} was not rebuilt in this "
        "run (only the targets given were made): run without targets to update it"
    )
