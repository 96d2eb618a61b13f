"""Build the tiny template mask that neurovid.quality compares head shapes with (run once).

The MNI152 2009a symmetric T1 template that the nilearn wheel ships (the demo's brain) is
thresholded (voxels above 10 % of its maximum: the template is skull-stripped, so this is
the brain), its holes are filled (ventricles), and the mask is averaged over 8x8x8 mm cells:
each cell holds the fraction of it inside the brain, 0-255. The result is a ~25x30x24 uint8
NIfTI of a few KB in RAS+ orientation, committed as
``src/neurovid/data/mni152_brain_8mm.nii.gz``; the product never needs nilearn.

Usage::

    python tools/build_template_mask.py [OUT]
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from neurovid.demo import template_path  # noqa: E402

CELL_MM = 8
DEFAULT_OUT = ROOT / "src" / "neurovid" / "data" / "mni152_brain_8mm.nii.gz"


def build(out: Path) -> Path:
    image = nib.as_closest_canonical(nib.load(template_path()))
    data = np.asarray(image.dataobj, dtype=np.float32)
    voxel_mm = np.sqrt((image.affine[:3, :3] ** 2).sum(axis=0))
    if not np.allclose(voxel_mm, 1.0):
        raise SystemExit(f"expected a 1 mm template, got {voxel_mm} mm")
    mask = ndimage.binary_fill_holes(data > 0.1 * data.max())
    labels, n = ndimage.label(mask)
    if n > 1:
        mask = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    cells = [n // CELL_MM for n in mask.shape]
    trimmed = mask[: cells[0] * CELL_MM, : cells[1] * CELL_MM, : cells[2] * CELL_MM]
    blocks = trimmed.reshape(cells[0], CELL_MM, cells[1], CELL_MM, cells[2], CELL_MM)
    occupancy = blocks.mean(axis=(1, 3, 5))
    stored = np.round(occupancy * 255).astype(np.uint8)
    affine = image.affine @ np.diag([CELL_MM, CELL_MM, CELL_MM, 1.0])
    affine[:3, 3] = image.affine[:3, :3] @ np.full(3, (CELL_MM - 1) / 2) + image.affine[:3, 3]
    result = nib.Nifti1Image(stored, affine)
    result.header.set_xyzt_units("mm")
    result.header["descrip"] = b"MNI152 2009a brain, fraction per 8 mm cell x255"
    out.parent.mkdir(parents=True, exist_ok=True)
    # deterministic gzip (no timestamp), so rebuilding gives the same bytes
    out.write_bytes(gzip.compress(result.to_bytes(), mtime=0))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    path = build(args.out)
    print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
