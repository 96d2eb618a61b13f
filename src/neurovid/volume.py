"""Load and validate one NIfTI image for rendering, with one-line reasons for refusals.

:func:`load_volume` turns a path into a :class:`Volume` (float32, 3-D, finite) or raises
:class:`~neurovid.errors.InputError` whose message is one line naming the file and what is
wrong with it. Problems are detected from the file system and the header before the voxel
data is read wherever possible, so a corrupt or absurd header never allocates memory and
an absurd shape never starts a days-long video.

Any exception other than :class:`~neurovid.errors.InputError` (``MemoryError``, an
``OSError`` carrying an errno such as ``EIO`` or ``ENOSPC``, a bug) is an environment
failure and propagates unchanged.

Only regular files are ever opened: the path is checked with ``lstat``/``stat`` first
(a FIFO or a symlink to ``/dev/zero`` would block or never end), opened with
``O_NONBLOCK`` (a path swapped for a FIFO after the check cannot block either) and checked
again with ``fstat`` on the open descriptor.

The file is read once, through one open descriptor, and every byte read is hashed on the
way (:class:`_HashingFile`): the SHA-256 in :attr:`Volume.input_sha256` is of exactly the
bytes the picture came from, even if the path is replaced while it is read. The rest of the
file is read to its end for that checksum; for ``.nii.gz`` the rest of the *stream* is
decompressed too, so a 4-D file truncated or corrupted after its first volume is refused
(the gzip trailer's CRC and length are checked), in bounded memory.

Why a small reader of our own instead of ``nibabel.load`` (the header itself is parsed by
nibabel's ``Nifti1Header``/``Nifti2Header`` and the affine is nibabel's
``get_best_affine``): ``nibabel.load`` opens paths itself, so it cannot be made to refuse a
FIFO before opening it, to hash what it reads, or to verify the end of a gzip stream after
the first volume; and it needs twice the memory: a 256×256×176 int16 ``.nii.gz`` with a
scale factor peaks at 138.4 MB with ``nibabel.load(p).get_fdata(dtype=np.float32)`` and at
69.2 MB here (``tracemalloc``, nibabel 5.4, 46.1 MB of float32 result), since nibabel
scales in float64 and we scale in place.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import hashlib
import io
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
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_FRAMES_PER_PLANE",
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

#: Refuse images with more slices than this along any axis: each slice is one video frame
#: of its plane, and 2,000 frames (2 min 13 s at 15 fps) is far beyond any head scan
#: (0.5 mm over 25 cm is 500) while a 10,000,000-slice header would be a 7-day video.
DEFAULT_MAX_FRAMES_PER_PLANE: int = 2000

#: Refuse files larger than this on disk, or whose header declares more voxel data: the
#: whole file is read (and a ``.nii.gz`` decompressed) to checksum and verify it, and this
#: bounds that time (~1 min per 64 GiB) whatever the file claims. 64 GiB.
DEFAULT_MAX_FILE_BYTES: int = 64 * 1024**3

#: An integer-valued image with at most this many distinct values is flagged as a label map.
LABEL_MAP_MAX_VALUES: int = 16

_NIFTI1_MAGICS = (b"n+1\x00", b"ni1\x00")
_NIFTI2_MAGICS = (b"n+2\x00\r\n\x1a\n", b"ni2\x00\r\n\x1a\n")
_GZIP_MAGIC = b"\x1f\x8b"
_ANNEX_MARKERS = (".git/annex/objects", "/annex/objects/")
_LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
_READ_CHUNK = 1024**2  # bytes per readinto call: bounds gzip's transient copies (~3x this)
_TAIL_LIMIT = 1024**2  # decompressed bytes after the declared data read to reach the trailer
# deflate turns at most 258 bytes into 2 bits, so a gzip file of N bytes holds < 1032 N
_MAX_DEFLATE_RATIO = 1032
# no scanner puts a voxel 100 m from the origin or makes one 100 m wide; beyond this a
# header is corrupt (and positions would not even print in the frame labels)
_MAX_AFFINE_MM = 1e5
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC
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
    input_sha256 : str or None
        Hex SHA-256 of the file's bytes as they were read for this volume (the whole file).
    input_size_bytes : int or None
        Size of the file in bytes, as read.
    """

    data: np.ndarray
    affine: np.ndarray
    voxel_sizes_mm: tuple[float, float, float]
    stored_shape: tuple[int, ...]
    datatype: str
    n_volumes: int
    nonfinite_voxels: int
    warnings: tuple[str, ...]
    input_sha256: str | None = None
    input_size_bytes: int | None = None


@dataclass(frozen=True)
class _Header:
    """What we need from a validated header."""

    nifti: Nifti1Header  # or Nifti2Header (a subclass)
    compressed: bool
    file_size: int  # bytes on disk
    stored_shape: tuple[int, ...]
    dtype: np.dtype  # on-disk dtype, with byte order
    offset: int  # bytes from the start of the (decompressed) stream to the voxel data
    shown_offset: str | int  # vox_offset as stored, for messages
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

    @property
    def data_end(self) -> int:
        """Bytes of the (decompressed) stream up to the end of the last volume."""
        return self.offset + math.prod(self.stored_shape) * self.dtype.itemsize


# --------------------------------------------------------------------------- public API


def load_volume(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_frames_per_plane: int = DEFAULT_MAX_FRAMES_PER_PLANE,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    display_path: str | None = None,
) -> Volume:
    """Load the first 3-D volume of a NIfTI-1/2 file (``.nii`` or ``.nii.gz``) as float32.

    ``.mgz``, ``.mgh`` and ``.hdr``/``.img`` pairs (standalone renders) are read by nibabel
    in :mod:`neurovid.nibabel_formats`, with the same checks and the same result.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    max_bytes : int, optional
        Refuse (``InputError``) an image whose first volume would need more than this many
        bytes of memory to load, as computed from the header before anything is allocated
        (see :func:`estimate_memory_bytes`). Default :data:`DEFAULT_MAX_BYTES` (4 GiB).
    max_frames_per_plane : int, optional
        Refuse an image with more slices than this along any axis (each slice is a video
        frame). Default :data:`DEFAULT_MAX_FRAMES_PER_PLANE` (2,000).
    max_file_bytes : int, optional
        Refuse a file larger than this, or whose header declares more (decompressed) data,
        before reading it. Default :data:`DEFAULT_MAX_FILE_BYTES` (64 GiB).
    display_path : str, optional
        The path to name in messages (default: ``str(path)``).

    Returns
    -------
    Volume
        The data (float32, finite, stored voxel order), affine (mm), metadata and the
        SHA-256 of the bytes read.

    Raises
    ------
    InputError
        The file is unusable: missing, empty, not a regular file, an absent
        git-annex/DataLad file, a broken symlink, unreadable, not gzip/NIfTI, truncated
        (in any volume), with a corrupt or unsupported header, too large, too many slices,
        1-/2-D, 5-D, constant or entirely NaN. ``str(err)`` is one line:
        ``"<display_path>: <reason>"``. For a regular file, ``err.input_sha256`` and
        ``err.input_size_bytes`` describe the file as it was read (None otherwise).
    """
    shown = os.fspath(path) if display_path is None else display_path
    from .nibabel_formats import is_nibabel_format, load_with_nibabel

    if is_nibabel_format(path):  # .mgz/.mgh/.hdr/.img, standalone (issue 12; picture-player)
        return load_with_nibabel(
            path, shown=shown, max_bytes=max_bytes, max_frames_per_plane=max_frames_per_plane
        )
    with _open_checked(path, shown, max_file_bytes) as opened:
        hdr = _read_header(opened.stream, shown, opened.size)
        _check_limits(hdr, shown, max_bytes, max_frames_per_plane, max_file_bytes)
        raw = _read_first_volume(opened.stream, hdr, shown)
        tail_warning = _verify_rest(opened.stream, hdr, shown)
    data = _to_float32(raw, hdr)
    del raw
    try:
        volume = _finish(data, hdr, shown, () if tail_warning is None else (tail_warning,))
    except InputError as error:  # constant, all NaN: the file was read, say which bytes
        error.input_sha256, error.input_size_bytes = opened.sha256, opened.bytes_read
        raise
    return dataclasses.replace(
        volume, input_sha256=opened.sha256, input_size_bytes=opened.bytes_read
    )


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
    with _open_checked(path, shown, DEFAULT_MAX_FILE_BYTES, hash_all=False) as opened:
        return _memory_bytes(_read_header(opened.stream, shown, opened.size))


# --------------------------------------------------------------------------- file system


class _HashingFile(io.RawIOBase):
    """A regular file read through one descriptor, every byte hashed once, in file order.

    Callers may seek back (to re-read the header) or forward (to the voxel data): the hash
    always covers the prefix of the file up to the furthest byte read, reading any skipped
    bytes on the way, so :meth:`finish` (which reads on to the end) gives the SHA-256 of
    the whole file exactly as this descriptor saw it. ``hashlib`` over a second ``open`` of
    the path could see a different file (replaced meanwhile) or a FIFO.
    """

    def __init__(self, fd: int, *, hashing: bool = True) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._digest = hashlib.sha256() if hashing else None
        self._hashed = 0  # bytes [0, _hashed) are in the digest

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        start = self._file.tell()
        n = self._file.readinto(buffer)
        if n and self._digest is not None:
            end = start + n
            if start <= self._hashed < end:
                with memoryview(buffer) as view:
                    self._digest.update(view.cast("B")[self._hashed - start : n])
                self._hashed = end
        return n or 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._file.tell()
        elif whence == io.SEEK_END:
            offset += os.fstat(self._file.fileno()).st_size
        if self._digest is not None and offset > self._hashed:
            self._hash_to(offset)
        return self._file.seek(offset)

    def _hash_to(self, limit: int | None) -> None:
        """Read (and hash) from the end of the hashed prefix up to `limit` or the end."""
        self._file.seek(self._hashed)
        buffer = bytearray(_READ_CHUNK)
        while limit is None or self._hashed < limit:
            want = _READ_CHUNK if limit is None else min(_READ_CHUNK, limit - self._hashed)
            with memoryview(buffer) as view:
                if not self.readinto(view[:want]):
                    break

    def finish(self, size: int) -> tuple[str | None, int]:
        """Read on to byte `size` (the size when opened); ``(hex SHA-256, bytes hashed)``.

        Never reads past `size`, so a file that keeps growing cannot keep us reading.
        """
        if self._digest is None:
            return None, self._file.tell()
        self._hash_to(size)
        return self._digest.hexdigest(), self._hashed

    def changed(self, size: int) -> bool:
        """True if the file no longer ends at byte `size` (written to while it was read)."""
        if self._hashed != size:
            return True
        self._file.seek(size)
        return bool(self._file.read(1))

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class _Opened:
    """An open input: the (decompressed) stream, its size on disk, and what was read."""

    stream: BinaryIO
    size: int
    sha256: str | None = None
    bytes_read: int | None = None


@contextmanager
def _open_checked(
    path: str | os.PathLike[str], shown: str, max_file_bytes: int, *, hash_all: bool = True
) -> Iterator[_Opened]:
    """Check the path, open it; yield the stream (decompressed for ``.nii.gz``).

    With `hash_all`, the file is read to its end on leaving the block and its SHA-256
    stored in the yielded object (or, when the block raises :class:`InputError`, in the
    error's ``input_sha256``/``input_size_bytes``). Everything is closed on exit.
    """
    path = os.fspath(path)
    st = _stat_checked(path, shown)
    if stat.S_ISDIR(st.st_mode):
        raise InputError(shown, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):  # never open a FIFO or a device: it may block or never end
        raise InputError(shown, f"not a regular file ({_file_kind(st.st_mode)})")
    if st.st_size == 0:
        error = InputError(shown, "empty file (0 bytes)")
        error.input_sha256, error.input_size_bytes = hashlib.sha256(b"").hexdigest(), 0
        raise error
    lower = path.lower()
    if not (lower.endswith(".nii") or lower.endswith(".nii.gz")):
        raise InputError(shown, "unsupported file type (expected .nii or .nii.gz)")
    if st.st_size > max_file_bytes:
        error = InputError(
            shown,
            f"file too large: {_fmt_gb(st.st_size)} "
            f"(limit {_fmt_gb(max_file_bytes)}, option max_file_bytes)",
        )
        error.input_size_bytes = st.st_size
        raise error
    raw = _HashingFile(_open_regular(path, shown), hashing=hash_all)
    with raw:
        try:
            opened = _Opened(stream=raw, size=os.fstat(raw.fileno()).st_size)
            head = raw.read(64)
            raw.seek(0)
            if head.startswith(b"/annex/objects/") and opened.size < 4096:
                # An unlocked git-annex file (or one on a file system without symlinks).
                raise InputError(shown, _annex_reason(shown))
            if head.startswith(_LFS_POINTER):
                raise InputError(
                    shown, "content not present (Git LFS pointer); run `git lfs pull`"
                )
            is_gzip = head.startswith(_GZIP_MAGIC)
            if lower.endswith(".gz"):
                if not is_gzip:
                    if _sizeof_hdr(head) is not None:
                        raise InputError(
                            shown, "not a gzip file (an uncompressed NIfTI named .nii.gz)"
                        )
                    raise InputError(shown, "not a gzip file")
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    opened.stream = gz  # type: ignore[assignment]
                    yield opened
            else:
                if is_gzip:
                    raise InputError(shown, "gzip-compressed file named .nii (should be .nii.gz)")
                yield opened
        except InputError as error:
            if hash_all:
                error.input_sha256, error.input_size_bytes = raw.finish(opened.size)
            raise
        if hash_all:
            opened.sha256, opened.bytes_read = raw.finish(opened.size)
            if raw.changed(opened.size):  # written in place meanwhile: not one file's bytes
                raise InputError(
                    shown, "file changed while it was read (is it still being written?)"
                )


def _open_regular(path: str, shown: str) -> int:
    """Open `path` read-only without ever blocking; the descriptor of a regular file.

    ``O_NONBLOCK`` makes opening a FIFO return at once (a FIFO swapped in after the
    ``stat`` check); ``fstat`` on the descriptor then refuses anything but a regular file.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except PermissionError:
        raise InputError(shown, "permission denied") from None
    except IsADirectoryError:  # raced with a rename
        raise InputError(shown, "is a directory, not a file") from None
    except (FileNotFoundError, NotADirectoryError):  # raced with a delete
        raise InputError(shown, "file does not exist") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "is a directory, not a file" if stat.S_ISDIR(mode) else None
            raise InputError(shown, kind or f"not a regular file ({_file_kind(mode)})")
    except BaseException:
        os.close(fd)
        raise
    return fd


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

    # -- data offset (a float32 in NIfTI-1, an int64 in NIfTI-2); sizes in _check_limits
    stored_offset = hdr["vox_offset"].item()
    shown_offset = f"{stored_offset:g}" if isinstance(stored_offset, float) else stored_offset
    if not math.isfinite(stored_offset):
        raise InputError(shown, f"header has invalid vox_offset {shown_offset}")
    offset = int(stored_offset)
    if offset < size + 4:
        raise InputError(
            shown, f"header has invalid vox_offset {shown_offset} (must be >= {size + 4})"
        )

    affine, warnings = _affine(hdr, shown)
    return _Header(
        nifti=hdr,
        compressed=compressed,
        file_size=file_size,
        stored_shape=shape,
        dtype=dtype,
        offset=offset,
        shown_offset=shown_offset,
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
        article = "an" if problem[0] in "aeiou" else "a"
        detail = f" (entries beyond ±{_MAX_AFFINE_MM:.0f} mm)" if problem == "implausible" else ""
        raise InputError(shown, f"header has {article} {problem} {which} affine{detail}")
    if int(fixed["sform_code"]) == 0 and int(fixed["qform_code"]) == 0:
        warnings.append("no orientation in header (sform_code = qform_code = 0)")
    return affine, tuple(warnings)


def _affine_problem(affine: np.ndarray) -> str | None:
    """None if usable, else an adjective: ``'non-finite'``, ``'implausible'`` (beyond
    :data:`_MAX_AFFINE_MM`) or ``'singular'``."""
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        return "non-finite"
    if np.max(np.abs(affine[:3, :])) > _MAX_AFFINE_MM:
        return "implausible"
    m = affine[:3, :3]
    norms = np.sqrt((m**2).sum(axis=0))
    if np.any(norms == 0) or abs(np.linalg.det(m)) <= 1e-6 * float(np.prod(norms)):
        return "singular"
    return None


def _check_limits(
    hdr: _Header, shown: str, max_bytes: int, max_frames_per_plane: int, max_file_bytes: int
) -> None:
    """Refuse, from the header alone, what would exhaust memory, time or the file."""
    need = _memory_bytes(hdr)
    if need > max_bytes:
        raise InputError(
            shown,
            f"image too large: one volume of {_fmt_shape(hdr.volume_shape)} "
            f"{hdr.dtype.name} needs ~{_fmt_gb(need)} of memory to load "
            f"(limit {_fmt_gb(max_bytes)})",
        )
    most = max(hdr.volume_shape)
    if most > max_frames_per_plane:
        raise InputError(
            shown,
            f"too many slices: {_fmt_shape(hdr.volume_shape)} would make a {most}-frame "
            f"video (limit {max_frames_per_plane} frames per plane, option "
            "max_frames_per_plane)",
        )
    # what the file on disk can hold (uncompressed: its size; gzip: the deflate ratio)
    holds = hdr.file_size * (_MAX_DEFLATE_RATIO if hdr.compressed else 1)
    if hdr.offset >= holds:
        where = f"{hdr.file_size} bytes"
        if hdr.compressed:
            where = f"{hdr.file_size} bytes of gzip hold at most {holds}"
        raise InputError(
            shown,
            f"header has invalid vox_offset {hdr.shown_offset} (past the end of the file: "
            f"{where})",
        )
    if hdr.data_end > max_file_bytes:
        raise InputError(
            shown,
            f"image too large to check: the header declares {_fmt_gb(hdr.data_end)} of data "
            f"(limit {_fmt_gb(max_file_bytes)}, option max_file_bytes)",
        )
    if hdr.data_end > holds:
        if hdr.compressed:
            raise InputError(
                shown,
                f"file truncated: header needs {hdr.data_end} bytes of data, "
                f"{hdr.file_size} bytes of gzip hold at most {holds}",
            )
        raise InputError(
            shown, f"file truncated: header needs {hdr.data_end} bytes, file has {holds}"
        )


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
    view.release()
    if pos < n_bytes:
        if hdr.compressed:
            raise InputError(
                shown,
                f"truncated or corrupt gzip (image data ends after {pos} of {n_bytes} bytes)",
            )
        raise InputError(shown, f"file truncated: image data ends after {pos} of {n_bytes} bytes")
    return np.ndarray(shape, dtype=hdr.dtype, buffer=buf, order="F")


def _verify_rest(fobj: BinaryIO, hdr: _Header, shown: str) -> str | None:
    """For ``.nii.gz``, decompress the rest of the stream, in bounded memory: every later
    volume must be there and the gzip trailer (CRC-32 and length of all the data) must
    match, so a 4-D file cut or corrupted after its first volume is refused. Returns a
    warning if the stream goes on for more than 1 MiB past the declared data (not read:
    a gzip bomb after a valid image would take hours). ``.nii``: nothing to do here (the
    file size was checked against the header; :class:`_HashingFile` reads the rest)."""
    if not hdr.compressed:
        return None
    buffer = bytearray(_READ_CHUNK)
    view = memoryview(buffer)
    pos = fobj.tell()
    with _GzipErrors(shown, True):
        while pos < hdr.data_end:
            n = fobj.readinto(view[: min(_READ_CHUNK, hdr.data_end - pos)])
            if not n:
                raise InputError(
                    shown,
                    f"file truncated: header needs {hdr.data_end} bytes of data, "
                    f"the gzip stream holds {pos}",
                )
            pos += n
        tail = 0
        while n := fobj.readinto(view):
            tail += n
            if tail > _TAIL_LIMIT:
                view.release()
                return (
                    "data continues after the image (more than 1 MiB): "
                    "the rest of the file was not checked"
                )
    view.release()
    return None


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


def _finish(
    data: np.ndarray, hdr: _Header, shown: str, extra_warnings: tuple[str, ...] = ()
) -> Volume:
    warnings = [*hdr.warnings, *extra_warnings]
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
