"""Progress of a run in images: done / total, failed so far, elapsed time and ETA.

Snakemake counts jobs and knows a job only as finished or errored; for neurovid an image whose
job finished may still have *failed* (its sidecar says why: a corrupt file is a finished job
with a failed card). :class:`RunProgress` counts images the way the review page does, and
:func:`progress_line` turns it into the one line that the logger plugin
(``snakemake_logger_plugin_neurovid``, ``--logger neurovid``) keeps up to date.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

#: the rule that renders one image (one job per image)
IMAGE_RULE = "render_video"


def sidecar_status(path: str | os.PathLike[str]) -> str:
    """The ``status`` recorded in a sidecar (``"rendered"``, ``"failed"``), or ``"unknown"``."""
    try:
        with open(path, encoding="utf-8") as handle:
            status = json.load(handle).get("status")
    except (OSError, ValueError, AttributeError):
        return "unknown"
    return status if isinstance(status, str) else "unknown"


def logged_path(text: str) -> str:
    """The file of an output as Snakemake logs it: ``"out/x.json (update)"`` → ``"out/x.json"``.

    Snakemake annotates flagged outputs (``update``, ``pipe``, ``temp``, storage) after the
    path; a file whose real name ends like that is kept as it is.
    """
    match = re.fullmatch(r"(.+) \([^()]*\)", text)
    if match and not os.path.exists(text):
        return match.group(1)
    return text


def format_duration(seconds: float) -> str:
    """``"42s"``, ``"3m05s"``, ``"2h07m"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class RunProgress:
    """Images of one run: how many to render, started, done and failed.

    Attributes
    ----------
    total : int
        Render jobs Snakemake planned for this run (up-to-date images are not counted).
    started_at : float or None
        Time (s, any monotonic clock) the first render job started; the ETA is measured
        from it, so the time spent on discovery does not distort the rate.
    """

    total: int = 0
    done: int = 0
    failed: int = 0
    errored: int = 0
    running: set[int] = field(default_factory=set)
    started_at: float | None = None

    def start(self, job_id: int, now: float) -> None:
        """A render job started (or was submitted to a cluster)."""
        self.running.add(job_id)
        if self.started_at is None:
            self.started_at = now

    def finish(self, job_id: int, status: str) -> None:
        """A render job finished; ``status`` is its sidecar's (``"rendered"``, ``"failed"``)."""
        self.running.discard(job_id)
        self.done += 1
        if status != "rendered":
            self.failed += 1

    def error(self, job_id: int) -> None:
        """A render job itself failed (out of memory, ffmpeg killed): no sidecar was written."""
        self.running.discard(job_id)
        self.errored += 1

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done + self.errored >= self.total

    def eta_seconds(self, now: float) -> float | None:
        """Remaining time at the rate so far, or None before the first image is done."""
        if self.started_at is None or self.done == 0:
            return None
        rate = (now - self.started_at) / self.done
        return rate * max(0, self.total - self.done - self.errored)


def progress_line(progress: RunProgress, now: float) -> str:
    """One line, e.g. ``"images 120/2000 (6%) · 3 failed · 2 running · 1m10s, ETA 18m20s"``."""
    total = progress.total
    percent = 100 * (progress.done + progress.errored) // total if total else 100
    parts = [f"images {progress.done + progress.errored}/{total} ({percent}%)"]
    parts.append(f"{progress.failed + progress.errored} failed")
    if progress.running and not progress.finished:
        parts.append(f"{len(progress.running)} running")
    elapsed = now - progress.started_at if progress.started_at is not None else 0.0
    eta = progress.eta_seconds(now)
    if progress.finished:
        parts.append(f"took {format_duration(elapsed)}")
    else:
        parts.append(
            f"{format_duration(elapsed)}, ETA {format_duration(eta) if eta is not None else '…'}"
        )
    return " · ".join(parts)
