"""Render one image: volume → display volume → frames → MP4, poster and sidecar.

The MP4 (``<stem>.mp4``), poster (``<stem>.png``) and sidecar (``<stem>.json``) appear at
their final paths only when complete: each is written under a temporary name in the same
folder and renamed. The sidecar is written last, so its presence means the image is done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
from PIL import Image

from . import __version__
from .atomic import leftovers, temporary_path, write_text_atomic
from .bidsname import bids_relative_path, entities_from_filename, entity_label
from .encode import VideoWriter, ffmpeg_version
from .errors import InputError
from .frames import FrameRenderer
from .intensity import full_range_lut, window_limits
from .orientation import axis_codes, obliquity_deg, to_display_volume
from .volume import Volume, load_volume

SIDECAR_VERSION = 1


@dataclass(frozen=True)
class RenderOptions:
    """Every parameter of a render; all of them are recorded in the sidecar.

    Attributes
    ----------
    fps : float
        Frames per second; the default shows a 1 mm head (~230 slices) in ~15 s.
    crf : int
        x264 constant rate factor (lower = better quality, bigger file).
    preset : str
        x264 preset.
    threads : int
        x264 threads; fixed so the output is byte-identical on every run.
    x264_params : str
        Extra libx264 settings (``key=value:key=value``) applied on top of ``preset``.
    frame_width : int
        Target frame width in pixels (about 1280–1600).
    display : {"neurological", "radiological"}
        Neurological shows the subject's left on the viewer's left.
    sweep : {"together", "sequential"}
        Move all planes at once, or one plane after another.
    percentiles : (float, float)
        Intensity window from these percentiles (0–100) of the head voxels.
    oblique_threshold_deg : float
        Above this obliquity (degrees) the frame shows an "OBLIQUE" badge.
    interpolation : {"linear", "nearest"}
        How slices are scaled to the common mm-per-pixel grid.
    """

    fps: float = 15
    crf: int = 21
    preset: str = "ultrafast"
    threads: int = 1
    # ultrafast's speed with CABAC, B-frames, deblocking and adaptive quantisation put back:
    # 1 mm heads come out ~1.5 MB, ~25 % faster than "superfast" at the same size
    x264_params: str = "cabac=1:bframes=3:deblock=1:aq-mode=1"
    frame_width: int = 1280
    display: str = "neurological"
    sweep: str = "together"
    percentiles: tuple[float, float] = (0.5, 99.5)
    oblique_threshold_deg: float = 5.0
    interpolation: str = "linear"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RenderOptions:
        """Options from a config mapping; unknown keys are an error."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown render option(s): {', '.join(unknown)}")
        clean = dict(values)
        if "percentiles" in clean:
            clean["percentiles"] = tuple(float(p) for p in clean["percentiles"])
        return cls(**clean)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every option."""
        values = dataclasses.asdict(self)
        values["percentiles"] = list(self.percentiles)
        return values


@dataclass(frozen=True)
class OutputPaths:
    """The three files of one rendered image, next to each other."""

    video: Path
    poster: Path
    sidecar: Path

    @classmethod
    def for_video(cls, video: str | os.PathLike[str]) -> OutputPaths:
        video = Path(video)
        return cls(video, video.with_suffix(".png"), video.with_suffix(".json"))

    def remove_leftovers(self) -> None:
        """Delete temporary files that an interrupted render of this image left behind."""
        for final in (self.video, self.poster, self.sidecar):
            for leftover in leftovers(final):
                leftover.unlink(missing_ok=True)


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of everything that decides the pixels and bytes of a video."""
    import PIL

    return {
        "neurovid": __version__,
        "nibabel": nibabel.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "ffmpeg": ffmpeg_version(),
        "python": platform.python_version(),
    }


def write_sidecar(sidecar: Mapping[str, Any], paths: OutputPaths) -> None:
    """Write the sidecar JSON atomically (it marks the image as done)."""
    text = json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(paths.sidecar, text)


def _badges(obliquity: float, options: RenderOptions, n_volumes: int, warnings) -> list[str]:
    badges = []
    if obliquity > options.oblique_threshold_deg:
        badges.append(f"OBLIQUE {obliquity:.1f}°")
    if n_volumes > 1:
        badges.append(f"4D: VOLUME 1 OF {n_volumes}")
    if any("label map" in warning for warning in warnings):
        badges.append("LABEL MAP?")
    return badges


def frame_renderer(
    volume: Volume, options: RenderOptions, entities: Mapping[str, Any], fallback_title: str
) -> tuple[FrameRenderer, dict[str, Any]]:
    """The frame renderer of a loaded volume, and the facts shown in its header.

    Returns
    -------
    (FrameRenderer, dict)
        The dict holds ``axis_codes`` (stored voxel order) and ``obliquity_deg``.
    """
    obliquity = obliquity_deg(volume.affine)
    codes = axis_codes(volume.affine)
    shape = "×".join(str(n) for n in volume.stored_shape[:3])
    voxel_text = "×".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in volume.voxel_sizes_mm)
    renderer = FrameRenderer(
        to_display_volume(volume.data, volume.affine),
        window_limits(volume.data, options.percentiles),
        title=entity_label(entities) or fallback_title,
        details=f"{codes}  {shape} voxels  {voxel_text} mm  {volume.datatype}",
        badges=_badges(obliquity, options, volume.n_volumes, volume.warnings),
        display=options.display,
        sweep=options.sweep,
        frame_width=options.frame_width,
        interpolation=options.interpolation,
        luma="video",
    )
    return renderer, {"axis_codes": codes, "obliquity_deg": obliquity}


def render_image(
    in_path: str | os.PathLike[str],
    out_video: str | os.PathLike[str],
    *,
    options: RenderOptions | None = None,
    source: str | None = None,
    entities: Mapping[str, Any] | None = None,
    log_path: str | None = None,
) -> dict[str, Any]:
    """Render one image into ``out_video`` plus poster and sidecar; return the sidecar.

    Parameters
    ----------
    in_path : path
        NIfTI image (``.nii`` or ``.nii.gz``), 3-D or 4-D (first volume shown).
    out_video : path
        The MP4 to write; the poster (``.png``) and sidecar (``.json``) go beside it.
    options : RenderOptions, optional
    source : str, optional
        BIDS-relative path of the input, recorded in the sidecar and named in errors
        (default: derived from ``in_path``).
    entities : mapping, optional
        BIDS entities of the input (default: parsed from its file name).
    log_path : str, optional
        Where the job's log is, recorded in the sidecar for the review page.

    Returns
    -------
    dict
        The sidecar. ``status`` is ``"failed"`` with a one-line ``error`` when the input
        itself is unusable (:class:`~neurovid.errors.InputError`); any other failure
        raises and leaves no file at the final paths.
    """
    options = options or RenderOptions()
    paths = OutputPaths.for_video(out_video)
    paths.video.parent.mkdir(parents=True, exist_ok=True)
    paths.remove_leftovers()
    source = source or bids_relative_path(in_path)
    entities = dict(entities) if entities is not None else entities_from_filename(in_path)
    sidecar: dict[str, Any] = {
        "neurovid_sidecar_version": SIDECAR_VERSION,
        "status": "failed",
        "error": None,
        "warnings": [],
        "Sources": [f"bids:raw:{source}"],
        "source": source,
        "entities": entities,
        "log": log_path,
        "render": options.to_dict(),
        "versions": versions(),
    }
    try:
        volume = load_volume(in_path, display_path=source)
    except InputError as error:
        # an earlier render of a since-broken file must not linger on the review page
        paths.video.unlink(missing_ok=True)
        paths.poster.unlink(missing_ok=True)
        sidecar["error"] = str(error)
        try:
            sidecar["input"] = {
                "sha256": file_sha256(in_path),
                "size_bytes": os.path.getsize(in_path),
            }
        except OSError:
            sidecar["input"] = None
        write_sidecar(sidecar, paths)
        return sidecar

    renderer, facts = frame_renderer(volume, options, entities or {}, paths.video.stem)
    layout = renderer.layout
    video_partial = temporary_path(paths.video)
    poster_frame = None
    try:
        with VideoWriter(video_partial, layout.width, layout.height, options.fps,
                         crf=options.crf, preset=options.preset, threads=options.threads,
                         x264_params=options.x264_params, video_range=True) as writer:  # fmt: skip
            for frame_index, frame in enumerate(renderer):
                writer.write(frame)
                if frame_index == renderer.poster_index:
                    poster_frame = full_range_lut()[frame]  # back to 0–255 grey
        poster_partial = temporary_path(paths.poster)
        # low zlib effort: a few % bigger, several times faster to write
        Image.fromarray(poster_frame).save(poster_partial, format="PNG", compress_level=1)
        video_sha256 = file_sha256(video_partial)
        os.replace(video_partial, paths.video)
        os.replace(poster_partial, paths.poster)
    except BaseException:
        paths.remove_leftovers()
        raise

    sidecar.update(
        status="rendered",
        warnings=list(volume.warnings),
        input={"sha256": file_sha256(in_path), "size_bytes": os.path.getsize(in_path)},
        image={
            "shape": list(volume.stored_shape[:3]),
            "n_volumes": volume.n_volumes,
            "voxel_sizes_mm": [round(v, 4) for v in volume.voxel_sizes_mm],
            "axis_codes": facts["axis_codes"],
            "datatype": volume.datatype,
            "obliquity_deg": round(facts["obliquity_deg"], 2),
            "nonfinite_voxels": volume.nonfinite_voxels,
        },
        window={
            "low": renderer.window[0],
            "high": renderer.window[1],
            "percentiles": list(options.percentiles),
        },
        video={
            "file": paths.video.name,
            "poster": paths.poster.name,
            "sha256": video_sha256,
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "width": layout.width,
            "height": layout.height,
            "fps": options.fps,
            "frame_count": renderer.n_frames,
            "duration_s": round(renderer.n_frames / options.fps, 3),
            "px_per_mm": round(layout.px_per_mm, 4),
            "sweep": options.sweep,
        },
    )
    write_sidecar(sidecar, paths)
    return sidecar
