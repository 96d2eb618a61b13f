"""Render one image: volume → display volume → frames → MP4, poster and sidecar.

The MP4 (``<stem>.mp4``), poster (``<stem>.png``) and sidecar (``<stem>.json`` in the
workflow's output folder, ``<stem>.neurovid.json`` for a standalone render) appear at their
final paths only when complete: each is written under a temporary name in the same folder,
flushed to disk and renamed. The sidecar is written last, after the MP4 and poster are on
disk, so its presence vouches for them.

Nothing that is not ours is overwritten: no output may be the input, and a standalone
render (:func:`check_standalone_outputs`) refuses any existing file that a neurovid sidecar
beside it does not vouch for.
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
from .atomic import fsync_directory, fsync_file, leftovers, temporary_path
from .bidsname import dataset_relative_path, entities_from_filename, entity_label
from .encode import VideoWriter, ffmpeg_binary, ffmpeg_version
from .errors import InputError, OutputConflictError
from .frames import FrameRenderer, crop_to_head
from .intensity import choose_window, full_range_lut, head_mask
from .orientation import axis_codes, obliquity_deg, to_display_volume
from .quality import quality_record
from .sidecar import (
    SIDECAR_VERSION,
    ImageRecord,
    InputRecord,
    PlaneRecord,
    Sidecar,
    VideoRecord,
    WindowRecord,
    is_neurovid_sidecar,
    try_read_sidecar,
    write_sidecar,
)
from .volume import DEFAULT_MAX_FRAMES_PER_PLANE, Volume, load_volume

__all__ = [
    "SIDECAR_VERSION",
    "STANDALONE_SIDECAR_SUFFIX",
    "OutputPaths",
    "RenderOptions",
    "check_standalone_outputs",
    "file_sha256",
    "frame_renderer",
    "render_image",
    "render_or_reuse",
    "versions",
]

#: A standalone render's sidecar ends in this, so that it can never be taken for (or
#: overwrite) the BIDS metadata of an image, ``<stem>.json``, when run in a BIDS folder.
STANDALONE_SIDECAR_SUFFIX = ".neurovid.json"


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
    window : {"brain", "percentiles"}
        How the intensity window is chosen: from the white-matter peak of the brain
        (default), or from ``percentiles`` of the head voxels
        (:mod:`neurovid.intensity` explains both).
    percentiles : (float, float)
        Intensity window from these percentiles (0–100) of the head voxels
        (``window="percentiles"``, or when ``"brain"`` finds no brain).
    oblique_threshold_deg : float
        Above this obliquity (degrees) the frame shows an "OBLIQUE" badge.
    interpolation : {"linear", "nearest"}
        How slices are scaled to the common mm-per-pixel grid.
    crop : bool
        Draw the head's bounding box (plus 10 mm) rather than the whole field of view, and
        sweep only the slices through it; slice numbers and positions stay the image's.
    max_frames_per_plane : int
        Refuse (failed sidecar, stated reason) an image with more slices than this along
        any axis: each slice is one frame, and an absurd header must not start a days-long
        video.
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
    window: str = "brain"
    percentiles: tuple[float, float] = (0.5, 99.5)
    oblique_threshold_deg: float = 5.0
    interpolation: str = "linear"
    crop: bool = True
    max_frames_per_plane: int = DEFAULT_MAX_FRAMES_PER_PLANE

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
        """The workflow's layout: ``<stem>.mp4``, ``<stem>.png``, ``<stem>.json``."""
        video = Path(video)
        return cls(video, video.with_suffix(".png"), video.with_suffix(".json"))

    @classmethod
    def standalone(cls, video: str | os.PathLike[str]) -> OutputPaths:
        """A render by hand: the sidecar is ``<stem>.neurovid.json`` (never BIDS metadata)."""
        video = Path(video)
        return cls(
            video,
            video.with_suffix(".png"),
            video.with_name(video.stem + STANDALONE_SIDECAR_SUFFIX),
        )

    def all(self) -> tuple[Path, Path, Path]:
        return (self.video, self.poster, self.sidecar)

    def remove_leftovers(self) -> None:
        """Delete temporary files that an interrupted render of this image left behind."""
        for final in (self.video, self.poster, self.sidecar):
            for leftover in leftovers(final):
                leftover.unlink(missing_ok=True)


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (of our own outputs; inputs are hashed as read)."""
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
        # which ffmpeg binary encoded: its path, and "imageio-ffmpeg" (the bundled one),
        # "IMAGEIO_FFMPEG_EXE", "conda" or "system" (neurovid.encode.ffmpeg_source)
        "ffmpeg_path": ffmpeg_binary()["path"],
        "ffmpeg_source": ffmpeg_binary()["source"],
        "python": platform.python_version(),
    }


def _is_same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True if `a` and `b` are one file (hard links too) or resolve to one path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _refuse_writing_over_input(in_path: str | os.PathLike[str], paths: OutputPaths) -> None:
    for out in paths.all():
        if _is_same_file(in_path, out):
            raise OutputConflictError(out, f"is the input {os.fspath(in_path)}")


def check_standalone_outputs(in_path: str | os.PathLike[str], paths: OutputPaths) -> None:
    """Refuse a standalone render that would overwrite anything that is not ours.

    An output path may not be the input (compared as files, so hard links and other
    spellings count) nor an existing folder. An existing sidecar must be a neurovid
    sidecar (it has ``neurovid_sidecar_version``); an existing MP4 or poster counts as ours
    only when that sidecar names it. Nothing is written here.

    Raises
    ------
    OutputConflictError
        One line naming the output and why it cannot be written.
    """
    if paths.video.suffix.lower() != ".mp4":
        raise OutputConflictError(paths.video, "the output must end in .mp4")
    _refuse_writing_over_input(in_path, paths)
    for out in paths.all():
        if out.is_dir():
            raise OutputConflictError(out, "is a folder")
    if not os.path.lexists(paths.sidecar):
        vouched: set[str] = set()
    elif not is_neurovid_sidecar(paths.sidecar) or paths.sidecar.is_symlink():
        raise OutputConflictError(paths.sidecar, "exists and is not a neurovid sidecar")
    else:
        video = _json_object(paths.sidecar).get("video")
        video = video if isinstance(video, dict) else {}
        vouched = {str(video.get(key)) for key in ("file", "poster")}
    for out in (paths.video, paths.poster):
        if os.path.lexists(out) and (out.is_symlink() or out.name not in vouched):
            raise OutputConflictError(
                out, f"exists and was not written by neurovid (no {paths.sidecar.name} names it)"
            )


def _json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _current_fingerprint(options: RenderOptions) -> str | None:
    """The workflow's render fingerprint (``neurovid.fingerprint``), if it is installed."""
    try:
        from .fingerprint import render_fingerprint  # type: ignore[import-not-found]
    except ImportError:
        return None
    return render_fingerprint(options.to_dict())


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
        The dict holds ``axis_codes`` (stored voxel order), ``obliquity_deg``,
        ``window`` (:class:`neurovid.intensity.Window`) and ``quality`` (the sidecar's
        ``quality`` record, :func:`neurovid.quality.quality_record`).
    """
    obliquity = obliquity_deg(volume.affine)
    codes = axis_codes(volume.affine)
    shape = "×".join(str(n) for n in volume.stored_shape[:3])
    voxel_text = "×".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in volume.voxel_sizes_mm)
    display = to_display_volume(volume.data, volume.affine)
    # triage measures on the same RAS+ volume, before any crop (docs/quality.md)
    quality = quality_record(display.data, display.voxel_sizes_mm)
    head = head_mask(display.data, display.voxel_sizes_mm)
    window = choose_window(
        display.data, display.voxel_sizes_mm, options.window, options.percentiles, head
    )
    if options.crop:
        display = crop_to_head(display, head)
    renderer = FrameRenderer(
        display,
        window.limits,
        title=entity_label(entities) or fallback_title,
        details=f"{codes}  {shape} voxels  {voxel_text} mm  {volume.datatype}",
        badges=_badges(obliquity, options, volume.n_volumes, volume.warnings),
        display=options.display,
        sweep=options.sweep,
        frame_width=options.frame_width,
        interpolation=options.interpolation,
        luma="video",
    )
    facts = {"axis_codes": codes, "obliquity_deg": obliquity, "window": window}
    return renderer, {**facts, "quality": quality}


def render_image(
    in_path: str | os.PathLike[str],
    out_video: str | os.PathLike[str],
    *,
    options: RenderOptions | None = None,
    source: str | None = None,
    entities: Mapping[str, Any] | None = None,
    log_path: str | None = None,
    paths: OutputPaths | None = None,
    fingerprint: str | None = None,
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
    paths : OutputPaths, optional
        Where the three files go (default: :meth:`OutputPaths.for_video` of `out_video`).
    fingerprint : str, optional
        The render fingerprint to record (default: ``neurovid.fingerprint``'s, if present).

    Returns
    -------
    dict
        The sidecar (:meth:`neurovid.sidecar.Sidecar.to_dict`). ``status`` is ``"failed"``
        with a one-line ``error`` when the input itself is unusable
        (:class:`~neurovid.errors.InputError`); any other failure raises and leaves no
        file at the final paths.

    Raises
    ------
    OutputConflictError
        An output path is the input file; nothing is written.
    """
    sidecar, _ = render_or_reuse(
        in_path, out_video, options=options, source=source, entities=entities,
        log_path=log_path, paths=paths, fingerprint=fingerprint, reuse=False,
    )  # fmt: skip
    return sidecar


def render_or_reuse(
    in_path: str | os.PathLike[str],
    out_video: str | os.PathLike[str],
    *,
    options: RenderOptions | None = None,
    source: str | None = None,
    entities: Mapping[str, Any] | None = None,
    log_path: str | None = None,
    paths: OutputPaths | None = None,
    fingerprint: str | None = None,
    reuse: bool = True,
) -> tuple[dict[str, Any], bool]:
    """As :func:`render_image`, but keep an existing render that is still current.

    With `reuse`, the input is read (and hashed) as usual; if the existing sidecar is a
    valid neurovid sidecar that says ``rendered``, from an input with the same SHA-256, with
    the same render options, fingerprint and versions, and the MP4 and poster beside it
    still have the SHA-256 it records, nothing is encoded: the MP4 and poster are left as
    they are and the sidecar is rewritten only if its source, entities or log changed.

    Returns
    -------
    (dict, bool)
        The sidecar, and True when the existing video was kept ("unchanged").
    """
    options = options or RenderOptions()
    paths = paths or OutputPaths.for_video(out_video)
    _refuse_writing_over_input(in_path, paths)
    paths.video.parent.mkdir(parents=True, exist_ok=True)
    paths.remove_leftovers()
    # a standalone file outside a BIDS dataset: its name is the source and the title, and it
    # has no bids: provenance; a non-BIDS name gives no entities (issue 12)
    in_dataset = source is not None or dataset_relative_path(in_path) is not None
    source = source or dataset_relative_path(in_path) or Path(in_path).name
    entities = dict(entities) if entities is not None else entities_from_filename(in_path)
    record = Sidecar(
        neurovid_sidecar_version=SIDECAR_VERSION,
        status="failed",
        Sources=[f"bids:raw:{source}"] if in_dataset else [],
        source=source,
        entities={str(k): str(v) for k, v in entities.items() if v is not None},
        log=log_path,
        render=options.to_dict(),
        versions=versions(),
        fingerprint=fingerprint if fingerprint is not None else _current_fingerprint(options),
    )
    try:
        volume = load_volume(
            in_path, display_path=source, max_frames_per_plane=options.max_frames_per_plane
        )
    except InputError as error:
        # an earlier render of a since-broken file must not linger on the review page
        paths.video.unlink(missing_ok=True)
        paths.poster.unlink(missing_ok=True)
        record.error = str(error)
        if error.input_sha256 is not None or error.input_size_bytes is not None:
            record.input = InputRecord(
                sha256=error.input_sha256, size_bytes=error.input_size_bytes
            )
        write_sidecar(record, paths.sidecar)
        return record.to_dict(), False

    record.input = InputRecord(sha256=volume.input_sha256, size_bytes=volume.input_size_bytes)
    if reuse:
        kept = _still_current(record, paths)
        if kept is not None:
            return kept, True

    title_entities = (entities or {}) if in_dataset else {}
    renderer, facts = frame_renderer(volume, options, title_entities, Path(in_path).name)
    layout = renderer.layout
    video_partial = temporary_path(paths.video)
    poster_partial = temporary_path(paths.poster)
    poster_frame = None
    try:
        with VideoWriter(video_partial, layout.width, layout.height, options.fps,
                         crf=options.crf, preset=options.preset, threads=options.threads,
                         x264_params=options.x264_params, video_range=True) as writer:  # fmt: skip
            for frame_index, frame in enumerate(renderer):
                writer.write(frame)
                if frame_index == renderer.poster_index:
                    poster_frame = full_range_lut()[frame]  # back to 0–255 grey
        # low zlib effort: a few % bigger, several times faster to write
        Image.fromarray(poster_frame).save(poster_partial, format="PNG", compress_level=1)
        video_sha256 = file_sha256(video_partial)
        poster_sha256 = file_sha256(poster_partial)
        # on disk before the sidecar that vouches for them is written
        fsync_file(video_partial)
        fsync_file(poster_partial)
        os.replace(video_partial, paths.video)
        os.replace(poster_partial, paths.poster)
        fsync_directory(paths.video.parent)
    except BaseException:
        video_partial.unlink(missing_ok=True)
        poster_partial.unlink(missing_ok=True)
        raise

    window = facts["window"]
    record.status = "rendered"
    record.warnings = list(volume.warnings)
    record.quality = facts["quality"]
    record.image = ImageRecord(
        shape=list(volume.stored_shape[:3]),
        n_volumes=volume.n_volumes,
        voxel_sizes_mm=[round(v, 4) for v in volume.voxel_sizes_mm],
        axis_codes=facts["axis_codes"],
        datatype=volume.datatype,
        obliquity_deg=round(facts["obliquity_deg"], 2),
        nonfinite_voxels=volume.nonfinite_voxels,
    )
    record.window = WindowRecord(
        low=renderer.window[0],
        high=renderer.window[1],
        method=window.method,
        white_peak=window.white_peak,
        percentiles=list(options.percentiles),
    )
    record.video = VideoRecord(
        file=paths.video.name,
        poster=paths.poster.name,
        sha256=video_sha256,
        poster_sha256=poster_sha256,
        codec="h264",
        pix_fmt="yuv420p",
        width=layout.width,
        height=layout.height,
        fps=options.fps,
        frame_count=renderer.n_frames,
        duration_s=round(renderer.n_frames / options.fps, 3),
        px_per_mm=round(layout.px_per_mm, 4),
        sweep=options.sweep,
        planes=[PlaneRecord(**plane) for plane in renderer.planes()],
    )
    write_sidecar(record, paths.sidecar)
    return record.to_dict(), False


def _still_current(wanted: Sidecar, paths: OutputPaths) -> dict[str, Any] | None:
    """The existing sidecar, if its render can be kept for `wanted`; else None.

    Kept only when it is ours, rendered, from the same input bytes, options, fingerprint and
    versions, and the MP4 and poster beside it are the files it vouches for.
    """
    existing, _ = try_read_sidecar(paths.sidecar)
    if existing is None or existing.status != "rendered" or existing.video is None:
        return None
    assert wanted.input is not None and existing.input is not None
    same = (
        wanted.input.sha256 is not None
        and existing.input.sha256 == wanted.input.sha256
        and existing.render == wanted.render
        and wanted.fingerprint is not None
        and existing.fingerprint == wanted.fingerprint
        and existing.versions == wanted.versions
        and existing.video.file == paths.video.name
        and existing.video.poster == paths.poster.name
        and existing.video.poster_sha256 is not None
    )
    if not same:
        return None
    for path, digest in (
        (paths.video, existing.video.sha256),
        (paths.poster, existing.video.poster_sha256),
    ):
        if not path.is_file() or path.is_symlink() or file_sha256(path) != digest:
            return None
    described = (existing.source, existing.Sources, existing.entities, existing.log)
    if described != (wanted.source, wanted.Sources, wanted.entities, wanted.log):
        updated = dataclasses.replace(
            existing,
            source=wanted.source,
            Sources=wanted.Sources,
            entities=wanted.entities,
            log=wanted.log,
        )
        write_sidecar(updated, paths.sidecar)
        return updated.to_dict()
    return existing.to_dict()
