"""The rule ``merge_ratings``: runs without exports, reruns when OUTPUT_DIR/ratings/ changes,
never re-renders, follows ``ratings.consensus`` (workflow/rules/ratings.smk)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurovid import ratings as R
from neurovid.testing import nifti_bytes, phantom, phantom_affine, write_nifti

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FILES = [
    "sub-01/anat/sub-01_T1w.nii.gz",
    "sub-02/ses-a/anat/sub-02_ses-a_T1w.nii.gz",
    "sub-02/ses-b/anat/sub-02_ses-b_T1w.nii.gz",
]


def snakemake(bids: Path, out: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--config",
         f"bids_dir={bids}", f"output_dir={out}", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def planned(log: str) -> set[str]:
    """The rules a run executed (or a dry run would execute), from Snakemake's job table."""
    return set(re.findall(r"^(?:local)?rule (\w+):", log, re.M))


def export(out: Path, rater: str, ratings: list[str]) -> R.RaterExport:
    images = R.images_from_sidecars(sorted(out.glob("sub-*/**/anat/*.json")))
    records = [
        R.RatingRecord(file=i.file, input_sha256=i.input_sha256, video_sha256=i.video_sha256,
                       rater=rater, rating=r, timestamp="2025-03-01T12:00:00Z")
        for i, r in zip(images, ratings, strict=True)
    ]  # fmt: skip
    return R.RaterExport(rater=rater, ratings=records)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ratings-rule")
    bids = root / "bids"
    bids.mkdir()
    (bids / "dataset_description.json").write_text('{"Name": "r", "BIDSVersion": "1.10.0"}')
    for i, file in enumerate(FILES):
        write_nifti(bids / file, nifti_bytes(phantom() * (1 + i / 4), phantom_affine()))
    out = root / "out"
    log = snakemake(bids, out)
    assert {"render_video", "merge_ratings", "review_page"} <= planned(log)
    return bids, out


def test_merge_runs_without_ratings_folder(study: tuple[Path, Path]) -> None:
    _, out = study
    assert not (out / "ratings").exists()
    rows = R.read_qc_ratings(out / "qc_ratings.tsv")
    assert [r.file for r in rows] == FILES and all(r.rating == "" for r in rows)
    assert json.loads((out / "exclude.json").read_text())["exclude"] == []
    assert "0 exports" in (out / "logs/merge_ratings.log").read_text()


def test_exports_added_changed_removed_rerun_the_merge_only(study: tuple[Path, Path]) -> None:
    bids, out = study
    assert planned(snakemake(bids, out, "-n")) == set()  # nothing to do

    folder = out / "ratings"
    folder.mkdir()
    (folder / "README.txt").write_text("drop exports here\n")  # not an export: no rerun
    assert planned(snakemake(bids, out, "-n")) == set()

    (folder / "ann.tsv").write_text(export(out, "Ann", ["pass", "fail", "doubtful"]).to_tsv())
    log = snakemake(bids, out)
    assert "render_video" not in planned(log) and "merge_ratings" in planned(log)
    assert [r.rating for r in R.read_qc_ratings(out / "qc_ratings.tsv")] == [
        "pass", "fail", "doubtful",
    ]  # fmt: skip
    assert planned(snakemake(bids, out, "-n")) == set()
    page = (out / "index.html").read_text()
    assert '"raters":["Ann"]' in page  # the page was rebuilt with the merge

    (folder / "bob.json").write_text(export(out, "Bob", ["fail", "fail", "pass"]).to_json())
    log = snakemake(bids, out)
    assert "merge_ratings" in planned(log) and "render_video" not in planned(log)
    rows = R.read_qc_ratings(out / "qc_ratings.tsv")
    assert [r.rating for r in rows] == ["fail", "fail", "doubtful"]  # fail wins ties
    doc = json.loads((out / "qc_ratings.json").read_text())
    # Ann P F D, Bob F F P: p_o = 1/3; p_e = (1·1 + 1·0 + 1·2)/9 = 1/3 → κ = 0
    assert doc["Agreement"]["overall"]["kappa"]["exact"] == "0/1"

    time.sleep(1.1)  # a changed export (newer mtime) reruns the merge
    (folder / "bob.json").write_text(export(out, "Bob", ["pass", "fail", "doubtful"]).to_json())
    assert "merge_ratings" in planned(snakemake(bids, out))
    assert [r.agreement for r in R.read_qc_ratings(out / "qc_ratings.tsv")] == ["unanimous"] * 3

    (folder / "bob.json").unlink()  # a removed export reruns it too
    assert "merge_ratings" in planned(snakemake(bids, out))
    assert [r.n_raters for r in R.read_qc_ratings(out / "qc_ratings.tsv")] == [1, 1, 1]

    log = snakemake(bids, out, "ratings={'consensus': 'worst', 'exclude': ['fail', 'doubtful']}")
    assert "merge_ratings" in planned(log)  # a config change reruns it (params)
    exclude = json.loads((out / "exclude.json").read_text())
    assert exclude["files"] == [FILES[1], FILES[2]] and exclude["ExcludeRatings"] == [
        "fail", "doubtful",
    ]  # fmt: skip
    assert os.path.getsize(out / "qc_ratings.json") > 0


def test_a_bad_export_is_reported_not_fatal(study: tuple[Path, Path]) -> None:
    bids, out = study
    folder = out / "ratings"
    folder.mkdir(exist_ok=True)
    (folder / "broken.json").write_text('{"neurovid_ratings_version": 2, "ratings": [')
    log = snakemake(bids, out)
    assert "1 rejected_file" in log
    doc = json.loads((out / "qc_ratings.json").read_text())
    assert any(
        p["kind"] == "rejected_file" and p["source"] == "ratings/broken.json"
        for p in doc["Problems"]
    )
    (folder / "broken.json").unlink()
