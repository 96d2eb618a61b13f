"""The slice-exact player and the compare view, in real Chromium, on videos neurovid rendered.

The page computes each panel's slice and mm position from the sidecar (``video.planes``);
these tests decode the very frame the paused video shows with ffmpeg and read the text burned
into it (by matching it against every label the renderer can draw), and require the page to
say the same.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import nibabel as nib
import numpy as np
import pytest

from neurovid.demo import reorient, subsample, template_path
from neurovid.frames import BOTTOM_ROW_PX, DIM_TEXT, FrameRenderer
from neurovid.render import RenderOptions, frame_renderer, render_image
from neurovid.report import build_review_page, collect_sidecars
from neurovid.text import GlyphStrip
from neurovid.volume import load_volume

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
AXES = ("x", "y", "z")


@dataclass
class Rendered:
    """One image of the test site: its NIfTI, its MP4 and its sidecar."""

    nii: Path
    mp4: Path
    sidecar: dict[str, Any]

    @property
    def fps(self) -> float:
        return float(self.sidecar["video"]["fps"])

    @property
    def frames(self) -> int:
        return int(self.sidecar["video"]["frame_count"])


@pytest.fixture(scope="module")
def player_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Rendered]]:
    """The demo's brain at 2 mm in three sessions of one subject, rendered by neurovid.

    ses-1: LPI, the whole head. ses-2: PIR, the field of view starting 40 mm further
    anterior and 10 mm higher, so the same position comes at other frame numbers.
    ses-3: PSR with 4 mm sagittal slices.
    """
    root = tmp_path_factory.mktemp("player")
    template = nib.load(template_path())
    template = nib.Nifti1Image(np.asarray(template.dataobj), template.affine)
    two_mm = subsample(template, (2, 2, 2))
    shift = np.eye(4)
    shift[1:3, 3] = [20, 5]
    moved = nib.Nifti1Image(
        np.ascontiguousarray(np.asarray(two_mm.dataobj)[:, 20:, 5:]), two_mm.affine @ shift
    )
    images = {
        "sub-01/ses-1/anat/sub-01_ses-1_T1w": reorient(two_mm, "LPI"),
        "sub-01/ses-2/anat/sub-01_ses-2_T1w": reorient(moved, "PIR"),
        "sub-01/ses-3/anat/sub-01_ses-3_T1w": reorient(subsample(template, (4, 2, 2)), "PSR"),
    }
    out = root / "out"
    rendered = {}
    for stem, image in images.items():
        nii = root / "bids" / f"{stem}.nii.gz"
        nii.parent.mkdir(parents=True, exist_ok=True)
        nib.save(image, nii)
        mp4 = out / f"{stem}.mp4"
        sidecar = render_image(nii, mp4, source=f"{stem}.nii.gz")
        assert sidecar["status"] == "rendered", sidecar["error"]
        rendered[stem.split("_")[1]] = Rendered(nii, mp4, sidecar)
    build_review_page(out, collect_sidecars(out), out / "index.html", dataset_name="player")
    return out / "index.html", rendered


# --------------------------------------------------------------------------------------------
# Reading the text burned into a decoded frame
# --------------------------------------------------------------------------------------------


def decode_frame(image: Rendered, index: int) -> np.ndarray:
    """Frame ``index`` (0-based) of the MP4, decoded by ffmpeg to 0–255 grey."""
    video = image.sidecar["video"]
    raw = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error",
            "-i", str(image.mp4), "-vf", f"select=eq(n\\,{index})", "-fps_mode", "passthrough",
            "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-",
        ],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(video["height"], video["width"])


def renderer_of(image: Rendered) -> FrameRenderer:
    renderer, _ = frame_renderer(load_volume(image.nii), RenderOptions(), {}, image.nii.name)
    assert renderer.n_frames == image.frames  # the very layout of the video
    return renderer


def burned_in(image: Rendered, frame_index: int) -> dict[str, tuple[str, str]]:
    """The position and slice-number text under each panel of a decoded frame.

    Read by template matching: every label the renderer could draw for that panel is
    rasterised with the same font and compared with the decoded pixels; the closest wins
    and must be close (compression changes a few grey levels, another number many).
    """
    frame = decode_frame(image, frame_index).astype(np.float32)
    renderer = renderer_of(image)
    strip = GlyphStrip(14, BOTTOM_ROW_PX - 4, level=DIM_TEXT)
    found = {}
    for panel, spec in enumerate(renderer.specs):
        rows, position_cols, number_cols = renderer.label_regions(panel)
        shown = (frame[rows, position_cols], frame[rows, number_cols])
        errors = []
        for index in range(renderer.volume.shape[spec.slice_axis]):
            texts = renderer.position_text(panel, index)
            error = 0.0
            for region, text, right in zip(shown, texts, (False, True), strict=True):
                expected = np.zeros_like(region)
                bitmap = strip.render(text).astype(np.float32)
                width = min(bitmap.shape[1], region.shape[1])
                if right:
                    expected[:, region.shape[1] - width :] = bitmap[:, bitmap.shape[1] - width :]
                else:
                    expected[:, :width] = bitmap[:, :width]
                error += float(np.mean(np.abs(region - expected)))
            errors.append((error, texts))
        errors.sort(key=lambda e: e[0])
        best, runner_up = errors[0], errors[1]
        # one wrong digit costs ~1 grey level of mean error over the region; codec noise less
        assert best[0] < 3.0 and runner_up[0] > best[0] + 0.3, (spec.name, errors[:3])
        found["xyz"[spec.slice_axis]] = best[1]
    return found


# --------------------------------------------------------------------------------------------
# Page helpers
# --------------------------------------------------------------------------------------------


def readout(page: Any, box: str) -> dict[str, tuple[str, str]]:
    """The page's slice readout in ``#box``: axis → (position text, slice number text)."""
    return page.evaluate(
        """box => Object.fromEntries([...document.querySelectorAll('#' + box + ' .slice')].map(
            s => [s.dataset.axis, [s.querySelector('.pos').textContent,
                                   s.querySelector('.num').textContent]]))""",
        box,
    )


def settle(page: Any, *videos: str) -> None:
    """Wait until the videos are paused, not seeking and have their frame."""
    page.wait_for_function(
        """ids => ids.every(id => { const v = document.getElementById(id);
            return v.paused && !v.seeking && v.readyState >= 2; })""",
        arg=list(videos),
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(120)  # the readout is painted on the seeked event


def frame_shown(page: Any, video: str, image: Rendered) -> int:
    """The frame a paused video shows: the one whose interval holds currentTime."""
    t = page.evaluate("id => document.getElementById(id).currentTime", video)
    return int(np.floor(t * image.fps + 1e-6))


def open_player(page: Any, query: str) -> None:
    page.keyboard.press("/")
    page.keyboard.type(query)
    page.keyboard.press("Escape")
    page.wait_for_function("q => [...document.querySelectorAll('.card')].length === 1", arg=query)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#player:not([hidden])")
    page.wait_for_function(
        "() => document.getElementById('p-video').readyState >= 2", timeout=TIMEOUT_MS
    )
    page.keyboard.press(" ")  # stop autoplay (if on) or start; either way pause below
    page.wait_for_timeout(200)
    if not page.evaluate("() => document.getElementById('p-video').paused"):
        page.keyboard.press(" ")
    settle(page, "p-video")


def check_player(page: Any, image: Rendered) -> int:
    """The page's frame and slice readout name what the decoded frame shows."""
    settle(page, "p-video")
    frame = frame_shown(page, "p-video", image)
    assert page.inner_text("#p-frame") == f"frame {frame + 1} / {image.frames}"
    assert readout(page, "p-slices") == {
        axis: list(texts) for axis, texts in burned_in(image, frame).items()
    }
    return frame


def play_for(page: Any, video: str, seconds: float) -> None:
    start = page.evaluate("id => document.getElementById(id).currentTime", video)
    page.keyboard.press(" ")
    page.wait_for_function(
        "([id, t]) => document.getElementById(id).currentTime > t",
        arg=[video, start + seconds],
        timeout=TIMEOUT_MS,
    )
    page.keyboard.press(" ")


# --------------------------------------------------------------------------------------------


def test_readout_is_the_position_burned_into_the_frame(player_site, new_page) -> None:
    html, images = player_site
    ses1 = images["ses-1"]
    page, rec = new_page(html.as_uri())
    open_player(page, "ses-1")
    frames = [check_player(page, ses1)]

    play_for(page, "p-video", 0.7)  # play, pause: the frame last presented stays
    frames.append(check_player(page, ses1))
    page.keyboard.press(".")
    frames.append(check_player(page, ses1))
    assert frames[-1] == frames[-2] + 1
    page.keyboard.press(">")
    frames.append(check_player(page, ses1))
    assert frames[-1] == frames[-2] + 10
    page.evaluate(
        """() => { const s = document.getElementById('p-seek'); s.value = '73';
                   s.dispatchEvent(new Event('input', { bubbles: true })); }"""
    )
    assert check_player(page, ses1) == 73

    page.keyboard.press("g")  # go to a position in mm on a plane
    page.keyboard.type("y -20 mm")
    page.keyboard.press("Enter")
    check_player(page, ses1)
    assert readout(page, "p-slices")["y"][0] == "y = -20.0 mm"
    assert rec.errors == []


def test_seek_keys_and_typed_slices(player_site, new_page) -> None:
    html, images = player_site
    ses1 = images["ses-1"]
    y_plane = next(p for p in ses1.sidecar["video"]["planes"] if p["axis"] == "y")
    page, rec = new_page(html.as_uri())
    open_player(page, "ses-1")

    def frame() -> int:
        settle(page, "p-video")
        match = re.fullmatch(r"frame (\d+) / (\d+)", page.inner_text("#p-frame"))
        assert match and int(match.group(2)) == ses1.frames
        return int(match.group(1)) - 1

    page.keyboard.press("Home")
    assert frame() == 0
    page.keyboard.press(">")
    page.keyboard.press(">")
    assert frame() == 20
    page.keyboard.press("<")
    assert frame() == 10
    page.keyboard.press("End")
    assert frame() == ses1.frames - 1
    page.keyboard.press("h")
    assert frame() == ses1.frames // 2
    page.keyboard.press("<")
    page.keyboard.press("<")
    page.keyboard.press("<")
    page.keyboard.press("<")
    page.keyboard.press("<")
    page.keyboard.press("<")  # clamped at the first frame
    assert frame() == 0

    wanted = y_plane["first"] + 40  # a slice number as the readout shows it (1-based)
    page.keyboard.press("g")
    page.keyboard.type(f"y {wanted}")
    page.keyboard.press("Enter")
    frame()
    assert readout(page, "p-slices")["y"][1] == f"{wanted}/{y_plane['slices']}"
    assert page.locator("#p-slices .slice.lead").get_attribute("data-axis") == "y"

    page.keyboard.press("g")  # a slice outside the crop: said, and the nearest is shown
    page.keyboard.type("y 1")
    page.keyboard.press("Enter")
    frame()
    assert "outside the slices shown" in page.inner_text("#toast")
    assert readout(page, "p-slices")["y"][1] == f"{y_plane['first'] + 1}/{y_plane['slices']}"

    page.keyboard.press("z")  # the lead plane follows the key
    assert page.locator("#p-slices .slice.lead").get_attribute("data-axis") == "z"
    assert rec.errors == []


def test_zoom_by_keyboard_up_to_full_screen(player_site, new_page) -> None:
    html, _ = player_site
    page, rec = new_page(html.as_uri())
    open_player(page, "ses-1")
    width = page.locator("#p-video").bounding_box()["width"]
    assert page.locator(".p-side").is_visible()

    page.keyboard.press("+")  # the whole window
    assert not page.locator(".p-side").is_visible()
    wider = page.locator("#p-video").bounding_box()["width"]
    assert wider > width * 1.2
    page.keyboard.press("+")  # full screen
    page.wait_for_function("() => document.fullscreenElement !== null")
    assert page.evaluate("() => document.fullscreenElement.classList.contains('p-main')")
    page.keyboard.press(".")  # the player keys still work in full screen
    page.keyboard.press("-")
    page.wait_for_function("() => document.fullscreenElement === null")
    page.keyboard.press("-")
    assert page.locator(".p-side").is_visible()
    assert rec.errors == []


def test_compare_keeps_two_sessions_at_the_same_position(player_site, new_page) -> None:
    html, images = player_site
    ses1, ses2, ses3 = images["ses-1"], images["ses-2"], images["ses-3"]
    page, rec = new_page(html.as_uri())
    open_player(page, "ses-1")
    page.keyboard.press("h")  # mid-sweep: a position both sessions have
    page.keyboard.press("c")
    page.wait_for_selector("#compare:not([hidden])")
    assert page.locator("#c-pick-a option:checked").inner_text() == "sub-01 · ses-1 · T1w"
    assert page.locator("#c-pick-b option:checked").inner_text() == "sub-01 · ses-2 · T1w"
    page.keyboard.press("y")

    different_frames = 0

    def check(axis: str = "y") -> None:
        nonlocal different_frames
        settle(page, "c-video-a", "c-video-b")
        left, right = readout(page, "c-slices-a"), readout(page, "c-slices-b")
        assert left[axis][0] == right[axis][0], (left, right)
        frame_a = frame_shown(page, "c-video-a", ses1)
        frame_b = frame_shown(page, "c-video-b", ses2)
        different_frames += frame_a != frame_b
        # each side's readout is what its own decoded frame shows
        assert left == {k: list(v) for k, v in burned_in(ses1, frame_a).items()}
        assert right == {k: list(v) for k, v in burned_in(ses2, frame_b).items()}

    check()
    play_for(page, "c-video-a", 0.7)
    check()
    page.keyboard.press(".")
    check()
    page.keyboard.press(",")
    page.keyboard.press(",")
    check()
    page.keyboard.press(">")
    check()
    page.evaluate(
        """() => { const s = document.getElementById('c-seek'); s.value = '60';
                   s.dispatchEvent(new Event('input', { bubbles: true })); }"""
    )
    check()
    page.keyboard.press("z")  # another plane kept in step
    check("z")
    assert different_frames >= 5  # the same position, not the same frame number

    # any two images: ses-3 has 4 mm sagittal slices, the nearest one is shown
    page.select_option("#c-pick-b", label="sub-01 · ses-3 · T1w")
    page.keyboard.press("x")
    page.locator("#compare").focus()
    settle(page, "c-video-a", "c-video-b")
    left, right = readout(page, "c-slices-a"), readout(page, "c-slices-b")
    x_left, x_right = (float(r["x"][0].split()[2]) for r in (left, right))
    assert abs(x_left - x_right) <= 2.0
    assert right == {
        k: list(v) for k, v in burned_in(ses3, frame_shown(page, "c-video-b", ses3)).items()
    }

    page.keyboard.press("c")  # back to the player, at the left video's frame
    page.wait_for_selector("#compare", state="hidden")
    assert page.get_attribute("#c-video-a", "src") is None  # released
    assert page.locator("#player").is_visible()
    assert rec.errors == []
