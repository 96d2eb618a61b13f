"""Standalone inputs in the other formats nibabel reads: FreeSurfer ``.mgz``/``.mgh`` and
Analyze/NIfTI-1 pairs ``.hdr``/``.img``.

NIfTI (``.nii``, ``.nii.gz``, NIfTI-1 and -2) goes through :func:`neurovid.volume.load_volume`'s
own reader (which hashes what it reads and refuses FIFOs before opening them); these formats
are rarer and standalone-only (the workflow discovers BIDS NIfTI), so here ``nibabel.load``
does the reading, with the same checks before and after: a regular file (and its partner for
a pair), a 3-D or 4-D spatial image within the size limits, finite and not constant. The
result is the same :class:`neurovid.volume.Volume`.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from pathlib import Path

import nibabel as nib
import numpy as np

from .errors import InputError
from .volume import Volume

#: Extensions this module reads (lower case).
NIBABEL_EXTENSIONS = (".mgz", ".mgh", ".hdr", ".img")


def is_nibabel_format(path: str | os.PathLike[str]) -> bool:
    """True for a ``.mgz``, ``.mgh``, ``.hdr`` or ``.img`` path."""
    return os.fspath(path).lower().endswith(NIBABEL_EXTENSIONS)


def _files_of(path: Path, shown: str) -> list[Path]:
    """The file(s) the image is made of: itself, or header and image of a pair."""
    files = [path]
    suffix = path.suffix.lower()
    if suffix in (".hdr", ".img"):
        partner_suffix = {".hdr": ".img", ".img": ".hdr"}[suffix]
        partner = path.with_suffix(
            partner_suffix if path.suffix.islower() else partner_suffix.upper()
        )
        if not partner.exists():
            partner = path.with_suffix(partner_suffix)
        files = [path, partner] if suffix == ".hdr" else [partner, path]
    for file in files:
        try:
            info = os.stat(file)
        except FileNotFoundError:
            what = "file not found" if file == path else f"its {file.suffix} file is missing"
            raise InputError(shown, what) from None
        except OSError as exc:
            raise InputError(shown, f"cannot be read ({exc.strerror or exc})") from None
        if not stat.S_ISREG(info.st_mode):
            raise InputError(shown, f"{file.name} is not a regular file")
        if info.st_size == 0:
            raise InputError(shown, f"{file.name} is empty (0 bytes)")
    return files


def _sha256(files: list[Path]) -> tuple[str, int]:
    """SHA-256 of the files' bytes in order (header first for a pair), and their total size."""
    digest, size = hashlib.sha256(), 0
    for file in files:
        with open(file, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def load_with_nibabel(
    path: str | os.PathLike[str],
    *,
    shown: str,
    max_bytes: int,
    max_frames_per_plane: int,
) -> Volume:
    """Load the first 3-D volume of a ``.mgz``/``.mgh``/``.hdr``/``.img`` image as float32.

    Parameters and errors as :func:`neurovid.volume.load_volume` (which calls this for these
    extensions). ``input_sha256`` is of the file's bytes, or of the header's then the image
    file's bytes for a pair.
    """
    files = _files_of(Path(path), shown)
    try:
        image = nib.load(os.fspath(files[0]))
    except Exception as exc:  # nibabel raises many kinds for a damaged file
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(shown, f"not a readable image: {reason}") from None
    shape = tuple(int(n) for n in image.shape)
    if len(shape) < 3 or len(shape) > 4:
        raise InputError(shown, f"image is {len(shape)}D (shape {'x'.join(map(str, shape))})")
    if min(shape[:3]) < 1:
        raise InputError(shown, f"image has an empty axis (shape {'x'.join(map(str, shape))})")
    if max(shape[:3]) > max_frames_per_plane:
        raise InputError(
            shown,
            f"{max(shape[:3])} slices along one axis (more than {max_frames_per_plane}): "
            "not a head scan",
        )
    if math.prod(shape[:3]) * 4 > max_bytes:
        raise InputError(shown, f"too large to load ({math.prod(shape[:3]) * 4 / 2**30:.1f} GiB)")
    try:
        proxy = image.dataobj[..., 0] if len(shape) == 4 else image.dataobj
        data = np.asarray(proxy, dtype=np.float32)
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(shown, f"voxel data cannot be read: {reason}") from None
    data = np.ascontiguousarray(data)
    sha256, size = _sha256(files)
    warnings = []
    n_volumes = shape[3] if len(shape) == 4 else 1
    if n_volumes > 1:
        warnings.append(f"4D image with {n_volumes} volumes: showing volume 1 of {n_volumes}")
    if isinstance(image, nib.AnalyzeImage) and not isinstance(image, nib.Nifti1Pair):
        warnings.append(
            "Analyze image: the format stores no orientation, nibabel's default "
            "(radiological) is assumed: check left and right"
        )
    finite = np.isfinite(data)
    nonfinite = int(data.size - np.count_nonzero(finite))
    if nonfinite == data.size:
        raise _with_checksum(
            InputError(shown, "no finite voxels (all NaN/Inf): nothing to show"), sha256, size
        )
    if nonfinite:
        data[~finite] = 0.0
        warnings.append(
            f"{nonfinite} NaN/Inf voxels ({100 * nonfinite / data.size:.2g}%): shown as 0"
        )
    low, high = float(data.min()), float(data.max())
    if low == high:
        raise _with_checksum(
            InputError(shown, f"constant image (all voxels = {low:g}): nothing to show"),
            sha256,
            size,
        )
    affine = np.asarray(image.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise _with_checksum(InputError(shown, "the affine is not invertible"), sha256, size)
    voxel = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    return Volume(
        data=data,
        affine=affine,
        voxel_sizes_mm=(float(voxel[0]), float(voxel[1]), float(voxel[2])),
        stored_shape=shape,
        datatype=np.dtype(image.get_data_dtype()).name,
        n_volumes=n_volumes,
        nonfinite_voxels=nonfinite,
        warnings=tuple(warnings),
        input_sha256=sha256,
        input_size_bytes=size,
    )


def _with_checksum(error: InputError, sha256: str, size: int) -> InputError:
    error.input_sha256, error.input_size_bytes = sha256, size
    return error
