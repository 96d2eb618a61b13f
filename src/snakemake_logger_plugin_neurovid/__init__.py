"""Snakemake logger plugin ``neurovid``: one live progress line instead of a block per job.

``neurovid ... participant`` chooses it by default; plain Snakemake users get it with
``snakemake --logger neurovid ...``. The terminal shows warnings, errors and a line such as
``images 120/2000 (6%) · 3 failed · 2 running · 1m10s, ETA 18m20s``; Snakemake's complete
log still goes to ``.snakemake/log/`` (its file handler does not pass through this plugin)
and each image keeps its own log in ``OUTPUT_DIR/logs/``.

Why not ``snakemake-logger-plugin-rich``: it counts jobs per rule, while neurovid's unit is
the image, and an image that failed (a corrupt file gets a failed card) is a job that
*succeeded*; this plugin reads each finished image's sidecar to count failures, and gives an
ETA. It is discovered by Snakemake's plugin registry through its module name, like any
``snakemake-logger-plugin-*`` package.
"""

from __future__ import annotations

import logging
import sys
import time

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

from neurovid.progress import (
    IMAGE_RULE,
    RunProgress,
    logged_path,
    progress_line,
    sidecar_status,
)

#: Snakemake's chatter (provenance block, scheduler steps) kept out of the terminal; it is
#: still in the complete log file
_QUIET_PREFIXES = (
    "Config file ",
    "Assuming ",
    "SNAKEMAKE",
    "Using shell",
    "Provided cores",
    "Provided remote nodes",
    "Rules claiming",
    "Select jobs",
    "Execute ",
    "Job stats",
    "Building DAG",
    "host:",
    "Using workflow specific profile",
)
#: job bookkeeping events that feed the progress line instead of being printed
_PROGRESS_EVENTS = {
    LogEvent.JOB_INFO,
    LogEvent.GROUP_INFO,
    LogEvent.JOB_STARTED,
    LogEvent.JOB_FINISHED,
    LogEvent.PROGRESS,
    LogEvent.SHELLCMD,
    LogEvent.RESOURCES_INFO,
    LogEvent.RULEGRAPH,
    LogEvent.DEBUG_DAG,
}
#: when the stream is not a terminal (CI, nohup, a SLURM batch log): a line at most this often
_PLAIN_INTERVAL_S = 30.0


class LogHandler(LogHandlerBase):
    """Progress line on a terminal (redrawn in place), periodic lines elsewhere."""

    def __post_init__(self) -> None:
        self.stream = sys.stdout if self.common_settings.stdout else sys.stderr
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.progress = RunProgress()
        self.jobs: dict[int, tuple[str, list[str], dict]] = {}
        self.line_shown = False
        self.run_info_shown = False
        self.last_plain = (0.0, -1)  # time, percent of the last non-terminal progress line
        from snakemake.logging import DefaultFormatter

        self.formatter = DefaultFormatter(
            quiet=set(), show_failed_logs=self.common_settings.show_failed_logs
        )

    # -- LogHandlerBase properties ------------------------------------------------------
    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False

    # -- output ---------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        if self.is_tty and self.line_shown:
            self.stream.write("\r\033[K")
            self.line_shown = False
        self.stream.write(text.rstrip("\n") + "\n")
        self.stream.flush()

    def _show_progress(self, force: bool = False) -> None:
        if self.progress.total == 0 or self.common_settings.dryrun:
            return
        now = time.monotonic()
        line = progress_line(self.progress, now)
        if self.is_tty:
            self.stream.write("\r\033[K" + line)
            self.line_shown = True
            if self.progress.finished:
                self.stream.write("\n")
                self.line_shown = False
        else:
            shown_at, shown_percent = self.last_plain
            percent = 100 * self.progress.done // self.progress.total
            if (
                force
                or self.progress.finished
                or now - shown_at >= _PLAIN_INTERVAL_S
                or percent // 10 > shown_percent // 10
            ):
                self.stream.write(line + "\n")
                self.last_plain = (now, percent)
        self.stream.flush()

    # -- events ---------------------------------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._handle(record)
        except Exception:  # a display problem must never stop a run
            self.handleError(record)

    def _handle(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if event == LogEvent.RUN_INFO:
            stats = getattr(record, "stats", {}) or {}
            self.progress.total = int(stats.get(IMAGE_RULE, 0))
            if self.common_settings.dryrun:
                if not self.run_info_shown:  # a dry run reports the stats twice
                    self._write(self.formatter.format(record))
            elif self.progress.total:
                total = self.progress.total
                self._write(f"{total} image{'s' if total > 1 else ''} to render, then the page")
            self.run_info_shown = True
            return
        if event == LogEvent.JOB_INFO:
            jobid = record.jobid
            self.jobs[jobid] = (record.rule_name, list(record.output or []), record.wildcards)
            if self.common_settings.dryrun and record.rule_name == IMAGE_RULE:
                image = (record.wildcards or {}).get("image", ", ".join(record.output or []))
                self._write(f"  would render {image}  ({record.reason})")
            elif record.rule_name == IMAGE_RULE:
                self.progress.start(jobid, time.monotonic())
                self._show_progress()
            return
        if event == LogEvent.JOB_FINISHED:
            rule, outputs, _ = self.jobs.pop(record.job_id, ("", [], {}))
            if rule == IMAGE_RULE:
                status = sidecar_status(logged_path(outputs[0])) if outputs else "unknown"
                self.progress.finish(record.job_id, status)
                self._show_progress()
            return
        if event in (LogEvent.JOB_ERROR, LogEvent.GROUP_ERROR):
            # a group error is followed by one JOB_ERROR per member: count those only
            if event == LogEvent.JOB_ERROR:
                rule, _, _ = self.jobs.pop(record.jobid, ("", [], {}))
                if rule == IMAGE_RULE:
                    self.progress.error(record.jobid)
            self._write(self.formatter.format(record))
            self._show_progress(force=True)
            return
        if event in _PROGRESS_EVENTS:
            return
        message = self.formatter.format(record)
        if not message or message == "None":
            return
        if record.levelno < logging.WARNING and message.lstrip().startswith(_QUIET_PREFIXES):
            return
        self._write(message)
        if self.is_tty and not self.progress.finished:
            self._show_progress()  # redraw the line below the message
