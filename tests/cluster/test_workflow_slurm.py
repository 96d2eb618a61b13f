"""The real workflow on the one-node SLURM cluster, run exactly as the README says: one
SLURM job renders all five images, two at a time, in one Snakemake process, and asks SLURM
for the CPUs, memory and time that this work needs (``scontrol show job``)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from neurovid.cluster import job_runtime_min
from neurovid.resources import job_mem_mb
from neurovid.testing import phantom
from neurovid.volume import estimate_memory_bytes

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
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

    # every render ran inside SLURM: one group job for the five renders (50 per job)
    job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", log)))
    assert len(job_ids) == 1, log[-5000:]
    states = slurm_cluster.job_states(job_ids)
    assert set(states.values()) == {"COMPLETED"}, states
    slurm_logs = list((REPO / ".snakemake" / "slurm_logs").rglob(f"{job_ids[0]}.log"))
    assert slurm_logs, "the SLURM job's log is kept"
    job_log = slurm_logs[0].read_text()
    rendered_in_job = set(re.findall(r"wildcards: image=(\S+)", job_log))
    assert rendered_in_job == {relpath.removesuffix(".nii.gz") for relpath in IMAGES}

    # ... by one Snakemake process (no srun step starting Snakemake again per render),
    # two renders at a time (the job's CPUs)
    assert job_log.count("Building DAG of jobs") == 1, job_log
    assert "srun" not in job_log, job_log
    assert most_at_once(job_log) == CORES, job_log

    # ... and the job asked for what that work needs
    job = scontrol_show_job(slurm_cluster, job_ids[0])
    assert int(job["NumCPUs"]) == CORES
    needed = [estimate_memory_bytes(bids / relpath) for relpath in IMAGES]
    side_by_side = sorted((job_mem_mb(n) for n in needed), reverse=True)[:CORES]
    assert memory_mb(job["MinMemoryNode"]) == sum(side_by_side), job
    one_after_another = math.ceil(len(IMAGES) / CORES)  # renders of one minute each
    assert all(job_runtime_min(n) == 1 for n in needed)
    assert minutes(job["TimeLimit"]) == one_after_another, job

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


def profile_cores() -> int:
    match = re.search(r"^cores: (\d+)", PROFILE.read_text(), re.MULTILINE)
    assert match, "the SLURM profile sets cores (CPUs per job)"
    return int(match.group(1))


#: renders side by side in a SLURM job: the profile's cores (the node has 2 CPUs)
CORES = profile_cores()


def most_at_once(job_log: str) -> int:
    """Most renders running at the same time, from the job's Snakemake log."""
    running = most = 0
    for line in job_log.splitlines():
        if line.strip() == "localrule render_video:":
            running += 1
            most = max(most, running)
        elif re.match(r"Finished jobid: \d+ \(Rule: render_video\)", line.strip()):
            running -= 1
    return most


def scontrol_show_job(cluster, job_id: str) -> dict[str, str]:
    """The fields of ``scontrol show job`` (finished jobs stay for MinJobAge=300 s)."""
    result = cluster.run("scontrol", "show", "job", job_id)
    assert result.returncode == 0, result.stderr
    return dict(re.findall(r"(\w[\w/:]*)=(\S*)", result.stdout))


def memory_mb(text: str) -> int:
    """``608M`` or ``2G`` (scontrol's memory) in MB."""
    number, unit = float(text[:-1]), text[-1]
    return round(number * {"M": 1, "G": 1024, "T": 1024**2}[unit])


def minutes(text: str) -> int:
    """``[days-]hours:minutes:seconds`` (scontrol's TimeLimit) in minutes."""
    days, _, clock = text.rpartition("-")
    hours, mins, secs = (int(x) for x in clock.split(":"))
    return (int(days or 0) * 24 + hours) * 60 + mins + math.ceil(secs / 60)
