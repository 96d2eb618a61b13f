"""Tests of neurovid.volume: one per bad-input case, plus loading semantics."""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import signal
import tempfile
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from neurovid import volume as volume_mod
from neurovid.errors import InputError
from neurovid.testing import (
    PHANTOM_SHAPE,
    Expected,
    build_bad_input_dataset,
    nifti_bytes,
    phantom,
    phantom_affine,
    write_nifti,
)
from neurovid.volume import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FRAMES_PER_PLANE,
    Volume,
    estimate_memory_bytes,
    load_volume,
)

IS_ROOT = os.geteuid() == 0


def _case_names() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        return sorted(
            build_bad_input_dataset(Path(tmp) / "bids", exotic=True, include_permission_case=False)
        )


CASES = _case_names()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Expected]]:
    root = tmp_path_factory.mktemp("corpus") / "bids"
    return root, build_bad_input_dataset(root, exotic=True, include_permission_case=False)


def _assert_one_line_naming(err: InputError, shown: str) -> None:
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg
    assert "Traceback" not in msg
    assert msg.startswith(f"{shown}: ")
    assert err.path == shown
    assert len(msg) < 300


def _check_volume(vol: Volume) -> None:
    assert vol.data.dtype == np.float32
    assert vol.data.ndim == 3
    assert vol.data.shape == vol.stored_shape[:3]
    assert np.all(np.isfinite(vol.data))
    assert vol.affine.shape == (4, 4) and vol.affine.dtype == np.float64
    assert all(v > 0 for v in vol.voxel_sizes_mm)
    assert all("\n" not in w for w in vol.warnings)


# --------------------------------------------------------------------------- the corpus


def test_corpus_lists_every_file(corpus: tuple[Path, dict[str, Expected]]) -> None:
    root, expected = corpus
    assert sorted(expected) == CASES
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.glob("sub-*/anat/*_T1w.nii*")
        if p.is_symlink() or p.exists()
    }
    assert on_disk == set(expected)
    assert (root / "dataset_description.json").is_file()


@pytest.mark.parametrize("rel", CASES)
def test_corpus_case(corpus: tuple[Path, dict[str, Expected]], rel: str) -> None:
    root, expected = corpus
    exp = expected[rel]
    path = root / rel
    if exp.ok:
        vol = load_volume(path, display_path=rel)
        _check_volume(vol)
        if exp.text:
            assert any(exp.text in w for w in vol.warnings), vol.warnings
        else:
            assert vol.warnings == ()
        return
    with pytest.raises(InputError) as info:
        load_volume(path, display_path=rel)
    _assert_one_line_naming(info.value, rel)
    assert exp.text in info.value.reason
    # the default display path is the path as given
    with pytest.raises(InputError) as info2:
        load_volume(path)
    _assert_one_line_naming(info2.value, str(path))


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "sub-01_T1w.nii.gz"
    with pytest.raises(InputError) as info:
        load_volume(path)
    _assert_one_line_naming(info.value, str(path))
    assert info.value.reason == "file does not exist"


def test_annex_reason_is_exact(corpus: tuple[Path, dict[str, Expected]]) -> None:
    root, _ = corpus
    rel = "sub-annex/anat/sub-annex_T1w.nii.gz"
    with pytest.raises(InputError) as info:
        load_volume(root / rel, display_path=rel)
    assert info.value.reason == (
        f"content not present (git-annex placeholder); run `datalad get {rel}`"
    )


def test_annex_symlink_via_absolute_target(tmp_path: Path) -> None:
    target = (
        tmp_path
        / "ds"
        / ".git"
        / "annex"
        / "objects"
        / "aa"
        / "bb"
        / "SHA256E-s1--k.nii.gz"
        / "SHA256E-s1--k.nii.gz"
    )
    link = tmp_path / "ds" / "sub-01" / "anat" / "sub-01_T1w.nii.gz"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    with pytest.raises(InputError, match="git-annex placeholder"):
        load_volume(link)
    # once the content is there, it loads
    write_nifti(target, nifti_bytes(phantom()))
    _check_volume(load_volume(link))


def test_symlink_loop(tmp_path: Path) -> None:
    a = tmp_path / "a_T1w.nii.gz"
    b = tmp_path / "b_T1w.nii.gz"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(InputError, match="symlink loop"):
        load_volume(a)


def test_unsupported_extension(tmp_path: Path) -> None:
    # .mgz/.mgh/.hdr/.img are read by nibabel (tests/unit/test_standalone.py, issue 12)
    path = write_nifti(tmp_path / "x_T1w.mha", b"whatever")
    with pytest.raises(InputError, match=r"unsupported file type \(expected .nii or .nii.gz\)"):
        load_volume(path)


def _load_as_nobody(path: Path) -> str:
    """Run load_volume in a forked child that dropped root; return its error text."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery from here on
        code = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                load_volume(path)
                text = "LOADED"
            except InputError as err:
                text = "InputError:" + err.reason
            except BaseException as err:  # noqa: BLE001 - reported to the parent
                text = "OTHER:" + repr(err)
            os.write(write_fd, text.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        text = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return text


def test_permission_denied() -> None:
    # Root reads any file, so as root the check runs in a child that drops to "nobody".
    # The directory is made under /tmp with mode 755 (pytest's tmp dirs are 700).
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        path = write_nifti(Path(tmp) / "sub-01_T1w.nii.gz", nifti_bytes(phantom()))
        path.chmod(0)
        if IS_ROOT:
            text = _load_as_nobody(path)
            assert text == "InputError:permission denied", text
        else:
            with pytest.raises(InputError) as info:
                load_volume(path)
            assert info.value.reason == "permission denied"


# --------------------------------------------------------------------------- memory


def test_memory_refusal_happens_before_allocation(tmp_path: Path) -> None:
    path = write_nifti(
        tmp_path / "huge_T1w.nii.gz",
        nifti_bytes(phantom(), dtype="float32", shape=(4000, 4000, 4000)),
    )
    assert path.stat().st_size < 100_000
    expected = 4000**3 * (4 + 4 + 2) + 4 * 1024**2
    assert estimate_memory_bytes(path) == expected
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            load_volume(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # refused from the header: nothing near 640 GB was allocated
    assert info.value.reason == (
        "image too large: one volume of 4000×4000×4000 float32 needs ~640.0 GB "
        "of memory to load (limit 4.3 GB)"
    )


def test_max_bytes_is_honoured(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "p_T1w.nii.gz", nifti_bytes(phantom()))
    need = estimate_memory_bytes(path)
    assert need == int(np.prod(PHANTOM_SHAPE)) * (4 + 2 + 2) + 4 * 1024**2
    assert need < DEFAULT_MAX_BYTES
    load_volume(path, max_bytes=need)
    with pytest.raises(
        InputError, match=r"needs ~0\.0043 GB of memory to load \(limit 0\.001 GB\)"
    ):
        load_volume(path, max_bytes=1_000_000)


def test_own_reader_needs_less_memory_than_nibabel(tmp_path: Path) -> None:
    """Why volume.py reads the voxels itself (its docstring has the 256×256×176 figures):
    nibabel scales in float64, this reader in place in float32."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, size=(128, 128, 88)).astype(np.float32)
    path = write_nifti(tmp_path / "s.nii.gz", nifti_bytes(data, dtype="int16", slope=0.5))
    peaks = []
    for load in (
        lambda: nib.load(path).get_fdata(dtype=np.float32),
        lambda: load_volume(path).data,
    ):
        tracemalloc.start()
        try:
            result = load()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        peaks.append(peak)
        np.testing.assert_allclose(result, np.rint(data / 0.5) * 0.5)
    nibabel_peak, own_peak = peaks
    assert own_peak < 0.6 * nibabel_peak, peaks


def test_estimate_rejects_bad_header(corpus: tuple[Path, dict[str, Expected]]) -> None:
    root, _ = corpus
    with pytest.raises(InputError, match="header has unknown datatype code 999"):
        estimate_memory_bytes(root / "sub-baddtype/anat/sub-baddtype_T1w.nii.gz")


def test_peak_memory_of_a_load(tmp_path: Path) -> None:
    data = np.tile(phantom(), (4, 4, 4))  # 96x112x80
    for dtype, name in (("uint8", "u8.nii.gz"), ("int16", "i16.nii"), ("float32", "f.nii.gz")):
        path = write_nifti(tmp_path / name, nifti_bytes(data / 4, dtype=dtype, slope=1.0))
        tracemalloc.start()
        try:
            vol = load_volume(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak <= estimate_memory_bytes(path), (dtype, peak)
        assert vol.data.nbytes == data.size * 4


# --------------------------------------------------------------------------- semantics


def test_4d_loads_only_the_first_volume(tmp_path: Path) -> None:
    ph = phantom()
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 30000, size=(*PHANTOM_SHAPE, 5)).astype(np.float32)
    data = np.concatenate([ph[..., None], noise], axis=-1)  # 6 volumes
    path = write_nifti(tmp_path / "sub-01_T1w.nii.gz", nifti_bytes(data))
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.data, ph)
    assert vol.stored_shape == (*PHANTOM_SHAPE, 6)
    assert vol.n_volumes == 6
    assert vol.warnings == ("4D image with 6 volumes: showing volume 1 of 6",)


def test_4d_gzip_cut_in_a_later_volume_is_refused(tmp_path: Path) -> None:
    """Volume 1 intact, the stream cut in volume 4: refused, not rendered as if fine."""
    ph = phantom()
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 30000, size=(*PHANTOM_SHAPE, 5)).astype(np.float32)
    content = gzip.compress(nifti_bytes(np.concatenate([ph[..., None], noise], -1)), mtime=0)
    path = tmp_path / "sub-01_T1w.nii.gz"
    path.write_bytes(content[: len(content) // 2])  # in the incompressible noise
    with pytest.raises(InputError) as info:
        load_volume(path)
    assert info.value.reason == "truncated or corrupt gzip (compressed data ends early)"


def test_4d_gzip_check_reads_in_bounded_memory(tmp_path: Path) -> None:
    ph = phantom()
    data = np.stack([ph * (1 + k) for k in range(12)], axis=-1)  # 12 volumes
    path = write_nifti(tmp_path / "sub-01_T1w.nii.gz", nifti_bytes(data, dtype="float32"))
    tracemalloc.start()
    try:
        vol = load_volume(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert vol.n_volumes == 12
    one_volume = ph.size * 4
    # the check decompresses all 12 volumes but never holds more than a few MiB of them
    assert peak <= estimate_memory_bytes(path) < 12 * one_volume + 5 * 2**20


def test_gzip_with_a_long_tail_after_the_image_loads_with_a_warning(tmp_path: Path) -> None:
    """A stream longer than the header says is not decompressed to its end (a gzip bomb
    after a valid image would take hours): the image loads, the tail is named."""
    tail = b"\x00" * (20 * 2**20)
    path = tmp_path / "sub-01_T1w.nii.gz"
    path.write_bytes(gzip.compress(nifti_bytes(phantom()) + tail, mtime=0))
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.data, phantom())
    assert vol.warnings == (
        "data continues after the image (more than 1 MiB): the rest of the file was not checked",
    )
    assert vol.input_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- never hang


class Hang(BaseException):
    """Raised by :func:`no_hang`; not an ``OSError`` (``TimeoutError`` is one, and code
    under test that catches ``OSError`` would swallow it and look as if it returned)."""


@contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """Fail (instead of hanging the test run) if the block takes longer than `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind", ["fifo", "devzero", "devnull"])
def test_special_files_are_refused_without_opening(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "sub-01_T1w.nii.gz"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it for reading would block forever
    else:
        path.symlink_to("/dev/zero" if kind == "devzero" else "/dev/null")
    with no_hang():
        with pytest.raises(InputError) as info:
            load_volume(path)
        with pytest.raises(InputError):
            estimate_memory_bytes(path)
    what = "FIFO" if kind == "fifo" else "character device"
    assert info.value.reason == f"not a regular file ({what})"
    assert info.value.input_sha256 is None  # nothing was read, so nothing was hashed


def test_a_file_that_becomes_a_fifo_after_the_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: stat says "regular file", then the path is swapped for a FIFO."""
    regular = write_nifti(tmp_path / "regular_T1w.nii.gz", nifti_bytes(phantom()))
    fifo = tmp_path / "sub-01_T1w.nii.gz"
    os.mkfifo(fifo)
    real_stat = volume_mod._stat_checked
    monkeypatch.setattr(volume_mod, "_stat_checked", lambda path, shown: real_stat(regular, shown))
    with no_hang():
        with pytest.raises(InputError) as info:
            load_volume(fifo)
    assert info.value.reason == "not a regular file (FIFO)"


def test_a_huge_sparse_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "sub-01_T1w.nii.gz"
    with open(path, "wb") as stream:
        stream.truncate(100 * 2**30)  # 100 GiB of nothing, instantly (sparse)
    with no_hang(5):
        with pytest.raises(InputError) as info:
            load_volume(path)
    assert info.value.reason == "file too large: 107.4 GB (limit 68.7 GB, option max_file_bytes)"
    assert info.value.input_sha256 is None


def test_declared_data_beyond_the_file_limit_is_refused(tmp_path: Path) -> None:
    data = np.stack([phantom()] * 3, axis=-1)
    path = write_nifti(tmp_path / "sub-01_T1w.nii.gz", nifti_bytes(data))
    declared = 352 + data.size * 2
    load_volume(path, max_file_bytes=declared)
    with pytest.raises(InputError) as info:
        load_volume(path, max_file_bytes=declared - 1)
    assert info.value.reason.startswith("image too large to check: the header declares ")


# --------------------------------------------------------------------------- checksum


@pytest.mark.parametrize(
    "name", ["a_T1w.nii", "a_T1w.nii.gz", "four_T1w.nii.gz", "four_T1w.nii", "tail_T1w.nii"]
)
def test_checksum_is_of_every_byte_of_the_file(tmp_path: Path, name: str) -> None:
    ph = phantom()
    data = np.stack([ph, ph / 2], axis=-1) if name.startswith("four") else ph
    content = nifti_bytes(data)
    if name.startswith("tail"):
        content += b"trailing bytes that are not part of the image"
    path = write_nifti(tmp_path / name, content)
    vol = load_volume(path)
    on_disk = path.read_bytes()
    assert vol.input_sha256 == hashlib.sha256(on_disk).hexdigest()
    assert vol.input_size_bytes == len(on_disk)


def test_failed_regular_files_carry_their_checksum(
    corpus: tuple[Path, dict[str, Expected]],
) -> None:
    root, expected = corpus
    for rel, exp in expected.items():
        path = root / rel
        if exp.ok or not path.is_file():  # is_file follows links: FIFO, /dev/zero are not
            continue
        with pytest.raises(InputError) as info:
            load_volume(path, display_path=rel)
        content = path.read_bytes()
        assert info.value.input_sha256 == hashlib.sha256(content).hexdigest(), rel
        assert info.value.input_size_bytes == len(content), rel


def test_checksum_is_of_the_file_that_was_read_even_if_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replaced (renamed over) while being read: data and checksum are both of the old file."""
    path = write_nifti(tmp_path / "sub-01_T1w.nii.gz", nifti_bytes(phantom()))
    old = path.read_bytes()
    newer = write_nifti(tmp_path / "new.nii.gz", nifti_bytes(phantom()[::-1].copy()))
    real_read = volume_mod._read_first_volume

    def replace_then_read(*args: object, **kwargs: object) -> np.ndarray:
        os.replace(newer, path)
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(volume_mod, "_read_first_volume", replace_then_read)
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.data, phantom())
    assert vol.input_sha256 == hashlib.sha256(old).hexdigest()
    assert hashlib.sha256(path.read_bytes()).hexdigest() != vol.input_sha256


@pytest.mark.parametrize("change", ["append", "truncate"])
def test_a_file_written_to_while_it_is_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Written in place (not replaced) during the read: the bytes read are not one file."""
    path = write_nifti(tmp_path / "sub-01_T1w.nii", nifti_bytes(phantom()) + b"x" * 5000)
    real_read = volume_mod._read_first_volume

    def write_then_read(*args: object, **kwargs: object) -> np.ndarray:
        with open(path, "r+b") as stream:
            if change == "append":
                stream.seek(0, os.SEEK_END)
                stream.write(b"still being copied")
            else:
                stream.truncate(path.stat().st_size - 1000)
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(volume_mod, "_read_first_volume", write_then_read)
    with no_hang():
        with pytest.raises(InputError) as info:
            load_volume(path)
    assert info.value.reason == "file changed while it was read (is it still being written?)"


# --------------------------------------------------------------------------- frame ceiling


def test_frame_ceiling(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "sub-01_T1w.nii.gz", nifti_bytes(phantom()))  # 24×28×20
    assert DEFAULT_MAX_FRAMES_PER_PLANE == 2000
    load_volume(path, max_frames_per_plane=28)
    with pytest.raises(InputError) as info:
        load_volume(path, max_frames_per_plane=27)
    assert info.value.reason == (
        "too many slices: 24×28×20 would make a 28-frame video (limit 27 frames per plane, "
        "option max_frames_per_plane)"
    )


def test_absurd_shape_is_refused_before_reading_its_data(tmp_path: Path) -> None:
    from neurovid.testing import absurd_shape_nifti2

    path = write_nifti(tmp_path / "sub-01_T1w.nii.gz", absurd_shape_nifti2())
    assert path.stat().st_size < 400_000
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="too many slices: 10000000×2×2"):
            load_volume(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


# --------------------------------------------------------------------------- header fuzz

_FLOAT_VALUES = [np.nan, np.inf, -np.inf, -1.0, 0.0, 1e-30, 1e30, 3.4e38]
_INT_VALUES = [-32768, -1, 0, 1, 2, 3, 4, 5, 32767]
_FUZZ_FIELDS = {
    "vox_offset": _FLOAT_VALUES,
    "scl_slope": _FLOAT_VALUES,
    "scl_inter": _FLOAT_VALUES,
    "quatern_b": _FLOAT_VALUES,
    "quatern_d": _FLOAT_VALUES,
    "qoffset_x": _FLOAT_VALUES,
    "toffset": _FLOAT_VALUES,
    "slice_duration": _FLOAT_VALUES,
    "cal_max": _FLOAT_VALUES,
    "qform_code": _INT_VALUES,
    "sform_code": _INT_VALUES,
    "datatype": _INT_VALUES + [2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280, 1536, 2304],
    "bitpix": _INT_VALUES,
    "slice_start": _INT_VALUES,
    "slice_end": _INT_VALUES,
    "intent_code": _INT_VALUES,
}
_ORIENTATION_FIELDS = {"quatern_b", "quatern_d", "qoffset_x", "qform_code", "sform_code"}
_FUZZ_CASES = [
    (field, value, nifti2, qform_only)
    for field, values in _FUZZ_FIELDS.items()
    for value in values
    for nifti2 in (False, True)
    # with and without an sform only where the sform/qform choice matters
    for qform_only in ((False, True) if field in _ORIENTATION_FIELDS else (False,))
] + [
    (f"{name}[{index}]", value, nifti2, qform_only)
    for name, indexes, values in (
        ("pixdim", range(8), _FLOAT_VALUES),
        ("dim", range(8), _INT_VALUES),
        ("srow_x", range(4), _FLOAT_VALUES),
    )
    for index in indexes
    for value in values
    for nifti2 in (False, True)
    for qform_only in ((False, True) if name == "pixdim" else (False,))
]


@pytest.mark.parametrize(("field", "value", "nifti2", "qform_only"), _FUZZ_CASES)
def test_any_header_value_is_a_volume_or_an_input_error(
    tmp_path: Path, field: str, value: float, nifti2: bool, qform_only: bool
) -> None:
    """Every odd value of every header field: a usable volume or a one-line refusal."""
    from neurovid.render import RenderOptions, frame_renderer

    content = bytearray(nifti_bytes(phantom(), nifti2=nifti2, sform_code=0 if qform_only else 1))
    header_cls = volume_mod.Nifti2Header if nifti2 else volume_mod.Nifti1Header
    header = header_cls(bytes(content[: 540 if nifti2 else 348]), check=False)
    name, _, index = field.partition("[")
    info = np.iinfo(header[name].dtype) if header[name].dtype.kind in "iu" else None
    if info is not None and not (info.min <= value <= info.max):  # NaN too: NIfTI-2 ints
        value = info.max if value > 0 else info.min
    if index:
        values = header[name].copy()
        values[int(index[:-1])] = value
        header[name] = values
    else:
        header[name] = value
    content[: len(header.binaryblock)] = header.binaryblock
    path = write_nifti(tmp_path / "sub-01_T1w.nii.gz", bytes(content))
    with no_hang():
        try:
            vol = load_volume(path, display_path="x.nii.gz")
        except InputError as err:
            _assert_one_line_naming(err, "x.nii.gz")
            return
        _check_volume(vol)
        # what loads must also lay out and draw (extreme voxel sizes, shapes)
        renderer, _ = frame_renderer(vol, RenderOptions(), {}, "x")
        assert renderer.layout.width <= 4000 and renderer.layout.height <= 2000
        frames = iter(renderer)
        first = next(frames)
        assert first.dtype == np.uint8 and first.shape == (
            renderer.layout.height,
            renderer.layout.width,
        )


def test_4d_with_one_volume_is_3d(corpus: tuple[Path, dict[str, Expected]]) -> None:
    root, _ = corpus
    vol = load_volume(root / "sub-fourdone/anat/sub-fourdone_T1w.nii.gz")
    assert vol.stored_shape == (*PHANTOM_SHAPE, 1)
    assert vol.n_volumes == 1 and vol.warnings == ()
    np.testing.assert_array_equal(vol.data, phantom())


def test_same_picture_whatever_the_storage(corpus: tuple[Path, dict[str, Expected]]) -> None:
    root, _ = corpus
    ph = phantom()
    expected_types = {
        "good": "int16",
        "goodscaled": "int16",
        "goodfloat": "float32",
        "goodbigendian": "int16",
        "goodnifti2": "float32",
    }
    for sub, dtype in expected_types.items():
        path = next((root / f"sub-{sub}" / "anat").iterdir())
        vol = load_volume(path)
        assert vol.datatype == dtype, sub
        np.testing.assert_allclose(vol.data, ph, rtol=0, atol=1e-3, err_msg=sub)
        np.testing.assert_allclose(vol.affine, phantom_affine(), atol=1e-5, err_msg=sub)
        np.testing.assert_allclose(vol.voxel_sizes_mm, (1.0, 1.2, 1.5), rtol=1e-6)
        # the same as nibabel's view of the file
        img = nib.load(path)
        np.testing.assert_array_equal(vol.affine, img.affine)
        np.testing.assert_array_equal(vol.data, img.get_fdata(dtype=np.float32))


def test_scaled_int16_matches_float32(tmp_path: Path) -> None:
    ph = phantom() / 7.0 - 3.0  # non-integer values
    scaled = write_nifti(
        tmp_path / "s.nii.gz", nifti_bytes(ph, dtype="int16", slope=1 / 7.0, inter=-3.0)
    )
    flt = write_nifti(tmp_path / "f.nii.gz", nifti_bytes(ph, dtype="float32"))
    a, b = load_volume(scaled), load_volume(flt)
    assert (a.datatype, b.datatype) == ("int16", "float32")
    np.testing.assert_allclose(a.data, b.data, atol=1e-4)


def test_nan_counting(corpus: tuple[Path, dict[str, Expected]]) -> None:
    root, _ = corpus
    vol = load_volume(root / "sub-nan/anat/sub-nan_T1w.nii.gz")
    n_expected = 3 * PHANTOM_SHAPE[1] * PHANTOM_SHAPE[2] + 1  # 3 NaN slabs + one Inf
    assert vol.nonfinite_voxels == n_expected
    assert np.all(vol.data[:3] == 0) and vol.data[5, 5, 5] == 0
    np.testing.assert_array_equal(
        vol.data[3:][vol.data[3:] != 0], phantom()[3:][vol.data[3:] != 0]
    )
    assert vol.warnings == (f"{n_expected} NaN/Inf voxels (13%): shown as 0",)


def test_finite_image_counts_zero(corpus: tuple[Path, dict[str, Expected]]) -> None:
    root, _ = corpus
    assert load_volume(root / "sub-good/anat/sub-good_T1w.nii.gz").nonfinite_voxels == 0


def test_nan_with_a_single_finite_value_is_constant(tmp_path: Path) -> None:
    data = np.full(PHANTOM_SHAPE, 5.0, np.float32)
    data[0] = np.nan
    path = write_nifti(tmp_path / "c.nii.gz", nifti_bytes(data, dtype="float32"))
    with pytest.raises(InputError, match=r"constant image \(all voxels = 5\)"):
        load_volume(path)


def test_label_map_counts_rare_labels(tmp_path: Path) -> None:
    shape = (90, 100, 80)  # larger than the subsample, so small labels can be missed
    data = np.zeros(shape, np.float32)
    data[10:80, 10:90, 10:70] = 1
    for k in range(2, 13):  # 11 one-voxel labels the subsample will not see
        data[5 * k + 1, 33, 41] = k
    path = write_nifti(tmp_path / "l.nii.gz", nifti_bytes(data, dtype="uint8"))
    vol = load_volume(path)
    assert vol.warnings == (
        "looks like a label map or mask (13 distinct values): rendered, check the file",
    )
    data[7, 7, 7] = 0.5  # not integer-valued: not a label map
    path = write_nifti(tmp_path / "f.nii.gz", nifti_bytes(data, dtype="float32"))
    assert load_volume(path).warnings == ()
    data[7, 7, 7] = 0
    for k in range(13, 20):  # 20 values: too many for a label map
        data[5 * k - 50, 50, 50] = k
    path = write_nifti(tmp_path / "m.nii.gz", nifti_bytes(data, dtype="int16"))
    assert load_volume(path).warnings == ()


def test_t1_like_integer_image_is_not_a_label_map(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = np.rint(rng.normal(100, 20, size=(64, 64, 48))).clip(0, 255)
    path = write_nifti(tmp_path / "t.nii.gz", nifti_bytes(data, dtype="uint8"))
    assert load_volume(path).warnings == ()


# --------------------------------------------------------------------------- environment


def test_environment_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_nifti(tmp_path / "p.nii.gz", nifti_bytes(phantom()))

    def eio(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(volume_mod, "_read_first_volume", eio)
    with pytest.raises(OSError) as info:
        load_volume(path)
    assert not isinstance(info.value, InputError) and info.value.errno == errno.EIO

    def oom(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.undo()
    monkeypatch.setattr(volume_mod, "_to_float32", oom)
    with pytest.raises(MemoryError):
        load_volume(path)


def test_io_error_during_gzip_read_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_nifti(tmp_path / "p.nii.gz", nifti_bytes(phantom()))
    real_readinto = gzip.GzipFile.readinto

    def failing_readinto(self: gzip.GzipFile, b: object) -> int:
        if self.tell() >= 352:
            raise OSError(errno.EIO, "Input/output error")
        return real_readinto(self, b)  # type: ignore[arg-type]

    monkeypatch.setattr(gzip.GzipFile, "readinto", failing_readinto)
    with pytest.raises(OSError) as info:
        load_volume(path)
    assert info.value.errno == errno.EIO
