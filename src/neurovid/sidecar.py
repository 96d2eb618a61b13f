"""The per-image sidecar record: its one definition.

Every rendered or failed image gets one sidecar (``OUTPUT_DIR/sub-X/[ses-Y/]anat/<stem>.json``
in the workflow, ``<OUT stem>.neurovid.json`` beside a standalone render). The renderer writes
it through :class:`Sidecar`, readers (the review page, the run summary, the ratings merge)
read it through :func:`read_sidecar` / :meth:`Sidecar.from_dict`, ``docs/sidecar.md`` shows
:func:`fields_markdown` (a test keeps them equal) and ``neurovid.testing`` builds fixtures
with it.

Reading validates: every key's type, the status, and that a rendered sidecar names its
video. Unknown keys are ignored (a newer minor writer may add some); a sidecar of a newer
major version (:data:`SIDECAR_VERSION`) is refused with a one-line reason.

Version 1, extended without breaking version-1 readers: ``video.poster_sha256``,
``window.method``/``white_peak``, ``versions.ffmpeg_path``/``ffmpeg_source`` (which binary
encoded), ``fingerprint`` (of the rendering code and options) and ``quality`` (image-quality
measures, see ``docs/quality.md``) were added as optional keys; a sidecar without them still
reads, with None.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .atomic import write_text_atomic

__all__ = [
    "SIDECAR_VERSION",
    "ImageRecord",
    "InputRecord",
    "PlaneRecord",
    "Sidecar",
    "SidecarError",
    "VideoRecord",
    "WindowRecord",
    "fields_markdown",
    "is_neurovid_sidecar",
    "read_sidecar",
    "try_read_sidecar",
    "write_sidecar",
]

#: Major version of the record; readers refuse a larger one.
SIDECAR_VERSION = 1

#: The key that marks a JSON file as a neurovid sidecar.
VERSION_KEY = "neurovid_sidecar_version"


class SidecarError(ValueError):
    """A sidecar that cannot be read or does not match the record; one line."""


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


class _Record:
    """Shared (de)serialisation of the record classes: JSON keys are the field names."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping, keys in definition order (None values kept as null)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Any:
        """The record from a parsed JSON object; :class:`SidecarError` if it does not fit."""
        if not isinstance(data, dict):
            raise SidecarError(f"{where or 'sidecar'}: expected an object, got {_kind(data)}")
        hints = typing.get_type_hints(cls)
        values = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            name = f"{where}.{f.name}" if where else f.name
            if f.name not in data:
                no_default = f.default is dataclasses.MISSING
                if no_default and f.default_factory is dataclasses.MISSING:
                    raise SidecarError(f"{name}: missing")
                continue
            values[f.name] = _check(data[f.name], hints[f.name], name)
        return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def _check(value: Any, hint: Any, where: str) -> Any:
    """`value` checked against the type `hint` (nested records built); or SidecarError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check(value, inner, where)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise SidecarError(f"{where}: {_short(value)} is not one of {allowed}")
        return value
    if isinstance(hint, type) and issubclass(hint, _Record):
        return hint.from_dict(value, where)
    if origin is list:
        if not isinstance(value, list):
            raise SidecarError(f"{where}: expected a list, got {_kind(value)}")
        return [_check(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SidecarError(f"{where}: expected an object, got {_kind(value)}")
        return {str(k): _check(v, args[1], f"{where}.{k}") for k, v in value.items()}
    expected = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}[hint]
    if not isinstance(value, expected) or (hint is not bool and isinstance(value, bool)):
        name = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}[hint]
        raise SidecarError(f"{where}: expected {name}, got {_kind(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class InputRecord(_Record):
    """The input file as it was read."""

    sha256: str | None = _doc(
        "SHA-256 of the input file's bytes, hashed while they were read for this render "
        "(null: not a regular file, or too large to read)"
    )
    size_bytes: int | None = _doc("size of the input file in bytes")


@dataclass(kw_only=True)
class ImageRecord(_Record):
    """What the header and the voxels say about the image."""

    shape: list[int] = _doc("voxels along the three stored axes")
    n_volumes: int = _doc("volumes in the file (the first one is shown)")
    voxel_sizes_mm: list[float] = _doc("voxel edge lengths in mm along the stored axes")
    axis_codes: str = _doc("nibabel's aff2axcodes of the stored voxel order, e.g. `PSR`")
    datatype: str = _doc("on-disk data type, e.g. `int16`")
    obliquity_deg: float = _doc("largest angle between a voxel axis and its scanner axis")
    nonfinite_voxels: int = _doc("NaN/Inf voxels, shown as 0")


@dataclass(kw_only=True)
class WindowRecord(_Record):
    """The intensity window of the video."""

    low: float = _doc("intensity shown black (image units)")
    high: float = _doc("intensity shown white (image units)")
    method: str | None = _doc(
        "how the window was chosen: `brain` (white-matter peak) or `percentiles`", default=None
    )
    white_peak: float | None = _doc(
        "the white-matter peak the `brain` window was taken from (image units)", default=None
    )
    percentiles: list[float] = _doc(
        "head-voxel percentiles (the window when `method` is `percentiles`)"
    )


@dataclass(kw_only=True)
class PlaneRecord(_Record):
    """Where one panel's slices are (issue 12: the review page shows slice and mm per frame).

    Slice ``first + i`` (0-based, of the whole image) is at ``start_mm + i * step_mm``; the
    panel shows ``i = sweep_indices(counts of x, y, z, sweep)[frame][axis]`` at ``frame``
    (``neurovid.frames.sweep_indices``).
    """

    plane: Literal["sagittal", "coronal", "axial"] = _doc("the panel")
    axis: Literal["x", "y", "z"] = _doc("the display (RAS) axis the panel sweeps along")
    slices: int = _doc("slices of the whole image along `axis`")
    first: int = _doc("0-based index of the first slice shown (the crop's start)")
    count: int = _doc("slices shown")
    start_mm: float = _doc("world position (mm) of slice `first`, at the slice's centre")
    step_mm: float = _doc("mm from one slice to the next along `axis`")


@dataclass(kw_only=True)
class VideoRecord(_Record):
    """The MP4 and its poster, beside the sidecar."""

    file: str = _doc("the MP4's file name, relative to the sidecar's folder")
    poster: str = _doc("the poster PNG's file name (the mid-sweep frame)")
    sha256: str = _doc("SHA-256 of the MP4; ratings are keyed on it")
    codec: str = _doc("always `h264`")
    pix_fmt: str = _doc("always `yuv420p`")
    width: int = _doc("frame width in pixels")
    height: int = _doc("frame height in pixels")
    fps: float = _doc("frames per second")
    frame_count: int = _doc("frames in the video")
    duration_s: float = _doc("length of the video in seconds")
    px_per_mm: float | None = _doc("display scale, pixels per mm", default=None)
    sweep: str | None = _doc("`together` or `sequential`", default=None)
    poster_sha256: str | None = _doc("SHA-256 of the poster PNG", default=None)
    planes: list[PlaneRecord] | None = _doc(
        "per panel (sagittal, coronal, axial): `plane`, `axis`, `slices`, `first`, `count`, "
        "`start_mm`, `step_mm`: slice `first + i` is at `start_mm + i * step_mm` mm, and "
        "`i` at each frame follows from the `count`s and `sweep` (docs/sidecar.md)",
        default=None,
    )


@dataclass(kw_only=True)
class Sidecar(_Record):
    """One image's record: what was rendered, from which bytes, how, and with what."""

    neurovid_sidecar_version: int = _doc(
        "record version; its presence marks the file as a neurovid sidecar"
    )
    status: Literal["rendered", "failed"] = _doc(
        "`rendered`: the MP4 and poster are beside it; `failed`: see `error`"
    )
    error: str | None = _doc(
        "failed: one line naming the file and the reason; rendered: null", default=None
    )
    warnings: list[str] = _doc(
        "one line each, e.g. `4D image with 3 volumes: showing volume 1 of 3`",
        default_factory=list,
    )
    Sources: list[str] = _doc(
        "BIDS provenance: `bids:raw:<source>`; empty for a standalone file outside a BIDS dataset"
    )
    source: str = _doc(
        "BIDS-relative path of the input image (a standalone file outside a dataset: its name)"
    )
    entities: dict[str, str] = _doc("BIDS entities of the input (subject, session, run, suffix…)")
    log: str | None = _doc("the render job's log, relative to OUTPUT_DIR", default=None)
    input: InputRecord | None = _doc("the input file as read", default=None)
    image: ImageRecord | None = _doc("header and voxel facts (rendered only)", default=None)
    window: WindowRecord | None = _doc("intensity window (rendered only)", default=None)
    video: VideoRecord | None = _doc("the MP4 and poster (rendered only)", default=None)
    render: dict[str, Any] = _doc(
        "every render option used (fps, crf, preset, display, sweep, …)", default_factory=dict
    )
    versions: dict[str, str] = _doc(
        "versions of neurovid, nibabel, numpy, pillow, ffmpeg and python, and which ffmpeg "
        "binary encoded (`ffmpeg_path`; `ffmpeg_source`: `imageio-ffmpeg`, "
        "`IMAGEIO_FFMPEG_EXE`, `conda` or `system`)",
        default_factory=dict,
    )
    fingerprint: str | None = _doc(
        "fingerprint of the rendering code and options (`neurovid.fingerprint`): the video "
        "is current when the workflow's fingerprint is the same",
        default=None,
    )
    quality: dict[str, Any] | None = _doc(
        "image-quality measures and flags (`{version, metrics, flags}`, see "
        "docs/quality.md); null until measured",
        default=None,
    )

    # -- reading and writing

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Sidecar:
        """Validate a parsed sidecar; :class:`SidecarError` (one line) if it does not fit."""
        if isinstance(data, dict):
            version = data.get(VERSION_KEY)
            if isinstance(version, int) and not isinstance(version, bool):
                if version > SIDECAR_VERSION:
                    raise SidecarError(
                        f"sidecar version {version} is newer than this neurovid reads "
                        f"({SIDECAR_VERSION}); update neurovid"
                    )
        sidecar: Sidecar = super().from_dict(data, where)
        if sidecar.status == "rendered":
            for name in ("input", "image", "window", "video"):
                if getattr(sidecar, name) is None:
                    raise SidecarError(f"{name}: missing from a rendered sidecar")
        elif not sidecar.error:
            raise SidecarError("error: a failed sidecar must say why")
        return sidecar

    def to_json(self) -> str:
        """The file's text: indented JSON, UTF-8 characters kept, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Sidecar:
        """Parse and validate a sidecar's text."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SidecarError(f"not valid JSON: {_one_line(exc)}") from None
        return cls.from_dict(data)


def read_sidecar(path: str | os.PathLike[str]) -> Sidecar:
    """Read and validate a sidecar file; :class:`SidecarError` naming what is wrong."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SidecarError(f"could not be read: {exc.strerror or exc}") from None
    return Sidecar.from_json(raw)


def try_read_sidecar(path: str | os.PathLike[str]) -> tuple[Sidecar | None, str | None]:
    """``(sidecar, None)``, or ``(None, one-line reason)``; never raises for a bad file."""
    try:
        return read_sidecar(path), None
    except SidecarError as exc:
        return None, f"sidecar {exc}"


def write_sidecar(sidecar: Sidecar, path: str | os.PathLike[str]) -> None:
    """Write atomically and durably (a complete sidecar marks the image as done)."""
    write_text_atomic(path, sidecar.to_json())


def is_neurovid_sidecar(path: str | os.PathLike[str]) -> bool:
    """True if `path` is a JSON object carrying ``neurovid_sidecar_version`` (ours).

    Only a regular file is read (never a FIFO), and at most 16 MiB of it.
    """
    try:
        if not os.path.isfile(path):  # never open a FIFO or a device
            return False
        with open(path, "rb", opener=_nonblocking) as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > 16 * 2**20:
                return False
            data = json.loads(stream.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    version = data.get(VERSION_KEY) if isinstance(data, dict) else None
    return isinstance(version, int) and not isinstance(version, bool)


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


# --------------------------------------------------------------------------------------------
# Documentation
# --------------------------------------------------------------------------------------------


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return f"{_type_name(inner)} or null"
    if origin is Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "object"
    if isinstance(hint, type) and issubclass(hint, _Record):
        return "object"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(hint, "any")


def fields_markdown() -> str:
    """The Markdown table of every key (nested ones dotted), as ``docs/sidecar.md`` shows."""
    rows = ["| key | type | meaning |", "| --- | --- | --- |"]

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            rows.append(f"| `{prefix}{f.name}` | {_type_name(hint)} | {f.metadata['doc']} |")
            inner = ([a for a in typing.get_args(hint) if a is not type(None)] or [hint])[0]
            if isinstance(inner, type) and issubclass(inner, _Record):
                walk(inner, f"{prefix}{f.name}.")
            elif typing.get_origin(inner) is list:
                (item,) = typing.get_args(inner)
                if isinstance(item, type) and issubclass(item, _Record):
                    walk(item, f"{prefix}{f.name}[].")

    walk(Sidecar, "")
    return "\n".join(rows) + "\n"
