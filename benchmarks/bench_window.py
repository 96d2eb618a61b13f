"""Brain contrast of the intensity window, before (percentiles) and after (brain), per image.

    python benchmarks/bench_window.py [--write docs/benchmarks.md] [EXTRA.nii.gz ...]

Inputs: every image in ../shared/data/real-t1w (when present), the demo dataset (built
offline into a temporary folder) and any file given on the command line.

For each image and each window method the table gives, in display grey levels (0–255):

* **median grey** of the brain: the brain core of :func:`neurovid.intensity.brain_core`
  (head mask eroded by 15 mm, top 100 mm of the head);
* **grey–white separation**: the brain core's intensities are split into three classes
  (CSF < grey matter < white matter) by three-class Otsu thresholds; the separation is the
  median grey level of the white-matter class minus that of the grey-matter class.
  For the MNI152 template (demo ``sub-01``) the tissue maps that nilearn ships give a
  second, independent figure (voxels with probability > 0.5);
* **clipped**: the share of brain-core voxels drawn pure white.

No timing is measured here, so the figures do not depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from _markdown import write_section  # noqa: E402

from neurovid.demo import build_demo_dataset, template_path  # noqa: E402
from neurovid.intensity import brain_core, choose_window, head_mask, to_uint8  # noqa: E402
from neurovid.orientation import to_display_volume  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "real-t1w"
METHODS = ("percentiles", "brain")


def three_class_thresholds(values: np.ndarray, bins: int = 128) -> tuple[float, float]:
    """Two thresholds that split ``values`` into three classes with the largest
    between-class variance (multi-level Otsu, exhaustive over a histogram)."""
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist).astype(float)
    mass = np.cumsum(hist * centres)
    total_w, total_m = weight[-1], mass[-1]
    best, cut = -1.0, (0, 1)
    for i in range(bins - 2):
        for j in range(i + 1, bins - 1):
            w = (weight[i], weight[j] - weight[i], total_w - weight[j])
            m = (mass[i], mass[j] - mass[i], total_m - mass[j])
            if min(w) <= 0:
                continue
            score = sum(mk * mk / wk for mk, wk in zip(m, w, strict=True))
            if score > best:
                best, cut = score, (i, j)
    return float(edges[cut[0] + 1]), float(edges[cut[1] + 1])


def load_display(path: Path):
    image = nib.load(path)
    data = np.asarray(image.dataobj, dtype=np.float32)
    if data.ndim == 4:
        data = data[..., 0]
    return to_display_volume(data, image.affine)


def measure(path: Path, tissue_maps: tuple[Path, Path] | None = None) -> dict:
    display = load_display(path)
    head = head_mask(display.data, display.voxel_sizes_mm)
    core = brain_core(head)
    sample = np.asarray(display.data[:: head.step[0], :: head.step[1], :: head.step[2]])
    brain = sample[core]
    brain = brain[np.isfinite(brain)]
    csf_gm, gm_wm = three_class_thresholds(brain)
    grey_matter, white_matter = brain[(brain > csf_gm) & (brain <= gm_wm)], brain[brain > gm_wm]
    row: dict = {"name": path.name.split(".nii")[0], "shape": "×".join(map(str, display.shape))}
    for method in METHODS:
        window = choose_window(display.data, display.voxel_sizes_mm, method)
        limits = window.limits
        grey_u8 = to_uint8(brain, limits)
        row[method] = {
            "window": f"{limits[0]:.4g}–{limits[1]:.4g}",
            "median": float(np.median(grey_u8)),
            "separation": float(
                np.median(to_uint8(white_matter, limits))
                - np.median(to_uint8(grey_matter, limits))
            ),
            "clipped": float(np.mean(grey_u8 == 255) * 100),
        }
        if tissue_maps is not None:
            # the maps are stored as uint8 0–255 (probability × 255)
            gm_map, wm_map = (
                (m := np.asarray(nib.load(p).dataobj, dtype=np.float32)) > 0.5 * m.max()
                for p in tissue_maps
            )
            data = np.asarray(nib.load(path).dataobj, dtype=np.float32)
            row[method]["separation_maps"] = float(
                np.median(to_uint8(data[wm_map], limits))
                - np.median(to_uint8(data[gm_map], limits))
            )
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| input | shape | window before → after | median grey of brain, before → after "
        "| grey–white separation, before → after | brain clipped white %, before → after |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        before, after = r["percentiles"], r["brain"]
        separation = f"{before['separation']:.0f} → **{after['separation']:.0f}**"
        if "separation_maps" in after:
            separation += (
                f" (tissue maps: {before['separation_maps']:.0f} → {after['separation_maps']:.0f})"
            )
        lines.append(
            f"| {r['name']} | {r['shape']} | {before['window']} → {after['window']} "
            f"| {before['median']:.0f} → **{after['median']:.0f}** | {separation} "
            f"| {before['clipped']:.1f} → {after['clipped']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extra", nargs="*", type=Path, help="more images to measure")
    parser.add_argument("--write", type=Path, help="write the section into this markdown file")
    args = parser.parse_args(argv)
    inputs = sorted(REAL.glob("*.nii*")) if REAL.is_dir() else []
    rows = []
    for path in [*inputs, *args.extra]:
        rows.append(measure(path))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    with tempfile.TemporaryDirectory(prefix="neurovid-window-") as tmp:
        template_dir = template_path().parent
        maps = (
            template_dir / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
            template_dir / "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
        )
        for path in build_demo_dataset(tmp):
            is_template = path.name == "sub-01_T1w.nii.gz" and all(p.is_file() for p in maps)
            rows.append(measure(path, maps if is_template else None))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    real_note = (
        f"{len(inputs)} real scans from `../shared/data/real-t1w` and the demo"
        if inputs
        else "the demo (`../shared/data/real-t1w` was not present)"
    )
    report = "\n".join(
        [
            "## Intensity window: brain contrast (issue 12)",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} on {real_note}. Reproduce: `python "
            "benchmarks/bench_window.py --write docs/benchmarks.md`. Before = "
            "`render.window: percentiles` (0.5–99.5th percentile of head voxels, the earlier "
            "default); after = `render.window: brain` (white-matter peak of the brain core at "
            "80 % grey, background black; see `neurovid.intensity`).",
            "",
            table(rows),
            "",
            "Grey levels are 0–255 as drawn. Brain = the brain core (head mask eroded by 15 mm, "
            "top 100 mm of the head), on a ~3 mm subsample; grey–white separation = median "
            "grey of the white-matter class minus that of the grey-matter class of a "
            "three-class Otsu split of the brain core's intensities (CSF < GM < WM). For the "
            "template, the tissue maps that nilearn ships (probability > 0.5) give the same "
            "figure from independent GM and WM masks. Clipped = brain-core voxels drawn pure "
            "white.",
        ]
    )
    print()
    print(report)
    if args.write:
        write_section(args.write, "bench_window", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
