"""Validate triage: does the attention score put simulated artefacts ahead of clean heads?

    python benchmarks/bench_triage.py [--write docs/benchmarks.md] [--seeds 1] [--no-timing]
    python benchmarks/bench_triage.py --quick      # 4 bases, to check that it runs

Clean heads, built offline (benchmarks/triage_artefacts.py):

* the demo's MNI152 brain (nilearn's wheel) at 1, 1.2, 1.5 and 2 mm, noise-free as in the
  demo and with 20 mm of air and Rician noise at SNR 60, 40 and 25: 16 images, one study;
* the clean real scans in ../shared/data/real-t1w (03, 05, 07, 08), when present: a second
  study, of 4 (a small study: flags and absolute levels only).

Each clean head gets every simulated artefact (motion ghosting, phase wrap-around, a
field-of-view cut, strong noise, a bias field, a k-space spike, header axes flipped A-P and
S-I), seeded from its name, the kind and the seed number. An artefact's attention is
computed as if it had been added to its clean study (the study's z-scores barely move when
one image joins, as in a real study where bad scans are few); clean images get their
attention within their study.

Reported per kind: the AUC of attention against all clean images (1 = every artefact ranks
above every clean image; ties count one half), how many artefacts rank above every clean
image, and the precision and recall of the flag that should catch the kind (precision over
all images, clean and artefacts of every kind). Goals (issue 10): overall AUC ≥ 0.9, every
kind ≥ 0.8. The cost row times :func:`neurovid.quality.measure_quality` against a whole
render (CPU time of the process and ffmpeg) of the 1 mm template; goal ≤ 10 %. The page rows
open a review page of 2,000 measured images in headless Chromium and time the study view.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import triage_artefacts as sim  # noqa: E402
from _markdown import cpu_model, write_section  # noqa: E402

from neurovid.group import attention_scores  # noqa: E402
from neurovid.quality import MEASURE_NAMES, QualityReport, measure_quality  # noqa: E402

GOAL_OVERALL, GOAL_KIND, GOAL_COST = 0.9, 0.8, 0.10


def auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a positive scores above a negative (ties count one half)."""
    pos = np.asarray(positives, dtype=float)[:, None]
    neg = np.asarray(negatives, dtype=float)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def flag_ids(report: QualityReport, kind: str) -> bool:
    """Whether `report` raises the flag that should catch `kind`."""
    wanted = sim.MATCHING_FLAG[kind]
    return any(f.id == wanted or f.id.startswith(wanted + "_") for f in report.flags)


def studies(quick: bool) -> dict[str, dict[str, sim.Volume]]:
    """The clean bases, grouped in studies."""
    template = sim.clean_template_bases()
    if quick:
        template = {k: v for k, v in template.items() if k in ("mni-2mm", "mni-2mm-snr40")}
    out = {"template": template}
    real = sim.real_bases()
    if quick:
        real = dict(list(real.items())[:2])
    if real:
        out["real"] = real
    return out


def run(seeds: int, quick: bool, log=sys.stderr) -> dict:
    """Measure every clean base and every artefact; return the results."""
    results = {"clean": [], "artefacts": []}  # (study, base, kind, report)
    groups = studies(quick)
    for study, bases in groups.items():
        for name, (data, vox) in bases.items():
            results["clean"].append((study, name, "clean", measure_quality(data, vox)))
            for kind, make in sim.KINDS.items():
                for seed in range(seeds):
                    rng = np.random.default_rng(zlib.crc32(f"{name}/{kind}/{seed}".encode()))
                    bad, bad_vox = make(data, vox, rng)
                    report = measure_quality(bad, bad_vox)
                    results["artefacts"].append((study, name, kind, report))
                    print(f"{name} {kind} {seed}: {[f.id for f in report.flags]}", file=log)
    # attention: clean images within their study; each artefact added to its study alone
    clean_attention = []
    for study in groups:
        reports = [r for s, _, _, r in results["clean"] if s == study]
        clean_attention += [s.attention for s in attention_scores(reports)]
    artefact_attention = []
    for study, _, _, report in results["artefacts"]:
        reports = [r for s, _, _, r in results["clean"] if s == study]
        artefact_attention.append(attention_scores([*reports, report])[-1].attention)
    results["clean_attention"] = clean_attention
    results["artefact_attention"] = artefact_attention
    results["studies"] = {study: len(bases) for study, bases in groups.items()}
    return results


def summary_table(results: dict) -> tuple[str, bool]:
    """The per-kind Markdown table and whether the goals are met."""
    clean = results["clean_attention"]
    everything = results["clean"] + results["artefacts"]
    lines = [
        "| artefact | images | AUC of attention vs clean | ranked above every clean | "
        "matching flag | precision | recall |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    met = True
    all_bad = []
    for kind in sim.KINDS:
        rows = [
            (a, r)
            for (_, _, k, r), a in zip(
                results["artefacts"], results["artefact_attention"], strict=True
            )
            if k == kind
        ]
        scores = [a for a, _ in rows]
        all_bad += scores
        kind_auc = auc(scores, clean)
        above = sum(1 for a in scores if a > max(clean))
        # precision: of all images raising the flag, those of a kind it is meant to catch
        # (flip_ap and flip_si share `orientation`)
        raised = [k for _, _, k, r in everything if flag_ids(r, kind)]
        meant = sum(
            1 for k in raised if k != "clean" and sim.MATCHING_FLAG[k] == sim.MATCHING_FLAG[kind]
        )
        hits = sum(1 for _, r in rows if flag_ids(r, kind))
        precision = meant / len(raised) if raised else float("nan")
        recall = hits / len(rows)
        met &= kind_auc >= GOAL_KIND
        flag = sim.MATCHING_FLAG[kind] + ("_*" if kind == "fov_cut" else "")
        lines.append(
            f"| {kind} | {len(rows)} | {kind_auc:.3f} {'✓' if kind_auc >= GOAL_KIND else '✗'} | "
            f"{above}/{len(rows)} | `{flag}` | {precision:.2f} | {recall:.2f} |"
        )
    overall = auc(all_bad, clean)
    met &= overall >= GOAL_OVERALL
    flagged_clean = sum(1 for _, _, _, r in results["clean"] if r.flags)
    lines.append(
        f"| **all** | {len(all_bad)} | **{overall:.3f}** {'✓' if overall >= GOAL_OVERALL else '✗'}"
        f" | {sum(1 for a in all_bad if a > max(clean))}/{len(all_bad)} | "
        f"clean images flagged: {flagged_clean}/{len(results['clean'])} | | |"
    )
    return "\n".join(lines), met


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg), seconds."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def cost(repeat: int) -> tuple[float, float]:
    """(measures, whole render) CPU seconds on the 1 mm template, medians of `repeat`."""
    import nibabel as nib

    from neurovid.demo import template_path
    from neurovid.orientation import to_display_volume
    from neurovid.render import render_image
    from neurovid.volume import load_volume

    volume = load_volume(template_path())
    display = to_display_volume(volume.data, volume.affine)
    measures, renders = [], []
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "sub-01_T1w.nii.gz"
        nib.save(nib.load(template_path()), image)
        for i in range(repeat):
            start = time.process_time()
            measure_quality(display.data, display.voxel_sizes_mm)
            measures.append(time.process_time() - start)
            start = cpu_seconds()
            render_image(image, Path(tmp) / f"out{i}" / "sub-01_T1w.mp4")
            renders.append(cpu_seconds() - start)
    return statistics.median(measures), statistics.median(renders)


def study_view_timing(n_images: int = 2000) -> tuple[float, float, float]:
    """Chromium, page opened from disk with `n_images` measured images: (ms until the page is
    ready, ms from pressing ``v`` until every plot is drawn, longest main-thread task in ms)."""
    from playwright.sync_api import sync_playwright

    from neurovid.quality import Flag
    from neurovid.report import build_review_page, collect_sidecars
    from neurovid.sidecar import write_sidecar
    from neurovid.testing import CHROMIUM, CHROMIUM_ARGS, make_sidecar

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for i in range(n_images):
            source = f"sub-{i:04d}/anat/sub-{i:04d}_T1w.nii.gz"
            metrics = {name: float(rng.normal(50, 5)) for name in MEASURE_NAMES}
            flags = [Flag("ghosting", "ghosts")] if i % 97 == 0 else []
            record = make_sidecar(source, quality=QualityReport(metrics, flags).to_json())
            path = out / source.replace(".nii.gz", ".json")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_sidecar(record, path)
        html = out / "index.html"
        build_review_page(out, collect_sidecars(out), html)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(
                "window.__long = 0; new PerformanceObserver(l => l.getEntries().forEach("
                "e => { window.__long = Math.max(window.__long, e.duration); }))"
                ".observe({entryTypes: ['longtask']});"
            )
            page.goto(html.as_uri())
            page.wait_for_selector("html[data-ready='1']")
            ready = page.evaluate("window.neurovidReady")
            page.evaluate("window.__long = 0; window.__pressed = performance.now()")
            page.keyboard.press("v")
            page.wait_for_selector("#study[data-drawn='1']", timeout=60_000)
            drawn = page.evaluate("performance.now() - window.__pressed")
            longest = page.evaluate("window.__long")
            browser.close()
    return ready, drawn, longest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the section into this Markdown file")
    parser.add_argument("--seeds", type=int, default=1, help="artefacts per kind and base")
    parser.add_argument("--quick", action="store_true", help="4 bases: check that it runs")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the cost row")
    parser.add_argument(
        "--no-timing", action="store_true", help="skip the cost row (e.g. on a loaded machine)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run(args.seeds, args.quick)
    table, met = summary_table(results)
    study_text = ", ".join(f"{name}: {n} clean" for name, n in results["studies"].items())
    report = [
        "## Triage: attention and flags on simulated artefacts",
        "",
        f"`python benchmarks/bench_triage.py` ({study_text}; {args.seeds} seed(s) per kind and "
        "base; simulations in `benchmarks/triage_artefacts.py`; measures in `docs/quality.md`). "
        "Goals (issue 10): overall AUC ≥ 0.9, every kind ≥ 0.8.",
        "",
        table,
        "",
    ]
    if args.no_timing:
        report.append(
            "Cost and page rows not measured in this run (`--no-timing`): run without it on "
            "a quiet machine."
        )
    else:
        measures, render = cost(args.repeat)
        share = measures / render
        met &= share <= GOAL_COST
        report += [
            "| cost (1 mm MNI152 head, CPU time, median of "
            f"{args.repeat}) | measures | whole render | share | goal |",
            "| --- | ---: | ---: | ---: | --- |",
            f"| `measure_quality` vs `render_image` (process + ffmpeg) | {measures:.3f} s | "
            f"{render:.2f} s | {100 * share:.1f} % {'✓' if share <= GOAL_COST else '✗'} "
            "| ≤ 10 % |",
        ]
        ready, drawn, longest = study_view_timing()
        report += [
            "",
            "| review page, 2,000 measured images (headless Chromium, file://) | ms |",
            "| --- | ---: |",
            f"| page ready | {ready:.0f} |",
            f"| study view: `v` pressed → all {len(MEASURE_NAMES)} plots drawn | {drawn:.0f} |",
            "| longest main-thread task while drawing (the page never freezes longer) "
            f"| {longest:.0f} |",
        ]
    report += [
        "",
        f"{'All goals met.' if met else 'Not every goal is met.'} Machine: {cpu_model()}, "
        f"Python {platform.python_version()}; {time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(report) + "\n"
    print(text)
    if args.write:
        write_section(args.write, "bench_triage", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
