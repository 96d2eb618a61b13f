"""The output folder is the study's one record: targeted runs end cleanly, dry runs write
nothing, and one run at a time writes to an output folder, from whatever working folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, make_bids, write_image
from neurovid.testing import phantom

pytestmark = pytest.mark.slow


def snakemake(*args, cwd=REPO, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", REPO / "Snakefile", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def bids(tmp_path) -> Path:
    return make_bids(tmp_path / "bids", ["sub-01/anat/sub-01_T1w.nii.gz",
                                         "sub-02/anat/sub-02_T1w.nii.gz"])  # fmt: skip


def test_a_dry_run_writes_nothing(bids, tmp_path):
    out = tmp_path / "out"
    args = ["--cores", 1, "--config", f"bids_dir={bids}", f"output_dir={out}"]
    dry = snakemake("-n", *args)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert not out.exists()  # no discovery or memory cache, no lock, no folder
    assert snakemake(*args).returncode == 0
    before = snapshot(out)
    (out / "sub-01/anat/sub-01_T1w.mp4").unlink()
    del before["sub-01/anat/sub-01_T1w.mp4"]
    (bids / "sub-03/anat").mkdir(parents=True)
    (bids / "sub-03/anat/sub-03_T1w.nii.gz").write_bytes(
        (bids / "sub-01/anat/sub-01_T1w.nii.gz").read_bytes()
    )
    dry = snakemake("-n", *args)
    assert dry.returncode == 0 and "sub-03" in dry.stdout
    assert snapshot(out) == before


def test_a_targeted_run_ends_cleanly(bids, tmp_path):
    out = tmp_path / "out"
    target = out / "sub-02/anat/sub-02_T1w.json"
    result = snakemake(target, "--cores", 1, "--config", f"bids_dir={bids}", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "FileNotFoundError" not in result.stderr
    assert f"the review page {out / 'index.html'} was not rebuilt in this run" in result.stderr
    assert json.loads(target.read_text())["status"] == "rendered"
    assert not (out / "sub-01").exists()
    # the full run then renders the rest and builds the page with both
    full = snakemake("--cores", 1, "--config", f"bids_dir={bids}", f"output_dir={out}")
    assert "2 rendered, 0 failed" in full.stderr


def test_a_second_run_on_the_same_output_from_another_folder_is_refused(tmp_path):
    bids = tmp_path / "bids"
    # big enough that the first run is still encoding when the second starts
    write_image(bids / "sub-01/anat/sub-01_T1w.nii.gz", phantom((160, 200, 170)),
                np.eye(4), np.int16)  # fmt: skip
    make_bids(bids, ["sub-02/anat/sub-02_T1w.nii.gz"])
    out = tmp_path / "out"
    first_folder, second_folder = tmp_path / "a", tmp_path / "b"
    first_folder.mkdir()
    second_folder.mkdir()
    args = ["--cores", 1, "--config", f"bids_dir={bids}", f"output_dir={out}"]
    first = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "-s", REPO / "Snakefile", *map(str, args)],
        cwd=first_folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        lock = out / ".neurovid" / "lock"
        while not (lock.is_file() and lock.stat().st_size):
            assert first.poll() is None and time.monotonic() < deadline, "first run never locked"
            time.sleep(0.1)
        second = snakemake(*args, cwd=second_folder)
        assert second.returncode != 0
        lines = [line for line in second.stderr.splitlines() if "error" in line.lower()]
        assert len(lines) == 1, second.stderr
        assert f"error: another neurovid run is writing to {out} (pid {first.pid} " in lines[0]
        assert f"from {first_folder})" in lines[0]
        # a dry run is not refused: it writes nothing, and says a run is going on
        dry = snakemake("-n", *args, cwd=second_folder)
        assert dry.returncode == 0 and f"note: a run is writing to {out} now" in dry.stderr
    finally:
        _, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr[-2000:]
    # the lock ends with the run that held it
    after = snakemake(*args, cwd=second_folder)
    assert after.returncode == 0 and "Nothing to be done" in after.stdout + after.stderr
    assert os.path.exists(out / "index.html")
