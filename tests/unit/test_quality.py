"""Triage measures and flags (neurovid.quality) on synthetic heads: each flag is raised by a
case that must raise it and stays down on a case that must not.

The synthetic head is the template brain that neurovid ships (8 mm cells), brought to 2 mm,
with a brighter core and a darker rim (two tissues), 20 mm of air around it and Rician noise
in the air: built here, from the package alone.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from nibabel import Nifti1Image

from neurovid import quality
from neurovid.orientation import to_display_volume
from neurovid.quality import (
    FLAG_IDS,
    FLAGS,
    MEASURE_NAMES,
    MEASURES,
    QualityReport,
    flags_markdown,
    measure_quality,
    measures_markdown,
    quality_record,
)

VOXEL = (2.0, 2.0, 2.0)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "quality.md"


def _box_blur(volume: np.ndarray) -> np.ndarray:
    out = volume.copy()
    for axis in range(3):
        out = (np.roll(out, 1, axis) + out + np.roll(out, -1, axis)) / 3
    return out


def make_head(noise: float = 3.0, seed: int = 0, pad_voxels: int = 10) -> np.ndarray:
    """A RAS+ head at 2 mm: core 100, rim 60, air 0 plus Rician noise of σ `noise`."""
    raw = resources.files("neurovid").joinpath(quality.TEMPLATE_FILE).read_bytes()
    cells = np.asarray(Nifti1Image.from_stream(io.BytesIO(gzip.decompress(raw))).dataobj) / 255
    fine = cells.repeat(4, 0).repeat(4, 1).repeat(4, 2).astype(np.float32)
    fine = _box_blur(_box_blur(fine))
    brain = fine > 0.5
    core = _box_blur(brain.astype(np.float32)) > 0.99
    for _ in range(2):
        core = _box_blur(core.astype(np.float32)) > 0.99
    rng = np.random.default_rng(seed)
    data = np.where(core, 100.0, np.where(brain, 60.0, 0.0)).astype(np.float32)
    data[brain] += rng.normal(0, 4, int(brain.sum())).astype(np.float32)
    data = np.pad(data, pad_voxels)
    return rician(data, noise, rng) if noise else data


def rician(data: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    real = data + rng.normal(0, sigma, data.shape).astype(np.float32)
    imag = rng.normal(0, sigma, data.shape).astype(np.float32)
    return np.sqrt(real * real + imag * imag)


@pytest.fixture(scope="module")
def head() -> np.ndarray:
    return make_head()


@pytest.fixture(scope="module")
def clean(head) -> QualityReport:
    return measure_quality(head, VOXEL)


def flags(report: QualityReport) -> set[str]:
    return {f.id for f in report.flags}


def head_box(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.argwhere(data > 30)
    return idx.min(axis=0), idx.max(axis=0)


# --------------------------------------------------------------------------------------------
# The clean head
# --------------------------------------------------------------------------------------------


def test_clean_head_raises_no_flag_and_measures_everything(clean):
    assert flags(clean) == set()
    assert set(clean.metrics) == set(MEASURE_NAMES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in clean.metrics.values())
    assert clean.metrics["fov_contact_pct"] == 0.0
    assert clean.metrics["orientation_gap"] < 0  # the header's axes fit best
    assert 20 < clean.metrics["snr"] < 60  # bright class ~100 over σ 3
    assert 0.2 < clean.metrics["tissue_contrast"] < 0.4  # (100 - 60) / (100 + 60) = 0.25


def test_zero_filled_background_has_no_noise_measures_and_no_flag():
    report = measure_quality(make_head(noise=0), VOXEL)
    assert report.metrics["snr"] is None and report.metrics["cnr"] is None
    assert flags(report) == set()


def test_same_anatomy_in_any_voxel_order_gives_the_same_record(head):
    # stored LPI, PIS and SPL, brought back to RAS+ by the renderer's own function
    expected = measure_quality(head, VOXEL).to_json()
    for order, flips in (((0, 1, 2), (0, 1, 2)), ((1, 2, 0), (0, 1)), ((2, 1, 0), (1,))):
        stored = np.ascontiguousarray(np.flip(np.transpose(head, order), flips))
        stored_affine = np.eye(4)
        stored_affine[:3, :3] = 0
        for stored_axis, ras_axis in enumerate(order):
            sign = -1.0 if stored_axis in flips else 1.0
            stored_affine[ras_axis, stored_axis] = sign * VOXEL[ras_axis]
        display = to_display_volume(stored, stored_affine)
        assert np.array_equal(display.data, head)
        assert measure_quality(display.data, display.voxel_sizes_mm).to_json() == expected


def test_record_is_byte_stable_and_round_trips(head):
    first = json.dumps(quality_record(head, VOXEL), sort_keys=True)
    second = json.dumps(quality_record(head.copy(), VOXEL), sort_keys=True)
    assert first == second
    record = json.loads(first)
    assert set(record) == {"version", "metrics", "flags"}
    assert QualityReport.from_json(record).to_json() == record


# --------------------------------------------------------------------------------------------
# Each flag: a case that must raise it, and one that must not
# --------------------------------------------------------------------------------------------

FACE_CUTS = {
    "superior": (2, True),
    "anterior": (1, True),
    "posterior": (1, False),
    "left": (0, False),
    "right": (0, True),
}


def cut(data: np.ndarray, axis: int, high: bool, depth_voxels: int = 10) -> np.ndarray:
    lo, hi = head_box(data)
    where = [slice(None)] * 3
    where[axis] = (
        slice(0, hi[axis] + 1 - depth_voxels) if high else slice(lo[axis] + depth_voxels, None)
    )
    return np.ascontiguousarray(data[tuple(where)])


@pytest.mark.parametrize("face", sorted(FACE_CUTS))
def test_head_cut_by_the_field_of_view_is_flagged_at_that_face(head, face):
    axis, high = FACE_CUTS[face]
    report = measure_quality(cut(head, axis, high), VOXEL)
    assert f"head_cut_{face}" in flags(report)
    assert {f for f in flags(report) if f.startswith("head_cut_")} == {f"head_cut_{face}"}
    (flag,) = [f for f in report.flags if f.id == f"head_cut_{face}"]
    assert face in flag.reason and "\n" not in flag.reason


def test_inferior_cut_is_normal(head, clean):
    report = measure_quality(cut(head, 2, False, depth_voxels=15), VOXEL)
    assert not any(f.startswith("head_cut_") for f in flags(report))
    assert "head_cut_superior" not in flags(clean)


def test_head_touching_an_edge_with_air_beyond_is_not_cut(head):
    lo, hi = head_box(head)
    tight = head[:, :, : hi[2] + 2]  # two voxels of air above the vertex
    assert "head_cut_superior" not in flags(measure_quality(tight, VOXEL))


def fold(data: np.ndarray, axis: int, short_by: int) -> np.ndarray:
    """Phase wrap-around: a field of view `short_by` voxels shorter than the head."""
    lo, hi = head_box(data)
    n = hi[axis] - lo[axis] + 1 - short_by
    start = lo[axis] + short_by // 2
    out_shape = list(data.shape)
    out_shape[axis] = n
    out = np.zeros(out_shape, dtype=np.float32)
    for i in range(data.shape[axis]):
        index = [slice(None)] * 3
        index[axis] = (i - start) % n
        source = [slice(None)] * 3
        source[axis] = i
        out[tuple(index)] += data[tuple(source)]
    return out


def test_wrap_around_is_flagged_and_explains_the_contact(head):
    report = measure_quality(fold(head, 1, 12), VOXEL)
    assert "wrap_around" in flags(report)
    assert "anterior-posterior" in next(f.reason for f in report.flags if f.id == "wrap_around")
    assert not {"head_cut_anterior", "head_cut_posterior"} & flags(report)


def test_a_cut_without_wrap_is_not_wrap_around(head):
    assert "wrap_around" not in flags(measure_quality(cut(head, 1, True), VOXEL))


@pytest.mark.parametrize("axis, words", [(1, "anterior-posterior"), (2, "superior-inferior")])
def test_flipped_axes_are_flagged(head, axis, words):
    report = measure_quality(np.flip(head, axis).copy(), VOXEL)
    assert "orientation" in flags(report)
    reason = next(f.reason for f in report.flags if f.id == "orientation")
    assert reason.startswith("orientation labels look wrong") and words in reason
    assert report.metrics["orientation_gap"] > quality.ORIENTATION_GAP


def test_swapped_axes_are_flagged(head):
    # the anatomy's superior stored along the header's anterior axis and vice versa
    report = measure_quality(np.swapaxes(head, 1, 2).copy(), VOXEL)
    assert "orientation" in flags(report)


def test_left_right_mirror_cannot_be_told_and_is_not_flagged(head, clean):
    mirrored = measure_quality(np.flip(head, 0).copy(), VOXEL)
    assert "orientation" not in flags(mirrored)
    assert "orientation" not in flags(clean)


def test_strong_noise_is_low_snr(head):
    noisy = measure_quality(make_head(noise=20.0, seed=1), VOXEL)
    assert "low_snr" in flags(noisy)
    assert noisy.metrics["snr"] < quality.LOW_SNR
    assert "low_snr" not in flags(measure_quality(make_head(noise=6.0, seed=2), VOXEL))


def test_pure_noise_has_no_head_and_is_low_snr():
    rng = np.random.default_rng(3)
    report = measure_quality(rician(np.zeros((60, 60, 60), np.float32), 5.0, rng), VOXEL)
    assert [f.id for f in report.flags] == ["low_snr"]
    assert "no head" in report.flags[0].reason


def motion_ghosts(data: np.ndarray, shift_voxels: int = 4, every: int = 3) -> np.ndarray:
    """Every `every`-th phase-encoding line (y) from a copy moved along y."""
    kspace = np.fft.fftn(data)
    moved = np.fft.fftn(np.roll(data, shift_voxels, axis=1))
    kspace[:, ::every, :] = moved[:, ::every, :]
    return np.abs(np.fft.ifftn(kspace)).astype(np.float32)


def test_motion_ghosting_is_flagged(head, clean):
    report = measure_quality(motion_ghosts(head), VOXEL)
    assert "ghosting" in flags(report)
    assert report.metrics["ghost_pct"] > 10 * max(clean.metrics["ghost_pct"], 0.05)
    assert "ghosting" not in flags(clean)


def test_k_space_spike_is_flagged(head, clean):
    kspace = np.fft.fftn(head)
    kspace[17, 23, 11] += 10.0 * head.size  # a plane wave of amplitude 10 (tissue: 60-100)
    report = measure_quality(np.abs(np.fft.ifftn(kspace)).astype(np.float32), VOXEL)
    assert "spike" in flags(report)
    assert report.metrics["spike_ratio"] >= quality.SPIKE_RATIO
    assert "spike" not in flags(clean) and clean.metrics["spike_ratio"] < quality.SPIKE_RATIO


def test_bias_field_is_non_uniform(head, clean):
    x = np.linspace(-1, 1, head.shape[0], dtype=np.float32)[:, None, None]
    biased = measure_quality(head * np.exp(1.2 * x), VOXEL)  # ×11 left to right
    assert "nonuniform" in flags(biased)
    mild = measure_quality(head * np.exp(0.1 * x), VOXEL)
    assert "nonuniform" not in flags(mild) and "nonuniform" not in flags(clean)
    assert biased.metrics["inu_pct"] > mild.metrics["inu_pct"] > 0


# --------------------------------------------------------------------------------------------
# Robustness and the record
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        np.zeros((8, 9, 10), np.float32) + np.arange(10, dtype=np.float32),
        np.ones((3, 3, 3), np.float32),
        np.pad(np.ones((2, 2, 2), np.float32), 3),
    ],
    ids=["gradient", "tiny-constant", "tiny-cube"],
)
def test_odd_volumes_give_a_record_without_raising(data):
    record = quality_record(data, (1.0, 1.0, 1.0))
    assert set(record["metrics"]) == set(MEASURE_NAMES)
    assert all(v is None or math.isfinite(v) for v in record["metrics"].values())
    json.dumps(record, allow_nan=False)


def test_a_failing_measure_costs_the_record_not_the_video(monkeypatch, head):
    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(quality, "_find_head", broken)
    record = quality_record(head, VOXEL)
    assert record["flags"] == [] and set(record["metrics"].values()) == {None}
    assert record["error"] == "quality measures failed: ValueError: boom"


@pytest.mark.parametrize(
    "raw",
    [None, [], "x", {"metrics": None}, {"metrics": [1, 2]}],
)
def test_malformed_quality_reads_as_none(raw):
    assert QualityReport.from_json(raw) is None


def test_hand_edited_quality_is_sanitised():
    report = QualityReport.from_json(
        {
            "version": True,
            "metrics": {"snr": "12", "efc": float("nan"), "wrap_pct": 3, "unknown": 1.0},
            "flags": [{"id": "ghosting", "reason": "a\nb"}, {"id": 3}, "x", {"reason": "r"}],
        }
    )
    assert report is not None
    assert report.metrics["snr"] is None and report.metrics["efc"] is None
    assert report.metrics["wrap_pct"] == 3.0 and "unknown" not in report.metrics
    assert [(f.id, f.reason) for f in report.flags] == [("ghosting", "a b")]
    assert report.version == 0


def test_morphology_helpers_on_known_shapes():
    ring = np.zeros((7, 7, 3), bool)
    ring[1:6, 1:6, :] = True
    ring[2:5, 2:5, 1] = False  # a hole in the middle slice, closed above and below
    filled = quality._fill_holes(ring)
    assert filled[3, 3, 1] and filled.sum() == 75
    two = np.zeros((10, 4, 4), bool)
    two[0:2] = True  # 32 voxels
    two[4:9] = True  # 80 voxels, not touching the first block
    assert quality._largest_component(two).sum() == 80
    seeds = np.zeros_like(two)
    seeds[0, 0, 0] = True
    assert quality._spread(two, seeds).sum() == 32
    assert quality._erode(np.ones((3, 3, 3), bool)).all()  # the edge sees itself beyond it
    assert quality._dilate(seeds).sum() == 4


# --------------------------------------------------------------------------------------------
# One definition: docs/quality.md shows the definitions of the code
# --------------------------------------------------------------------------------------------


def test_docs_show_every_measure_and_flag_as_defined():
    text = DOCS.read_text(encoding="utf-8")
    assert measures_markdown() in text
    assert flags_markdown() in text


def test_every_measure_and_flag_is_well_formed():
    assert len(set(MEASURE_NAMES)) == len(MEASURES) and len(set(FLAG_IDS)) == len(FLAGS)
    for m in MEASURES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", m.name) and m.worse in ("high", "low")
        assert m.definition.endswith(".") and m.unit
        assert (m.typical is None) == (m.bad is None)
    assert {f"head_cut_{face}" for face in quality.FACES} <= set(FLAG_IDS)
    assert "head_cut_inferior" not in FLAG_IDS
