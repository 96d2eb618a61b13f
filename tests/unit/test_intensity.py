"""The intensity window on synthetic heads: brain contrast whatever the scalp fat does."""

from __future__ import annotations

import numpy as np
import pytest

from neurovid.intensity import (
    brain_core,
    choose_window,
    head_mask,
    otsu_threshold,
    to_uint8,
    white_matter_peak,
    window_limits,
)

VOXEL_MM = 2.0
WHITE, GREY, CSF = 500.0, 330.0, 120.0


def synthetic_head(
    fat: float = 1500.0,
    fat_mm: float = 6.0,
    neck: bool = True,
    vessels: bool = True,
    noise: float = 8.0,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A T1w-like head in RAS order at 2 mm, with a bright shell of scalp fat.

    From the outside in: ``fat_mm`` of fat at ``fat``, 6 mm of dark skull, 2 mm of CSF,
    a 3 mm cortex of grey matter, white matter with two CSF ventricles; below the head a
    neck of muscle (grey-matter-like) wrapped in fat; optional bright vessels; Rician-like
    noise everywhere. Returns the volume and masks of the tissues (``white``, ``grey``).
    """
    rng = np.random.default_rng(seed)
    shape = (90, 110, 120)  # 180 × 220 × 240 mm
    x, y, z = (
        (np.arange(n) - c) * VOXEL_MM
        for n, c in zip(shape, (45, 55, 70), strict=True)  # head centre 20 mm above FOV centre
    )
    x, y, z = np.meshgrid(x, y, z, indexing="ij")
    semi = np.array([72.0, 90.0, 85.0])

    def inside(depth_mm: float) -> np.ndarray:
        a, b, c = semi - depth_mm
        return (x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2 <= 1.0

    volume = np.zeros(shape, dtype=np.float32)
    volume[inside(0)] = fat
    volume[inside(fat_mm)] = 90.0  # skull
    volume[inside(fat_mm + 6)] = CSF
    volume[inside(fat_mm + 8)] = GREY
    white = inside(fat_mm + 11)
    volume[white] = WHITE
    ventricles = ((np.abs(x) - 12) / 6) ** 2 + (y / 25) ** 2 + ((z - 5) / 10) ** 2 <= 1.0
    volume[ventricles] = CSF
    white &= ~ventricles
    grey = inside(fat_mm + 8) & ~inside(fat_mm + 11)
    if neck:
        radius = np.hypot(x / 55, (y + 10) / 60)
        column = (z < -40) & (radius <= 1.0)
        volume[column & (radius > 0.85)] = fat
        volume[column & (radius <= 0.85)] = 300.0  # muscle
        volume[column & (np.hypot(x, y + 10) < 10)] = 900.0  # marrow
    if vessels:
        for cx in (-30, 0, 30):
            volume[(np.hypot(x - cx, z - 10) < 2.5) & inside(fat_mm + 8)] = 2 * fat
    volume = np.hypot(volume + rng.normal(0, noise, shape), rng.normal(0, noise, shape))
    return volume.astype(np.float32), {"white": white, "grey": grey}


def grey_levels(volume: np.ndarray, window: tuple[float, float], mask: np.ndarray) -> float:
    """Median display grey level (0–255) of the voxels in ``mask``."""
    return float(np.median(to_uint8(volume[mask], window)))


@pytest.mark.parametrize("fat", [800.0, 1500.0, 3000.0, 6000.0])
@pytest.mark.parametrize("fat_mm", [3.0, 8.0])
def test_brain_gets_the_grey_range_whatever_the_fat(fat, fat_mm):
    volume, tissue = synthetic_head(fat=fat, fat_mm=fat_mm)
    window = choose_window(volume, (VOXEL_MM,) * 3)
    assert window.method == "brain"
    assert window.white_peak == pytest.approx(WHITE, rel=0.05)
    white = grey_levels(volume, window.limits, tissue["white"])
    grey = grey_levels(volume, window.limits, tissue["grey"])
    assert 185 <= white <= 225, (white, window)
    assert 110 <= grey <= 160, (grey, window)
    assert white - grey >= 55
    # background noise (~10 units) stays just above black, so ghosts would show
    assert window.low < 2 * 8.0


def test_the_percentile_window_is_what_fat_breaks():
    """The old rule, on the same head: the brain squeezed into the dark quarter."""
    volume, tissue = synthetic_head(fat=3000.0, fat_mm=8.0)
    old = window_limits(volume, (0.5, 99.5))
    new = choose_window(volume, (VOXEL_MM,) * 3).limits
    old_separation = grey_levels(volume, old, tissue["white"]) - grey_levels(
        volume, old, tissue["grey"]
    )
    new_separation = grey_levels(volume, new, tissue["white"]) - grey_levels(
        volume, new, tissue["grey"]
    )
    assert grey_levels(volume, old, tissue["white"]) < 64
    assert new_separation > 3 * old_separation


def test_window_does_not_depend_on_the_neck_or_vessels():
    bare = choose_window(synthetic_head(neck=False, vessels=False)[0], (VOXEL_MM,) * 3)
    full = choose_window(synthetic_head(neck=True, vessels=True)[0], (VOXEL_MM,) * 3)
    assert full.high == pytest.approx(bare.high, rel=0.04)


def test_percentiles_method_is_kept():
    volume, _ = synthetic_head()
    window = choose_window(volume, (VOXEL_MM,) * 3, method="percentiles", percentiles=(1, 99))
    assert window.method == "percentiles"
    assert window.limits == window_limits(volume, (1, 99))
    with pytest.raises(ValueError, match="window must be one of"):
        choose_window(volume, (VOXEL_MM,) * 3, method="auto")


def test_window_is_the_same_at_any_resolution():
    """A 1 mm head and the same head at 2 mm get (nearly) the same window."""
    volume, _ = synthetic_head(noise=4.0)
    coarse = choose_window(volume, (VOXEL_MM,) * 3)
    fine = np.repeat(np.repeat(np.repeat(volume, 2, 0), 2, 1), 2, 2)
    assert choose_window(fine, (1.0, 1.0, 1.0)).high == pytest.approx(coarse.high, rel=0.03)


def test_head_mask_and_core():
    volume, tissue = synthetic_head(vessels=False)
    head = head_mask(volume, (VOXEL_MM,) * 3)
    assert head.step == (2, 2, 2) and head.voxel_sizes_mm == (4.0, 4.0, 4.0)
    sampled_white = tissue["white"][::2, ::2, ::2]
    assert head.mask[sampled_white].all()  # dark ventricles and skull are filled in
    core = brain_core(head)
    # the core is brain: no fat, no neck, inside the skull
    assert core.sum() > 1000
    assert np.mean(volume[::2, ::2, ::2][core] > 1000) < 0.01
    box = head.bounding_box(margin_mm=0)
    assert box is not None
    (x0, x1), (y0, y1), (z0, z1) = box
    # the head spans x ±72 mm around voxel 45 → voxels 9..81, y 20..91; z from the neck up
    assert x0 <= 10 and x1 >= 81 and y0 <= 20 and y1 >= 90
    assert z0 == 0 and 110 <= z1 <= 120


def test_specks_of_noise_do_not_widen_the_bounding_box():
    volume, _ = synthetic_head(neck=False)
    volume[2, 2, 2] = volume[88, 108, 118] = 5000.0  # two hot voxels in the corners
    box = head_mask(volume, (VOXEL_MM,) * 3).bounding_box(margin_mm=0)
    assert box is not None
    assert box[0][0] > 4 and box[0][1] < 86


@pytest.mark.parametrize(
    "volume",
    [
        np.zeros((20, 20, 20), np.float32),
        np.full((20, 20, 20), np.nan, np.float32),
        np.random.default_rng(1).uniform(0, 1, (30, 30, 30)).astype(np.float32),
        np.full((5, 6, 1), 3.0, np.float32),
    ],
    ids=["zeros", "nan", "uniform-noise", "constant-slab"],
)
def test_non_heads_fall_back_to_percentiles(volume):
    window = choose_window(volume, (1.0, 1.0, 1.0))
    assert window.method == "percentiles"
    assert window.high > window.low


def test_white_matter_peak_of_integer_data_has_no_comb():
    """Integer data with a step of 2 (e.g. scaled uint8): the peak is where the mode is."""
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(150, 15, 20000), rng.normal(260, 10, 40000)])
    values = 2 * np.round(values / 2)
    assert white_matter_peak(values) == pytest.approx(260, abs=4)


def test_otsu_threshold_splits_two_classes():
    values = np.concatenate([np.full(1000, 10.0), np.full(500, 90.0)])
    assert 10 < otsu_threshold(values) < 90
    assert np.isfinite(otsu_threshold(np.full(10, 4.0)))


def test_skull_stripped_image_gets_black_at_its_darkest_tissue():
    """No noise outside the head: black moves from the background up to the brain's CSF."""
    volume, tissue = synthetic_head(fat=0.0, neck=False, vessels=False, noise=0.0)
    volume[volume < 100] = 0.0  # zero-filled outside the brain, like a template
    window = choose_window(volume, (VOXEL_MM,) * 3)
    assert window.method == "brain"
    assert window.low == pytest.approx(CSF, rel=0.05)
    separation = grey_levels(volume, window.limits, tissue["white"]) - grey_levels(
        volume, window.limits, tissue["grey"]
    )
    assert separation >= 90
    noisy = synthetic_head(neck=False, vessels=False)[0]
    assert choose_window(noisy, (VOXEL_MM,) * 3).low < 20  # noise: black stays at background


def test_burned_in_markers_at_the_maximum_are_not_white_matter():
    volume, _ = synthetic_head(fat=900.0, neck=False, vessels=False)
    volume[30:60, 40:70, 60:75] = 950.0  # a big "L" marker inside the brain, at the maximum
    volume = np.minimum(volume, 950.0)
    window = choose_window(volume, (VOXEL_MM,) * 3)
    assert window.white_peak == pytest.approx(WHITE, rel=0.05)


def test_a_coil_bias_does_not_clip_the_brains_bright_edge():
    """A receive-coil bias: the brain 1.6× brighter at the back than in front."""
    volume, tissue = synthetic_head(fat=1500.0, neck=False, vessels=False)
    y = np.arange(volume.shape[1])[None, :, None]
    bias = 1.0 + 0.6 * np.clip((55 - y) / 40, 0, 1)  # posterior (low y) brighter
    brain = tissue["white"] | tissue["grey"]
    volume = np.where(brain, volume * bias, volume).astype(np.float32)
    window = choose_window(volume, (VOXEL_MM,) * 3)
    drawn = to_uint8(volume[brain], window.limits)
    assert np.mean(drawn == 255) < 0.08  # the bright edge keeps its detail
    assert grey_levels(volume, window.limits, tissue["white"]) >= 0.6 * 255 - 8
    unbiased = choose_window(synthetic_head(fat=1500.0, neck=False, vessels=False)[0], (2.0,) * 3)
    assert window.high > unbiased.high  # the window opened for the bias
    assert window.high <= window.low + (window.white_peak - window.low) / 0.6 + 1e-6
