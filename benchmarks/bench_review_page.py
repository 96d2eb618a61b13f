"""Benchmark the review page for a study of 2,000 images.

Writes 2,000 fake sidecars (1,000 subjects x 2 sessions, 2 % failed) that share one tiny
poster, then measures

* the rebuild: ``build_review_page`` from the 2,000 sidecars (read + page write), median;
* in headless Chromium (``/usr/bin/chromium``, fresh profile each run, page opened from
  disk): the time until the page script is done (in-page ``performance.now()``), until the
  first card is on screen, until a keypress (``j``) has been handled, a search narrowing
  2,000 cards to one, and going to the next page of cards.

Prints a markdown table; ``--write docs/benchmarks-review.md`` also writes it with the
machine details.

Usage::

    python benchmarks/bench_review_page.py [--images 2000] [--runs 5] [--write PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _markdown import cpu_model, write_section  # noqa: E402

from neurovid.report import build_review_page, collect_sidecars  # noqa: E402
from neurovid.testing import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def make_study(root: Path, n_images: int) -> list[Path]:
    """Write ``n_images`` sidecars (two sessions per subject) sharing one poster."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    poster = Image.linear_gradient("L").resize((320, 130)).convert("RGB")
    poster.save(root / "poster.png", optimize=True)
    paths = []
    for i in range(n_images):
        sub, ses = f"{i // 2 + 1:04d}", str(i % 2 + 1)
        folder = f"sub-{sub}/ses-{ses}/anat"
        stem = f"sub-{sub}_ses-{ses}_run-1_T1w"
        failed = i % 50 == 7
        data: dict[str, Any] = {
            "neurovid_sidecar_version": 1,
            "status": "failed" if failed else "rendered",
            "error": f"{folder}/{stem}.nii.gz: image is 2D (shape 256x256)" if failed else None,
            "warnings": ["4D image with 3 volumes: the first volume is shown"]
            if i % 97 == 0
            else [],
            "Sources": [f"bids:raw:{folder}/{stem}.nii.gz"],
            "source": f"{folder}/{stem}.nii.gz",
            "entities": {"subject": sub, "session": ses, "run": "1", "suffix": "T1w"},
            "log": f"logs/render/{folder}/{stem}.log",
            "input": {"sha256": f"{i:064x}", "size_bytes": 9_876_543},
            "image": {
                "shape": [176, 256, 256],
                "n_volumes": 1,
                "voxel_sizes_mm": [1.0, 1.0, 1.0],
                "axis_codes": "PSR",
                "datatype": "int16",
                "obliquity_deg": round((i * 7.3) % 15, 2),
                "nonfinite_voxels": 0,
            },
            "window": None if failed else {"low": 12.0, "high": 843.5, "percentiles": [0.5, 99.5]},
            "video": None
            if failed
            else {
                "file": f"{stem}.mp4",
                "poster": "../../../poster.png",
                "sha256": f"{i + 10**9:064x}",
                "codec": "h264",
                "pix_fmt": "yuv420p",
                "width": 1280,
                "height": 520,
                "fps": 15,
                "frame_count": 256,
                "duration_s": 17.07,
            },
            "render": {"fps": 15, "crf": 23, "preset": "medium", "panel_px_per_mm": 2.0},
            "versions": {"neurovid": "0.1.0", "nibabel": "5.4.2", "numpy": "2.4.6"},
        }
        path = root / folder / f"{stem}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        paths.append(path)
    return paths


def time_rebuild(root: Path, runs: int) -> tuple[float, int]:
    """Median seconds of collect_sidecars + build_review_page, and the page size in bytes."""
    out = root / "index.html"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        build_review_page(root, collect_sidecars(root), out, dataset_name="bench")
        times.append(time.perf_counter() - start)
    return statistics.median(times), out.stat().st_size


def time_browser(url: str, runs: int) -> dict[str, float]:
    """Median milliseconds of the in-browser steps, each run in a fresh context."""
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for run in range(runs + 1):  # run 0 warms the browser up and is not counted
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            t0 = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.wait_for_selector(".card", state="visible")
            t_card = time.perf_counter()
            page.evaluate(
                "() => document.addEventListener('keydown', e => { const t = e.timeStamp;"
                " requestAnimationFrame(() => { window.benchKeyMs = performance.now() - t; }); },"
                " {capture: true, once: true})"
            )
            page.keyboard.press("j")
            page.wait_for_selector(".card.selected")
            t_key = time.perf_counter()
            ready = page.evaluate("window.neurovidReady")
            page.wait_for_function("() => window.benchKeyMs !== undefined")
            key_in_page = page.evaluate("window.benchKeyMs")
            cards = page.locator(".card").count()
            t1 = time.perf_counter()
            page.fill("#search", "sub-0777 ses-2")
            page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
            t_search = time.perf_counter() - t1
            page.fill("#search", "")
            page.wait_for_function("() => document.querySelectorAll('.card').length === 100")
            t2 = time.perf_counter()
            page.locator("#pager-top .pager-next").click()
            page.wait_for_function(
                "() => document.querySelector('#pager-top').textContent.includes('Page 2 of')"
            )
            t_page = time.perf_counter() - t2
            context.close()
            if errors:
                raise RuntimeError(f"page errors: {errors}")
            if cards != 100:
                raise RuntimeError(f"expected 100 cards on the first page, found {cards}")
            if run == 0:
                continue
            for key, value in {
                "ready": ready,
                "first_card": (t_card - t0) * 1000,
                "keypress": (t_key - t_card) * 1000,
                "key_in_page": key_in_page,
                "usable": (t_key - t0) * 1000,
                "search": t_search * 1000,
                "next_page": t_page * 1000,
            }.items():
                samples.setdefault(key, []).append(value)
        version = browser.version
        browser.close()
    result = {k: statistics.median(v) for k, v in samples.items()}
    result["chromium"] = version  # type: ignore[assignment]
    return result


HEADER = (
    "| images | page size | rebuild from sidecars | page script done | first card visible "
    "| keypress → next frame (in page) | keypress handled | usable (open → key handled) "
    "| search 2,000 → 1 | next page of 100 |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the fake study here (kept)")
    parser.add_argument("--write", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (apt-get install -y chromium)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="neurovid-bench-") as tmp:
        root = args.keep or Path(tmp) / "output"
        make_study(root, args.images)
        rebuild_s, size = time_rebuild(root, args.runs)
        b = time_browser((root / "index.html").as_uri(), args.runs)

    row = (
        f"| {args.images:,} | {size / 1e6:.2f} MB | {rebuild_s * 1000:.0f} ms "
        f"| {b['ready']:.0f} ms | {b['first_card']:.0f} ms | {b['key_in_page']:.0f} ms "
        f"| {b['keypress']:.0f} ms "
        f"| {b['usable']:.0f} ms | {b['search']:.0f} ms | {b['next_page']:.0f} ms |"
    )
    print(HEADER)
    print(row)
    if args.write:
        cpu = cpu_model()
        try:
            commit = subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
        usable_ok = b["usable"] < 2000
        rebuild_ok = rebuild_s < 1.0
        write_section(
            args.write,
            "bench_review",
            "## Review page, 2,000 images (issue 4)\n\n"
            f"`python benchmarks/bench_review_page.py --images {args.images} "
            f"--runs {args.runs}` — medians of {args.runs} runs, each in a fresh browser "
            "profile, page opened from disk (file://). The sidecars are fake (no videos) and "
            'share one poster; 100 cards are rendered per page. "Page script done" is '
            "`performance.now()` when the page's script has finished (parse 2,000 records, "
            'render the first 100 cards) and "keypress → next frame" is measured in the page '
            "from the `keydown` event to the next animation frame; the other browser figures "
            "are wall-clock from Playwright, so they include its round trips (the search also "
            "includes the page's 120 ms typing debounce). The rebuild reads the 2,000 "
            "sidecars and writes the page (warm file cache).\n\n"
            f"{HEADER}\n{row}\n\n"
            f"Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"{b['chromium']} headless (Debian package); commit {commit}; "
            f"{time.strftime('%Y-%m-%d')}.\n\n"
            f"- {'PASS' if usable_ok else 'FAIL'}: a {args.images:,}-card page is usable "
            f"(opened → first keypress handled) in under 2 s: {b['usable']:.0f} ms\n"
            f"- {'PASS' if rebuild_ok else 'FAIL'}: rebuilding the page from "
            f"{args.images:,} sidecars takes well under 1 s: {rebuild_s * 1000:.0f} ms\n",
        )
        print(f"wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
