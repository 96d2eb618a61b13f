"""Shared fixtures. In CI (``CI`` set) a skipped test counts as a failure: CI installs
everything the browser and SLURM tests need, so a skip there means something is broken."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from neurovid.testing import CHROMIUM, CHROMIUM_ARGS, phantom

REPO = Path(__file__).resolve().parents[1]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"


def write_image(path: Path, data: np.ndarray, affine: np.ndarray, dtype=None, slope=None) -> Path:
    """Save ``data`` as NIfTI at ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if dtype is not None:
        data = data.astype(dtype)
    image = nib.Nifti1Image(data, affine)
    if slope is not None:
        image.header.set_slope_inter(slope, 0)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, path)
    return path


def make_bids(root: Path, relpaths, shape=(20, 24, 18), voxel_mm=(1.0, 1.0, 1.0)) -> Path:
    """A BIDS dataset with a small phantom at each relative path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text('{"Name": "test", "BIDSVersion": "1.10.0"}')
    affine = np.diag([*voxel_mm, 1.0])
    for relpath in relpaths:
        write_image(root / relpath, phantom(shape), affine, dtype=np.int16)
    return root


@pytest.fixture
def tiny_bids(tmp_path) -> Path:
    """Sessions, runs, an acquisition, a derivatives/ folder and a func file."""
    return make_bids(
        tmp_path / "bids",
        [
            "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz",
            "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz",
            "sub-02/anat/sub-02_run-1_T1w.nii.gz",
            "sub-02/anat/sub-02_run-2_T1w.nii",
            "sub-03/anat/sub-03_acq-fast_T1w.nii.gz",
            "sub-03/anat/sub-03_T2w.nii.gz",
            "sub-03/func/sub-03_task-rest_bold.nii.gz",
            "derivatives/prep/sub-01/anat/sub-01_desc-preproc_T1w.nii.gz",
            "sourcedata/sub-01/anat/sub-01_T1w.nii.gz",
            "code/sub-01_T1w.nii.gz",
        ],
    )


# --------------------------------------------------------------------------------------------
# Chromium, shared by every test folder: Playwright's sync API allows one instance per thread,
# so a second ``sync_playwright()`` while the session's is open fails.
# --------------------------------------------------------------------------------------------


def browser_unavailable(reason: str) -> None:
    """Skip (locally) or fail (under CI) when the browser stack is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so browser tests must not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("playwright is not installed")
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Any) -> Iterator[Any]:
    b = playwright_instance.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield b
    b.close()
