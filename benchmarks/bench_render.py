"""Speed, memory and size of one render, side by side with the tutorial baseline and the floor.

    python benchmarks/bench_render.py [--write docs/benchmarks.md] [--repeat 3] [EXTRA.nii.gz ...]
    python benchmarks/bench_render.py --crop-only [--repeat 1]   # just the crop row

Inputs: the 1 mm MNI152 T1 template that the nilearn wheel ships (built offline), plus any
file given on the command line. Every figure is a whole process, as a user runs it:

* baseline — benchmarks/baseline_tutorial.py (matplotlib FuncAnimation + ffmpeg writer);
* neurovid — ``python workflow/scripts/render_video.py IN OUT`` (default settings);
* floor — benchmarks/floor_encode.py: nibabel load + x264 of the very same frames with the
  same settings (frames composed beforehand, read from memory).

Wall times are medians of ``--repeat`` runs; peak RSS is the largest sum over the process
tree (python + ffmpeg), sampled every 10 ms.

The crop row renders a conformed 256³ volume (the template padded to 256 mm on every axis
and stored LIA, as FreeSurfer's ``mri_convert --conform`` writes it) with ``--no-crop`` and
with the default crop: pixels per mm, frames and wall time of each.
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

import imageio_ffmpeg
import nibabel as nib
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from _markdown import cpu_model, write_section  # noqa: E402

from neurovid.demo import template_path  # noqa: E402
from neurovid.intensity import full_range_lut  # noqa: E402
from neurovid.render import RenderOptions, frame_renderer, render_image  # noqa: E402
from neurovid.volume import load_volume  # noqa: E402

PY = sys.executable


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run ``command``; return (wall seconds, peak RSS of the process tree in MB)."""
    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.01)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return wall, peak / 2**20


def median_run(command: list[str], repeat: int) -> tuple[float, float]:
    runs = [run_measured(command) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def composed_frames(in_path: Path, raw_path: Path) -> tuple[int, int, list[np.ndarray]]:
    """Compose neurovid's frames for ``in_path`` into ``raw_path``; return width, height."""
    volume = load_volume(in_path)
    # the title a standalone render of a file outside a dataset draws: its file name
    renderer, _ = frame_renderer(volume, RenderOptions(), {}, in_path.name)
    frames = [frame.copy() for frame in renderer]
    np.stack(frames).tofile(raw_path)
    return renderer.layout.width, renderer.layout.height, frames


def psnr_db(reference: list[np.ndarray], video: Path) -> float:
    """PSNR of the decoded video against the frames that went into the encoder."""
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="gray", bpp=1)
    meta = next(reader)
    width, height = meta["size"]
    errors = []
    to_full = full_range_lut()  # the frames are video-range luma; ffmpeg decodes to 0–255
    for frame, raw in zip(reference, reader, strict=True):
        frame = to_full[frame]
        decoded = np.frombuffer(raw, np.uint8).reshape(height, width).astype(np.float64)
        errors.append(np.mean((decoded - frame) ** 2))
    return float(10 * np.log10(255**2 / max(np.mean(errors), 1e-12)))


def bench_one(in_path: Path, work: Path, repeat: int, with_baseline: bool) -> dict:
    name = in_path.name.replace(".nii.gz", "").replace(".nii", "")
    out = work / f"{name}.mp4"
    row: dict = {"name": name}
    image = nib.load(in_path)
    row["shape"] = "×".join(map(str, image.shape[:3]))
    row["float32_mb"] = np.prod(image.shape[:3]) * 4 / 2**20
    script = REPO / "workflow" / "scripts" / "render_video.py"
    row["ours_s"], row["ours_mb"] = median_run([PY, str(script), str(in_path), str(out)], repeat)
    sidecar = render_image(in_path, out)  # once more in-process for the sidecar figures
    row["frames"] = sidecar["video"]["frame_count"]
    row["size"] = f"{sidecar['video']['width']}×{sidecar['video']['height']}"
    row["mp4_mb"] = out.stat().st_size / 2**20
    raw = work / f"{name}.raw"
    width, height, frames = composed_frames(in_path, raw)
    row["psnr_db"] = psnr_db(frames, out)
    del frames
    floor_cmd = [PY, str(REPO / "benchmarks" / "floor_encode.py"), str(in_path), str(raw),
                 str(width), str(height), str(work / f"{name}.floor.mp4")]  # fmt: skip
    row["floor_s"], row["floor_mb"] = median_run(floor_cmd, repeat)
    raw.unlink()
    if with_baseline:
        base_cmd = [PY, str(REPO / "benchmarks" / "baseline_tutorial.py"), str(in_path),
                    str(work / f"{name}.baseline.mp4")]  # fmt: skip
        row["base_s"], row["base_mb"] = median_run(base_cmd, repeat)
    return row


def conformed_256(path: Path, out: Path) -> Path:
    """The image padded (centred) to 256³ voxels and stored LIA, like a FreeSurfer volume."""
    image = nib.load(path)
    data = np.asarray(image.dataobj)
    pads = [((256 - n) // 2, 256 - n - (256 - n) // 2) for n in data.shape[:3]]
    padded = np.pad(data, pads)
    shift = np.eye(4)
    shift[:3, 3] = [-before for before, _ in pads]
    conformed = nib.Nifti1Image(padded, image.affine @ shift)
    target = nib.orientations.axcodes2ornt(("L", "I", "A"))
    current = nib.orientations.io_orientation(conformed.affine)
    nib.save(conformed.as_reoriented(nib.orientations.ornt_transform(current, target)), out)
    return out


def bench_crop(work: Path, repeat: int) -> dict:
    """px/mm, frames and wall time of a conformed 256³ volume without and with the crop."""
    conformed = conformed_256(template_path(), work / "conformed_256.nii.gz")
    script = REPO / "workflow" / "scripts" / "render_video.py"
    row: dict = {"name": "template conformed to 256³ (LIA)"}
    for label, flags in (("full", ["--no-crop"]), ("crop", [])):
        out = work / f"conformed_{label}.mp4"
        command = [PY, str(script), str(conformed), str(out), *flags]
        row[f"{label}_s"], _ = median_run(command, repeat)
        options = RenderOptions(crop=label == "crop")
        renderer, _ = frame_renderer(load_volume(conformed), options, {}, "conformed")
        row[f"{label}_px_per_mm"] = renderer.layout.px_per_mm
        row[f"{label}_frames"] = renderer.n_frames
        row[f"{label}_size"] = f"{renderer.layout.width}×{renderer.layout.height}"
    return row


def crop_table(row: dict) -> str:
    return "\n".join(
        [
            "| input | panels | frame | px/mm | frames | wall s (render + encode) |",
            "|---|---|---|---|---|---|",
            f"| {row['name']} | whole field of view (`--no-crop`) | {row['full_size']} "
            f"| {row['full_px_per_mm']:.2f} | {row['full_frames']} | {row['full_s']:.2f} |",
            f"| {row['name']} | head + 10 mm (default) | {row['crop_size']} "
            f"| {row['crop_px_per_mm']:.2f} | {row['crop_frames']} | {row['crop_s']:.2f} |",
        ]
    )


def table(rows: list[dict]) -> str:
    lines = [
        "| input | shape | frames | frame | baseline s | neurovid s | floor s | speed-up "
        "(goal ≥ 20×) | vs floor (goal ≤ 1.5×) | peak RSS MB | RSS budget MB (2×f32 + 250) "
        "| MP4 MB (goal ≤ 2) | PSNR dB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        budget = 2 * r["float32_mb"] + 250
        speedup = f"{r['base_s'] / r['ours_s']:.1f}×" if "base_s" in r else "–"
        base = f"{r['base_s']:.2f}" if "base_s" in r else "–"
        lines.append(
            f"| {r['name']} | {r['shape']} | {r['frames']} | {r['size']} | {base} "
            f"| {r['ours_s']:.2f} | {r['floor_s']:.2f} | {speedup} "
            f"| {r['ours_s'] / r['floor_s']:.2f}× | {r['ours_mb']:.0f} | {budget:.0f} "
            f"| {r['mp4_mb']:.2f} | {r['psnr_db']:.1f} |"
        )
    return "\n".join(lines)


def verdicts(row: dict) -> list[str]:
    budget = 2 * row["float32_mb"] + 250
    checks = [
        ("speed-up vs baseline ≥ 20×", row["base_s"] / row["ours_s"] >= 20),
        ("time vs floor ≤ 1.5×", row["ours_s"] / row["floor_s"] <= 1.5),
        ("peak RSS ≤ 2× float32 volume + 250 MB", row["ours_mb"] <= budget),
        ("MP4 of a 1 mm head ≤ 2 MB", row["mp4_mb"] <= 2.0),
    ]
    return [f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in checks]


def machine() -> str:
    cpu = cpu_model()
    import matplotlib

    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, numpy "
        f"{np.__version__}, nibabel {nib.__version__}, matplotlib {matplotlib.__version__}, "
        f"ffmpeg {imageio_ffmpeg.get_ffmpeg_version()}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extra", nargs="*", type=Path, help="more images to measure")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--write", type=Path, help="write the section into this markdown file")
    parser.add_argument("--no-baseline-extra", action="store_true",
                        help="run the (slow) baseline only on the template")  # fmt: skip
    parser.add_argument("--crop-only", action="store_true", help="only the crop row")
    args = parser.parse_args(argv)
    if args.crop_only:
        with tempfile.TemporaryDirectory(prefix="neurovid-bench-") as tmp:
            print(crop_table(bench_crop(Path(tmp), args.repeat)))
        return 0
    with tempfile.TemporaryDirectory(prefix="neurovid-bench-") as tmp:
        work = Path(tmp)
        rows = [bench_one(template_path(), work, args.repeat, with_baseline=True)]
        print(table(rows), flush=True)
        for extra in args.extra:
            rows.append(bench_one(extra, work, args.repeat, not args.no_baseline_extra))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
        crop_row = bench_crop(work, args.repeat)
        print(crop_table(crop_row), flush=True)
    report = "\n".join(
        [
            "## Rendering one image (issue 3)",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; medians of {args.repeat} "
            "runs, each a whole process. Reproduce: `make bench` (or `python "
            "benchmarks/bench_render.py --write docs/benchmarks.md [EXTRA.nii.gz ...]`).",
            "",
            table(rows),
            "",
            "Goals on the 1 mm MNI152 template (first row):",
            *verdicts(rows[0]),
            "",
            "baseline = the tutorial's matplotlib FuncAnimation + ffmpeg writer "
            "(benchmarks/baseline_tutorial.py, 1800×600, one frame per slice of the smallest "
            "axis); neurovid = `python workflow/scripts/render_video.py IN OUT` with default "
            "settings (every slice of the longest axis); floor = nibabel load + x264 of the same "
            "frames with the same settings (benchmarks/floor_encode.py). Peak RSS is the sum over "
            "the process tree (python + ffmpeg). PSNR compares decoded frames with the frames "
            "sent to the encoder.",
            "",
            "### Crop to the head (issue 12)",
            "",
            "A conformed 256³ volume (the template padded to 256 mm and stored LIA, as "
            "FreeSurfer writes it), rendered with the whole field of view and with the default "
            "crop to the head (bounding box of the head mask plus 10 mm; the sweep covers only "
            "the slices through it). Wall time is the whole `render_video.py` process, median "
            f"of {args.repeat} runs.",
            "",
            crop_table(crop_row),
        ]
    )
    print("\n" + "\n".join(verdicts(rows[0])))
    if args.write:
        write_section(args.write, "bench_render", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
