"""Rendering one image: decoded frames, determinism, sidecar, poster, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import imageio_ffmpeg
import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, write_image
from neurovid.atomic import temporary_path
from neurovid.cli import render_main
from neurovid.errors import OutputConflictError
from neurovid.frames import HEADER_PX, PROGRESS_PX
from neurovid.render import RenderOptions, file_sha256, render_image, render_or_reuse
from neurovid.sidecar import read_sidecar
from neurovid.testing import build_bad_input_dataset, build_odd_name_images, phantom

SHAPE = (24, 28, 20)


@pytest.fixture
def image(tmp_path):
    return write_image(
        tmp_path / "in" / "sub-07" / "ses-b" / "anat" / "sub-07_ses-b_run-2_T1w.nii.gz",
        phantom(SHAPE), np.diag([1.0, 1.0, 1.0, 1.0]), dtype=np.int16,
    )  # fmt: skip


def decode(path):
    """(frames as uint8 arrays, reader metadata) using the bundled ffmpeg."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="gray", bpp=1)
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(height, width) for f in reader]
    return frames, meta


def test_video_decodes_as_h264_yuv420p_with_one_frame_per_slice(image, tmp_path):
    out = tmp_path / "out" / "video.mp4"
    sidecar = render_image(image, out)
    frames, meta = decode(out)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    assert len(frames) == max(SHAPE) == sidecar["video"]["frame_count"]
    assert (sidecar["video"]["width"], sidecar["video"]["height"]) == tuple(meta["size"])
    assert meta["size"][0] % 2 == 0 and meta["size"][1] % 2 == 0
    # frames differ: the planes really sweep
    assert not np.array_equal(frames[2], frames[-3])
    # the mp4 starts with ftyp and has its index (moov) before the media data (faststart)
    data = out.read_bytes()
    assert data[4:8] == b"ftyp" and data.index(b"moov") < data.index(b"mdat")


def test_two_renders_are_byte_identical(image, tmp_path):
    first = render_image(image, tmp_path / "a" / "v.mp4")
    second = render_image(image, tmp_path / "b" / "v.mp4")
    for suffix in (".mp4", ".png", ".json"):
        assert (tmp_path / "a" / f"v{suffix}").read_bytes() == (
            tmp_path / "b" / f"v{suffix}"
        ).read_bytes()
    assert first == second


def test_sidecar_records_provenance(image, tmp_path):
    out = tmp_path / "v.mp4"
    options = RenderOptions(fps=10, crf=25, display="radiological")
    sidecar = render_image(image, out, options=options)
    assert json.loads((tmp_path / "v.json").read_text()) == sidecar
    assert sidecar["status"] == "rendered" and sidecar["error"] is None
    assert sidecar["source"] == "sub-07/ses-b/anat/sub-07_ses-b_run-2_T1w.nii.gz"
    assert sidecar["Sources"] == [f"bids:raw:{sidecar['source']}"]
    assert sidecar["entities"] == {"subject": "07", "session": "b", "run": "2", "suffix": "T1w"}
    assert sidecar["input"]["sha256"] == file_sha256(image)
    assert sidecar["image"]["shape"] == list(SHAPE)
    assert sidecar["image"]["voxel_sizes_mm"] == [1.0, 1.0, 1.0]
    assert sidecar["image"]["axis_codes"] == "RAS"
    assert sidecar["image"]["obliquity_deg"] == 0.0
    assert sidecar["window"]["high"] > sidecar["window"]["low"]
    assert sidecar["video"]["sha256"] == file_sha256(out)
    assert sidecar["video"]["fps"] == 10
    assert sidecar["render"] == options.to_dict()
    assert set(sidecar["versions"]) >= {"neurovid", "nibabel", "numpy", "ffmpeg"}


def test_poster_is_the_mid_sweep_frame(image, tmp_path):
    sidecar = render_image(image, tmp_path / "v.mp4", options=RenderOptions(crf=0))
    poster = np.asarray(Image.open(tmp_path / "v.png"))
    frames, _ = decode(tmp_path / "v.mp4")
    middle = frames[sidecar["video"]["frame_count"] // 2]
    assert poster.shape == middle.shape
    # lossless x264 still goes through limited-range yuv: allow rounding
    assert np.abs(poster.astype(int) - middle.astype(int)).mean() < 1.5


def test_oblique_scan_gets_a_badge(tmp_path):
    angle = np.radians(12.0)
    affine = np.eye(4)
    affine[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    path = write_image(tmp_path / "sub-01_T1w.nii.gz", phantom(SHAPE), affine, dtype=np.int16)
    straight = write_image(tmp_path / "sub-02_T1w.nii.gz", phantom(SHAPE), np.eye(4), np.int16)
    tilted = render_image(path, tmp_path / "o.mp4")
    assert tilted["image"]["obliquity_deg"] == pytest.approx(12.0, abs=0.01)
    render_image(straight, tmp_path / "s.mp4")
    header_tilted = np.asarray(Image.open(tmp_path / "o.png"))[:40]
    header_straight = np.asarray(Image.open(tmp_path / "s.png"))[:40]
    # the badge is a filled light box in the header
    assert (header_tilted > 200).sum() > (header_straight > 200).sum() + 500


def test_scaled_int16_and_float32_give_the_same_video(tmp_path):
    data = phantom(SHAPE)
    as_int16 = write_image(tmp_path / "a_T1w.nii.gz", data / 0.25, np.eye(4), np.int16, 0.25)
    as_float = write_image(tmp_path / "b_T1w.nii.gz", data, np.eye(4), np.float32)
    assert nib.load(as_int16).header.get_data_dtype() == np.int16
    render_image(as_int16, tmp_path / "a.mp4", entities={"subject": "x"})
    render_image(as_float, tmp_path / "b.mp4", entities={"subject": "x"})
    # the header names the datatype; everything below it is the same picture
    below_header = HEADER_PX + PROGRESS_PX
    poster_a = np.asarray(Image.open(tmp_path / "a.png"))[below_header:]
    poster_b = np.asarray(Image.open(tmp_path / "b.png"))[below_header:]
    np.testing.assert_array_equal(poster_a, poster_b)
    assert poster_a.max() >= 200  # not blank


def test_bad_input_writes_a_failed_sidecar_and_no_video(tmp_path):
    bad = tmp_path / "sub-01_T1w.nii.gz"
    bad.write_text("not an image")
    out = tmp_path / "out" / "v.mp4"
    sidecar = render_image(bad, out, source="sub-01/anat/sub-01_T1w.nii.gz")
    assert sidecar["status"] == "failed"
    assert sidecar["error"].startswith("sub-01/anat/sub-01_T1w.nii.gz: ")
    assert "\n" not in sidecar["error"]
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert json.loads(out.with_suffix(".json").read_text())["status"] == "failed"
    assert list(out.parent.iterdir()) == [out.with_suffix(".json")]


def test_cli_renders_and_reports(image, tmp_path, capsys):
    assert render_main([str(image), str(tmp_path / "v.mp4"), "--fps", "8"]) == 0
    assert f"{max(SHAPE)} frames" in capsys.readouterr().out
    assert json.loads((tmp_path / "v.neurovid.json").read_text())["video"]["fps"] == 8
    bad = tmp_path / "bad_T1w.nii"
    bad.write_bytes(b"")
    assert render_main([str(bad), str(tmp_path / "bad.mp4")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "bad_T1w.nii" in err and "\n" not in err


def test_entry_script_help_and_run(image, tmp_path):
    script = REPO / "workflow" / "scripts" / "render_video.py"
    helped = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "IN" not in helped.stderr
    assert "--display" in helped.stdout and "input" in helped.stdout
    done = subprocess.run([sys.executable, script, image, tmp_path / "v.mp4"], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "v.mp4").stat().st_size > 1000


def test_encoder_failure_fails_the_job_and_leaves_nothing(image, tmp_path, monkeypatch):
    """A killed or failing ffmpeg is not the input's fault: it raises, no sidecar is written."""
    import neurovid.encode as encode

    monkeypatch.setattr(encode, "ffmpeg_exe", lambda: "/bin/false")
    out = tmp_path / "out" / "v.mp4"
    with pytest.raises(encode.EncoderError):
        render_image(image, out)
    assert list(out.parent.iterdir()) == []


def test_every_render_option_has_a_command_line_flag():
    import dataclasses

    from neurovid.cli import _render_parser

    args = vars(_render_parser().parse_args(["in.nii.gz", "out.mp4"]))
    fields = {field.name for field in dataclasses.fields(RenderOptions)}
    assert fields <= set(args)
    assert RenderOptions.from_mapping({k: args[k] for k in fields}) == RenderOptions()


# --------------------------------------------------------------------------- issue 9


class Hang(BaseException):
    """Raised by :func:`no_hang`; not an ``OSError`` (``TimeoutError`` is one, and code
    under test that catches ``OSError`` would swallow it and look as if it returned)."""


@contextmanager
def no_hang(seconds: int = 60) -> Iterator[None]:
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


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["fifo", "devzero"])
def test_special_file_gets_a_failed_sidecar_and_never_hangs(tmp_path, kind):
    """Before: the loader refused it, then the checksum step opened and read it forever."""
    bad = tmp_path / "sub-01_T1w.nii.gz"
    if kind == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to("/dev/zero")
    with no_hang():
        sidecar = render_image(bad, tmp_path / "out" / "v.mp4", source="sub-01_T1w.nii.gz")
    what = "FIFO" if kind == "fifo" else "character device"
    assert sidecar["status"] == "failed"
    assert sidecar["error"] == f"sub-01_T1w.nii.gz: not a regular file ({what})"
    assert sidecar["input"] is None  # nothing read, nothing hashed
    assert read_sidecar(tmp_path / "out" / "v.json").to_dict() == sidecar


HOSTILE = ["nanoffset", "infoffset", "hugeoffset", "hugeoffset2", "absurdshape", "fourdtrunc",
           "fourdcrc", "notgzip", "zeros"]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus") / "bids"
    return root, build_bad_input_dataset(root, include_permission_case=False)


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_file_gets_a_failed_card_with_its_checksum(corpus, tmp_path, label):
    """NaN/Inf/huge vox_offset raised a Python error; a truncated 4-D gzip rendered."""
    root, expected = corpus
    rel = f"sub-{label}/anat/sub-{label}_T1w.nii.gz"
    with no_hang():
        sidecar = render_image(root / rel, tmp_path / "v.mp4", source=rel)
    assert sidecar["status"] == "failed"
    assert sidecar["error"].startswith(f"{rel}: ") and "\n" not in sidecar["error"]
    assert expected[rel].text in sidecar["error"]
    assert sidecar["input"] == {"sha256": sha256(root / rel),
                                "size_bytes": (root / rel).stat().st_size}  # fmt: skip
    assert not (tmp_path / "v.mp4").exists() and not (tmp_path / "v.png").exists()


def test_long_names_render(corpus, tmp_path):
    """A 255-byte image name: its 252-byte MP4 name still gets a temporary name."""
    root, expected = corpus
    long_ones = [rel for rel in expected if rel.startswith("sub-longname/")]
    assert sorted(len(Path(rel).name.encode()) for rel in long_ones) == [230, 255]
    for rel in long_ones:
        stem = Path(rel).name[: -len(".nii.gz")]
        sidecar = render_image(root / rel, tmp_path / f"{stem}.mp4", source=rel)
        assert sidecar["status"] == "rendered", sidecar["error"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_frame_ceiling_is_a_render_option(image, tmp_path):
    sidecar = render_image(
        image, tmp_path / "v.mp4", options=RenderOptions(max_frames_per_plane=27)
    )
    assert sidecar["status"] == "failed"
    assert "too many slices: 24×28×20 would make a 28-frame video (limit 27" in sidecar["error"]
    assert sidecar["render"]["max_frames_per_plane"] == 27


def test_checksum_is_of_the_bytes_rendered_even_if_the_input_is_replaced(
    image, tmp_path, monkeypatch
):
    """Before: the input was hashed again after the encode, so a file replaced during its
    render got the new file's checksum beside the old file's video."""
    import neurovid.render as render_mod

    original = sha256(image)
    newer = write_image(tmp_path / "new.nii.gz", phantom(SHAPE)[::-1].copy(), np.eye(4), np.int16)
    real = render_mod.frame_renderer

    def replace_mid_render(*args, **kwargs):
        os.replace(newer, image)  # e.g. rsync finishing a copy while the video is encoded
        return real(*args, **kwargs)

    monkeypatch.setattr(render_mod, "frame_renderer", replace_mid_render)
    sidecar = render_image(image, tmp_path / "v.mp4")
    assert sidecar["input"]["sha256"] == original != sha256(image)


def test_failed_input_records_its_checksum(tmp_path):
    bad = tmp_path / "sub-01_T1w.nii.gz"
    bad.write_bytes(b"not an image" * 100)
    sidecar = render_image(bad, tmp_path / "out" / "v.mp4")
    assert sidecar["input"] == {"sha256": sha256(bad), "size_bytes": 1200}


def test_outputs_are_on_disk_before_the_sidecar_that_vouches_for_them(
    image, tmp_path, monkeypatch
):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.fspath(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "out"
    render_image(image, out / "v.mp4")
    sidecar_in_place = events.index(("replace", str(out / "v.json")))
    before = events[:sidecar_in_place]
    synced = [Path(path).name for kind, path in before if kind == "fsync"]
    assert any(n.startswith(".v.mp4.") and n.endswith(".partial") for n in synced), events
    assert any(n.startswith(".v.png.") and n.endswith(".partial") for n in synced), events
    assert ("replace", str(out / "v.mp4")) in before and ("replace", str(out / "v.png")) in before
    # the folder (holding the renamed MP4 and poster) is flushed before the sidecar lands
    last_media = max(before.index(("replace", str(out / f"v.{ext}"))) for ext in ("mp4", "png"))
    assert ("fsync", str(out)) in before[last_media:]
    # and the sidecar's own data before its rename
    assert any(kind == "fsync" and ".v.json." in path for kind, path in before)


def test_sidecar_is_written_through_the_record(image, tmp_path):
    sidecar = render_image(image, tmp_path / "v.mp4")
    text = (tmp_path / "v.json").read_text()
    record = read_sidecar(tmp_path / "v.json")
    assert record.to_json() == text and record.to_dict() == sidecar
    assert record.video.poster_sha256 == sha256(tmp_path / "v.png")
    assert set(record.versions) >= {"ffmpeg", "ffmpeg_path"}
    assert Path(record.versions["ffmpeg_path"]).is_absolute()


# -- nothing that is not ours is overwritten (standalone)


def _listing(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_library_refuses_to_write_over_its_input(image, tmp_path):
    before = image.read_bytes()
    link = tmp_path / "v.mp4"
    link.symlink_to(image)
    with pytest.raises(OutputConflictError, match="is the input"):
        render_image(image, link)
    hard = tmp_path / "h.mp4"
    os.link(image, hard)
    with pytest.raises(OutputConflictError, match="is the input"):
        render_image(image, hard)
    assert image.read_bytes() == before


def test_standalone_x_x_refuses_and_writes_nothing(image, capsys):
    """Before: ``render_video.py X X`` replaced the input with the MP4."""
    folder = image.parent
    before = _listing(folder)
    assert render_main([str(image), str(image)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "nothing was written" in err
    assert _listing(folder) == before


def test_standalone_in_a_bids_folder_keeps_the_datasets_json(image, monkeypatch, capsys):
    """Before: the README's own example overwrote the dataset's ``sub-01_T1w.json``."""
    anat = image.parent
    bids_json = anat / "sub-07_ses-b_run-2_T1w.json"
    bids_json.write_text('{"RepetitionTime": 2.3}')
    monkeypatch.chdir(anat)
    args = ["sub-07_ses-b_run-2_T1w.nii.gz", "sub-07_ses-b_run-2_T1w.mp4"]
    assert render_main(args) == 0
    assert bids_json.read_text() == '{"RepetitionTime": 2.3}'
    ours = anat / "sub-07_ses-b_run-2_T1w.neurovid.json"
    assert read_sidecar(ours).video.file == "sub-07_ses-b_run-2_T1w.mp4"
    # a second run replaces its own outputs (vouched for by its own sidecar)
    assert render_main(args) == 0
    assert bids_json.read_text() == '{"RepetitionTime": 2.3}'


@pytest.mark.parametrize("existing", ["v.mp4", "v.png", "v.neurovid.json"])
def test_standalone_refuses_existing_files_it_did_not_write(image, tmp_path, existing, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / existing).write_text('{"not": "ours"}')
    before = _listing(out)
    assert render_main([str(image), str(out / "v.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert existing in err and "\n" not in err and err.endswith("nothing was written")
    assert _listing(out) == before


def test_standalone_keeps_a_file_named_in_a_failed_sidecar_safe(image, tmp_path, capsys):
    """An MP4 beside a neurovid sidecar that does not name it is still not ours."""
    out = tmp_path / "out"
    out.mkdir()
    bad = tmp_path / "bad_T1w.nii.gz"
    bad.write_text("broken")
    assert render_main([str(bad), str(out / "v.mp4")]) == 1  # failed sidecar, no video
    (out / "v.mp4").write_bytes(b"someone else's video")
    assert render_main([str(image), str(out / "v.mp4")]) == 2
    assert (out / "v.mp4").read_bytes() == b"someone else's video"


# -- a needless re-encode is skipped


def _stamp(path):
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def test_unchanged_render_is_kept(image, tmp_path):
    out = tmp_path / "v.mp4"
    first, reused = render_or_reuse(image, out, fingerprint="f1")
    assert not reused and first["fingerprint"] == "f1"
    stamps = [_stamp(tmp_path / n) for n in ("v.mp4", "v.png", "v.json")]
    os.utime(image, ns=(1, 1))  # touched (or copied with -p): same bytes
    again, reused = render_or_reuse(image, out, fingerprint="f1")
    assert reused and again == first
    assert [_stamp(tmp_path / n) for n in ("v.mp4", "v.png", "v.json")] == stamps
    # only the description changed: the sidecar is rewritten, the video kept
    moved, reused = render_or_reuse(image, out, fingerprint="f1", log_path="logs/x.log")
    assert reused and moved["log"] == "logs/x.log"
    assert read_sidecar(tmp_path / "v.json").log == "logs/x.log"
    assert [_stamp(tmp_path / n) for n in ("v.mp4", "v.png")] == stamps[:2]


@pytest.mark.parametrize("change", ["input", "options", "fingerprint", "video", "poster",
                                    "no-fingerprint", "failed-before"])  # fmt: skip
def test_a_change_re_encodes(image, tmp_path, change):
    out = tmp_path / "v.mp4"
    if change == "failed-before":
        good = image.read_bytes()
        image.write_bytes(b"broken")
        render_or_reuse(image, out, fingerprint="f1")
        image.write_bytes(good)
    else:
        render_or_reuse(image, out, fingerprint="f1")
    options, fingerprint = RenderOptions(), "f1"
    if change == "input":
        write_image(image, phantom(SHAPE)[::-1].copy(), np.eye(4), np.int16)
    elif change == "options":
        options = RenderOptions(crf=30)
    elif change == "fingerprint":
        fingerprint = "f2"  # the rendering code changed
    elif change == "no-fingerprint":
        fingerprint = None  # nothing to compare the code with: never assume it is current
    elif change == "video":
        (tmp_path / "v.mp4").write_bytes(b"damaged")
    elif change == "poster":
        (tmp_path / "v.png").unlink()
    sidecar, reused = render_or_reuse(image, out, options=options, fingerprint=fingerprint)
    assert not reused and sidecar["status"] == "rendered"
    assert sidecar["video"]["sha256"] == sha256(tmp_path / "v.mp4")
    assert sidecar["input"]["sha256"] == sha256(image)


def test_render_job_logs_rendered_then_unchanged(image, tmp_path):
    """The workflow's job (``python -m neurovid.render_job JOB SIDECAR LOG``, a real
    process) with the argument the rule builds: rendered, then kept as unchanged."""
    from neurovid.render_job import job_json

    argument = job_json(image=str(image), video=str(tmp_path / "v.mp4"), source="s.nii.gz",
                        entities={"subject": "07"}, log_relative="logs/v.log",
                        options=RenderOptions().to_dict(), fingerprint="f1")  # fmt: skip
    command = [sys.executable, "-m", "neurovid.render_job", argument,
               str(tmp_path / "v.json"), str(tmp_path / "v.log")]  # fmt: skip
    subprocess.run(command, check=True, timeout=120)
    assert (tmp_path / "v.log").read_text().startswith("rendered s.nii.gz: 28 frames")
    video = (tmp_path / "v.mp4").stat()
    subprocess.run(command, check=True, timeout=120)
    assert (tmp_path / "v.log").read_text().startswith("unchanged s.nii.gz")
    assert (tmp_path / "v.mp4").stat().st_mtime_ns == video.st_mtime_ns
    sidecar = json.loads((tmp_path / "v.json").read_text())
    assert sidecar["source"] == "s.nii.gz" and sidecar["entities"]["subject"] == "07"


def test_render_job_argument_keeps_odd_path_bytes(tmp_path):
    """A path that is not valid UTF-8 (surrogate escapes) survives the JSON argument."""
    from neurovid.render_job import job_json

    odd = os.fsdecode(b"/data/scan\xe9s/sub-01_T1w.nii.gz")
    text = job_json(image=odd, video=odd, source="s", entities={}, log_relative="l",
                    options={}, fingerprint="f")  # fmt: skip
    assert text.isascii() and json.loads(text)["image"] == odd


def test_render_job_usage_is_one_line_and_exit_2():
    result = subprocess.run([sys.executable, "-m", "neurovid.render_job"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_odd_names_render_and_never_touch_each_others_files(tmp_path):
    """Glob characters, braces, quotes, spaces, unicode, a 255-byte UTF-8 name; and the
    clean-up before a render of ``[ab]`` spares the temporary MP4 that another (live)
    render of ``a`` is writing right now."""
    images = build_odd_name_images(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    encoder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        mid_encode = temporary_path(out / "sub-01_acq-a_T1w.mp4")
        mid_encode = mid_encode.with_name(
            mid_encode.name.replace(f"-{os.getpid()}.", f"-{encoder.pid}.")
        )
        mid_encode.write_bytes(b"half of another image's video")
        for image in images:
            stem = image.name[: -len(".nii.gz")]
            sidecar = render_image(image, out / f"{stem}.mp4", source=image.name)
            assert sidecar["status"] == "rendered", sidecar["error"]
            assert read_sidecar(out / f"{stem}.json").source == image.name
            if stem == "sub-01_acq-[ab]_T1w":
                assert mid_encode.exists()
    finally:
        encoder.kill()
        encoder.wait()
    assert len(list(out.glob("*.mp4"))) == len(images)
