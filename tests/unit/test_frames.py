"""Frame geometry, sweep and intensity window."""

from __future__ import annotations

import numpy as np
import pytest

from neurovid.frames import compute_layout, panel_specs, sweep_indices
from neurovid.intensity import to_uint8, window_limits


def test_anisotropic_volume_keeps_true_proportions():
    """A 1×1×4.8 mm volume: every panel has one mm-per-pixel scale and square pixels."""
    shape, voxel = (256, 256, 35), (1.0, 1.0, 4.8)
    specs = panel_specs()
    layout = compute_layout(shape, voxel, specs, frame_width=1280)
    extent = [n * v for n, v in zip(shape, voxel, strict=True)]
    for spec, box in zip(specs, layout.boxes, strict=True):
        mm_wide, mm_high = extent[spec.col_axis], extent[spec.row_axis]
        assert box.width / box.height == pytest.approx(mm_wide / mm_high, rel=0.01)
        assert box.width / mm_wide == pytest.approx(layout.px_per_mm, rel=0.01)
        assert box.height / mm_high == pytest.approx(layout.px_per_mm, rel=0.01)
    sagittal = layout.boxes[0]
    # 256 mm front-to-back, 168 mm top-to-bottom: wider than tall, not squashed to 256×35
    assert sagittal.width / sagittal.height == pytest.approx(256 / 168, rel=0.01)


@pytest.mark.parametrize("width", [1280, 1440, 1600])
def test_frame_is_even_and_about_the_requested_width(width):
    layout = compute_layout((197, 233, 189), (1.0, 1.0, 1.0), panel_specs(), frame_width=width)
    assert layout.width % 2 == 0 and layout.height % 2 == 0
    assert abs(layout.width - width) <= 4


@pytest.mark.parametrize("shape", [(197, 233, 189), (256, 256, 35), (10, 300, 7)])
def test_together_sweep_shows_every_slice(shape):
    indices = sweep_indices(shape, "together")
    assert indices.shape == (max(shape), 3)
    for axis, n in enumerate(shape):
        assert set(indices[:, axis]) == set(range(n))
        assert np.all(np.diff(indices[:, axis]) >= 0)


def test_sequential_sweep_moves_one_plane_at_a_time():
    shape = (5, 7, 3)
    indices = sweep_indices(shape, "sequential")
    assert indices.shape == (sum(shape), 3)
    np.testing.assert_array_equal(indices[:5, 0], range(5))
    assert set(map(tuple, indices[:5, 1:])) == {(3, 1)}
    np.testing.assert_array_equal(indices[5:12, 1], range(7))
    np.testing.assert_array_equal(indices[12:, 2], range(3))


def test_window_ignores_background_and_nonfinite():
    rng = np.random.default_rng(0)
    volume = np.zeros((60, 60, 60), dtype=np.float32)  # 70 % background
    head = rng.uniform(100, 200, size=(40, 40, 40)).astype(np.float32)
    volume[10:50, 10:50, 10:50] = head
    volume[0, 0, :5] = [np.nan, np.inf, -np.inf, np.nan, np.nan]
    low, high = window_limits(volume, (0.5, 99.5))
    assert 100 <= low < 102 and 198 < high <= 200
    assert window_limits(volume, (5, 95))[0] == pytest.approx(105, abs=1)


def test_window_of_constant_and_empty_volumes_is_usable():
    assert window_limits(np.full((4, 4, 4), 7.0)) == (7.0, 8.0)
    assert window_limits(np.full((4, 4, 4), np.nan)) == (0.0, 1.0)


def test_to_uint8_maps_window_to_full_range():
    out = to_uint8(np.array([0.0, 10.0, 15.0, 20.0, 30.0]), (10.0, 20.0))
    np.testing.assert_array_equal(out, [0, 0, 128, 255, 255])


@pytest.mark.parametrize("sweep", ["together", "sequential"])
def test_iterating_draws_the_same_frames_as_drawing_each_alone(sweep):
    from neurovid.frames import FrameRenderer
    from neurovid.orientation import to_display_volume
    from neurovid.testing import phantom

    volume = to_display_volume(phantom((12, 16, 10)), np.diag([1.0, 1.5, 2.0, 1.0]))
    renderer = FrameRenderer(volume, (0.0, 1000.0), title="t", details="d", sweep=sweep,
                             frame_width=500)  # fmt: skip
    for frame_index, frame in enumerate(renderer):
        np.testing.assert_array_equal(frame, renderer.frame(frame_index))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "+0.0"),
        (-0.0, "+0.0"),
        (-0.04, "+0.0"),
        (0.25, "+0.3"),  # an exact tie: away from zero, as JavaScript's toFixed(1)
        (-0.25, "-0.3"),
        (12.25, "+12.3"),
        (-90.75, "-90.8"),
        (0.35, "+0.3"),  # 0.35 is 0.34999999999999997… in binary
        (1.05, "+1.1"),  # 1.05 is 1.0500000000000000444… in binary
        (-127.96, "-128.0"),
    ],
)
def test_format_mm_matches_javascript_to_fixed(value, text):
    from neurovid.frames import format_mm

    assert format_mm(value) == text


@pytest.mark.parametrize("sweep", ["together", "sequential"])
def test_planes_record_gives_every_frame_label(sweep):
    """What the review page computes from the sidecar (planes + sweep) is what is drawn."""
    from neurovid.frames import FrameRenderer, crop_to_head, format_mm
    from neurovid.intensity import head_mask
    from neurovid.orientation import to_display_volume
    from neurovid.testing import phantom

    affine = np.array(
        [[0.0, 0.0, -1.25, 40.125], [-0.9, 0.0, 0.0, 20.25], [0.0, 1.5, 0.0, -30.75], [0, 0, 0, 1]]
    )
    data = np.pad(phantom((14, 18, 12)), ((3, 6), (5, 1), (2, 4)))
    display = to_display_volume(data, affine)
    volume = crop_to_head(display, head_mask(display.data, display.voxel_sizes_mm), 1.0)
    renderer = FrameRenderer(volume, (0.0, 1000.0), title="", details="", sweep=sweep)
    planes = renderer.planes()
    counts = [p["count"] for p in sorted(planes, key=lambda p: "xyz".index(p["axis"]))]
    indices = sweep_indices(counts, sweep)
    assert indices.shape[0] == renderer.n_frames
    for frame_index in range(renderer.n_frames):
        for panel, plane in enumerate(planes):
            index = int(indices[frame_index]["xyz".index(plane["axis"])])
            position = plane["start_mm"] + index * plane["step_mm"]
            expected = (
                f"{plane['axis']} = {format_mm(position)} mm",
                f"{plane['first'] + index + 1}/{plane['slices']}",
            )
            assert renderer.position_text(panel, index) == expected
