"""Bad input never stops a study; interrupted runs leave nothing half-written; reruns are
incremental (issue 5). Everything runs through the real workflow."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import imageio_ffmpeg
import numpy as np
import pytest
from repo_copy import shared_copy

from conftest import make_bids, write_image
from neurovid.testing import build_bad_input_dataset, phantom

pytestmark = pytest.mark.slow


def snakemake(*args, timeout=900):
    # from a copy of the workflow, so that reruns see the rendering code of the first run
    repo, env = shared_copy()
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *map(str, args)],
        cwd=repo, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """The bad-input corpus (every case of issue 5 plus good images), run once."""
    root = tmp_path_factory.mktemp("corpus")
    bids, out = root / "bids", root / "out"
    expected = build_bad_input_dataset(bids)
    result = snakemake("--cores", 2, "--config", f"bids_dir={bids}", f"output_dir={out}")
    return expected, bids, out, result


def test_every_good_image_renders_and_every_bad_one_fails_with_its_reason(corpus_run):
    expected, _, out, result = corpus_run
    assert result.returncode == 0, result.stderr[-3000:]
    good = [k for k, e in expected.items() if e.ok]
    bad = [k for k, e in expected.items() if not e.ok]
    assert len(good) >= 5 and len(bad) >= 20
    line = f"{len(good)} rendered, {len(bad)} failed (see {out}/index.html)"
    assert line in result.stderr
    for relpath, want in expected.items():
        stem = re.sub(r"\.nii(\.gz)?$", "", relpath)
        sidecar = json.loads((out / f"{stem}.json").read_text())
        log = (out / sidecar["log"]).read_text()
        if want.ok:
            assert sidecar["status"] == "rendered", (relpath, sidecar["error"])
            assert (out / f"{stem}.mp4").stat().st_size > 0
            if want.text:
                assert any(want.text in w for w in sidecar["warnings"]), relpath
                assert want.text in log
        else:
            assert sidecar["status"] == "failed", relpath
            error = sidecar["error"]
            assert error.startswith(f"{relpath}: ") and want.text in error, (relpath, error)
            assert "\n" not in error and "Traceback" not in log
            assert error in log
            assert not (out / f"{stem}.mp4").exists() and not (out / f"{stem}.png").exists()


def test_failed_images_are_on_the_review_page(corpus_run):
    expected, _, out, _ = corpus_run
    html = (out / "index.html").read_text()
    for relpath, want in expected.items():
        if not want.ok:
            # the reason is embedded (JSON-escaped, never raw HTML) for its failed card
            reason = json.dumps(want.text, ensure_ascii=False)[1:-1]
            reason = reason.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            assert reason in html, relpath


def test_4d_image_shows_its_first_volume_and_says_so(corpus_run):
    _, _, out, _ = corpus_run
    sidecar = json.loads((out / "sub-fourd/anat/sub-fourd_T1w.json").read_text())
    assert sidecar["image"]["n_volumes"] == 3
    assert sidecar["warnings"] == ["4D image with 3 volumes: showing volume 1 of 3"]
    nan = json.loads((out / "sub-nan/anat/sub-nan_T1w.json").read_text())
    assert nan["image"]["nonfinite_voxels"] > 0


def test_strict_mode_fails_the_run_but_keeps_the_page(corpus_run):
    _, bids, out, _ = corpus_run
    result = snakemake("--cores", 2, "--config", f"bids_dir={bids}", f"output_dir={out}",
                       "strict=true")  # fmt: skip
    assert result.returncode != 0
    assert "strict:" in result.stderr and "images failed (see index.html)" in result.stderr
    assert (out / "index.html").is_file()
    # no image was rendered again for it
    assert "rule render_video" not in result.stdout + result.stderr


def test_strict_mode_passes_a_clean_study(tmp_path):
    bids = make_bids(tmp_path / "bids", ["sub-01/anat/sub-01_T1w.nii.gz"])
    result = snakemake("--cores", 1, "--config", f"bids_dir={bids}",
                       f"output_dir={tmp_path / 'out'}", "strict=true")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 rendered, 0 failed" in result.stderr


def planned(args) -> list[str]:
    result = snakemake("-n", *args)
    assert result.returncode == 0, result.stderr
    return sorted(re.findall(r"wildcards: image=(\S+)", result.stdout + result.stderr))


def test_reruns_are_incremental(tmp_path):
    bids = make_bids(tmp_path / "bids", ["sub-01/anat/sub-01_T1w.nii.gz",
                                         "sub-02/anat/sub-02_T1w.nii.gz"])  # fmt: skip
    args = ["--cores", 2, "--config", f"bids_dir={bids}", f"output_dir={tmp_path / 'out'}"]
    assert snakemake(*args).returncode == 0
    assert "Nothing to be done" in snakemake("-n", *args).stdout
    # a subject added: only it renders, and the page is rebuilt
    make_bids(bids, ["sub-03/anat/sub-03_T1w.nii.gz"])
    assert planned(args) == ["sub-03/anat/sub-03_T1w"]
    dry = snakemake("-n", *args)
    assert "review_page" in dry.stdout
    assert snakemake(*args).returncode == 0
    assert "sub-03" in (tmp_path / "out" / "index.html").read_text()
    # a file replaced: that video re-renders
    time.sleep(1.1)
    replaced = bids / "sub-01/anat/sub-01_T1w.nii.gz"
    write_image(replaced, phantom((20, 24, 18))[::-1].copy(), np.eye(4), np.int16)
    assert planned(args) == ["sub-01/anat/sub-01_T1w"]


def test_killed_mid_encode_then_rerun_gives_complete_outputs_and_no_leftovers(tmp_path):
    bids = tmp_path / "bids"
    # big enough that the encode takes a while
    write_image(bids / "sub-01/anat/sub-01_T1w.nii.gz", phantom((160, 200, 170)),
                np.eye(4), np.int16)  # fmt: skip
    make_bids(bids, ["sub-02/anat/sub-02_T1w.nii.gz"])
    out = tmp_path / "out"
    args = ["--cores", 1, "--config", f"bids_dir={bids}", f"output_dir={out}"]
    repo, env = shared_copy()
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *map(str, args)], cwd=repo, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    anat = out / "sub-01" / "anat"
    deadline = time.monotonic() + 120
    while not list(anat.glob(".sub-01_T1w.mp4.*.partial")):
        assert process.poll() is None and time.monotonic() < deadline, "no encode seen"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the whole run dies at once, mid-encode
    process.wait()
    assert not (anat / "sub-01_T1w.mp4").exists()
    assert not (anat / "sub-01_T1w.json").exists()  # nothing a rerun would take as done

    # as after a power loss: Snakemake's own lock must be lifted, then the run resumes
    assert snakemake("--unlock", *args).returncode == 0
    rerun = snakemake(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    sidecar = json.loads((anat / "sub-01_T1w.json").read_text())
    assert sidecar["status"] == "rendered"
    # complete: every frame the sidecar promises decodes (the sweep may skip empty slices)
    reader = imageio_ffmpeg.read_frames(str(anat / "sub-01_T1w.mp4"), pix_fmt="gray", bpp=1)
    next(reader)
    assert sum(1 for _ in reader) == sidecar["video"]["frame_count"] > 100
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".partial")]
    assert leftovers == []
