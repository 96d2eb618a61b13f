"""The same anatomy stored in any of the 48 voxel orders renders the same frames."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurovid.frames import FrameRenderer, crop_to_head, panel_specs
from neurovid.intensity import head_mask, window_limits
from neurovid.orientation import axis_codes, obliquity_deg, to_display_volume
from neurovid.testing import phantom

VOXEL_MM = (1.0, 1.25, 1.5)  # anisotropic, so a wrong permutation of sizes shows
ORIGIN_MM = (-12.0, -17.0, -14.0)
ORIENTATIONS = [
    (perm, flips)
    for perm in itertools.permutations(range(3))
    for flips in itertools.product((False, True), repeat=3)
]


def stored_version(ras_data: np.ndarray, perm, flips) -> tuple[np.ndarray, np.ndarray]:
    """Store a RAS array with stored axis ``a`` along RAS axis ``perm[a]`` (flipped or not).

    The affine is built by hand (not with nibabel) from the voxel -> RAS-voxel map.
    """
    stored = ras_data.transpose(perm)
    voxel_to_ras_voxel = np.zeros((4, 4))
    voxel_to_ras_voxel[3, 3] = 1
    for axis, (ras_axis, flipped) in enumerate(zip(perm, flips, strict=True)):
        if flipped:
            stored = np.flip(stored, axis)
            voxel_to_ras_voxel[ras_axis, axis] = -1
            voxel_to_ras_voxel[ras_axis, 3] = ras_data.shape[ras_axis] - 1
        else:
            voxel_to_ras_voxel[ras_axis, axis] = 1
    ras_affine = np.diag([*VOXEL_MM, 1.0])
    ras_affine[:3, 3] = ORIGIN_MM
    return np.ascontiguousarray(stored), ras_affine @ voxel_to_ras_voxel


def frames_of(data, affine, **kwargs) -> np.ndarray:
    display = to_display_volume(data, affine)
    renderer = FrameRenderer(
        display, window_limits(data), title="sub-01", details="", frame_width=400, **kwargs
    )
    return np.stack([frame.copy() for frame in renderer])


@pytest.fixture(scope="module")
def reference():
    ras = phantom((20, 24, 18))
    return ras, frames_of(*stored_version(ras, (0, 1, 2), (False, False, False)))


@pytest.mark.parametrize(("perm", "flips"), ORIENTATIONS)
def test_all_48_orientations_render_identical_frames(reference, perm, flips):
    ras, expected = reference
    data, affine = stored_version(ras, perm, flips)
    display = to_display_volume(data, affine)
    np.testing.assert_array_equal(display.data, ras)
    np.testing.assert_allclose(display.voxel_sizes_mm, VOXEL_MM)
    np.testing.assert_array_equal(frames_of(data, affine), expected)


def test_axis_codes_of_hand_built_affines():
    ras = phantom((20, 24, 18))
    assert axis_codes(stored_version(ras, (0, 1, 2), (False, False, False))[1]) == "RAS"
    assert axis_codes(stored_version(ras, (0, 1, 2), (True, True, True))[1]) == "LPI"
    # stored axes: posterior (flipped y), inferior (flipped z), right
    assert axis_codes(stored_version(ras, (1, 2, 0), (True, True, False))[1]) == "PIR"
    assert axis_codes(stored_version(ras, (0, 2, 1), (True, True, False))[1]) == "LIA"


@pytest.mark.parametrize("degrees", [0.0, 4.1, 10.0, 30.0])
def test_obliquity_of_a_rotated_affine(degrees):
    angle = np.radians(degrees)
    rotation = np.eye(4)
    rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    affine = rotation @ np.diag([1.0, 1.0, 4.8, 1.0])
    assert obliquity_deg(affine) == pytest.approx(degrees, abs=1e-6)
    assert obliquity_deg(affine[:, [1, 0, 2, 3]]) == pytest.approx(degrees, abs=1e-6)


def test_world_position_of_slices():
    ras = phantom((20, 24, 18))
    data, affine = stored_version(ras, (2, 0, 1), (True, False, True))
    display = to_display_volume(data, affine)
    for axis in range(3):
        for index in (0, 5, display.shape[axis] - 1):
            expected = ORIGIN_MM[axis] + index * VOXEL_MM[axis]
            assert display.world_position_mm(axis, index) == pytest.approx(expected)


@pytest.mark.parametrize("display", ["neurological", "radiological"])
def test_letters_match_the_anatomy(display):
    """A bright blob in the subject's left-anterior-superior corner appears on the sides
    that the panel's letters name."""
    shape = (30, 34, 26)
    ras = np.full(shape, 100.0, dtype=np.float32)
    ras[:8, -8:, -8:] = 1000.0  # x low = Left, y high = Anterior, z high = Superior
    data, affine = stored_version(ras, (1, 2, 0), (True, True, False))  # PIR on disk
    renderer = FrameRenderer(
        to_display_volume(data, affine), (0.0, 1000.0), title="", details="", display=display
    )
    sides = {"L": "x", "A": "y", "S": "z"}
    for panel, spec in enumerate(renderer.specs):
        letters = spec.letters()
        middle = shape[spec.slice_axis] // 2
        # the slice through the blob: at its x/y/z, not mid-volume
        index = {0: 3, 1: shape[1] - 3, 2: shape[2] - 3}[spec.slice_axis]
        image = renderer.panel_image(panel, index).astype(float)
        height, width = image.shape
        bright_rows, bright_cols = np.nonzero(image > 200)
        assert bright_rows.size, f"{spec.name}: blob not visible"
        top_half = bright_rows.mean() < height / 2
        left_half = bright_cols.mean() < width / 2
        for letter, axis_name in sides.items():
            axis = "xyz".index(axis_name)
            if axis == spec.row_axis:
                assert (letters["top"] == letter) == top_half, (spec.name, letters)
            if axis == spec.col_axis:
                assert (letters["left"] == letter) == left_half, (spec.name, letters)
        assert middle >= 0


def test_display_conventions():
    neuro = {s.name: s.letters() for s in panel_specs("neurological")}
    radio = {s.name: s.letters() for s in panel_specs("radiological")}
    assert neuro["Sagittal"] == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
    assert neuro["Coronal"] == {"top": "S", "bottom": "I", "left": "L", "right": "R"}
    assert neuro["Axial"] == {"top": "A", "bottom": "P", "left": "L", "right": "R"}
    assert radio["Coronal"]["left"] == "R" and radio["Axial"]["left"] == "R"
    assert radio["Sagittal"] == neuro["Sagittal"]


# ---------------------------------------------------------------------------- crop to the head


def padded_head(shape=(20, 24, 18), pad=((9, 5), (4, 12), (7, 3))) -> np.ndarray:
    """The phantom in a larger, empty field of view (unequal margins on every side)."""
    return np.pad(phantom(shape), pad)


def cropped_frames_of(data, affine) -> np.ndarray:
    display = to_display_volume(data, affine)
    cropped = crop_to_head(display, head_mask(display.data, display.voxel_sizes_mm), 2.0)
    renderer = FrameRenderer(
        cropped, window_limits(data), title="sub-01", details="", frame_width=400
    )
    return np.stack([frame.copy() for frame in renderer])


@pytest.fixture(scope="module")
def cropped_reference():
    ras = padded_head()
    return ras, cropped_frames_of(*stored_version(ras, (0, 1, 2), (False, False, False)))


@pytest.mark.parametrize(("perm", "flips"), ORIENTATIONS)
def test_all_48_orientations_crop_and_render_identical_frames(cropped_reference, perm, flips):
    ras, expected = cropped_reference
    np.testing.assert_array_equal(cropped_frames_of(*stored_version(ras, perm, flips)), expected)


def test_crop_keeps_the_whole_head_and_the_true_positions():
    ras = padded_head()
    data, affine = stored_version(ras, (2, 0, 1), (True, False, True))
    display = to_display_volume(data, affine)
    cropped = crop_to_head(display, head_mask(display.data, display.voxel_sizes_mm), 2.0)
    assert cropped.shape != display.shape and cropped.whole_shape == display.shape
    # every voxel of the head is inside the crop
    inside = np.zeros(display.shape, bool)
    inside[tuple(slice(o, o + n) for o, n in zip(cropped.offset, cropped.shape, strict=True))] = (
        True
    )
    assert not np.any(display.data[~inside] > 0)
    full = FrameRenderer(display, (0.0, 1000.0), title="", details="", frame_width=400)
    crop = FrameRenderer(cropped, (0.0, 1000.0), title="", details="", frame_width=400)
    assert crop.layout.px_per_mm > full.layout.px_per_mm
    for panel, spec in enumerate(crop.specs):
        axis = spec.slice_axis
        for index in range(cropped.shape[axis]):
            whole_index = index + cropped.offset[axis]
            assert cropped.world_position_mm(axis, index) == pytest.approx(
                display.world_position_mm(axis, whole_index), abs=1e-9
            )
            assert crop.position_text(panel, index) == full.position_text(panel, whole_index)
            np.testing.assert_array_equal(
                spec.cut(cropped.data, index),
                spec.cut(display.data, whole_index)[_panel_window(spec, cropped, display)],
            )


def _panel_window(spec, cropped, display):
    """Rows and columns of the whole slice (as drawn) that the cropped slice shows."""
    cuts = []
    for axis, flipped in ((spec.row_axis, spec.rows_flipped), (spec.col_axis, spec.cols_flipped)):
        start, n, whole = cropped.offset[axis], cropped.shape[axis], display.shape[axis]
        cuts.append(
            slice(whole - start - n, whole - start) if flipped else slice(start, start + n)
        )
    return tuple(cuts)


@pytest.mark.parametrize("display", ["neurological", "radiological"])
def test_letters_stay_true_after_the_crop(display):
    """The left-anterior-superior blob of a head in a wide, empty field of view."""
    ras = np.zeros((60, 64, 56), np.float32)
    ras[15:45, 12:50, 10:44] = 100.0  # the head, off-centre in the field of view
    ras[15:21, 44:50, 38:44] = 1000.0  # x low = Left, y high = Anterior, z high = Superior
    data, affine = stored_version(ras, (1, 2, 0), (True, True, False))  # PIR on disk
    volume = to_display_volume(data, affine)
    cropped = crop_to_head(volume, head_mask(volume.data, volume.voxel_sizes_mm), 1.0)
    assert cropped.offset != (0, 0, 0)
    renderer = FrameRenderer(cropped, (0.0, 1000.0), title="", details="", display=display)
    sides = {"L": 0, "A": 1, "S": 2}
    for panel, spec in enumerate(renderer.specs):
        letters = spec.letters()
        blob_index = {0: 17, 1: 47, 2: 41}[spec.slice_axis] - cropped.offset[spec.slice_axis]
        image = renderer.panel_image(panel, blob_index).astype(float)
        height, width = image.shape
        rows, cols = np.nonzero(image > 200)
        assert rows.size, f"{spec.name}: blob not visible"
        for letter, axis in sides.items():
            if axis == spec.row_axis:
                assert (letters["top"] == letter) == (rows.mean() < height / 2), spec.name
            if axis == spec.col_axis:
                assert (letters["left"] == letter) == (cols.mean() < width / 2), spec.name
