"""Fixtures for the review-page tests: a small OUTPUT_DIR with real H.264 clips, and Chromium.

The tests drive Debian's ``/usr/bin/chromium`` (which decodes H.264) through Playwright.
Without Chromium or Playwright they are skipped — except under CI (``CI`` set), where a
missing browser is an error: CI must never silently skip them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

EVIL = "<script>alert(1)</script>"


def _unavailable(reason: str) -> None:
    """Skip (locally) or fail (under CI) when the browser stack is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so browser tests must not be skipped)")
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------
# The small OUTPUT_DIR
# --------------------------------------------------------------------------------------------


@dataclass
class ReviewSite:
    """A built review page and what the tests need to know about it."""

    root: Path
    html: Path
    summary: dict[str, Any]
    sha: dict[str, str] = field(default_factory=dict)  # stem -> video sha256

    @property
    def url(self) -> str:
        return self.html.as_uri()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_clip(ffmpeg: str, source: str, mp4: Path, poster: Path) -> None:
    """A 3 s, 10 fps, 320x240 H.264 clip and a PNG poster from an ffmpeg test source."""
    mp4.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            ffmpeg, "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"{source}=size=320x240:rate=10",
            "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(mp4),
            "-ss", "1.5", "-frames:v", "1", str(poster),
        ],
        check=True,
    )  # fmt: skip


def rendered_sidecar(
    stem: str, folder: str, entities: dict[str, str], mp4: Path, **image: Any
) -> dict[str, Any]:
    """A sidecar as the renderer writes it for a rendered image."""
    return {
        "neurovid_sidecar_version": 1,
        "status": "rendered",
        "error": None,
        "warnings": image.pop("warnings", []),
        "source": f"{folder}/{stem}.nii.gz",
        "entities": entities,
        "log": f"logs/render/{folder}/{stem}.log",
        "input": {"sha256": "0" * 64, "size_bytes": 1234},
        "image": {
            "shape": image.pop("shape", [176, 256, 256]),
            "n_volumes": 1,
            "voxel_sizes_mm": image.pop("voxel", [1.0, 1.0, 1.0]),
            "axis_codes": image.pop("axcodes", "RAS"),
            "datatype": "int16",
            "obliquity_deg": image.pop("obliquity", 0.0),
            "nonfinite_voxels": 0,
        },
        "window": {"low": 3.0, "high": 812.5, "percentiles": [0.5, 99.5]},
        "video": {
            "file": mp4.name,
            "poster": mp4.with_suffix(".png").name,
            "sha256": _sha256(mp4),
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "width": 320,
            "height": 240,
            "fps": 10,
            "frame_count": 30,
            "duration_s": 3.0,
        },
        "render": {"fps": 10},
        "versions": {"neurovid": "0.1.0"},
    }


def build_site(root: Path) -> ReviewSite:
    """Write a small OUTPUT_DIR (4 rendered, 1 failed, 1 unreadable) and build its page."""
    import imageio_ffmpeg

    from neurovid.report import build_review_page, collect_sidecars

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    specs = [
        ("sub-01", "ses-1", "sub-01_ses-1_run-1_T1w", {"run": "1"}, "testsrc", {}),
        ("sub-01", "ses-2", "sub-01_ses-2_run-1_T1w", {"run": "1"}, "testsrc2", {}),
        (
            "sub-02", "ses-1", "sub-02_ses-1_acq-mprage_T1w", {"acquisition": "mprage"},
            "smptebars", {"axcodes": "PSR", "obliquity": 12.5, "voxel": [1.2, 1.0, 1.0],
                          "warnings": ["4D image with 3 volumes: the first volume is shown"]},
        ),
        ("sub-evil", "", "sub-evil_T1w", {}, "rgbtestsrc", {}),
    ]  # fmt: skip
    sha = {}
    for sub, ses, stem, extra, source, image in specs:
        folder = f"{sub}/{ses}/anat" if ses else f"{sub}/anat"
        mp4 = root / folder / f"{stem}.mp4"
        make_clip(ffmpeg, source, mp4, mp4.with_suffix(".png"))
        label = EVIL if sub == "sub-evil" else sub[4:]
        entities = {"subject": label, **({"session": ses[4:]} if ses else {}), **extra}
        entities["suffix"] = "T1w"
        sidecar = rendered_sidecar(stem, folder, entities, mp4, **image)
        if sub == "sub-evil":
            sidecar["source"] = f"sub-{EVIL}/anat/sub-{EVIL}_T1w.nii.gz"
            sidecar["warnings"] = [f"warning with markup {EVIL}"]
        (root / folder / f"{stem}.json").write_text(json.dumps(sidecar, indent=2))
        log = root / "logs/render" / folder / f"{stem}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("rendered\n")
        sha[stem] = sidecar["video"]["sha256"]

    failed_folder = "sub-03/ses-1/anat"
    (root / failed_folder).mkdir(parents=True)
    failed = {
        "neurovid_sidecar_version": 1,
        "status": "failed",
        "error": f"{failed_folder}/sub-03_ses-1_T1w.nii.gz: image is 2D (shape 256x256)",
        "warnings": [],
        "source": f"{failed_folder}/sub-03_ses-1_T1w.nii.gz",
        "entities": {"subject": "03", "session": "1", "suffix": "T1w"},
        "log": f"logs/render/{failed_folder}/sub-03_ses-1_T1w.log",
        "input": {"sha256": "1" * 64, "size_bytes": 99},
        "image": {"shape": [256, 256], "n_volumes": None},
        "video": None,
        "window": None,
    }
    (root / failed_folder / "sub-03_ses-1_T1w.json").write_text(json.dumps(failed))
    log = root / "logs/render" / failed_folder / "sub-03_ses-1_T1w.log"
    log.parent.mkdir(parents=True)
    log.write_text("InputError: image is 2D\n")
    (root / "sub-04/anat").mkdir(parents=True)
    (root / "sub-04/anat/sub-04_T1w.json").write_text('{"status": "rendered", oops')

    html = root / "index.html"
    summary = build_review_page(root, collect_sidecars(root), html, dataset_name="tiny <demo>")
    return ReviewSite(root=root, html=html, summary=summary, sha=sha)


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> ReviewSite:
    if shutil.which("true") is None:  # pragma: no cover - paranoia for exotic systems
        pytest.skip("no POSIX userland")
    return build_site(tmp_path_factory.mktemp("review") / "output")


@dataclass
class Recorder:
    """What a page did: console errors, uncaught exceptions, requests and dialogs."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., tuple[Any, Recorder]]]:
    """Open the review page in a fresh context (its own storage) and record what happens."""
    contexts = []

    def open_page(url: str, context: Any | None = None) -> tuple[Any, Recorder]:
        if context is None:
            context = browser.new_context(
                accept_downloads=True, viewport={"width": 1400, "height": 900}
            )
            contexts.append(context)
        page = context.new_page()
        rec = Recorder()
        page.on(
            "console",
            lambda m: (
                rec.errors.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "assert")
                else None
            ),
        )
        page.on("pageerror", lambda e: rec.errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: rec.requests.append(r.url))

        def on_dialog(d: Any) -> None:
            rec.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url)
        page.wait_for_selector("html[data-ready='1']")
        return page, rec

    yield open_page
    for c in contexts:
        c.close()
