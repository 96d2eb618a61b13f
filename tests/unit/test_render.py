"""Rendering one image: decoded frames, determinism, sidecar, poster, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import imageio_ffmpeg
import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, write_image
from neurovid.cli import render_main
from neurovid.frames import HEADER_PX, PROGRESS_PX
from neurovid.render import RenderOptions, file_sha256, render_image
from neurovid.testing import phantom

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
    assert json.loads((tmp_path / "v.json").read_text())["video"]["fps"] == 8
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
