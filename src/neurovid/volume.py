"""Load and validate one NIfTI image for rendering, with one-line reasons for refusals.

:func:`load_volume` turns a path into a :class:`Volume` (float32, 3-D, finite) or raises
:class:`~neurovid.errors.InputError` whose message is one line naming the file and what is
wrong with it. Problems are detected from the file system and the header before the voxel
data is read wherever possible, so a corrupt or absurd header never allocates memory.

Any exception other than :class:`~neurovid.errors.InputError` (``MemoryError``, an
``OSError`` carrying an errno such as ``EIO`` or ``ENOSPC``, a bug) is an environment
failure and propagates unchanged.

The reading is done here rather than through ``nibabel.load`` so that every I/O error has
a known source: the file is opened with :func:`open` (and :class:`gzip.GzipFile` for
``.nii.gz``), the header is parsed with nibabel's header classes *without* nibabel's
automatic checks, checked here, and only the bytes of the first 3-D volume are read. The
affine is the one ``nibabel.load(path).affine`` gives (nibabel's header fixes applied).
"""

from __future__ import annotations

import errno
import gzip
import logging
import math
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from nibabel.nifti1 import Nifti1Header, data_type_codes
from nibabel.nifti2 import Nifti2Header

from neurovid.errors import InputError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LABEL_MAP_MAX_VALUES",
    "Volume",
    "estimate_memory_bytes",
    "load_volume",
]

#: Refuse images whose first volume needs more than this many bytes to load (4 GiB).
#: A fixed limit, not a fraction of the memory free right now: refusing is recorded as a
#: *failed input* and is never retried, so it must depend on the file alone. A machine that
#: is merely short of memory raises ``MemoryError``, which propagates (job fails, retried).
#: The workflow may pass a smaller ``max_bytes`` derived from the job's memory request.
DEFAULT_MAX_BYTES: int = 4 * 1024**3

#: An integer-valued image with at most this many distinct values is flagged as a label map.
LABEL_MAP_MAX_VALUES: int = 16

_NIFTI1_MAGICS = (b"n+1\x00", b"ni1\x00")
_NIFTI2_MAGICS = (b"n+2\x00\r\n\x1a\n", b"ni2\x00\r\n\x1a\n")
_GZIP_MAGIC = b"\x1f\x8b"
_ANNEX_MARKERS = (".git/annex/objects", "/annex/objects/")
_LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
_READ_CHUNK = 1024**2  # bytes per readinto call: bounds gzip's transient copies (~3x this)
_TRAILER_DRAIN = 1024**2  # bytes after a 3-D image's data read to reach the gzip trailer
_LABEL_SAMPLE_VOXELS = 2**16  # subsample size for the label-map heuristic

# nibabel's header "fixes" are applied silently (we report our own problems).
_SILENT_LOGGER = logging.getLogger("neurovid.volume.nibabel_fixes")
_SILENT_LOGGER.addHandler(logging.NullHandler())
_SILENT_LOGGER.propagate = False


@dataclass(frozen=True)
class Volume:
    """One 3-D image ready to render.

    Attributes
    ----------
    data : numpy.ndarray
        float32, 3-D, in the file's stored voxel order (no reorientation), with
        ``scl_slope``/``scl_inter`` applied (the image's physical units, e.g. arbitrary MR
        intensity) and NaN/Inf replaced by 0. For a 4-D file, the first volume.
    affine : numpy.ndarray
        4x4 float64 voxel index -> world (scanner/RAS+ mm) transform; the image's best
        affine (sform if ``sform_code > 0``, else qform), as ``nibabel.load(path).affine``.
    voxel_sizes_mm : tuple of float
        Voxel edge lengths in mm along the three stored axes (column norms of the affine).
    stored_shape : tuple of int
        Full shape from the header, including a 4th (and higher) dimension.
    datatype : str
        On-disk numpy dtype name, e.g. ``"int16"``, ``"uint8"``, ``"float32"``.
    n_volumes : int
        Number of volumes in the file (1 for 3-D and for 4-D files holding one volume).
    nonfinite_voxels : int
        Number of NaN/Inf voxels in the rendered volume (replaced by 0 in `data`).
    warnings : tuple of str
        One line each, e.g. ``"4D image with 3 volumes: showing volume 1 of 3"``.
    """

    data: np.ndarray
    affine: np.ndarray
    voxel_sizes_mm: tuple[float, float, float]
    stored_shape: tuple[int, ...]
    datatype: str
    n_volumes: int
    nonfinite_voxels: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Header:
    """What we need from a validated header."""

    nifti: Nifti1Header  # or Nifti2Header (a subclass)
    compressed: bool
    file_size: int  # bytes on disk
    stored_shape: tuple[int, ...]
    dtype: np.dtype  # on-disk dtype, with byte order
    offset: int  # bytes from the start of the (decompressed) stream to the voxel data
    slope: float
    inter: float
    affine: np.ndarray
    warnings: tuple[str, ...]

    @property
    def volume_shape(self) -> tuple[int, int, int]:
        s = self.stored_shape + (1,) * max(0, 3 - len(self.stored_shape))
        return (s[0], s[1], s[2])

    @property
    def n_volumes(self) -> int:
        return math.prod(self.stored_shape[3:])


# --------------------------------------------------------------------------- public API


def load_volume(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    display_path: str | None = None,
) -> Volume:
    """Load the first 3-D volume of a NIfTI-1/2 file (``.nii`` or ``.nii.gz``) as float32.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    max_bytes : int, optional
        Refuse (``InputError``) an image whose first volume would need more than this many
        bytes of memory to load, as computed from the header before anything is allocated
        (see :func:`estimate_memory_bytes`). Default :data:`DEFAULT_MAX_BYTES` (4 GiB).
    display_path : str, optional
        The path to name in messages (default: ``str(path)``).

    Returns
    -------
    Volume
        The data (float32, finite, stored voxel order), affine (mm) and metadata.

    Raises
    ------
    InputError
        The file is unusable: missing, empty, an absent git-annex/DataLad file, a broken
        symlink, unreadable, not gzip/NIfTI, truncated, with a corrupt or unsupported
        header, too large, 1-/2-D, 5-D, constant or entirely NaN. ``str(err)`` is one
        line: ``"<display_path>: <reason>"``.
    """
    shown = os.fspath(path) if display_path is None else display_path
    with _open_checked(path, shown) as (fobj, st_size):
        hdr = _read_header(fobj, shown, st_size)
        need = _memory_bytes(hdr)
        if need > max_bytes:
            raise InputError(
                shown,
                f"image too large: one volume of {_fmt_shape(hdr.volume_shape)} "
                f"{hdr.dtype.name} needs ~{_fmt_gb(need)} of memory to load "
                f"(limit {_fmt_gb(max_bytes)})",
            )
        raw = _read_first_volume(fobj, hdr, shown)
    data = _to_float32(raw, hdr)
    del raw
    return _finish(data, hdr, shown)


def estimate_memory_bytes(path: str | os.PathLike[str], *, display_path: str | None = None) -> int:
    """Upper bound of the memory :func:`load_volume` needs, from the header alone.

    Parameters
    ----------
    path : str or os.PathLike
        The image file; only its header is read.
    display_path : str, optional
        The path to name in messages (default: ``str(path)``).

    Returns
    -------
    int
        Bytes: voxels of one 3-D volume x (4 for the float32 result + the on-disk item
        size for the raw read + 2 for boolean masks), plus 4 MiB of decompression buffers
        for ``.nii.gz``. Not included: what the renderer needs afterwards.

    Raises
    ------
    InputError
        As :func:`load_volume`, for problems detectable from the file system and header.
    """
    shown = os.fspath(path) if display_path is None else display_path
    with _open_checked(path, shown) as (fobj, st_size):
        return _memory_bytes(_read_header(fobj, shown, st_size))


# --------------------------------------------------------------------------- file system


@contextmanager
def _open_checked(path: str | os.PathLike[str], shown: str) -> Iterator[tuple[BinaryIO, int]]:
    """Check the path, open it; yield ``(binary stream, size on disk in bytes)``.

    The stream is decompressed for ``.nii.gz``. Everything is closed on exit.
    """
    path = os.fspath(path)
    st = _stat_checked(path, shown)
    if stat.S_ISDIR(st.st_mode):
        raise InputError(shown, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):  # never open a FIFO: it would block
        raise InputError(shown, f"not a regular file ({_file_kind(st.st_mode)})")
    if st.st_size == 0:
        raise InputError(shown, "empty file (0 bytes)")
    lower = path.lower()
    if not (lower.endswith(".nii") or lower.endswith(".nii.gz")):
        raise InputError(shown, "unsupported file type (expected .nii or .nii.gz)")
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except PermissionError:
        raise InputError(shown, "permission denied") from None
    except IsADirectoryError:  # raced with a rename
        raise InputError(shown, "is a directory, not a file") from None
    with raw:
        head = raw.read(64)
        raw.seek(0)
        if head.startswith(b"/annex/objects/") and st.st_size < 4096:
            # An unlocked git-annex file (or one on a file system without symlinks).
            raise InputError(shown, _annex_reason(shown))
        if head.startswith(_LFS_POINTER):
            raise InputError(shown, "content not present (Git LFS pointer); run `git lfs pull`")
        is_gzip = head.startswith(_GZIP_MAGIC)
        if lower.endswith(".gz"):
            if not is_gzip:
                if _sizeof_hdr(head) is not None:
                    raise InputError(
                        shown, "not a gzip file (an uncompressed NIfTI named .nii.gz)"
                    )
                raise InputError(shown, "not a gzip file")
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield gz, st.st_size  # type: ignore[misc]
            return
        if is_gzip:
            raise InputError(shown, "gzip-compressed file named .nii (should be .nii.gz)")
        yield raw, st.st_size


def _stat_checked(path: str, shown: str) -> os.stat_result:
    """``os.stat`` with missing files, broken links and annex placeholders as InputError."""
    try:
        lst = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(shown, "file does not exist") from None
    except PermissionError:
        raise InputError(shown, "permission denied") from None
    if not stat.S_ISLNK(lst.st_mode):
        return lst
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        pass
    except PermissionError:
        raise InputError(shown, "permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(shown, f"symlink loop ({os.readlink(path)})") from None
        raise
    target = os.readlink(path)
    resolved = os.path.realpath(path)
    if any(m in s.replace(os.sep, "/") for m in _ANNEX_MARKERS for s in (target, resolved)):
        raise InputError(shown, _annex_reason(shown))
    raise InputError(shown, f"broken symlink to {target}")


def _annex_reason(shown: str) -> str:
    return f"content not present (git-annex placeholder); run `datalad get {shown}`"


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


# --------------------------------------------------------------------------- header


def _sizeof_hdr(block: bytes) -> tuple[int, str] | None:
    """``(348 or 540, '<' or '>')`` if `block` starts like a NIfTI header, else None."""
    if len(block) < 4:
        return None
    for endian in "<>":
        (size,) = struct.unpack(endian + "i", block[:4])
        if size in (348, 540):
            return size, endian
    return None


def _read_exact(fobj: BinaryIO, n: int) -> bytes:
    """Up to `n` bytes (fewer only at end of stream)."""
    parts = []
    while n > 0:
        chunk = fobj.read(n)
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


class _GzipErrors:
    """Map errors raised while decompressing to InputError; let real I/O errors through.

    Only active for gzip streams: decompression errors (``EOFError``, ``zlib.error``,
    ``gzip.BadGzipFile`` and other ``OSError`` without an errno) are the file's fault; an
    ``OSError`` with an errno (``EIO``, ``ESTALE``...) or ``MemoryError`` is not.
    """

    def __init__(self, shown: str, active: bool) -> None:
        self._shown = shown
        self._active = active

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or not self._active:
            return
        if isinstance(exc, EOFError):
            detail = "compressed data ends early"
        elif isinstance(exc, zlib.error):
            detail = str(exc)
        elif isinstance(exc, gzip.BadGzipFile) or (isinstance(exc, OSError) and exc.errno is None):
            detail = str(exc)
        else:  # MemoryError, OSError with an errno (EIO, ESTALE, ...): environment
            return
        detail = " ".join(detail.split())[:100]
        raise InputError(self._shown, f"truncated or corrupt gzip ({detail})") from None


def _read_header(fobj: BinaryIO, shown: str, file_size: int) -> _Header:
    compressed = isinstance(fobj, gzip.GzipFile)
    with _GzipErrors(shown, compressed):
        block = _read_exact(fobj, 348)
        kind = _sizeof_hdr(block)
        if kind is not None and kind[0] == 540:
            block += _read_exact(fobj, 540 - len(block))
    bad = "no NIfTI header (bad sizeof_hdr/magic)"
    if kind is None or len(block) < kind[0]:
        if kind is not None:
            raise InputError(shown, f"file too short for a NIfTI header ({len(block)} bytes)")
        raise InputError(shown, bad)
    size, endian = kind
    if size == 348:
        magic = block[344:348]
        if magic not in _NIFTI1_MAGICS:
            raise InputError(shown, bad)
        hdr: Nifti1Header = Nifti1Header(block, endianness=endian, check=False)
    else:
        magic = block[4:12]
        if magic not in _NIFTI2_MAGICS:
            raise InputError(shown, bad)
        hdr = Nifti2Header(block, endianness=endian, check=False)
    if magic[1:2] == b"i":
        raise InputError(
            shown, "header is for a .hdr/.img pair (magic 'ni1'/'ni2'), not a single file"
        )

    # -- dimensions
    dim = [int(d) for d in hdr["dim"]]
    ndim = dim[0]
    if not 1 <= ndim <= 7:
        raise InputError(shown, f"header has invalid dim[0] = {ndim} (must be 1-7)")
    shape = tuple(dim[1 : ndim + 1])
    if any(d < 0 for d in shape):
        raise InputError(shown, f"header has negative dimensions (dim[1:] = {list(shape)})")
    if any(d == 0 for d in shape):
        raise InputError(shown, f"header has a zero dimension (shape {_fmt_shape(shape)})")
    spatial = shape[:3]
    n_spatial = sum(d > 1 for d in spatial)
    if n_spatial < 3:
        what = f"{n_spatial}-D image" if n_spatial else "single-voxel image"
        raise InputError(shown, f"{what} (shape {_fmt_shape(shape)}): nothing to sweep")
    if any(d > 1 for d in shape[4:]):
        raise InputError(
            shown,
            f"{len(shape)}-D image (shape {_fmt_shape(shape)}): "
            "only 3-D and 4-D images are supported",
        )

    # -- datatype
    code = int(hdr["datatype"])
    if code not in data_type_codes.code:
        raise InputError(shown, f"header has unknown datatype code {code}")
    dtype = hdr.get_data_dtype()
    if dtype.kind not in "iuf" or dtype.fields is not None:
        label = data_type_codes.label[code]
        raise InputError(shown, f"unsupported datatype {label} (code {code})")

    # -- scaling (NIfTI: slope 0 or non-finite means no scaling)
    slope = float(hdr["scl_slope"])
    inter = float(hdr["scl_inter"])
    if slope == 0 or not math.isfinite(slope):
        slope, inter = 1.0, 0.0
    elif not math.isfinite(inter):
        raise InputError(shown, f"header has invalid scl_inter ({inter}) with scl_slope {slope}")

    # -- data offset and, for .nii, file size
    offset = int(hdr["vox_offset"])
    if offset < size + 4:
        raise InputError(shown, f"header has invalid vox_offset {offset} (must be >= {size + 4})")
    n_bytes_all = math.prod(shape) * dtype.itemsize
    if not compressed and file_size < offset + n_bytes_all:
        raise InputError(
            shown,
            f"file truncated: header needs {offset + n_bytes_all} bytes, file has {file_size}",
        )

    affine, warnings = _affine(hdr, shown)
    return _Header(
        nifti=hdr,
        compressed=compressed,
        file_size=file_size,
        stored_shape=shape,
        dtype=dtype,
        offset=offset,
        slope=slope,
        inter=inter,
        affine=affine,
        warnings=warnings,
    )


def _affine(hdr: Nifti1Header, shown: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """The best affine as ``nibabel.load`` computes it, refusing unusable ones."""
    sform_code = int(hdr["sform_code"])
    qform_code = int(hdr["qform_code"])
    pixdim = np.asarray(hdr["pixdim"][1:4], dtype=np.float64)
    if sform_code == 0 and not (np.all(np.isfinite(pixdim)) and np.all(pixdim != 0)):
        # nibabel would silently set zero voxel sizes to 1; the affine depends on them.
        sizes = ", ".join(f"{v:g}" for v in pixdim)
        raise InputError(shown, f"header has invalid voxel size (pixdim[1:4] = {sizes})")
    fixed = hdr.copy()
    fixed.check_fix(logger=_SILENT_LOGGER, error_level=100)  # nibabel's fixes, never raises
    warnings: list[str] = []
    try:
        affine = np.asarray(fixed.get_best_affine(), dtype=np.float64)
    except ValueError as exc:  # e.g. quaternion b^2+c^2+d^2 > 1
        raise InputError(shown, f"header has an invalid qform ({_one_line(exc)})") from None
    problem = _affine_problem(affine)
    if problem and int(fixed["sform_code"]) > 0 and qform_code > 0:
        try:
            qform = np.asarray(fixed.get_qform(), dtype=np.float64)
        except ValueError:
            qform = None
        if qform is not None and not _affine_problem(qform):
            warnings.append(f"sform is {problem}: using the qform instead")
            affine, problem = qform, None
    if problem:
        which = "sform" if int(fixed["sform_code"]) > 0 else "qform"
        if int(fixed["sform_code"]) == 0 and int(fixed["qform_code"]) == 0:
            which = "voxel-size"
        raise InputError(shown, f"header has a {problem} {which} affine")
    if int(fixed["sform_code"]) == 0 and int(fixed["qform_code"]) == 0:
        warnings.append("no orientation in header (sform_code = qform_code = 0)")
    return affine, tuple(warnings)


def _affine_problem(affine: np.ndarray) -> str | None:
    """None if usable, else an adjective: ``'non-finite'`` or ``'singular'``."""
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        return "non-finite"
    m = affine[:3, :3]
    norms = np.sqrt((m**2).sum(axis=0))
    if np.any(norms == 0) or abs(np.linalg.det(m)) <= 1e-6 * float(np.prod(norms)):
        return "singular"
    return None


def _memory_bytes(hdr: _Header) -> int:
    n_vox = math.prod(hdr.volume_shape)
    gzip_buffers = 4 * _READ_CHUNK if hdr.compressed else 0
    return n_vox * (4 + hdr.dtype.itemsize + 2) + gzip_buffers


# --------------------------------------------------------------------------- data


def _read_first_volume(fobj: BinaryIO, hdr: _Header, shown: str) -> np.ndarray:
    """The raw (on-disk dtype) first volume; only its bytes are read or decompressed."""
    shape = hdr.volume_shape
    n_bytes = math.prod(shape) * hdr.dtype.itemsize
    buf = bytearray(n_bytes)
    view = memoryview(buf)
    pos = 0
    with _GzipErrors(shown, hdr.compressed):
        fobj.seek(hdr.offset)
        while pos < n_bytes:
            n = fobj.readinto(view[pos : pos + _READ_CHUNK])
            if not n:
                break
            pos += n
        if pos == n_bytes and hdr.compressed and hdr.n_volumes == 1:
            # Drain what follows the data (normally nothing) to reach the gzip trailer,
            # which verifies CRC and length: catches corruption that still inflates.
            extra = 0
            while extra <= _TRAILER_DRAIN and (chunk := fobj.read(_TRAILER_DRAIN)):
                extra += len(chunk)
    view.release()
    if pos < n_bytes:
        if hdr.compressed:
            raise InputError(
                shown,
                f"truncated or corrupt gzip (image data ends after {pos} of {n_bytes} bytes)",
            )
        raise InputError(shown, f"file truncated: image data ends after {pos} of {n_bytes} bytes")
    return np.ndarray(shape, dtype=hdr.dtype, buffer=buf, order="F")


def _to_float32(raw: np.ndarray, hdr: _Header) -> np.ndarray:
    """Apply scaling and convert to float32 with at most one new full-size array."""
    slope, inter = hdr.slope, hdr.inter
    if raw.dtype.kind == "f" and raw.dtype.itemsize > 4:
        if slope != 1.0:  # scale in the wider type (in place, `raw` is ours)
            raw *= slope
        if inter != 0.0:
            raw += inter
        with np.errstate(over="ignore", invalid="ignore"):
            return raw.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        # no copy for native float32 (the buffer is ours and writeable)
        data = raw.astype(np.float32, copy=False)
        if slope != 1.0:
            data *= np.float32(slope)
        if inter != 0.0:
            data += np.float32(inter)
    return data


def _finish(data: np.ndarray, hdr: _Header, shown: str) -> Volume:
    warnings = list(hdr.warnings)
    n_vols = hdr.n_volumes
    if n_vols > 1:
        warnings.insert(0, f"4D image with {n_vols} volumes: showing volume 1 of {n_vols}")
    lo, hi = float(data.min()), float(data.max())
    nonfinite = 0
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = ~np.isfinite(data)
        nonfinite = int(np.count_nonzero(bad))
        if nonfinite == data.size:
            raise InputError(shown, "no finite voxels (all NaN/Inf): nothing to show")
        # constant-ness is judged on the finite voxels only
        lo = float(np.min(data, where=~bad, initial=np.inf))
        hi = float(np.max(data, where=~bad, initial=-np.inf))
        data[bad] = 0.0
        del bad
        pct = 100.0 * nonfinite / data.size
        warnings.append(f"{nonfinite} NaN/Inf voxels ({pct:.2g}%): shown as 0")
    if lo == hi:
        raise InputError(shown, f"constant image (all voxels = {lo:g}): nothing to show")
    n_labels = _count_labels(data, hdr)
    if n_labels is not None:
        warnings.append(
            f"looks like a label map or mask ({n_labels} distinct values): rendered, "
            "check the file"
        )
    vox = np.sqrt((hdr.affine[:3, :3] ** 2).sum(axis=0))
    return Volume(
        data=data,
        affine=hdr.affine,
        voxel_sizes_mm=(float(vox[0]), float(vox[1]), float(vox[2])),
        stored_shape=hdr.stored_shape,
        datatype=hdr.dtype.name,
        n_volumes=n_vols,
        nonfinite_voxels=nonfinite,
        warnings=tuple(warnings),
    )


def _count_labels(data: np.ndarray, hdr: _Header) -> int | None:
    """Distinct values if `data` is integer-valued with few of them, else None.

    A strided subsample decides cheaply for ordinary images (which have many values);
    only candidates are confirmed on the full volume, with one comparison pass per value.
    """
    step = max(1, round((data.size / _LABEL_SAMPLE_VOXELS) ** (1 / 3)))
    sample = data[::step, ::step, ::step]
    integer_stored = hdr.dtype.kind in "iu" and float(hdr.slope).is_integer()
    integer_stored = integer_stored and float(hdr.inter).is_integer()
    if not integer_stored and not np.array_equal(sample, np.rint(sample)):
        return None
    values = np.unique(sample)
    if values.size > LABEL_MAP_MAX_VALUES:
        return None
    # Confirm on the whole volume: voxels outside the sampled values must be few and
    # add few (integer) values.
    known = np.zeros(data.shape, dtype=bool)
    for v in values:
        known |= data == v
    n_other = data.size - int(np.count_nonzero(known))
    if n_other == 0:
        return int(values.size)
    if n_other > data.size // 10:
        return None
    others = np.unique(data[~known])
    del known
    total = values.size + others.size
    if total > LABEL_MAP_MAX_VALUES or not np.array_equal(others, np.rint(others)):
        return None
    return int(total)


# --------------------------------------------------------------------------- formatting


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def _fmt_gb(n_bytes: float) -> str:
    gb = n_bytes / 1e9
    return f"{gb:.1f} GB" if gb >= 0.1 else f"{gb:.2g} GB"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:100]
