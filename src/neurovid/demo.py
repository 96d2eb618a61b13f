"""Build the embedded demo dataset offline from the MNI152 template in the nilearn wheel.

The same brain is stored in different voxel orders, resolutions, datatypes and one oblique
grid, so the review page shows at a glance that neurovid draws them all the same way up:

========================================  =====  ==========  =======  =================
file                                       axes   voxel (mm)  dtype    note
========================================  =====  ==========  =======  =================
sub-01/anat/sub-01_T1w                     RAS    1×1×1       uint8    as shipped
sub-02/ses-1/anat/sub-02_ses-1_T1w         LPI    1×1×1       uint8
sub-02/ses-2/anat/sub-02_ses-2_T1w         PIR    2×2×2       int16    scl_slope 0.5
sub-03/anat/sub-03_run-1_T1w               LIA    1×1×1       float32  FreeSurfer-like
sub-03/anat/sub-03_run-2_T1w               PSR    1×1×4       int16    thick sagittal
sub-04/anat/sub-04_acq-oblique_T1w         RAS    1×1×1       uint8    15° oblique grid
========================================  =====  ==========  =======  =================

``derivatives/`` holds a T1w-named file that discovery must ignore.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

from .errors import ConfigError

TEMPLATE_NAME = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"


def _missing(package: str) -> ConfigError:
    return ConfigError(
        f"config error: the demo dataset needs {package}, which is not installed "
        f"(pip install {package}; `pip install neurovid` includes it)"
    )


def template_path() -> Path:
    """Path of the MNI152 T1 template inside the installed nilearn (not imported).

    Raises
    ------
    ConfigError
        One line saying how to install what is missing.
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("nilearn")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / TEMPLATE_NAME
    if not path.is_file():
        raise ConfigError(f"config error: nilearn does not ship {TEMPLATE_NAME} at {path}")
    return path


def reorient(image: nib.Nifti1Image, axcodes: str) -> nib.Nifti1Image:
    """The same anatomy stored with voxel axes pointing to ``axcodes`` (e.g. ``"PIR"``)."""
    current = nib.orientations.io_orientation(image.affine)
    target = nib.orientations.axcodes2ornt(tuple(axcodes))
    return image.as_reoriented(nib.orientations.ornt_transform(current, target))


def subsample(image: nib.Nifti1Image, steps: Sequence[int]) -> nib.Nifti1Image:
    """Keep every ``steps[i]``-th voxel along axis i (voxel size grows by that factor)."""
    data = np.asarray(image.dataobj)[:: steps[0], :: steps[1], :: steps[2]]
    affine = image.affine @ np.diag([*steps, 1])
    return nib.Nifti1Image(np.ascontiguousarray(data), affine)


def oblique(image: nib.Nifti1Image, degrees: float) -> nib.Nifti1Image:
    """Resample onto a grid tilted by ``degrees`` about the left-right axis (pitch)."""
    from scipy import ndimage

    angle = np.radians(degrees)
    rotation = np.eye(4)
    rotation[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    centre = image.affine @ np.r_[(np.asarray(image.shape[:3]) - 1) / 2, 1]
    shift, unshift = np.eye(4), np.eye(4)
    shift[:3, 3], unshift[:3, 3] = -centre[:3], centre[:3]
    new_affine = unshift @ rotation @ shift @ image.affine
    voxel_map = np.linalg.inv(image.affine) @ new_affine
    data = ndimage.affine_transform(
        np.asarray(image.dataobj, dtype=np.float32), voxel_map[:3, :3], voxel_map[:3, 3], order=1
    )
    return nib.Nifti1Image(np.clip(data, 0, 255).round().astype(np.uint8), new_affine)


def _with_dtype(image: nib.Nifti1Image, dtype: str, slope: float = 1.0) -> nib.Nifti1Image:
    data = np.asarray(image.dataobj, dtype=np.float32)
    if dtype == "float32":
        out = nib.Nifti1Image(data, image.affine)
    else:
        out = nib.Nifti1Image(np.round(data / slope).astype(dtype), image.affine)
        out.header.set_slope_inter(slope, 0)
    out.header.set_xyzt_units("mm", "sec")
    return out


def build_demo_dataset(out_dir: str | Path) -> list[Path]:
    """Write the demo BIDS dataset into ``out_dir``; return the T1w files written."""
    root = Path(out_dir)
    if importlib.util.find_spec("scipy") is None:  # oblique() needs it; fail before writing
        raise _missing("scipy")
    template = nib.load(template_path())
    template = nib.Nifti1Image(np.asarray(template.dataobj), template.affine)
    images = {
        "sub-01/anat/sub-01_T1w.nii.gz": _with_dtype(template, "uint8"),
        "sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz": _with_dtype(
            reorient(template, "LPI"), "uint8"
        ),
        "sub-02/ses-2/anat/sub-02_ses-2_T1w.nii.gz": _with_dtype(
            reorient(subsample(template, (2, 2, 2)), "PIR"), "int16", slope=0.5
        ),
        "sub-03/anat/sub-03_run-1_T1w.nii.gz": _with_dtype(reorient(template, "LIA"), "float32"),
        "sub-03/anat/sub-03_run-2_T1w.nii.gz": _with_dtype(
            reorient(subsample(template, (4, 1, 1)), "PSR"), "int16"
        ),
        "sub-04/anat/sub-04_acq-oblique_T1w.nii.gz": _with_dtype(oblique(template, 15), "uint8"),
        # a derivative with a T1w name: discovery must not pick it up
        "derivatives/smoothed/sub-01/anat/sub-01_desc-smooth_T1w.nii.gz": _with_dtype(
            subsample(template, (3, 3, 3)), "uint8"
        ),
    }
    written = []
    for relpath, image in images.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(image, path)
        if not relpath.startswith("derivatives/"):
            written.append(path)
    description = {
        "Name": "neurovid demo: one MNI152 brain stored six ways",
        "BIDSVersion": "1.10.0",
        "DatasetType": "raw",
        "License": "see nilearn's MNI152 template licence",
        "GeneratedBy": [{"Name": "neurovid.demo"}],
    }
    (root / "dataset_description.json").write_text(json.dumps(description, indent=2) + "\n")
    (root / "participants.tsv").write_text(
        "participant_id\tnote\n" + "".join(f"sub-0{i}\tdemo\n" for i in range(1, 5))
    )
    (root / "derivatives" / "smoothed" / "dataset_description.json").write_text(
        json.dumps({"Name": "smoothed", "BIDSVersion": "1.10.0", "DatasetType": "derivative"})
    )
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="demo/bids", help="where to write it")
    args = parser.parse_args(argv)
    try:
        written = build_demo_dataset(args.out_dir)
    except ConfigError as error:
        print(str(error).removeprefix("config error: "), file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
