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

    Attributes
    ----------
    data : numpy.ndarray
        3-D array indexed ``[x, y, z]`` = (left→right, posterior→anterior,
        inferior→superior). Usually a view of the stored array (no copy).
    affine : numpy.ndarray
        4×4 map from ``data`` voxel indices to world (scanner) coordinates in mm.
    voxel_sizes_mm : tuple of float
        Voxel size along x, y and z of ``data``, in mm.
    """

    data: np.ndarray
    affine: np.ndarray
    voxel_sizes_mm: tuple[float, float, float]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along x, y and z."""
        return tuple(int(n) for n in self.data.shape[:3])  # type: ignore[return-value]

    def world_position_mm(self, axis: int, index: int) -> float:
        """World coordinate (mm) along ``axis`` of slice ``index``, at the slice's centre.

        For an oblique scan a slice is not at one world coordinate; the value at the centre
        of the slice is reported, as scanner consoles do.
        """
        voxel = (np.asarray(self.shape, dtype=float) - 1.0) / 2.0
        voxel[axis] = index
        return float((self.affine[:3, :3] @ voxel + self.affine[:3, 3])[axis])


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
