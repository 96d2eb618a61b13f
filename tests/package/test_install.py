"""One install, anywhere: the wheel carries the workflow; the installed ``neurovid`` command runs
from any folder with Snakemake's metadata under OUTPUT_DIR; ``snakemake -s`` on the installed
Snakefile works too (issue 13, points 1, 2, 4 and 6)."""

from __future__ import annotations

import zipfile

import pytest

from .conftest import BROKEN_IMAGE, TINY_IMAGES, run, sidecar_of

pytestmark = pytest.mark.slow

WORKFLOW_FILES = [
    "neurovid/workflow_files/Snakefile",
    "neurovid/workflow_files/config/config.yaml",
    "neurovid/workflow_files/config/schema.yaml",
    "neurovid/workflow_files/config/README.md",
    "neurovid/workflow_files/workflow/rules/common.smk",
    "neurovid/workflow_files/workflow/rules/render.smk",
    "neurovid/workflow_files/workflow/scripts/render_video.py",
    "neurovid/workflow_files/workflow/profiles/slurm/config.yaml",
    "neurovid/fonts/DejaVuSans.ttf",
    "neurovid/fonts/LICENSE_DEJAVU",
    "neurovid/templates/review.html",
    "snakemake_logger_plugin_neurovid/__init__.py",
]


def test_wheel_carries_the_workflow_fonts_and_licence(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for name in WORKFLOW_FILES:
        assert name in names, name
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(name for name in names if name.endswith("entry_points.txt")))
        .decode()
    )
    assert "neurovid = neurovid.app:main" in entry_points


def test_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    result = run(
        [installed.python, "-c",
         "import neurovid, neurovid.bundle as b; print(neurovid.__file__, b.workflow_path())"],
        cwd=tmp_path, env=installed.env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    module, snakefile = result.stdout.split()
    assert module.startswith(str(installed.site_packages))
    assert snakefile == str(installed.site_packages / "neurovid/workflow_files/Snakefile")


def test_installed_command_prints_version_and_help(installed, tmp_path):
    version = run([installed.bin / "neurovid", "--version"], cwd=tmp_path, env=installed.env())
    assert version.returncode == 0 and version.stdout.startswith("neurovid ")
    usage = run([installed.bin / "neurovid", "--help"], cwd=tmp_path, env=installed.env())
    assert usage.returncode == 0
    for words in ("BIDS_DIR OUTPUT_DIR {participant,group}", "--participant-label",
                  "--profile", "--dry-run", "exit status"):  # fmt: skip
        assert words in usage.stdout


def test_participant_level_from_another_folder_makes_the_page_and_videos(installed_run):
    result = installed_run.participant
    assert result.returncode == 0, result.stdout + result.stderr
    out = installed_run.out
    assert (out / "index.html").is_file()
    assert (out / "dataset_description.json").is_file()
    for relpath in TINY_IMAGES:
        stem = relpath.removesuffix(".nii.gz")
        assert (out / f"{stem}.mp4").stat().st_size > 1000
        sidecar = sidecar_of(out, stem)
        assert sidecar["status"] == "rendered"
        # the ffmpeg inside the installed imageio-ffmpeg wheel encoded it, and the sidecar says so
        assert sidecar["versions"]["ffmpeg_source"] == "imageio-ffmpeg"
    broken = sidecar_of(out, BROKEN_IMAGE.removesuffix(".nii.gz"))
    assert broken["status"] == "failed"


def test_snakemake_metadata_lands_under_output_dir_not_the_working_folder(installed_run):
    assert (installed_run.out / ".snakemake" / "log").is_dir()
    assert not (installed_run.cwd / ".snakemake").exists()
    assert sorted(p.name for p in installed_run.cwd.iterdir()) == ["derivatives", "study"]


def test_progress_line_replaces_the_job_blocks(installed_run):
    printed = installed_run.participant.stderr
    assert "3 images to render" in printed
    assert "images 3/3 (100%) · 1 failed · took" in printed
    assert "2 rendered, 1 failed" in printed
    # no per-job blocks: Snakemake's rule blocks are in the complete log file only
    assert "localrule render_video" not in printed and "jobid:" not in printed
    first_log = min((installed_run.out / ".snakemake" / "log").glob("*.snakemake.log"))
    assert "localrule render_video" in first_log.read_text()


def test_group_level_rebuilds_the_page_without_rendering(installed_run):
    result = installed_run.group
    assert result.returncode == 0, result.stdout + result.stderr
    assert (installed_run.out / "index.html").is_file()  # rebuilt
    assert "images " not in result.stderr  # no render job ran ...
    videos_after = {p: p.stat().st_mtime_ns for p in installed_run.out.rglob("*.mp4")}
    assert videos_after == installed_run.videos_before_group  # ... and no video changed


def test_snakemake_with_the_installed_snakefile_from_any_folder(installed, tiny_dataset, tmp_path):
    snakefile = installed.site_packages / "neurovid/workflow_files/Snakefile"
    result = run(
        # `python -m snakemake`: the venv's bin/ has no snakemake script (dependencies come
        # from this environment through a .pth file)
        [installed.python, "-m", "snakemake", "-s", snakefile, "-n", "--cores", "1", "--config",
         f"bids_dir={tiny_dataset}", "output_dir=out"],
        cwd=tmp_path, env=installed.env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "render_video" in result.stdout + result.stderr
