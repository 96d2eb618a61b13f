"""Builders of test inputs: a tiny asymmetric phantom and a corpus of bad inputs.

Importable by tests and by hand (no pytest dependency)::

    from neurovid.testing import build_bad_input_dataset
    expected = build_bad_input_dataset(Path("/tmp/bad_bids"))
    # {"sub-zerobyte/anat/sub-zerobyte_T1w.nii.gz": Expected(ok=False, text="empty file"), ...}

Each entry says what :func:`neurovid.volume.load_volume` (and so the rendered sidecar)
must report: ``ok=False`` with a substring of the failure reason, or ``ok=True`` with a
substring of one warning (``""``: no warning expected). The good images are 24x28x20
voxels so that renders are fast.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nibabel.nifti1 import Nifti1Header
from nibabel.nifti2 import Nifti2Header

from neurovid.bidsname import entities_from_filename, strip_nifti_suffix
from neurovid.sidecar import (
    SIDECAR_VERSION,
    ImageRecord,
    InputRecord,
    Sidecar,
    VideoRecord,
    WindowRecord,
)

__all__ = [
    "PHANTOM_SHAPE",
    "PHANTOM_VOXEL_SIZES_MM",
    "Expected",
    "build_bad_input_dataset",
    "build_odd_name_images",
    "gzip_cut_after",
    "make_sidecar",
    "nifti_bytes",
    "phantom",
    "phantom_affine",
    "write_nifti",
]

#: Stored shape of the phantom (x, y, z), deliberately all different.
PHANTOM_SHAPE: tuple[int, int, int] = (24, 28, 20)
#: Voxel sizes of the phantom in mm, deliberately all different.
PHANTOM_VOXEL_SIZES_MM: tuple[float, float, float] = (1.0, 1.2, 1.5)


@dataclass(frozen=True)
class Expected:
    """What loading one corpus file must give.

    Attributes
    ----------
    ok : bool
        True if the image must load (and render); False if it must fail.
    text : str
        ``ok=False``: a substring of the one-line failure reason. ``ok=True``: a substring
        of one of the warnings, or ``""`` if no warning is expected.
    """

    ok: bool
    text: str


def phantom(shape: tuple[int, int, int] = PHANTOM_SHAPE) -> np.ndarray:
    """An asymmetric head-like phantom, float32 in [0, 1000], integer-valued.

    An ellipsoid "head" with a smooth intensity gradient (many distinct values, so it is
    not mistaken for a label map), a bright cube in the (+x, +y, +z) corner of the head
    and a "nose" at the +y face, so flips and axis swaps are visible.

    Parameters
    ----------
    shape : tuple of int
        Voxels along the three stored axes.

    Returns
    -------
    numpy.ndarray
        float32 array of `shape`, values in arbitrary intensity units.
    """
    nx, ny, nz = shape
    x, y, z = np.meshgrid(
        np.linspace(-1, 1, nx), np.linspace(-1, 1, ny), np.linspace(-1, 1, nz), indexing="ij"
    )
    r2 = (x / 0.8) ** 2 + (y / 0.85) ** 2 + (z / 0.8) ** 2
    head = r2 <= 1.0
    vol = np.where(head, 300.0 + 250.0 * (x + 1) + 100.0 * (z + 1), 0.0)
    vol[(x > 0.2) & (x < 0.55) & (y > 0.2) & (y < 0.55) & (z > 0.2) & (z < 0.55)] = 1000.0
    nose = (np.abs(x) < 0.15) & (y > 0.8) & (y < 0.97) & (np.abs(z) < 0.2)
    vol[nose] = 600.0
    return np.rint(vol).astype(np.float32)


def phantom_affine(
    voxel_sizes_mm: tuple[float, float, float] = PHANTOM_VOXEL_SIZES_MM,
    shape: tuple[int, int, int] = PHANTOM_SHAPE,
) -> np.ndarray:
    """A RAS+ voxel->world affine (mm) with the phantom's centre at the origin."""
    aff = np.diag([*voxel_sizes_mm, 1.0])
    aff[:3, 3] = [-(n - 1) / 2 * v for n, v in zip(shape, voxel_sizes_mm, strict=True)]
    return aff


def nifti_bytes(
    data: np.ndarray,
    affine: np.ndarray | None = None,
    *,
    dtype: str | np.dtype = "int16",
    slope: float = 1.0,
    inter: float = 0.0,
    endian: str = "<",
    nifti2: bool = False,
    shape: tuple[int, ...] | None = None,
    **fields: object,
) -> bytes:
    """An uncompressed single-file NIfTI (header, extension flag, F-order voxel data).

    Parameters
    ----------
    data : numpy.ndarray
        Voxel values in physical units; stored as ``(data - inter) / slope`` in `dtype`
        (rounded for integer types).
    affine : numpy.ndarray, optional
        4x4 voxel->world (mm), set as both qform and sform (code 1). Default: phantom's.
    dtype : str or numpy.dtype
        On-disk data type.
    slope, inter : float
        ``scl_slope`` and ``scl_inter``.
    endian : {'<', '>'}
        Byte order of header and data.
    nifti2 : bool
        Write a NIfTI-2 header instead of NIfTI-1.
    shape : tuple of int, optional
        Header shape, when it must differ from ``data.shape`` (e.g. claim a huge image).
    **fields
        Header fields to set last, raw and unchecked (e.g. ``datatype=999``).

    Returns
    -------
    bytes
        The file's content.
    """
    hdr = (Nifti2Header if nifti2 else Nifti1Header)(endianness=endian)
    hdr.set_data_shape(data.shape if shape is None else shape)
    on_disk = np.dtype(dtype)
    hdr.set_data_dtype(on_disk)
    aff = phantom_affine() if affine is None else affine
    hdr.set_qform(aff, code=1)
    hdr.set_sform(aff, code=1)
    hdr["scl_slope"] = slope
    hdr["scl_inter"] = inter
    hdr["vox_offset"] = hdr.single_vox_offset
    for name, value in fields.items():
        hdr[name] = value
    stored = (np.asarray(data, dtype=np.float64) - inter) / slope
    if on_disk.kind in "iu":
        stored = np.rint(stored)
    with np.errstate(invalid="ignore"):
        raw = stored.astype(on_disk.newbyteorder(endian)).tobytes(order="F")
    pad = b"\x00" * (int(hdr.single_vox_offset) - len(hdr.binaryblock))
    return hdr.binaryblock + pad + raw


def write_nifti(path: str | os.PathLike[str], content: bytes) -> Path:
    """Write `content`, gzip-compressed (deterministically) if `path` ends with ``.gz``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.name.endswith(".gz"):
        content = gzip.compress(content, mtime=0)
    out.write_bytes(content)
    return out


def gzip_cut_after(content: bytes, n_bytes: int) -> bytes:
    """A gzip stream of ``content`` cut right after its first ``n_bytes`` bytes.

    The cut is at a deflate flush point, so the first ``n_bytes`` decompress intact and
    the stream then simply ends (no gzip trailer): a download or copy that stopped there.
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip wrapper, mtime 0
    return compressor.compress(content[:n_bytes]) + compressor.flush(zlib.Z_FULL_FLUSH)


def absurd_shape_nifti2(shape: tuple[int, int, int] = (10_000_000, 2, 2)) -> bytes:
    """A real, complete NIfTI-2 (uint8) of a very long, thin shape: a 2-hour video.

    Its voxels are mostly 0 with a bright voxel every 1,000 along the first axis, so it
    is not constant; gzip-compressed it is ~60 KB for the default 10,000,000 x 2 x 2.
    """
    head = nifti_bytes(np.zeros((2, 2, 2), np.float32), dtype="uint8", nifti2=True, shape=shape)
    offset = len(head) - 8  # header and padding, without the 2x2x2 placeholder voxels
    voxels = np.zeros(shape, np.uint8)
    voxels[::1000, 0, 0] = 200
    return head[:offset] + voxels.tobytes(order="F")


def build_odd_name_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Write a small good image under each legal-but-odd file name; return the paths.

    The names hold glob characters (``*``, ``?``, ``[``), braces, ``$``, ``<>``, quotes,
    spaces, non-ASCII letters and a 255-byte name made of 2-byte UTF-8 characters. None is
    a valid BIDS name (BIDS labels are alphanumeric), so the workflow's discovery lists
    them as not rendered; the loader and renderer must handle every one of them.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    content = nifti_bytes(phantom(), phantom_affine())
    tail = "_T1w.nii.gz"
    room = 255 - len(("sub-01_acq-" + tail).encode())
    long_stem = "sub-01_acq-" + "é" * (room // 2) + "x" * (room % 2)  # 255 bytes in all
    names = [
        "sub-01_acq-*_T1w.nii.gz",
        "sub-01_acq-?_T1w.nii.gz",
        "sub-01_acq-[ab]_T1w.nii.gz",
        "sub-01_acq-a_T1w.nii.gz",  # what the three above match as globs
        "sub-01_acq-{x}_T1w.nii.gz",
        "sub-01_acq-{{x}}_T1w.nii.gz",
        "sub-01_acq-${x}_T1w.nii.gz",
        "sub-01_acq-<word>_T1w.nii.gz",
        'sub-01_acq-it\'s "quoted"_T1w.nii.gz',
        "sub-01_acq-two  spaces_T1w.nii.gz",
        "sub-01_acq-äöü字_T1w.nii.gz",
        long_stem + tail,
    ]
    return [write_nifti(out / name, content) for name in names]


def make_sidecar(
    source: str = "sub-01/anat/sub-01_T1w.nii.gz",
    *,
    status: str = "rendered",
    error: str | None = None,
    warnings: tuple[str, ...] = (),
    **fields: object,
) -> Sidecar:
    """A valid sidecar record for test fixtures, built through :class:`neurovid.sidecar.Sidecar`.

    Rendered records get plausible ``input``, ``image``, ``window`` and ``video`` sections
    (checksums derived from `source`, so each image differs); a failed record gets
    ``error`` (default: "<source>: broken"). ``fields`` replace any key, e.g.
    ``quality={...}`` or ``video=None``. Write it with :func:`neurovid.sidecar.write_sidecar`
    (no MP4 is made: use :func:`neurovid.render.render_image` for a real one).
    """
    import hashlib

    name = source.rsplit("/", 1)[-1]
    stem = strip_nifti_suffix(name)
    digest = hashlib.sha256(source.encode()).hexdigest()
    record = Sidecar(
        neurovid_sidecar_version=SIDECAR_VERSION,
        status=status,  # type: ignore[arg-type]
        error=error if error is not None or status == "rendered" else f"{source}: broken",
        warnings=list(warnings),
        Sources=[f"bids:raw:{source}"],
        source=source,
        entities=entities_from_filename(name),
        log=f"logs/render/{strip_nifti_suffix(source)}.log",
        input=InputRecord(sha256=digest, size_bytes=1000),
        render={"fps": 15},
        versions={"neurovid": "test"},
    )
    if status == "rendered":
        record.image = ImageRecord(
            shape=list(PHANTOM_SHAPE), n_volumes=1, voxel_sizes_mm=list(PHANTOM_VOXEL_SIZES_MM),
            axis_codes="RAS", datatype="int16", obliquity_deg=0.0, nonfinite_voxels=0,
        )  # fmt: skip
        record.window = WindowRecord(low=0.0, high=1000.0, percentiles=[0.5, 99.5])
        record.video = VideoRecord(
            file=f"{stem}.mp4", poster=f"{stem}.png", sha256=digest[::-1], codec="h264",
            pix_fmt="yuv420p", width=640, height=320, fps=15, frame_count=28, duration_s=1.867,
        )  # fmt: skip
    for key, value in fields.items():
        setattr(record, key, value)
    return Sidecar.from_dict(record.to_dict())  # validated like any sidecar read from disk


def _t1w(root: Path, label: str, ext: str = ".nii.gz") -> tuple[str, Path]:
    rel = f"sub-{label}/anat/sub-{label}_T1w{ext}"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    return rel, path


def build_bad_input_dataset(
    bids_root: str | os.PathLike[str],
    *,
    include_permission_case: bool | None = None,
    exotic: bool = False,
) -> dict[str, Expected]:
    """Write a BIDS dataset of good and bad T1w images, one subject per case.

    Parameters
    ----------
    bids_root : str or os.PathLike
        Dataset root (created if needed); ``dataset_description.json`` is written.
    include_permission_case : bool, optional
        Add an unreadable file (mode 000). Default: only when not running as root, since
        root reads it anyway and the expectation would be false.
    exotic : bool
        Also add a FIFO, a symlink to ``/dev/zero`` and a directory, each named like a T1w
        image (they may trip or hang other tools that walk or open the dataset, so they
        are off by default).

    Returns
    -------
    dict of str to Expected
        Key: the image path relative to `bids_root` (POSIX separators).
    """
    root = Path(bids_root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(
        json.dumps({"Name": "neurovid bad-input corpus", "BIDSVersion": "1.9.0"}, indent=2)
    )
    out: dict[str, Expected] = {}
    ph = phantom()
    aff = phantom_affine()

    def add(label: str, content: bytes, expected: Expected, ext: str = ".nii.gz") -> None:
        rel, path = _t1w(root, label, ext)
        write_nifti(path, content)
        out[rel] = expected

    def raw(label: str, content: bytes, expected: Expected, ext: str = ".nii.gz") -> None:
        rel, path = _t1w(root, label, ext)
        path.write_bytes(content)
        out[rel] = expected

    ok = Expected(True, "")
    # -- good images
    add("good", nifti_bytes(ph, aff), ok)
    add("goodscaled", nifti_bytes(ph, aff, slope=0.5, inter=10.0), ok)
    add("goodfloat", nifti_bytes(ph, aff, dtype="float32"), ok, ext=".nii")
    add("goodbigendian", nifti_bytes(ph, aff, endian=">"), ok)
    add("goodnifti2", nifti_bytes(ph, aff, dtype="float32", nifti2=True), ok)
    add("fourdone", nifti_bytes(ph[..., None], aff), ok)
    add("fivedone", nifti_bytes(ph[..., None, None], aff), ok)
    four = np.stack([ph, ph * 0.5, ph * 0.25], axis=-1)
    add(
        "fourd",
        nifti_bytes(four, aff),
        Expected(True, "4D image with 3 volumes: showing volume 1 of 3"),
    )
    nan = ph.copy()
    nan[:3, :, :] = np.nan
    nan[5, 5, 5] = np.inf
    add("nan", nifti_bytes(nan, aff, dtype="float32"), Expected(True, "NaN/Inf voxels"))
    labels = np.zeros(PHANTOM_SHAPE, np.float32)
    labels[ph > 0] = 1
    labels[ph > 600] = 2
    labels[ph >= 1000] = 3
    add(
        "labels",
        nifti_bytes(labels, aff, dtype="uint8"),
        Expected(True, "looks like a label map or mask (4 distinct values)"),
    )
    add(
        "mask",
        nifti_bytes((ph > 0).astype(np.float32), aff, dtype="uint8"),
        Expected(True, "looks like a label map or mask (2 distinct values)"),
    )
    singular = aff.copy()
    singular[:3, 2] = singular[:3, 0]
    add(
        "badsform",
        nifti_bytes(ph, aff, srow_x=singular[0], srow_y=singular[1], srow_z=singular[2]),
        Expected(True, "sform is singular: using the qform instead"),
    )
    add(
        "noorient",
        nifti_bytes(ph, aff, qform_code=0, sform_code=0),
        Expected(True, "no orientation in header"),
    )

    # -- file-system level
    raw("zerobyte", b"", Expected(False, "empty file (0 bytes)"))
    rel, path = _t1w(root, "annex")
    key = "SHA256E-s53120--0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0.nii.gz"
    path.symlink_to(f"../../.git/annex/objects/Kx/3P/{key}/{key}")
    out[rel] = Expected(False, "content not present (git-annex placeholder); run `datalad get")
    raw(
        "annexunlocked",
        f"/annex/objects/{key}\n".encode(),
        Expected(False, "content not present (git-annex placeholder); run `datalad get"),
    )
    raw(
        "lfs",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:0f1e\nsize 53120\n",
        Expected(False, "content not present (Git LFS pointer)"),
    )
    rel, path = _t1w(root, "brokenlink")
    path.symlink_to("../../sourcedata/missing_T1w.nii.gz")
    out[rel] = Expected(False, "broken symlink to ../../sourcedata/missing_T1w.nii.gz")
    if include_permission_case is None:
        include_permission_case = os.geteuid() != 0
    if include_permission_case:
        rel, path = _t1w(root, "noperm")
        write_nifti(path, nifti_bytes(ph, aff))
        path.chmod(0)
        out[rel] = Expected(False, "permission denied")
    if exotic:
        rel, path = _t1w(root, "fifo")
        os.mkfifo(path)
        out[rel] = Expected(False, "not a regular file (FIFO)")
        rel, path = _t1w(root, "devzero")
        path.symlink_to("/dev/zero")  # endless: reading it never ends
        out[rel] = Expected(False, "not a regular file (character device)")
        rel, path = _t1w(root, "isdir")
        path.mkdir()
        out[rel] = Expected(False, "is a directory, not a file")

    # -- compression
    good_gz = gzip.compress(nifti_bytes(ph, aff), mtime=0)
    raw("truncgz", good_gz[: len(good_gz) // 2], Expected(False, "truncated or corrupt gzip"))
    corrupt = bytearray(good_gz)
    for i in range(len(corrupt) // 2, len(corrupt) // 2 + 8):
        corrupt[i] ^= 0xFF
    raw("corruptgz", bytes(corrupt), Expected(False, "truncated or corrupt gzip"))
    raw("notgzip", b"this is not an image\n" * 10, Expected(False, "not a gzip file"))
    raw(
        "rawnamedgz",
        nifti_bytes(ph, aff),
        Expected(False, "not a gzip file (an uncompressed NIfTI named .nii.gz)"),
    )
    raw(
        "gzipnamednii",
        good_gz,
        Expected(False, "gzip-compressed file named .nii (should be .nii.gz)"),
        ext=".nii",
    )
    add(
        "nonifti",
        b"<html>404 Not Found</html>\n" * 40,
        Expected(False, "no NIfTI header (bad sizeof_hdr/magic)"),
    )
    analyze = bytearray(nifti_bytes(ph, aff))
    analyze[344:348] = b"\x00\x00\x00\x00"
    add("analyze", bytes(analyze), Expected(False, "no NIfTI header (bad sizeof_hdr/magic)"))
    add(
        "pairmagic",
        nifti_bytes(ph, aff, magic=b"ni1"),
        Expected(False, "header is for a .hdr/.img pair"),
    )
    full = nifti_bytes(ph, aff)
    raw("truncnii", full[: len(full) - 1000], Expected(False, "file truncated"), ext=".nii")
    four_bytes = nifti_bytes(np.stack([ph, ph * 0.5, ph * 0.25], axis=-1), aff)
    volume_bytes = ph.size * 2  # int16
    raw(
        "fourdtrunc",  # a 4-D .nii.gz that stops right after its first volume
        gzip_cut_after(four_bytes, len(four_bytes) - 2 * volume_bytes),
        Expected(False, "truncated or corrupt gzip (compressed data ends early)"),
    )
    four_gz = bytearray(gzip.compress(four_bytes, mtime=0))
    four_gz[-8] ^= 0xFF  # CRC of the uncompressed data no longer matches
    raw("fourdcrc", bytes(four_gz), Expected(False, "truncated or corrupt gzip (CRC check"))

    # -- header
    def with_dim(dim: list[int]) -> bytes:
        return nifti_bytes(ph, aff, dim=dim + [1] * (8 - len(dim)))

    add("dimzero", with_dim([0, 24, 28, 20]), Expected(False, "header has invalid dim[0] = 0"))
    add("dimeight", with_dim([8, 24, 28, 20]), Expected(False, "header has invalid dim[0] = 8"))
    add("negdim", with_dim([3, 24, -28, 20]), Expected(False, "header has negative dimensions"))
    add("zerodim", with_dim([3, 24, 28, 0]), Expected(False, "header has a zero dimension"))
    add(
        "baddtype",
        nifti_bytes(ph, aff, datatype=999),
        Expected(False, "header has unknown datatype code 999"),
    )
    add(
        "complex",
        nifti_bytes(ph, aff, dtype="complex64"),
        Expected(False, "unsupported datatype complex64 (code 32)"),
    )
    add(
        "rgb",
        nifti_bytes(ph, aff, dtype="uint8", datatype=128, bitpix=24),
        Expected(False, "unsupported datatype RGB (code 128)"),
    )
    add(
        "badquat",
        nifti_bytes(ph, aff, sform_code=0, quatern_b=2.0),
        Expected(False, "header has an invalid qform"),
    )
    add(
        "zerovox",
        nifti_bytes(ph, aff, qform_code=0, sform_code=0, pixdim=[1, 1, 0, 1.5, 1, 1, 1, 1]),
        Expected(False, "header has invalid voxel size"),
    )
    add(
        "singular",
        nifti_bytes(
            ph, aff, qform_code=0, srow_x=singular[0], srow_y=singular[1], srow_z=singular[2]
        ),
        Expected(False, "header has a singular sform affine"),
    )
    add(
        "nanaffine",
        nifti_bytes(ph, aff, qform_code=0, srow_x=[np.nan, 0, 0, 0]),
        Expected(False, "header has a non-finite sform affine"),
    )
    add(
        "farorigin",  # 10^30 mm: the frame labels cannot even print it
        nifti_bytes(ph, aff, qform_code=0, srow_x=[1.0, 0, 0, 1e30]),
        Expected(False, "header has an implausible sform affine (entries beyond ±100000 mm)"),
    )
    add(
        "hugevoxels",
        nifti_bytes(ph, aff, qform_code=0, sform_code=0, pixdim=[1, 1e30, 1.2, 1.5, 1, 1, 1, 1]),
        Expected(False, "header has an implausible voxel-size affine (entries beyond ±100000 mm)"),
    )
    add(
        "badinter",
        nifti_bytes(ph, aff, scl_slope=2.0, scl_inter=np.nan),
        Expected(False, "header has invalid scl_inter"),
    )
    add(
        "badoffset",
        nifti_bytes(ph, aff, vox_offset=0),
        Expected(False, "header has invalid vox_offset 0"),
    )
    for label, offset in (("nanoffset", np.nan), ("infoffset", np.inf), ("neginfoffset", -np.inf)):
        add(
            label,
            nifti_bytes(ph, aff, vox_offset=offset),
            Expected(False, f"header has invalid vox_offset {float(offset)}"),
        )
    add(
        "hugeoffset",
        nifti_bytes(ph, aff, vox_offset=1e30),
        Expected(False, "header has invalid vox_offset 1e+30 (past the end of the file"),
    )
    add(
        "hugeoffset2",
        nifti_bytes(ph, aff, nifti2=True, vox_offset=2**62),
        Expected(False, f"header has invalid vox_offset {2**62} (past the end of the file"),
    )
    add(
        "hugeoffsetnii",
        nifti_bytes(ph, aff, vox_offset=1e30),
        Expected(False, "header has invalid vox_offset 1e+30 (past the end of the file"),
        ext=".nii",
    )
    add(
        "huge",
        nifti_bytes(ph, aff, dtype="float32", shape=(4000, 4000, 4000)),
        Expected(False, "image too large"),
    )
    add(
        "absurdshape",  # a complete file; rendering it would take 7 days of video
        absurd_shape_nifti2(),
        Expected(False, "too many slices: 10000000×2×2 would make a 10000000-frame video"),
    )

    # -- names at the file-system limit (255 bytes); temporary names must still fit
    for n_bytes in (230, 255):
        stem = "sub-longname_acq-"
        tail = "_T1w.nii.gz"
        rel = f"sub-longname/anat/{stem}{'x' * (n_bytes - len(stem) - len(tail))}{tail}"
        write_nifti(root / rel, nifti_bytes(ph, aff))
        out[rel] = ok

    # -- shape and content
    flat2d = ph[:, :, 10]
    add(
        "twod",
        nifti_bytes(flat2d, aff),
        Expected(False, "2-D image (shape 24×28): nothing to sweep"),
    )
    add(
        "flat",
        nifti_bytes(flat2d[..., None], aff),
        Expected(False, "2-D image (shape 24×28×1): nothing to sweep"),
    )
    five = np.stack([four, four], axis=-1)[..., :1, :]  # (24, 28, 20, 1, 2)
    add("fived", nifti_bytes(five, aff), Expected(False, "5-D image (shape 24×28×20×1×2)"))
    add(
        "allnan",
        nifti_bytes(np.full(PHANTOM_SHAPE, np.nan, np.float32), aff, dtype="float32"),
        Expected(False, "no finite voxels (all NaN/Inf)"),
    )
    add(
        "zeros",
        nifti_bytes(np.zeros(PHANTOM_SHAPE, np.float32), aff),
        Expected(False, "constant image (all voxels = 0): nothing to show"),
    )
    add(
        "constant",
        nifti_bytes(np.full(PHANTOM_SHAPE, 7, np.float32), aff),
        Expected(False, "constant image (all voxels = 7): nothing to show"),
    )
    return out


#: Debian's Chromium, as the browser tests, screenshots and benchmarks drive it.
CHROMIUM = Path(os.environ.get("NEUROVID_CHROMIUM", "/usr/bin/chromium"))
#: Headless, and no background traffic: the page must work with no network at all.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
