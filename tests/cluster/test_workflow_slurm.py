"""The real workflow on the one-node SLURM cluster, run exactly as the README says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from neurovid.testing import phantom

REPO = Path(__file__).resolve().parents[2]
IMAGES = [
    "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz",
    "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz",
    "sub-02/anat/sub-02_run-1_T1w.nii.gz",
    "sub-02/anat/sub-02_run-2_T1w.nii.gz",
    "sub-03/anat/sub-03_T1w.nii.gz",
]


def make_dataset(root: Path) -> Path:
    import nibabel as nib

    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "slurm", "BIDSVersion": "1.10.0"}')
    for relpath in IMAGES:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        nib.save(
            nib.Nifti1Image(phantom((20, 24, 18)).astype(np.int16), np.eye(4)), root / relpath
        )
    return root


@pytest.mark.cluster
def test_workflow_renders_as_slurm_jobs(slurm_cluster, tmp_path):
    bids = make_dataset(tmp_path / "bids")
    out = tmp_path / "out"
    # the README's cluster command; the two status-check options only make the test quicker
    command = [
        "timeout", "-k", "10", "600",
        sys.executable, "-m", "snakemake",
        "--workflow-profile", "workflow/profiles/slurm", "--executor", "slurm",
        "--slurm-init-seconds-before-status-checks", "5", "--seconds-between-status-checks", "5",
        "--config", f"bids_dir={bids}", f"output_dir={out}",
    ]  # fmt: skip
    env = dict(slurm_cluster.env)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert f"{len(IMAGES)} rendered, 0 failed" in log

    # every render ran inside SLURM: one group job for the five renders (20 per job)
    job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", log)))
    assert len(job_ids) == 1, log[-5000:]
    states = slurm_cluster.job_states(job_ids)
    assert set(states.values()) == {"COMPLETED"}, states
    slurm_logs = list((REPO / ".snakemake" / "slurm_logs").rglob(f"{job_ids[0]}.log"))
    assert slurm_logs, "the SLURM job's log is kept"
    job_log = slurm_logs[0].read_text()
    rendered_in_job = set(re.findall(r"wildcards: image=(\S+)", job_log))
    assert rendered_in_job == {relpath.removesuffix(".nii.gz") for relpath in IMAGES}

    html = (out / "index.html").read_text()
    for relpath in IMAGES:
        stem = relpath.removesuffix(".nii.gz")
        sidecar = json.loads((out / f"{stem}.json").read_text())
        assert sidecar["status"] == "rendered"
        reader = imageio_ffmpeg.read_frames(str(out / f"{stem}.mp4"), pix_fmt="gray", bpp=1)
        meta = next(reader)
        assert meta["codec"] == "h264"
        assert sum(1 for _ in reader) == sidecar["video"]["frame_count"] == 24
        assert f"{stem}.mp4" in html
