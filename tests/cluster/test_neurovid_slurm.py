"""``neurovid BIDS OUT participant --profile slurm``: the BIDS-App command on the one-node SLURM
cluster, started from an unrelated folder (issue 13: --profile slurm reaches the workflow)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .test_workflow_slurm import IMAGES, make_dataset


@pytest.mark.cluster
def test_neurovid_command_renders_as_slurm_jobs(slurm_cluster, tmp_path):
    bids = make_dataset(tmp_path / "bids")
    out = tmp_path / "derivatives" / "neurovid"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = [
        "timeout", "-k", "10", "600",
        sys.executable, "-m", "neurovid.app", bids, out, "participant", "--profile", "slurm",
        "--", "--slurm-init-seconds-before-status-checks", "5",
        "--seconds-between-status-checks", "5",
    ]  # fmt: skip
    env = dict(slurm_cluster.env)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(
        [str(part) for part in command], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert f"images {len(IMAGES)}/{len(IMAGES)} (100%) · 0 failed" in log
    job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", log)))
    assert len(job_ids) == 1, log[-5000:]  # the profile packs the five renders in one job
    assert set(slurm_cluster.job_states(job_ids).values()) == {"COMPLETED"}
    # Snakemake's metadata and the SLURM logs are under OUTPUT_DIR, not where we started
    assert list((out / ".snakemake" / "slurm_logs").rglob(f"{job_ids[0]}.log"))
    assert list(elsewhere.iterdir()) == []
    for relpath in IMAGES:
        stem = relpath.removesuffix(".nii.gz")
        sidecar = next(out.glob(f"{stem}*.json"))
        assert json.loads(sidecar.read_text())["status"] == "rendered"
    assert (out / "index.html").is_file()
