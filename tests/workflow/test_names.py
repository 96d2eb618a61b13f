"""Paths of any legal form work as bids_dir and output_dir: Snakemake reads "{x}" as a
wildcard and "<word>" as a path variable, a shell or glob would read the rest; each is
planned through the real workflow (a full run on all of them at once is in
test_messy_study.py). Image file names that are not BIDS names are listed as not rendered
(tests/unit/test_discovery.py)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO, make_bids

ODD_FOLDERS = [
    "{x}",
    "{{x}}",
    "${x}",
    "<word>",
    "<results>",
    "*?[ab]",
    'it\'s "quoted"',
    "two  spaces\tand a tab",
    "é字 ünïcode",
    "l" * 250,
]


@pytest.mark.parametrize("odd", ODD_FOLDERS, ids=lambda odd: odd[:12])
def test_odd_bids_dir_and_output_dir_plan_every_image(tmp_path, odd):
    images = ["sub-01/anat/sub-01_T1w.nii.gz", "sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz"]
    bids = make_bids(tmp_path / odd / "bids", images)
    out = tmp_path / odd / "out" / odd
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1",
         "--config", f"bids_dir={bids}", f"output_dir={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    planned = sorted(re.findall(r"wildcards: image=(\S+)", result.stdout))
    assert planned == ["sub-01/anat/sub-01_T1w", "sub-02/ses-1/anat/sub-02_ses-1_T1w"]
    assert not out.exists()  # a dry run writes nothing
