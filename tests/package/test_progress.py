"""The progress line: images done / total, failed so far, ETA (issue 13, point 4).

The logger plugin is fed the records Snakemake logs (same events and fields), with sidecars
on disk as a real run leaves them; the installed command's real output is checked in
tests/package/test_install.py::test_progress_line_replaces_the_job_blocks.
"""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest
from snakemake_interface_logger_plugins.common import LogEvent

from neurovid.progress import (
    RunProgress,
    format_duration,
    logged_path,
    progress_line,
    sidecar_status,
)
from snakemake_logger_plugin_neurovid import LogHandler


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (42.4, "42s"), (185, "3m05s"), (7620, "2h07m")]
)
def test_durations_read_like_a_clock(seconds, text):
    assert format_duration(seconds) == text


def test_eta_from_the_rate_of_finished_images():
    progress = RunProgress(total=10)
    progress.start(1, now=100.0)
    assert progress.eta_seconds(now=101.0) is None  # nothing done yet: no rate
    for job in range(1, 5):
        progress.finish(job, "rendered" if job != 3 else "failed")
    assert progress.eta_seconds(now=120.0) == pytest.approx(20 / 4 * 6)
    line = progress_line(progress, now=120.0)
    assert line == "images 4/10 (40%) · 1 failed · 20s, ETA 30s"


def test_a_job_that_errors_counts_as_a_failed_image_and_ends_the_count():
    progress = RunProgress(total=2)
    progress.start(1, now=0.0)
    progress.start(2, now=0.0)
    progress.finish(1, "rendered")
    progress.error(2)
    assert progress.finished
    assert progress_line(progress, now=3.0) == "images 2/2 (100%) · 1 failed · took 3s"


@pytest.mark.parametrize(
    ("content", "status"),
    [('{"status": "failed"}', "failed"), ('{"status": "rendered"}', "rendered"),
     ("not json", "unknown"), ("[1, 2]", "unknown"), (None, "unknown")],
)  # fmt: skip
def test_sidecar_status_never_raises(tmp_path, content, status):
    path = tmp_path / "sidecar.json"
    if content is not None:
        path.write_text(content)
    assert sidecar_status(path) == status


def test_logged_output_paths_lose_snakemakes_annotations(tmp_path):
    assert logged_path("out/sub-01_T1w.json (update)") == "out/sub-01_T1w.json"
    assert logged_path("out/x.json (update, send to storage)") == "out/x.json"
    assert logged_path("out/x.json") == "out/x.json"
    real = tmp_path / "odd (name).json"
    real.write_text("{}")
    assert logged_path(str(real)) == str(real)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _handler(monkeypatch, stream, dryrun=False) -> LogHandler:
    monkeypatch.setattr("sys.stderr", stream)
    settings = SimpleNamespace(stdout=False, dryrun=dryrun, show_failed_logs=False,
                               printshellcmds=False, verbose=False, quiet=None, nocolor=True,
                               debug_dag=False)  # fmt: skip
    return LogHandler(settings, None)


def _record(message, level=logging.INFO, **extra) -> logging.LogRecord:
    record = logging.LogRecord("snakemake", level, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def _run(handler: LogHandler, tmp_path, statuses: list[str]) -> None:
    """The events of a run rendering one image per status, then the page."""
    handler.emit(_record("Building DAG of jobs..."))
    stats = {"render_video": len(statuses), "review_page": 1, "total": len(statuses) + 1}
    handler.emit(_record("Job stats: ...", event=LogEvent.RUN_INFO, stats=stats))
    for jobid, status in enumerate(statuses, start=1):
        sidecar = tmp_path / f"sub-{jobid:02d}_T1w.json"
        handler.emit(_record("", event=LogEvent.JOB_INFO, jobid=jobid, rule_name="render_video",
                             output=[f"{sidecar} (update)"], wildcards={"image": sidecar.stem},
                             reason="Missing output files"))  # fmt: skip
        sidecar.write_text(json.dumps({"status": status}))
        handler.emit(_record(None, event=LogEvent.JOB_FINISHED, job_id=jobid))
        handler.emit(_record(None, event=LogEvent.PROGRESS, done=jobid, total=len(statuses) + 1))
    handler.emit(_record("", event=LogEvent.JOB_INFO, jobid=99, rule_name="review_page",
                         output=["index.html"], wildcards={}, reason=""))  # fmt: skip
    handler.emit(_record(None, event=LogEvent.JOB_FINISHED, job_id=99))
    handler.emit(_record("Complete log(s): /out/.snakemake/log/x.snakemake.log"))


def test_plugin_prints_progress_lines_not_job_blocks(monkeypatch, tmp_path):
    stream = io.StringIO()
    handler = _handler(monkeypatch, stream)
    _run(handler, tmp_path, ["rendered", "failed", "rendered"])
    lines = stream.getvalue().splitlines()
    assert lines[0] == "3 images to render, then the page"
    assert lines[-2].startswith("images 3/3 (100%) · 1 failed · took ")
    assert lines[-1] == "Complete log(s): /out/.snakemake/log/x.snakemake.log"
    assert not any("Building DAG" in line or "review_page" in line for line in lines)


def test_plugin_redraws_one_line_on_a_terminal(monkeypatch, tmp_path):
    stream = _Terminal()
    handler = _handler(monkeypatch, stream)
    _run(handler, tmp_path, ["rendered"] * 20)
    text = stream.getvalue()
    assert text.count("\r\x1b[K") >= 20  # the line is redrawn in place for every image
    final = text.split("\r\x1b[K")[-1]
    assert final.startswith("images 20/20 (100%) · 0 failed · took ")


def test_plugin_shows_job_errors_and_counts_them(monkeypatch, tmp_path):
    stream = io.StringIO()
    handler = _handler(monkeypatch, stream)
    handler.emit(_record("", event=LogEvent.RUN_INFO, stats={"render_video": 1}))
    handler.emit(_record("", event=LogEvent.JOB_INFO, jobid=1, rule_name="render_video",
                         output=["x.json"], wildcards={"image": "x"}, reason=""))  # fmt: skip
    handler.emit(_record("Error in rule render_video", logging.ERROR, event=LogEvent.JOB_ERROR,
                         jobid=1, rule_name="render_video", rule_msg=None, input=["x.nii"],
                         output=["x.json"], log=["logs/x.log"], conda_env=None,
                         container_img=None, aux={}, indent=False, shellcmd=None))  # fmt: skip
    printed = stream.getvalue()
    assert "Error in rule render_video" in printed and "logs/x.log" in printed
    assert "images 1/1 (100%) · 1 failed" in printed


def test_dry_run_lists_what_would_render(monkeypatch, tmp_path):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    settings = SimpleNamespace(stdout=True, dryrun=True, show_failed_logs=False)
    handler = LogHandler(settings, None)
    handler.emit(_record("Job stats:\n...", event=LogEvent.RUN_INFO, stats={"render_video": 1}))
    handler.emit(_record("", event=LogEvent.JOB_INFO, jobid=1, rule_name="render_video",
                         output=["o.json"], wildcards={"image": "sub-01/anat/sub-01_T1w"},
                         reason="Missing output files: o.json"))  # fmt: skip
    assert "  would render sub-01/anat/sub-01_T1w  (Missing output files: o.json)" in (
        stream.getvalue()
    )
    assert "images " not in stream.getvalue()
