"""A cluster job's start costs what its own images cost, not what the study costs.

A SLURM job runs ``python -m snakemake --target-jobs ... --mode remote`` on its renders. Here
that command (as the slurm executor writes it, with the job-step executor) runs outside
SLURM on one image of a study, with an audit hook counting what Snakemake's process does to
the dataset: it must list no folder of the dataset (the main process walked it and wrote the
discovery cache) and open no image but its own (its header sizes the job), and what it
renders must be what the main process planned (a dry run afterwards has nothing to do).
No root or SLURM needed: the job step's render is local to the job (``neurovid.cluster``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurovid.testing import phantom

from .job_command import remote_job_command

REPO = Path(__file__).resolve().parents[2]
N_SUBJECTS = 40

#: runs Snakemake's command line in this process with an audit hook that writes, at exit,
#: the folders listed and the files opened under the dataset (argv[1]) and the output
#: folder (argv[2]) to argv[3]
AUDITED_SNAKEMAKE = """
import atexit, json, os, runpy, sys
roots = {"bids": os.path.realpath(sys.argv[1]), "out": os.path.realpath(sys.argv[2])}
report = sys.argv[3]
seen = {f"{kind} {root}": [] for kind in ("scandir", "open") for root in roots}
def hook(event, args):
    if event in ("os.scandir", "os.listdir", "open") and args and args[0] is not None:
        if isinstance(args[0], int):
            return
        path = os.path.realpath(os.fsdecode(args[0]))
        for name, root in roots.items():
            if path == root or path.startswith(root + os.sep):
                kind = "scandir" if event != "open" else "open"
                seen[f"{kind} {name}"].append(os.path.relpath(path, root))
sys.addaudithook(hook)
atexit.register(lambda: open(report, "w").write(json.dumps(seen)))
sys.argv = ["snakemake", *sys.argv[4:]]
runpy.run_module("snakemake", run_name="__main__", alter_sys=True)
"""


def make_study(root: Path) -> list[str]:
    import nibabel as nib

    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text(
        '{"Name": "job start", "BIDSVersion": "1.10.0"}'
    )
    keys = []
    image = nib.Nifti1Image(phantom((20, 24, 18)).astype(np.int16), np.eye(4))
    for s in range(1, N_SUBJECTS + 1):
        key = f"sub-{s:02d}/anat/sub-{s:02d}_T1w"
        (root / key).parent.mkdir(parents=True)
        nib.save(image, root / f"{key}.nii.gz")
        keys.append(key)
    return keys


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_a_cluster_job_reads_only_its_own_images(tmp_path):
    bids, out = tmp_path / "bids", tmp_path / "out"
    keys = make_study(bids)
    config = ["--config", f"bids_dir={bids}", f"output_dir={out}"]
    # the main process of a real run: plans all 40, renders two (the others stay to do)
    first = snakemake(f"{out}/{keys[0]}.json", f"{out}/{keys[1]}.json", "--cores", "2", *config)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (out / ".neurovid" / "discovery.json").is_file()
    target = keys[2]
    report = tmp_path / "audit.json"
    command = remote_job_command(
        sys.executable, REPO / "Snakefile", [target], [f"bids_dir={bids}", f"output_dir={out}"]
    )
    audited = [sys.executable, "-c", AUDITED_SNAKEMAKE, str(bids), str(out), str(report)]
    job = subprocess.run(
        [*audited, *command[3:]], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert job.returncode == 0, job.stderr[-3000:]
    assert "localrule render_video:" in job.stderr  # rendered in the job's own process
    assert json.loads((out / f"{target}.json").read_text())["status"] == "rendered"

    seen = json.loads(report.read_text())
    assert seen["scandir bids"] == [], "a cluster job listed folders of the dataset"
    assert set(seen["open bids"]) <= {f"{target}.nii.gz"}, seen["open bids"]
    # of the study-wide records it reads the discovery the main process planned from, not
    # the memory estimates of every image
    assert ".neurovid/discovery.json" in seen["open out"]
    assert ".neurovid/memory.json" not in seen["open out"], seen["open out"]

    # the job rendered exactly what the main process planned: nothing left to redo
    check = snakemake(*(f"{out}/{k}.json" for k in keys[:3]), "-n", "--cores", "1", *config)
    assert check.returncode == 0, check.stderr[-3000:]
    assert "Nothing to be done" in check.stdout + check.stderr, check.stdout[-3000:]
