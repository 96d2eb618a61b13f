"""Command-line entry points (thin: parse arguments, call the library)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from .errors import OutputConflictError
from .render import OutputPaths, RenderOptions, check_standalone_outputs, render_image

_DEFAULTS = RenderOptions()


def _render_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="render_video.py",
        description=(
            "Render a QC video of a 3-D (or 4-D: first volume) NIfTI image: sagittal, coronal "
            "and axial panels sweeping through every slice, drawn in true anatomical "
            "orientation from the image's affine. Writes OUT.mp4, OUT.png (poster) and "
            "OUT.neurovid.json (sidecar; never OUT.json, which in a BIDS folder is an image's "
            "metadata). Refuses (exit 2, nothing written) to overwrite the input or any "
            "existing file that an earlier neurovid render did not write."
        ),
    )
    parser.add_argument(
        "input",
        help="input image: NIfTI-1/2 (.nii, .nii.gz), FreeSurfer (.mgz, .mgh) or an "
        "Analyze/NIfTI pair (.hdr/.img); outside a BIDS dataset the title is its file name",
    )
    parser.add_argument("output", help="output video (.mp4)")
    parser.add_argument(
        "--fps", type=float, default=_DEFAULTS.fps, help="frames per second (default %(default)s)"
    )
    parser.add_argument(
        "--crf",
        type=int,
        default=_DEFAULTS.crf,
        help="x264 CRF, lower is better quality (default %(default)s)",
    )
    parser.add_argument(
        "--preset", default=_DEFAULTS.preset, help="x264 preset (default %(default)s)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=_DEFAULTS.threads,
        help="encoder threads (default %(default)s)",
    )
    parser.add_argument(
        "--frame-width",
        type=int,
        default=_DEFAULTS.frame_width,
        help="frame width in pixels (default %(default)s)",
    )
    parser.add_argument(
        "--display",
        choices=("neurological", "radiological"),
        default=_DEFAULTS.display,
        help="where the subject's left is drawn (default %(default)s: on the viewer's left)",
    )
    parser.add_argument(
        "--sweep",
        choices=("together", "sequential"),
        default=_DEFAULTS.sweep,
        help="sweep the planes together or one after another (default %(default)s)",
    )
    parser.add_argument(
        "--window",
        choices=("brain", "percentiles"),
        default=_DEFAULTS.window,
        help="intensity window from the brain's white-matter peak, or from --percentiles of "
        "the head voxels (default %(default)s)",
    )
    parser.add_argument(
        "--percentiles",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=_DEFAULTS.percentiles,
        help="intensity window percentiles of head voxels (default %(default)s)",
    )
    parser.add_argument(
        "--x264-params",
        default=_DEFAULTS.x264_params,
        help="extra libx264 settings, key=value:key=value (default %(default)s)",
    )
    parser.add_argument(
        "--oblique-threshold",
        dest="oblique_threshold_deg",
        type=float,
        default=_DEFAULTS.oblique_threshold_deg,
        help="degrees above which an OBLIQUE badge is shown (default %(default)s)",
    )
    parser.add_argument(
        "--interpolation",
        choices=("linear", "nearest"),
        default=_DEFAULTS.interpolation,
        help="slice scaling (default %(default)s)",
    )
    parser.add_argument(
        "--max-frames-per-plane",
        type=int,
        default=_DEFAULTS.max_frames_per_plane,
        help="refuse images with more slices than this along any axis (default %(default)s)",
    )
    parser.add_argument(
        "--crop",
        action=argparse.BooleanOptionalAction,
        default=_DEFAULTS.crop,
        help="draw the head's bounding box, not the whole field of view (default %(default)s)",
    )
    parser.add_argument(
        "--source", help="BIDS-relative path recorded in the sidecar (default: derived from INPUT)"
    )
    return parser  # fmt: skip


def render_main(argv: Sequence[str] | None = None) -> int:
    """``render_video.py IN OUT``: 0 when rendered, 1 when the input cannot be rendered,
    2 when an output would overwrite something that is not ours (nothing is written)."""
    args = _render_parser().parse_args(argv)
    # every option of the parser but the file names is a RenderOptions field of that name
    fields = {field.name for field in dataclasses.fields(RenderOptions)}
    options = RenderOptions.from_mapping(
        {name: value for name, value in vars(args).items() if name in fields}
    )
    paths = OutputPaths.standalone(args.output)
    try:
        check_standalone_outputs(args.input, paths)
        sidecar = render_image(
            args.input, args.output, options=options, source=args.source, paths=paths
        )
    except OutputConflictError as error:
        print(f"error: {error}; nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: nothing was written to {args.output}", file=sys.stderr)
        return 130
    if sidecar["status"] != "rendered":
        print(f"error: {sidecar['error']}", file=sys.stderr)
        return 1
    video = sidecar["video"]
    print(f"{args.output}: {video['frame_count']} frames, {video['width']}x{video['height']}")
    for warning in sidecar["warnings"]:
        print(f"warning: {sidecar['source']}: {warning}", file=sys.stderr)
    return 0
