"""Benchmark the review page of a large study (default 20,000 images).

Writes ``--images`` sidecars (two sessions per subject, 2 % failed) through the sidecar
record itself (:func:`neurovid.testing.make_sidecar`, with quality measures for the study
view and per-plane slice positions for the player, like a real render's), sharing one tiny
poster, builds the page with :func:`neurovid.report.build_review_page`, then, in headless
Chromium (``/usr/bin/chromium``, a fresh profile each run, page opened from disk):

* **usable**: from opening the page to the first keypress (``j``) handled (goal < 2 s);
* **search**: typing a subject and session until one card is left, and **filter**:
  choosing "Failed" until only failed cards are shown (goal < 300 ms each; wall clock from
  Playwright, so its round trips and the page's 120 ms typing pause are included);
* **memory while paging**: JavaScript heap and DOM nodes after garbage collection on the
  second page and after paging through ``--pages`` more pages (goal: bounded, the cards of
  pages left are released);
* **study plots**: pressing ``v`` until every measure's plot is drawn, and the longest
  main-thread task meanwhile (goal: no task over 200 ms, i.e. the page never freezes).

Prints a markdown table; ``--write docs/benchmarks.md`` writes its section with the machine.

Usage::

    python benchmarks/bench_review_page.py [--images 20000] [--runs 3] [--write PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _markdown import cpu_model, write_section  # noqa: E402

from neurovid.report import build_review_page, collect_sidecars  # noqa: E402
from neurovid.testing import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

USABLE_GOAL_MS = 2000
SEARCH_GOAL_MS = 300
LONG_TASK_GOAL_MS = 200
#: "bounded": the heap after paging through the study may exceed the second page's by this
HEAP_GROWTH_GOAL_MB = 10


def make_study(root: Path, n_images: int) -> None:
    """Write ``n_images`` sidecars (two sessions per subject) sharing one poster."""
    import numpy as np
    from PIL import Image

    from neurovid.quality import MEASURE_NAMES, Flag, QualityReport
    from neurovid.sidecar import PlaneRecord
    from neurovid.testing import make_sidecar

    root.mkdir(parents=True, exist_ok=True)
    poster = Image.linear_gradient("L").resize((320, 130)).convert("RGB")
    poster.save(root / "poster.png", optimize=True)
    rng = np.random.default_rng(0)
    width = max(4, len(str(n_images // 2 + 1)))
    for i in range(n_images):
        sub, ses = f"{i // 2 + 1:0{width}d}", str(i % 2 + 1)
        source = f"sub-{sub}/ses-{ses}/anat/sub-{sub}_ses-{ses}_run-1_T1w.nii.gz"
        if i % 50 == 7:
            record = make_sidecar(source, status="failed", error=f"{source}: image is 2D")
        else:
            # 4 significant digits, as neurovid.quality records them
            metrics = {name: float(f"{rng.normal(50, 5):.4g}") for name in MEASURE_NAMES}
            flags = [Flag("ghosting", "ghosts")] if i % 97 == 0 else []
            record = make_sidecar(source, quality=QualityReport(metrics, flags).to_json())
            record.video.poster = "../../../poster.png"
            record.video.sweep = "together"
            record.video.planes = [
                PlaneRecord(plane=plane, axis=axis, slices=256, first=20, count=200,
                            start_mm=-100.0 + i % 7, step_mm=1.0)
                for plane, axis in (("sagittal", "x"), ("coronal", "y"), ("axial", "z"))
            ]  # fmt: skip
        path = root / source.replace(".nii.gz", ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.to_json())  # not write_sidecar: no fsync for bench data


def time_rebuild(root: Path, runs: int) -> tuple[float, int]:
    """Median seconds of collect_sidecars + build_review_page, and the page size in bytes."""
    out = root / "index.html"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        build_review_page(root, collect_sidecars(root), out, dataset_name="bench")
        times.append(time.perf_counter() - start)
    return statistics.median(times), out.stat().st_size


LONG_TASKS = (
    "window.__long = 0; new PerformanceObserver(l => l.getEntries().forEach("
    "e => { window.__long = Math.max(window.__long, e.duration); }))"
    ".observe({entryTypes: ['longtask']});"
)
KEY_TIMER = (
    "() => document.addEventListener('keydown', e => { const t = e.timeStamp;"
    " requestAnimationFrame(() => { window.benchKeyMs = performance.now() - t; }); },"
    " {capture: true, once: true})"
)


def one_run(browser, url: str, n_images: int, pages: int) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.add_init_script(LONG_TASKS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    cdp = context.new_cdp_session(page)

    def memory() -> tuple[float, int]:
        cdp.send("HeapProfiler.collectGarbage")
        heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
        return heap, cdp.send("Memory.getDOMCounters")["nodes"]

    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".card", state="visible")
    t_card = time.perf_counter()
    page.evaluate(KEY_TIMER)
    page.keyboard.press("j")
    page.wait_for_selector(".card.selected")
    t_key = time.perf_counter()
    page.wait_for_selector("html[data-ready='1']")
    result = {
        "ready": page.evaluate("window.neurovidReady"),
        "first_card": (t_card - t0) * 1000,
        "usable": (t_key - t0) * 1000,
    }
    page.wait_for_function("() => window.benchKeyMs !== undefined")
    result["key_in_page"] = page.evaluate("window.benchKeyMs")
    cards = page.locator(".card").count()
    if cards != 100:
        raise RuntimeError(f"expected 100 cards on the first page, found {cards}")

    # search: one subject and session out of all
    last = f"{(n_images - 1) // 2 + 1:0{max(4, len(str(n_images // 2 + 1)))}d}"
    t1 = time.perf_counter()
    page.fill("#search", f"sub-{last} ses-2")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    result["search"] = (time.perf_counter() - t1) * 1000
    page.fill("#search", "")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 100")

    # filter: the failed renders only
    failed = sum(1 for i in range(n_images) if i % 50 == 7)
    t1 = time.perf_counter()
    page.select_option("#f-status", "failed")
    page.wait_for_function(
        "n => document.getElementById('count').textContent.startsWith(n.toLocaleString('en-US'))"
        " && [...document.querySelectorAll('.card')].every(c => c.classList.contains('failed'))",
        arg=failed,
    )
    result["filter"] = (time.perf_counter() - t1) * 1000
    page.select_option("#f-status", "*")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 100")

    # memory while paging: on page 2, then `pages` pages further, in subject order (pages
    # alike: the default order puts the failed cards, smaller, on the first pages)
    page.select_option("#sort", "subject")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 100")
    t2 = time.perf_counter()
    page.locator("#pager-top .pager-next").click()
    page.wait_for_function(
        "() => document.querySelector('#pager-top').textContent.includes('Page 2 of')"
    )
    result["next_page"] = (time.perf_counter() - t2) * 1000
    heap_first, nodes_first = memory()
    for number in range(3, pages + 3):
        page.locator("#pager-top .pager-next").click()
        page.wait_for_function(
            f"() => document.querySelector('#pager-top').textContent.includes('Page {number} of')"
        )
    heap_last, nodes_last = memory()
    result.update(
        heap_first=heap_first,
        heap_last=heap_last,
        nodes_first=nodes_first,
        nodes_last=nodes_last,
    )

    # the study view: every measure's plot, drawn a plot per task
    page.evaluate("window.__long = 0; window.__pressed = performance.now()")
    page.keyboard.press("v")
    page.wait_for_selector("#study[data-drawn='1']", timeout=120_000)
    result["plots"] = page.evaluate("performance.now() - window.__pressed")
    result["plots_longest_task"] = page.evaluate("window.__long")
    result["plots_count"] = page.evaluate("document.querySelectorAll('#plots canvas').length")
    context.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return result


def time_browser(url: str, runs: int, n_images: int, pages: int) -> dict[str, float]:
    """Median of each figure over ``runs`` runs, each in a fresh context."""
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for run in range(runs + 1):  # run 0 warms the browser up and is not counted
            result = one_run(browser, url, n_images, pages)
            print(
                f"  run {run}: usable {result['usable']:.0f} ms, search {result['search']:.0f} ms,"
                f" filter {result['filter']:.0f} ms, plots {result['plots']:.0f} ms (longest task "
                f"{result['plots_longest_task']:.0f} ms), heap {result['heap_first']:.1f} -> "
                f"{result['heap_last']:.1f} MB",
                file=sys.stderr,
            )
            if run:
                for key, value in result.items():
                    samples.setdefault(key, []).append(value)
        version = browser.version
        browser.close()
    medians: dict = {k: statistics.median(v) for k, v in samples.items()}
    medians["chromium"] = version
    return medians


HEADER = (
    "| images | page size | rebuild from sidecars | page script done | usable (open → key "
    "handled) | keypress → next frame (in page) | search → 1 card | filter: failed only "
    "| next page of 100 | heap, page 2 → {pages} pages later | DOM nodes, same "
    "| study view: all plots drawn | longest task while drawing |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20000, help="default 20000")
    parser.add_argument("--runs", type=int, default=3, help="browser runs (default 3)")
    parser.add_argument("--pages", type=int, default=40, help="pages turned (default 40)")
    parser.add_argument("--keep", type=Path, help="build the fake study here (kept)")
    parser.add_argument("--write", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (apt-get install -y chromium)", file=sys.stderr)
        return 2
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neurovid-bench-") as tmp:
        root = args.keep or Path(tmp) / "output"
        if not (root / "index.html").is_file():
            make_study(root, args.images)
        rebuild_s, size = time_rebuild(root, max(1, min(args.runs, 3)))
        b = time_browser((root / "index.html").as_uri(), args.runs, args.images, args.pages)
    took = time.perf_counter() - began

    growth = b["heap_last"] - b["heap_first"]
    checks = [
        (b["usable"] < USABLE_GOAL_MS, f"usable (opened → first keypress handled) in under "
         f"{USABLE_GOAL_MS / 1000:g} s: {b['usable']:.0f} ms"),
        (b["search"] < SEARCH_GOAL_MS,
         f"search in under {SEARCH_GOAL_MS} ms: {b['search']:.0f} ms"),
        (b["filter"] < SEARCH_GOAL_MS,
         f"filter in under {SEARCH_GOAL_MS} ms: {b['filter']:.0f} ms"),
        (growth < HEAP_GROWTH_GOAL_MB and b["nodes_last"] <= 1.1 * b["nodes_first"],
         f"memory bounded while paging: heap {b['heap_first']:.1f} → {b['heap_last']:.1f} MB "
         f"(+{growth:.1f}, goal < {HEAP_GROWTH_GOAL_MB}), DOM nodes {b['nodes_first']:.0f} → "
         f"{b['nodes_last']:.0f} after {args.pages} pages"),
        (b["plots_longest_task"] < LONG_TASK_GOAL_MS,
         f"study plots drawn without blocking: {b['plots_count']:.0f} plots in "
         f"{b['plots']:.0f} ms, no task over {LONG_TASK_GOAL_MS} ms (longest "
         f"{b['plots_longest_task']:.0f} ms)"),
    ]  # fmt: skip
    header = HEADER.replace("{pages}", str(args.pages))
    row = (
        f"| {args.images:,} | {size / 1e6:.2f} MB | {rebuild_s * 1000:.0f} ms "
        f"| {b['ready']:.0f} ms | **{b['usable']:.0f} ms** | {b['key_in_page']:.0f} ms "
        f"| **{b['search']:.0f} ms** | **{b['filter']:.0f} ms** | {b['next_page']:.0f} ms "
        f"| **{b['heap_first']:.1f} → {b['heap_last']:.1f} MB** "
        f"| {b['nodes_first']:.0f} → {b['nodes_last']:.0f} "
        f"| {b['plots']:.0f} ms | **{b['plots_longest_task']:.0f} ms** |"
    )
    verdicts = "\n".join(f"- {'PASS' if ok else 'FAIL'}: {text}" for ok, text in checks)
    print(header)
    print(row)
    print(verdicts)
    print(f"benchmark took {took / 60:.1f} min", file=sys.stderr)
    if args.write:
        try:
            commit = subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
        write_section(
            args.write,
            "bench_review",
            f"## Review page, {args.images:,} images (issues 4 and 14)\n\n"
            f"`python benchmarks/bench_review_page.py --images {args.images} --runs {args.runs} "
            f"--pages {args.pages}` ({took / 60:.1f} min) — medians of {args.runs} runs, each in "
            "a fresh browser profile, page opened from disk (file://). The sidecars are made "
            "with the sidecar record (quality measures and slice positions included, no "
            "videos; one shared poster); 100 cards per page. Usable, search, filter and next "
            "page are wall clock from Playwright (its round trips included; the search also "
            "includes the page's 120 ms typing pause); page script done and keypress → next "
            "frame are measured in the page. Heap and DOM nodes are read after a forced "
            "garbage collection (Chrome DevTools Protocol). Long tasks are the browser's own "
            "(PerformanceObserver `longtask`). The rebuild reads the sidecars and writes the "
            "page (warm file cache).\n\n"
            f"{header}\n{row}\n\n"
            f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"{b['chromium']} headless (Debian package); commit {commit}; "
            f"{time.strftime('%Y-%m-%d')}.\n\n{verdicts}\n",
        )
        print(f"wrote {args.write}", file=sys.stderr)
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
