"""What re-renders an image and what does not (README "What triggers a re-render").

Each test runs the real workflow from its own copy of the repository (``repo_copy``), so
that a test can edit the rendering code for real, and so that nothing another process
changes in the checkout can change a fingerprint mid-test. Every run has a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from repo_copy import copy_repo

from conftest import make_bids, write_image
from neurovid.testing import phantom

pytestmark = pytest.mark.slow

IMAGE = "sub-01/anat/sub-01_T1w"
OTHER = "sub-02/anat/sub-02_T1w"


class Study:
    """A repository copy, a two-image dataset and an output folder, and how to run them."""

    def __init__(self, root: Path) -> None:
        self.repo, self.env = copy_repo(root / "repo")
        self.bids = make_bids(root / "bids", [f"{IMAGE}.nii.gz", f"{OTHER}.nii.gz"])
        self.out = root / "out"

    def run(self, *args, dry=False, config=(), timeout=600) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "snakemake", "--cores", "2"]
        command += ["-n"] if dry else []
        command += ["--config", f"bids_dir={self.bids}", f"output_dir={self.out}", *config]
        result = subprocess.run(
            [*command, *map(str, args)], cwd=self.repo, env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    def planned(self, *args, **kwargs) -> list[str]:
        """The images a dry run would render."""
        text = self.run(*args, dry=True, **kwargs).stdout
        return sorted(
            line.split("image=", 1)[1].strip()
            for line in text.splitlines()
            if "wildcards: image=" in line
        )

    def log(self, key: str = IMAGE) -> str:
        return (self.out / "logs" / "render" / f"{key}.log").read_text()

    def sidecar(self, key: str = IMAGE) -> dict:
        return json.loads((self.out / f"{key}.json").read_text())

    def video_identity(self, key: str = IMAGE) -> tuple[int, int, bytes]:
        video = self.out / f"{key}.mp4"
        info = video.stat()
        return info.st_ino, info.st_mtime_ns, video.read_bytes()

    def input(self, key: str = IMAGE) -> Path:
        return self.bids / f"{key}.nii.gz"


@pytest.fixture
def study(tmp_path) -> Study:
    rendered = Study(tmp_path)
    rendered.run()
    assert rendered.sidecar()["status"] == "rendered"
    assert "Nothing to be done" in rendered.run(dry=True).stdout
    return rendered


def different_image(path: Path) -> None:
    write_image(path, phantom((20, 24, 18))[::-1].copy(), np.eye(4), np.int16)


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# Triggers
# --------------------------------------------------------------------------------------------


def test_replaced_with_older_mtime(study, tmp_path):
    """``cp -p`` of another scan over the input: older mtime, yet it re-renders."""
    replacement = tmp_path / "older.nii.gz"
    different_image(replacement)
    old = time.time() - 10 * 24 * 3600
    os.utime(replacement, (old, old))
    subprocess.run(["cp", "-p", replacement, study.input()], check=True)
    assert study.input().stat().st_mtime < (study.out / f"{IMAGE}.json").stat().st_mtime
    assert study.planned() == [IMAGE]
    study.run()
    assert study.sidecar()["input"]["sha256"] == sha256(study.input())
    assert study.log().startswith("rendered ")
    assert "Nothing to be done" in study.run(dry=True).stdout


def test_replaced_in_place_same_size_and_mtime(study):
    """Same size, same inode, mtime set back: only the ctime tells, and it does."""
    path = study.input()
    info = path.stat()
    content = bytearray(path.read_bytes())
    content[-30] ^= 0xFF  # a voxel's byte inside the gzip stream: another file, same size
    with open(path, "r+b") as stream:
        stream.write(bytes(content))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size and path.stat().st_ino == info.st_ino
    assert study.planned() == [IMAGE]


def test_render_option_change(study, tmp_path):
    configfile = tmp_path / "fps.yaml"
    configfile.write_text("render:\n  fps: 10\n")
    assert study.planned("--configfile", configfile) == [IMAGE, OTHER]
    study.run("--configfile", configfile)
    assert study.sidecar()["render"]["fps"] == 10 and study.sidecar(OTHER)["render"]["fps"] == 10
    assert study.log().startswith("rendered ")


def test_rendering_code_change(study):
    """A comment added to the frame code (a copy of it) re-renders every image."""
    before = study.sidecar()["fingerprint"]
    frames = study.repo / "src" / "neurovid" / "frames.py"
    frames.write_text(frames.read_text() + "\n# a bug fix would go here\n")
    assert study.planned() == [IMAGE, OTHER]
    study.run()
    assert study.sidecar()["fingerprint"] != before
    assert study.log().startswith("rendered ")


def test_ffmpeg_change(study, tmp_path):
    """Another ffmpeg build (IMAGEIO_FFMPEG_EXE) re-renders every image."""
    import imageio_ffmpeg

    real = imageio_ffmpeg.get_ffmpeg_exe()
    other = tmp_path / "ffmpeg"
    other.write_text(
        "#!/bin/sh\n"
        'case "$*" in *-version*) echo "ffmpeg version 99.0-other-build"; exit 0;; esac\n'
        f'exec "{real}" "$@"\n'
    )
    other.chmod(0o755)
    study.env["IMAGEIO_FFMPEG_EXE"] = str(other)
    assert study.planned() == [IMAGE, OTHER]


@pytest.mark.parametrize("suffix", [".mp4", ".png"])
def test_deleted_video_or_poster_is_remade_once(study, suffix):
    (study.out / f"{IMAGE}{suffix}").unlink()
    dry = study.run(dry=True)
    assert f"note: {IMAGE}: its MP4 or poster is missing" in dry.stderr
    assert not (study.out / ".neurovid" / "stale").exists()  # a dry run writes nothing
    result = study.run()
    assert f"re-rendering {IMAGE}: its MP4 or poster is missing" in result.stderr
    assert (study.out / f"{IMAGE}{suffix}").is_file() and study.sidecar()["status"] == "rendered"
    assert "Nothing to be done" in study.run(dry=True).stdout


def test_deleted_sidecar_is_remade(study):
    (study.out / f"{IMAGE}.json").unlink()
    assert study.planned() == [IMAGE]
    study.run()
    assert study.sidecar()["status"] == "rendered"
    assert "Nothing to be done" in study.run(dry=True).stdout


# --------------------------------------------------------------------------------------------
# Non-triggers
# --------------------------------------------------------------------------------------------


def test_touch_does_not_re_render(study):
    """A touch changes the stat signature: the job runs, finds the same bytes, keeps the
    video (not re-encoded, not rewritten), and the next run has nothing to do."""
    video = study.video_identity()
    os.utime(study.input())
    study.run()
    assert study.log().startswith("unchanged ")
    assert study.video_identity() == video
    assert "Nothing to be done" in study.run(dry=True).stdout


def test_same_bytes_copied_over_do_not_re_render(study, tmp_path):
    """``rsync -a``-like: a new file (new inode) with the same bytes."""
    video = study.video_identity()
    copy = tmp_path / "copy.nii.gz"
    shutil.copy2(study.input(), copy)
    os.replace(copy, study.input())
    study.run()
    assert study.log().startswith("unchanged ") and study.video_identity() == video


def test_entry_script_touched_does_not_re_render(study):
    """A fresh clone or a checkout gives the scripts new mtimes: nothing re-renders (the
    render rule runs ``neurovid.render_job``: its content, not its mtime, is in the
    render fingerprint)."""
    os.utime(study.repo / "workflow" / "scripts" / "render_video.py")
    os.utime(study.repo / "src" / "neurovid" / "render_job.py")
    os.utime(study.repo / "workflow" / "rules" / "render.smk")
    assert study.planned() == []


def test_page_code_change_does_not_re_render(study):
    for name in ("report.py", "discovery.py", "config.py", "templates/review.html"):
        path = study.repo / "src" / "neurovid" / name
        path.write_text(path.read_text() + ("\n# edited\n" if name.endswith(".py") else "\n"))
    assert study.planned() == []


def test_same_dataset_by_another_path_does_not_re_render(study, tmp_path):
    link = tmp_path / "elsewhere"
    link.symlink_to(study.bids)
    study.bids = link
    assert study.planned() == []


def test_a_filtered_run_renders_nothing_else_and_the_page_keeps_everything(study):
    result = study.run(config=["participant_label=[02]"])
    assert "render_video" not in result.stdout + result.stderr
    page = (study.out / "index.html").read_text()
    assert "sub-01_T1w.mp4" in page and "sub-02_T1w.mp4" in page
    record = json.loads((study.out / ".neurovid" / "last_run.json").read_text())
    assert record["selection"]["participant_label"] == ["02"]
    summary = json.loads((study.out / "logs" / "summary.json").read_text())
    assert summary["images"] == 2
