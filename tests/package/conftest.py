"""Fixtures of the package tests: a wheel built from the checkout, installed into a fresh venv
without network, and one run of the installed ``neurovid`` command on a tiny dataset.

The venv gets its dependencies through a ``.pth`` line naming this environment's
site-packages (plain path lines add a folder to ``sys.path`` but run none of the ``.pth``
files inside it, so the checkout's editable install stays invisible), and the wheel is
installed with ``pip --no-deps --no-index``: nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, make_bids

#: the tiny dataset: two good images and one that cannot be read (a failed card)
TINY_IMAGES = ["sub-01/anat/sub-01_T1w.nii.gz", "sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz"]
BROKEN_IMAGE = "sub-03/anat/sub-03_T1w.nii.gz"


def run(command, *, cwd, timeout=600, env=None) -> subprocess.CompletedProcess:
    """Run ``command`` (no shell) and return what it printed; a hang fails the test."""
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sidecar_of(out: Path, stem: str) -> dict:
    """The sidecar of the image ``stem`` (``<stem>.neurovid.json``; ``<stem>.json`` before)."""
    for suffix in (".neurovid.json", ".json"):
        if (out / f"{stem}{suffix}").is_file():
            return json.loads((out / f"{stem}{suffix}").read_text())
    raise AssertionError(f"no sidecar for {stem} in {out}")


def make_tiny_dataset(root: Path) -> Path:
    """A BIDS dataset of small phantoms, plus one text file named like a T1w image."""
    bids = make_bids(root, TINY_IMAGES, shape=(16, 20, 14))
    broken = bids / BROKEN_IMAGE
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("not an image\n")
    return bids


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "bids")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from the checkout (the build backend comes from this environment)."""
    folder = tmp_path_factory.mktemp("wheel")
    result = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", folder, REPO],
        cwd=folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = folder.glob("neurovid-*.whl")
    return built


@dataclass
class Venv:
    root: Path
    python: Path
    bin: Path
    site_packages: Path

    def env(self) -> dict[str, str]:
        """Environment of a user who activated the venv (and nothing of ours)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        return env


@pytest.fixture(scope="session")
def installed(tmp_path_factory, wheel) -> Venv:
    """A fresh venv with the wheel installed (dependencies from this environment, offline)."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    purelib = run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root
    ).stdout.strip()
    site_packages = Path(purelib)
    (site_packages / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "--no-cache-dir", wheel],
        cwd=root,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return Venv(root=root, python=python, bin=root / "bin", site_packages=site_packages)


@dataclass
class InstalledRun:
    cwd: Path
    bids: Path
    out: Path
    participant: subprocess.CompletedProcess
    group: subprocess.CompletedProcess
    #: modification times (ns) of the videos before the group level ran
    videos_before_group: dict[Path, int]


@pytest.fixture(scope="session")
def installed_run(tmp_path_factory, installed, tiny_dataset) -> InstalledRun:
    """``neurovid BIDS OUT participant`` then, without the page, ``... group``: the installed
    command, run in an unrelated working folder with relative paths."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    bids = cwd / "study"
    os.symlink(tiny_dataset, bids)
    neurovid = installed.bin / "neurovid"
    env = installed.env()
    participant = run(
        [neurovid, "study", "derivatives/neurovid", "participant", "--cores", "2"],
        cwd=cwd,
        env=env,
    )
    out = cwd / "derivatives" / "neurovid"
    videos_before = {path: path.stat().st_mtime_ns for path in out.rglob("*.mp4")}
    (out / "index.html").unlink(missing_ok=True)
    group = run([neurovid, "study", "derivatives/neurovid", "group"], cwd=cwd, env=env)
    return InstalledRun(
        cwd=cwd,
        bids=bids,
        out=out,
        participant=participant,
        group=group,
        videos_before_group=videos_before,
    )
