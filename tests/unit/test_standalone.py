"""Standalone renders: names outside a BIDS dataset, and every format nibabel reads."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image, ImageDraw

from neurovid.bidsname import dataset_relative_path, entities_from_filename, is_bids_name
from neurovid.cli import render_main
from neurovid.frames import HEADER_PX, TEXT
from neurovid.testing import phantom
from neurovid.text import font

AFFINE = np.array(
    [[-1.0, 0, 0, 40.0], [0, 0, 1.2, -30.0], [0, -1.5, 0, 35.0], [0, 0, 0, 1]]
)  # LIA-like, anisotropic: a wrong reader shows


def head(shape=(30, 34, 26)) -> np.ndarray:
    return np.pad(phantom(shape), 4).astype(np.int16)


def render(in_path: Path, out: Path) -> tuple[int, dict]:
    status = render_main([str(in_path), str(out)])
    sidecar = json.loads(out.with_suffix(".neurovid.json").read_text())
    return status, sidecar


def header_title_matches(poster: Path, title: str) -> bool:
    """The poster's header shows ``title`` (drawn as the renderer draws it) and no other."""
    shown = np.asarray(Image.open(poster).convert("L"), dtype=np.float32)
    width = min(shown.shape[1], 12 + int(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(
        title, font=font(19, bold=True))) + 4)  # fmt: skip
    expected = Image.new("L", (shown.shape[1], HEADER_PX), 0)
    ImageDraw.Draw(expected).text(
        (12, HEADER_PX // 2), title, fill=TEXT, font=font(19, bold=True), anchor="lm"
    )
    region = shown[:HEADER_PX, :width]
    return float(np.mean(np.abs(region - np.asarray(expected)[:, :width]))) < 4.0


@pytest.mark.parametrize(
    ("name", "bids"),
    [
        ("sub-01_ses-2_acq-fast_run-3_T1w.nii.gz", True),
        ("sub-01_T1w.mgz", True),
        ("05_dcmqa-xa30_5_anat-T1w_acq-tfl.nii", False),
        ("03_ADNI_Sag3D_MPRAGE_native.nii.gz", False),
        ("sub-01_T1w", False),  # no extension
        ("sub-01.nii.gz", False),  # no suffix
        ("sub-01_run_T1w.nii", False),  # a bare word among the pairs
        ("T1.mgz", False),
    ],
)
def test_bids_names_and_no_invented_entities(name, bids):
    assert is_bids_name(name) is bids
    entities = entities_from_filename(name)
    assert (entities != {}) is bids
    if bids:
        assert entities["subject"] == "01"
    assert dataset_relative_path(f"/data/{name}") is None


def test_dataset_relative_path_needs_the_subjects_own_folder():
    assert (
        dataset_relative_path("/d/ds/sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz")
        == "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz"
    )
    assert dataset_relative_path("/d/sub-02/anat/sub-01_T1w.nii.gz") is None
    assert dataset_relative_path("/subjects/sub-01/mri/T1.mgz") is None


def test_outside_a_dataset_the_title_is_the_file_name(tmp_path):
    cases = {
        tmp_path / "scans" / "05_dcmqa-xa30_5_anat-T1w_acq-tfl.nii": ({}, False),
        tmp_path / "loose" / "sub-07_acq-fast_T1w.nii.gz": (
            {"subject": "07", "acquisition": "fast", "suffix": "T1w"},
            False,
        ),
        tmp_path / "ds" / "sub-07" / "anat" / "sub-07_acq-fast_T1w.nii.gz": (
            {"subject": "07", "acquisition": "fast", "suffix": "T1w"},
            True,
        ),
    }
    for path, (entities, in_dataset) in cases.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(head(), AFFINE), path)
        out = tmp_path / "out" / f"{path.parent.name}.mp4"
        status, sidecar = render(path, out)
        assert status == 0 and sidecar["status"] == "rendered"
        assert sidecar["entities"] == entities
        if in_dataset:
            assert sidecar["source"] == "sub-07/anat/sub-07_acq-fast_T1w.nii.gz"
            assert sidecar["Sources"] == [f"bids:raw:{sidecar['source']}"]
            assert header_title_matches(out.with_suffix(".png"), "sub-07 · acq-fast · T1w")
        else:
            assert sidecar["source"] == path.name
            assert sidecar["Sources"] == []
            assert header_title_matches(out.with_suffix(".png"), path.name)
            assert not header_title_matches(out.with_suffix(".png"), "acq-tfl · anat-T1w")


def _save(kind: str, folder: Path, data: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "nifti1":
        path = folder / "img.nii.gz"
        nib.save(nib.Nifti1Image(data, AFFINE), path)
    elif kind == "nifti2":
        path = folder / "img.nii"
        nib.save(nib.Nifti2Image(data, AFFINE), path)
    elif kind in ("mgz", "mgh"):
        path = folder / f"img.{kind}"
        nib.save(nib.MGHImage(data, AFFINE), path)
    elif kind == "pair":
        path = folder / "img.hdr"
        nib.save(nib.Nifti1Pair(data, AFFINE), path)
    elif kind == "pair-img":
        nib.save(nib.Nifti1Pair(data, AFFINE), folder / "img.hdr")
        path = folder / "img.img"
    else:
        raise ValueError(kind)
    return path


@pytest.mark.parametrize("kind", ["nifti2", "mgz", "mgh", "pair", "pair-img"])
def test_every_format_nibabel_reads_renders_the_same_frames(tmp_path, kind):
    data = head()
    reference = _save("nifti1", tmp_path / "ref", data)
    status, expected = render(reference, tmp_path / "ref.mp4")
    assert status == 0
    path = _save(kind, tmp_path / kind, data)
    status, sidecar = render(path, tmp_path / f"{kind}.mp4")
    assert status == 0 and sidecar["status"] == "rendered", sidecar["error"]
    assert sidecar["image"]["axis_codes"] == expected["image"]["axis_codes"]
    assert sidecar["image"]["voxel_sizes_mm"] == expected["image"]["voxel_sizes_mm"]
    assert sidecar["window"] == expected["window"]
    # NIfTI-1 stores the affine in float32, NIfTI-2 and MGH in float64: equal to 1e-6
    for ours_plane, ref_plane in zip(
        sidecar["video"]["planes"], expected["video"]["planes"], strict=True
    ):
        numbers = {k for k, v in ref_plane.items() if isinstance(v, float)}
        assert {k: v for k, v in ours_plane.items() if k not in numbers} == {
            k: v for k, v in ref_plane.items() if k not in numbers
        }
        for key in numbers:
            assert ours_plane[key] == pytest.approx(ref_plane[key], rel=1e-6)
    # the same picture below the header (the header names the file)
    ours = np.asarray(Image.open(tmp_path / f"{kind}.png"))[HEADER_PX:]
    theirs = np.asarray(Image.open(tmp_path / "ref.png"))[HEADER_PX:]
    np.testing.assert_array_equal(ours, theirs)
    assert sidecar["input"]["sha256"] and sidecar["input"]["size_bytes"] > 0


def test_4d_mgz_shows_its_first_volume(tmp_path):
    data = np.stack([head(), head()[::-1]], axis=-1)
    path = tmp_path / "4d.mgz"
    nib.save(nib.MGHImage(data, AFFINE), path)
    status, sidecar = render(path, tmp_path / "4d.mp4")
    assert status == 0
    assert sidecar["image"]["n_volumes"] == 2
    assert "showing volume 1 of 2" in sidecar["warnings"][0]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing-img", "its .img file is missing"),
        ("garbage-mgz", "not a readable image"),
        ("empty-mgh", "is empty"),
        ("2d-pair", "image is 2D"),
        ("constant-mgz", "constant image"),
    ],
)
def test_bad_files_in_other_formats_fail_with_one_line(tmp_path, kind, reason, capsys):
    if kind == "missing-img":
        path = _save("pair", tmp_path, head())
        path.with_suffix(".img").unlink()
    elif kind == "garbage-mgz":
        path = tmp_path / "bad.mgz"
        path.write_bytes(b"this is not an image" * 50)
    elif kind == "empty-mgh":
        path = tmp_path / "empty.mgh"
        path.write_bytes(b"")
    elif kind == "2d-pair":
        path = tmp_path / "flat.hdr"
        nib.save(nib.Nifti1Pair(np.arange(400, dtype=np.float32).reshape(20, 20), np.eye(4)), path)
    else:
        path = tmp_path / "constant.mgz"
        nib.save(nib.MGHImage(np.full((10, 10, 10), 3.0, np.float32), np.eye(4)), path)
    status, sidecar = render(path, tmp_path / "out.mp4")
    assert status == 1 and sidecar["status"] == "failed"
    assert reason in sidecar["error"] and "\n" not in sidecar["error"]
    assert str(path) in sidecar["error"] or path.name in sidecar["error"]
    assert not (tmp_path / "out.mp4").exists()
    assert reason in capsys.readouterr().err


def test_the_workflow_still_discovers_only_bids_nifti(tmp_path):
    from neurovid.discovery import discover_images

    anat = tmp_path / "bids" / "sub-01" / "anat"
    anat.mkdir(parents=True)
    (tmp_path / "bids" / "dataset_description.json").write_text(
        '{"Name": "t", "BIDSVersion": "1.10.0"}'
    )
    nib.save(nib.Nifti1Image(head(), AFFINE), anat / "sub-01_T1w.nii.gz")
    nib.save(nib.MGHImage(head(), AFFINE), anat / "sub-01_acq-fs_T1w.mgz")
    nib.save(nib.Nifti1Pair(head(), AFFINE), anat / "sub-01_acq-pair_T1w.hdr")
    found = [record.relpath for record in discover_images(tmp_path / "bids")]
    assert found == ["sub-01/anat/sub-01_T1w.nii.gz"]
