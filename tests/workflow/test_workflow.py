"""The Snakemake workflow on generated BIDS datasets: dry-runs, filters, errors, end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest
from repo_copy import shared_copy

from conftest import REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
EXPECTED_KEYS = [
    "sub-01/ses-1/anat/sub-01_ses-1_T1w",
    "sub-01/ses-2/anat/sub-01_ses-2_T1w",
    "sub-02/anat/sub-02_run-1_T1w",
    "sub-02/anat/sub-02_run-2_T1w",
    "sub-03/anat/sub-03_acq-fast_T1w",
]


def snakemake(*args, cwd=REPO, env=None, timeout=600):
    return subprocess.run(
        [*SNAKEMAKE, *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def planned_images(result) -> list[str]:
    """The ``image`` wildcard of every render job a dry-run plans."""
    assert result.returncode == 0, result.stderr + result.stdout
    text = result.stdout + result.stderr
    return sorted(re.findall(r"wildcards: image=(\S+)", text))


def test_dry_run_plans_one_job_per_raw_t1w(tiny_bids, tmp_path):
    result = snakemake("-n", "--cores", 1, "--config", f"bids_dir={tiny_bids}",
                       f"output_dir={tmp_path / 'out'}")  # fmt: skip
    assert planned_images(result) == EXPECTED_KEYS
    text = result.stdout + result.stderr
    assert re.search(r"render_video\s+5\b", text)
    assert re.search(r"review_page\s+1\b", text)
    assert "derivatives" not in "".join(re.findall(r"wildcards: .*", text))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (["participant_label=[sub-01]"], EXPECTED_KEYS[:2]),
        (["participant_label=['02','03']"], EXPECTED_KEYS[2:]),
        (["exclude_participant_label=[01]"], EXPECTED_KEYS[2:]),
        (["session_label=[2]"], EXPECTED_KEYS[1:2]),
        (["suffixes=[T1w,T2w]", "participant_label=[03]"],
         [EXPECTED_KEYS[4], "sub-03/anat/sub-03_T2w"]),
    ],
)  # fmt: skip
def test_dry_run_filters(tiny_bids, tmp_path, config, expected):
    result = snakemake("-n", "--cores", 1, "--config", f"bids_dir={tiny_bids}",
                       f"output_dir={tmp_path / 'out'}", *config)  # fmt: skip
    assert planned_images(result) == sorted(expected)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (["bids_dri=x"], "config error: unknown key 'bids_dri'"),
        (["strict=maybe"], "config error: 'strict': 'maybe' is not of type 'boolean'"),
        (["bids_dir=/nonexistent/study"], "bids_dir '/nonexistent/study' does not exist"),
        (["participant_label=[99]"], "config error: participant_label '99' matches no "
         "participant with T1w images (the participants with T1w images: 01, 02, 03)"),
        (["session_label=[9]"], "config error: session_label '9' matches no session with "
         "T1w images (the sessions with T1w images: 1, 2)"),
        (["participant_label=01"], "config error: participant_label holds the number 1, "
         "not labels"),
        (["output_dir={bids}/sub-01/qc"], "inside the raw data folder 'sub-01'"),
        (["bids_dir={bids}/sub-02/anat"], "is inside the subject folder sub-02/ of a "
         "dataset; pass the dataset root: bids_dir={bids}"),
        (["bids_dir={bids}/.."], "holds 2 datasets (bids, other) rather than sub-* folders; pass "
         "one of them, e.g. bids_dir={bids}"),
        (["output_dir={other}"], "holds a dataset_description.json of 'other pipeline'"),
    ],
)  # fmt: skip
def test_config_mistakes_give_one_line(tiny_bids, tmp_path, config, message):
    other = tmp_path / "other"
    other.mkdir()
    (other / "dataset_description.json").write_text(
        '{"Name": "x", "GeneratedBy": [{"Name": "other pipeline"}]}'
    )
    config = [c.replace("{bids}", str(tiny_bids)).replace("{other}", str(other)) for c in config]
    message = message.replace("{bids}", str(tiny_bids))
    defaults = [f"bids_dir={tiny_bids}", f"output_dir={tmp_path / 'out'}"]
    result = snakemake("-n", "--cores", 1, "--config", *defaults, *config)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, result.stderr


def test_yaml_config_with_unquoted_labels_is_an_error_that_says_to_quote(tiny_bids, tmp_path):
    configfile = tmp_path / "study.yaml"
    configfile.write_text(f"bids_dir: {tiny_bids}\noutput_dir: {tmp_path / 'out'}\n"
                          "participant_label: [01, 010]\n")  # fmt: skip
    result = snakemake("-n", "--cores", 1, "--configfile", configfile)
    assert result.returncode != 0
    assert "config error: participant_label holds the numbers 1, 8, not labels" in result.stderr
    assert "quote every label" in result.stderr and "Traceback" not in result.stderr
    configfile.write_text(configfile.read_text().replace("[01, 010]", "['01', '03']"))
    assert planned_images(snakemake("-n", "--cores", 1, "--configfile", configfile)) == [
        EXPECTED_KEYS[0], EXPECTED_KEYS[1], EXPECTED_KEYS[4]]  # fmt: skip


def test_labels_that_match_nothing_are_named_in_a_warning(tiny_bids, tmp_path):
    result = snakemake("-n", "--cores", 1, "--config", f"bids_dir={tiny_bids}",
                       f"output_dir={tmp_path / 'out'}", "participant_label=[01,77]")  # fmt: skip
    assert planned_images(result) == EXPECTED_KEYS[:2]
    assert "warning: participant_label '77' matches no participant with T1w images" in (
        result.stderr
    )


def test_a_run_on_the_demo_says_so(tiny_bids, tmp_path):
    # bids_dir's default, demo/bids, is relative to the working folder: give it one there
    work = tmp_path / "work"
    (work / "demo").mkdir(parents=True)
    tiny_bids.rename(work / "demo" / "bids")
    result = snakemake("-s", REPO / "Snakefile", "-n", "--cores", 1, "--config",
                       f"output_dir={tmp_path / 'out'}", cwd=work)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "note: no bids_dir given: rendering the demo dataset (demo/bids)" in result.stderr


def test_missing_dataset_description_is_a_warning(tiny_bids, tmp_path):
    (tiny_bids / "dataset_description.json").unlink()
    result = snakemake("-n", "--cores", 1, "--config", f"bids_dir={tiny_bids}",
                       f"output_dir={tmp_path / 'out'}")  # fmt: skip
    assert "has no dataset_description.json" in result.stderr
    assert planned_images(result) == EXPECTED_KEYS


def count_frames(path: Path) -> tuple[int, dict]:
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="gray", bpp=1)
    meta = next(reader)
    return sum(1 for _ in reader), meta


@pytest.mark.slow
def test_end_to_end_videos_sidecars_and_page(tiny_bids, tmp_path):
    out = tmp_path / "out"
    repo, env = shared_copy()  # the rerun below must see the same rendering code
    args = ["--cores", 2, "--config", f"bids_dir={tiny_bids}", f"output_dir={out}"]
    result = snakemake(*args, cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    assert f"5 rendered, 0 failed (see {out}/index.html)" in result.stderr
    html = (out / "index.html").read_text()
    for key in EXPECTED_KEYS:
        video = out / f"{key}.mp4"
        sidecar = json.loads((out / f"{key}.json").read_text())
        frames, meta = count_frames(video)
        assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
        assert frames == sidecar["video"]["frame_count"] == max(sidecar["image"]["shape"])
        assert (out / f"{key}.png").is_file()
        assert f'"{key}.mp4"' in html or f"{key}.mp4" in html  # relative link
        assert str(out) not in html  # no absolute paths
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "neurovid"
    assert not list(out.rglob("*.partial"))

    again = snakemake(*args, cwd=repo, env=env)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
