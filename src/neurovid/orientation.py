"""Bring any stored voxel order to one anatomical frame, using the image's affine.

Convention: the *display volume* is indexed ``[x, y, z]`` with x increasing to the
subject's Right, y to Anterior and z to Superior (RAS+, the NIfTI world convention).
Only flips and axis permutations are applied (no resampling), so an oblique scan is shown
on its closest canonical axes; :func:`obliquity_deg` says by how much that is off.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np


@dataclass(frozen=True)
class DisplayVolume:
    """A volume whose array axes are (R, A, S), plus the geometry needed to label it.

    A display volume may be a crop of a larger one (:meth:`cropped`): ``offset`` and
    ``full_shape`` then say where it sits, so that slice numbers and positions are those
    of the whole image.

    Attributes
    ----------
    data : numpy.ndarray
        3-D array indexed ``[x, y, z]`` = (left→right, posterior→anterior,
        inferior→superior). Usually a view of the stored array (no copy).
    affine : numpy.ndarray
        4×4 map from ``data`` voxel indices to world (scanner) coordinates in mm.
    voxel_sizes_mm : tuple of float
        Voxel size along x, y and z of ``data``, in mm.
    offset : tuple of int
        Index, in the whole display volume, of ``data[0, 0, 0]`` (0s unless cropped).
    full_shape : tuple of int, optional
        Shape of the whole display volume (default: ``data``'s shape).
    """

    data: np.ndarray
    affine: np.ndarray
    voxel_sizes_mm: tuple[float, float, float]
    offset: tuple[int, int, int] = (0, 0, 0)
    full_shape: tuple[int, int, int] | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along x, y and z of ``data``."""
        return tuple(int(n) for n in self.data.shape[:3])  # type: ignore[return-value]

    @property
    def whole_shape(self) -> tuple[int, int, int]:
        """Number of voxels along x, y and z of the whole (uncropped) display volume."""
        return self.full_shape if self.full_shape is not None else self.shape

    def slice_positions_mm(self, axis: int) -> tuple[float, float]:
        """``(start, step)``: slice ``i`` of ``data`` along ``axis`` is at ``start + i * step`` mm.

        The world coordinate along ``axis`` of the slice's centre — the centre of the
        *whole* volume's slice, so a crop never changes a label. For an oblique scan a slice
        is not at one world coordinate; the value at its centre is reported, as scanner
        consoles do. Positions computed this way (also by the review page, from the
        sidecar) are bit-identical to :meth:`world_position_mm`.
        """
        centre = (np.asarray(self.whole_shape, dtype=float) - 1.0) / 2.0 - np.asarray(self.offset)
        centre[axis] = 0.0
        start = float((self.affine[:3, :3] @ centre + self.affine[:3, 3])[axis])
        return start, float(self.affine[axis, axis])

    def world_position_mm(self, axis: int, index: int) -> float:
        """World coordinate (mm) along ``axis`` of slice ``index`` of ``data``, at its centre."""
        start, step = self.slice_positions_mm(axis)
        return start + index * step

    def cropped(self, ranges: tuple[tuple[int, int], ...]) -> DisplayVolume:
        """The part ``[start, stop)`` along x, y, z of this volume (a view, no copy)."""
        lows = np.array([start for start, _ in ranges])
        view = self.data[tuple(slice(start, stop) for start, stop in ranges)]
        shift = np.eye(4)
        shift[:3, 3] = lows
        return DisplayVolume(
            data=view,
            affine=self.affine @ shift,
            voxel_sizes_mm=self.voxel_sizes_mm,
            offset=tuple(int(o + s) for o, s in zip(self.offset, lows, strict=True)),  # type: ignore[arg-type]
            full_shape=self.whole_shape,
        )


def axis_codes(affine: np.ndarray) -> str:
    """Anatomical direction each stored voxel axis points to, e.g. ``"PSR"`` or ``"LIA"``."""
    return "".join(nib.orientations.aff2axcodes(affine))


def obliquity_deg(affine: np.ndarray) -> float:
    """Largest angle, in degrees, between a voxel axis and its closest scanner axis.

    0 for an image whose voxel axes are aligned with the scanner axes (in any order).
    """
    return float(np.degrees(np.max(np.abs(nib.affines.obliquity(affine)))))


def to_display_volume(data: np.ndarray, affine: np.ndarray) -> DisplayVolume:
    """Flip and permute ``data`` so that its axes are (R, A, S), following ``affine``.

    Parameters
    ----------
    data : numpy.ndarray
        3-D array in the stored voxel order.
    affine : numpy.ndarray
        4×4 voxel-to-world affine of ``data`` (mm).

    Returns
    -------
    DisplayVolume
        A view of ``data`` in RAS+ order with the matching affine and voxel sizes.
    """
    ornt = nib.orientations.io_orientation(affine)
    ras_data = nib.orientations.apply_orientation(data, ornt)
    ras_affine = affine @ nib.orientations.inv_ornt_aff(ornt, data.shape[:3])
    voxel_sizes = np.sqrt(np.sum(ras_affine[:3, :3] ** 2, axis=0))
    return DisplayVolume(
        data=ras_data,
        affine=ras_affine,
        voxel_sizes_mm=tuple(float(v) for v in voxel_sizes),  # type: ignore[arg-type]
    )
