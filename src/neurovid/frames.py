"""Frame layout and composition: three panels at one mm-per-pixel scale, with labels.

Display conventions (documented in the README):

* every panel is drawn at the same scale with square physical pixels, so a 1×1×4.8 mm
  scan keeps its true proportions (bilinear interpolation, never squashed);
* sagittal: superior up, anterior on the viewer's left;
* coronal and axial: subject's left on the viewer's left (neurological) by default, or on
  the right with ``display="radiological"``; coronal has superior up, axial anterior up;
* the letters at each panel's edges are derived from the same table that picks the
  pixels, so they always tell the truth.

Everything static (header, titles, letters, badges) is rasterised once into a background
image; each frame is numpy composition: three resized slices, three position labels and
the progress bar.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .intensity import VIDEO_BLACK, VIDEO_WHITE, HeadMask, to_uint8, video_range_lut
from .orientation import DisplayVolume
from .text import GlyphStrip, font

#: Axis letters of the display volume: (negative end, positive end) for x, y, z.
AXIS_LETTERS = (("L", "R"), ("P", "A"), ("I", "S"))
AXIS_NAMES = ("x", "y", "z")

GUTTER_PX = 30  # room for a direction letter left and right of each panel
PANEL_GAP_PX = 16  # between two panels, so one panel's R and the next one's L stay apart
TOP_ROW_PX = 30  # plane name and the superior/anterior letter
BOTTOM_ROW_PX = 30  # position in mm and the inferior/posterior letter
HEADER_PX = 40
PROGRESS_PX = 4
MAX_PANEL_HEIGHT_PX = 900
#: Background kept around the head's bounding box when the panels are cropped to it (mm).
CROP_MARGIN_MM = 10.0

TEXT = 235
DIM_TEXT = 165
PROGRESS = 200
ACTIVE = 255


@dataclass(frozen=True)
class PanelSpec:
    """How one plane is cut from the display volume and laid out.

    ``slice_axis`` is the display-volume axis the plane sweeps along; ``row_axis`` and
    ``col_axis`` are the axes drawn down and across; ``rows_flipped`` / ``cols_flipped``
    say whether the axis runs against the screen direction (top→bottom, left→right).
    """

    name: str
    slice_axis: int
    row_axis: int
    col_axis: int
    rows_flipped: bool
    cols_flipped: bool

    def letters(self) -> dict[str, str]:
        """Direction letters at the top, bottom, left and right edge of the panel."""
        row_lo, row_hi = AXIS_LETTERS[self.row_axis]
        col_lo, col_hi = AXIS_LETTERS[self.col_axis]
        top, bottom = (row_hi, row_lo) if self.rows_flipped else (row_lo, row_hi)
        left, right = (col_hi, col_lo) if self.cols_flipped else (col_lo, col_hi)
        return {"top": top, "bottom": bottom, "left": left, "right": right}

    def cut(self, volume: np.ndarray, index: int) -> np.ndarray:
        """The 2-D image of slice ``index`` as drawn on screen (rows top→bottom)."""
        where: list[int | slice] = [slice(None)] * 3
        where[self.slice_axis] = index
        plane = volume[tuple(where)]  # a view; np.take would copy the whole volume
        # the two remaining axes keep their relative order in ``plane``
        if self.row_axis > self.col_axis:
            plane = plane.T
        if self.rows_flipped:
            plane = plane[::-1, :]
        if self.cols_flipped:
            plane = plane[:, ::-1]
        return plane


def panel_specs(display: str = "neurological") -> tuple[PanelSpec, PanelSpec, PanelSpec]:
    """The sagittal, coronal and axial panels for a display convention.

    Parameters
    ----------
    display : {"neurological", "radiological"}
        Neurological puts the subject's left on the viewer's left.
    """
    if display not in ("neurological", "radiological"):
        raise ValueError(f"display must be 'neurological' or 'radiological', not {display!r}")
    lr_flipped = display == "radiological"
    return (
        PanelSpec("Sagittal", 0, row_axis=2, col_axis=1, rows_flipped=True, cols_flipped=True),
        PanelSpec(
            "Coronal", 1, row_axis=2, col_axis=0, rows_flipped=True, cols_flipped=lr_flipped
        ),
        PanelSpec("Axial", 2, row_axis=1, col_axis=0, rows_flipped=True, cols_flipped=lr_flipped),
    )


@dataclass(frozen=True)
class PanelBox:
    """Where a panel's image sits in the frame, in pixels."""

    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class FrameLayout:
    """Pixel geometry of every frame of one video."""

    width: int
    height: int
    px_per_mm: float
    boxes: tuple[PanelBox, PanelBox, PanelBox]


def compute_layout(
    shape: Sequence[int],
    voxel_sizes_mm: Sequence[float],
    specs: Sequence[PanelSpec],
    frame_width: int = 1280,
) -> FrameLayout:
    """Scale the three panels to one mm-per-pixel so the frame is about ``frame_width`` wide.

    Parameters
    ----------
    shape : sequence of int
        Voxels along x, y, z of the display volume.
    voxel_sizes_mm : sequence of float
        Voxel size along x, y, z in mm.
    specs : sequence of PanelSpec
    frame_width : int
        Target frame width in pixels; the result is within a few pixels (even).
    """
    extent_mm = [n * v for n, v in zip(shape, voxel_sizes_mm, strict=True)]
    panel_mm = [(extent_mm[s.col_axis], extent_mm[s.row_axis]) for s in specs]
    available = frame_width - 2 * GUTTER_PX * len(specs) - PANEL_GAP_PX * (len(specs) - 1)
    px_per_mm = available / sum(w for w, _ in panel_mm)
    px_per_mm = min(px_per_mm, MAX_PANEL_HEIGHT_PX / max(h for _, h in panel_mm))
    sizes = [(max(2, round(w * px_per_mm)), max(2, round(h * px_per_mm))) for w, h in panel_mm]
    panels_top = HEADER_PX + PROGRESS_PX + TOP_ROW_PX
    tallest = max(h for _, h in sizes)
    boxes = []
    left = 0
    for w, h in sizes:
        left += GUTTER_PX
        # panels of different heights are centred vertically
        boxes.append(PanelBox(left, panels_top + (tallest - h) // 2, w, h))
        left += w + GUTTER_PX + PANEL_GAP_PX
    left -= PANEL_GAP_PX
    width = left + left % 2
    height = panels_top + tallest + BOTTOM_ROW_PX
    height += height % 2
    return FrameLayout(width, height, px_per_mm, tuple(boxes))  # type: ignore[arg-type]


def crop_to_head(
    volume: DisplayVolume, head: HeadMask, margin_mm: float = CROP_MARGIN_MM
) -> DisplayVolume:
    """The display volume cropped to the head's bounding box plus ``margin_mm`` on each side.

    The box comes from :meth:`neurovid.intensity.HeadMask.bounding_box` (specks of noise
    do not count; a part of the head disconnected from the rest, such as a wrapped-around
    nose, does). A head that touches the edge of the field of view keeps that edge, so a
    cut-off head still looks cut off. Without a head (empty mask) nothing is cropped.
    Slice numbers and positions stay those of the whole image (a view, no copy).
    """
    box = head.bounding_box(margin_mm)
    if box is None or all(
        (start, stop) == (0, n) for (start, stop), n in zip(box, volume.shape, strict=True)
    ):
        return volume
    return volume.cropped(box)


def sweep_indices(shape: Sequence[int], mode: str = "together") -> np.ndarray:
    """Slice index of each panel (x, y, z) for every frame; shape (n_frames, 3).

    ``together`` moves all three planes at once over ``max(shape)`` frames, so no slice of
    the longest axis is skipped and shorter axes repeat a few slices. ``sequential`` sweeps
    x, then y, then z (``sum(shape)`` frames) while the other two planes rest mid-volume.
    """
    dims = np.asarray(shape[:3], dtype=np.int64)
    if mode == "together":
        n_frames = int(dims.max())
        frames = np.arange(n_frames)[:, None]
        return (frames * dims[None, :]) // n_frames
    if mode == "sequential":
        parts = []
        for axis, n in enumerate(dims):
            block = np.tile(dims // 2, (int(n), 1))
            block[:, axis] = np.arange(n)
            parts.append(block)
        return np.concatenate(parts)
    raise ValueError(f"sweep must be 'together' or 'sequential', not {mode!r}")


def format_mm(value: float) -> str:
    """A position in mm with one decimal and a sign: ``+12.3``, ``-0.5``, ``+0.0``.

    Rounds the exact binary value half away from zero, as JavaScript's ``toFixed(1)`` does,
    so the review page (which computes positions from the sidecar) shows the very text
    burned into the frame. Never ``-0.0``.
    """
    text = str(Decimal(abs(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return ("-" if value < 0 and text != "0.0" else "+") + text


def _centred_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, **kw) -> None:
    draw.text(xy, text, anchor="mm", **kw)


def draw_background(
    layout: FrameLayout,
    specs: Sequence[PanelSpec],
    title: str,
    details: str,
    badges: Sequence[str] = (),
) -> np.ndarray:
    """Rasterise everything that does not change during the video; uint8 (height, width)."""
    image = Image.new("L", (layout.width, layout.height), 0)
    draw = ImageDraw.Draw(image)
    header_mid = HEADER_PX // 2
    draw.text((12, header_mid), title, fill=TEXT, font=font(19, bold=True), anchor="lm")
    x = 12 + draw.textlength(title, font=font(19, bold=True)) + 16
    for badge in badges:
        badge_font = font(14, bold=True)
        w = draw.textlength(badge, font=badge_font)
        draw.rectangle((x, header_mid - 11, x + w + 14, header_mid + 11), fill=TEXT)
        draw.text((x + 7, header_mid), badge, fill=0, font=badge_font, anchor="lm")
        x += w + 24
    draw.text((layout.width - 12, header_mid), details, fill=DIM_TEXT, font=font(14), anchor="rm")
    letter_font = font(20, bold=True)
    for spec, box in zip(specs, layout.boxes, strict=True):
        letters = spec.letters()
        mid_x = box.left + box.width / 2
        mid_y = box.top + box.height / 2
        rows_top = HEADER_PX + PROGRESS_PX
        draw.text(
            (box.left, rows_top + TOP_ROW_PX / 2),
            spec.name,
            fill=DIM_TEXT,
            font=font(15),
            anchor="lm",
        )
        _centred_text(draw, (mid_x, box.top - 14), letters["top"], fill=TEXT, font=letter_font)
        _centred_text(
            draw,
            (mid_x, box.top + box.height + 14),
            letters["bottom"],
            fill=TEXT,
            font=letter_font,
        )
        _centred_text(
            draw, (box.left - GUTTER_PX / 2, mid_y), letters["left"], fill=TEXT, font=letter_font
        )
        _centred_text(
            draw,
            (box.left + box.width + GUTTER_PX / 2, mid_y),
            letters["right"],
            fill=TEXT,
            font=letter_font,
        )
    return np.asarray(image, dtype=np.uint8).copy()


class FrameRenderer:
    """Compose the frames of one video from a display volume.

    Parameters
    ----------
    volume : DisplayVolume
        Image data in RAS+ order.
    window : (float, float)
        Intensity limits mapped to black and white for every frame.
    title, details : str
        Header text (BIDS entities; image facts).
    badges : sequence of str
        Short warnings drawn as boxes in the header (e.g. ``"OBLIQUE 12.0°"``).
    display, sweep, frame_width, interpolation
        See :class:`neurovid.render.RenderOptions`.
    luma : {"full", "video"}
        Grey levels 0–255, or H.264 video-range luma 16–235 (what the encoder takes).
    """

    def __init__(
        self,
        volume: DisplayVolume,
        window: tuple[float, float],
        *,
        title: str,
        details: str,
        badges: Sequence[str] = (),
        display: str = "neurological",
        sweep: str = "together",
        frame_width: int = 1280,
        interpolation: str = "linear",
        luma: str = "full",
    ) -> None:
        if luma not in ("full", "video"):
            raise ValueError(f"luma must be 'full' or 'video', not {luma!r}")
        # "video": frames are drawn directly in H.264's 16–235 luma range, so the encoder
        # takes them as they are (no conversion pass in ffmpeg)
        self.luma = luma
        self._lut = video_range_lut() if luma == "video" else np.arange(256, dtype=np.uint8)
        self._levels = (VIDEO_BLACK, VIDEO_WHITE) if luma == "video" else (0, 255)
        self._black, self._progress, self._active = (
            int(self._lut[v]) for v in (0, PROGRESS, ACTIVE)
        )
        self.volume = volume
        self.window = window
        self.specs = panel_specs(display)
        self.sweep = sweep
        self.layout = compute_layout(volume.shape, volume.voxel_sizes_mm, self.specs, frame_width)
        self.indices = sweep_indices(volume.shape, sweep)
        self._header = (title, details, tuple(badges))
        self._resample = Image.BILINEAR if interpolation == "linear" else Image.NEAREST
        self._labels = GlyphStrip(14, BOTTOM_ROW_PX - 4, level=DIM_TEXT, lut=self._lut)

    # The two costly preparations wait for the first frame, so that a caller can start the
    # encoder (which needs only ``layout``) while they run.
    @functools.cached_property
    def volume_u8(self) -> np.ndarray:
        """The display volume windowed once to uint8; per frame only slices are cut."""
        volume_u8 = np.empty(self.volume.shape, dtype=np.uint8)
        for x in range(0, self.volume.shape[0], 16):
            volume_u8[x : x + 16] = to_uint8(
                self.volume.data[x : x + 16], self.window, self._levels
            )
        return volume_u8

    @functools.cached_property
    def background(self) -> np.ndarray:
        """Everything static (header, titles, letters), rasterised once."""
        title, details, badges = self._header
        return self._lut[draw_background(self.layout, self.specs, title, details, badges)]

    @property
    def n_frames(self) -> int:
        """Number of frames in the video."""
        return int(self.indices.shape[0])

    @property
    def poster_index(self) -> int:
        """The frame shown as poster: mid-sweep, i.e. every panel near mid-volume."""
        if self.sweep == "together":
            return self.n_frames // 2
        x_frames = self.volume.shape[0]
        return x_frames // 2

    def panel_image(self, panel: int, index: int) -> np.ndarray:
        """Slice ``index`` of ``panel`` as uint8, scaled to its box."""
        spec, box = self.specs[panel], self.layout.boxes[panel]
        plane = np.ascontiguousarray(spec.cut(self.volume_u8, index))
        resized = Image.fromarray(plane).resize((box.width, box.height), self._resample)
        return np.asarray(resized)

    def position_text(self, panel: int, index: int) -> tuple[str, str]:
        """World position and number of slice ``index``, e.g. ``("x = +12.0 mm", "111/197")``.

        ``index`` counts slices of the (possibly cropped) display volume; the number shown
        is that of the whole volume, 1-based.
        """
        axis = self.specs[panel].slice_axis
        position = self.volume.world_position_mm(axis, index)
        number = index + self.volume.offset[axis] + 1
        return (
            f"{AXIS_NAMES[axis]} = {format_mm(position)} mm",
            f"{number}/{self.volume.whole_shape[axis]}",
        )

    def planes(self) -> list[dict[str, Any]]:
        """What a player needs to know each panel's slice and position at every frame.

        One dict per panel (sagittal, coronal, axial): ``plane``, ``axis`` (``x``/``y``/
        ``z``), ``slices`` (of the whole volume), ``first`` (0-based index, in the whole
        volume, of the first slice shown), ``count`` (slices shown), ``start_mm`` and
        ``step_mm`` (slice ``first + i`` is at ``start_mm + i * step_mm``). With
        :func:`sweep_indices` of the ``count`` of x, y, z and the sweep mode, the slice of
        each panel at any frame follows.
        """
        records = []
        for spec in self.specs:
            axis = spec.slice_axis
            start, step = self.volume.slice_positions_mm(axis)
            records.append(
                {
                    "plane": spec.name.lower(),
                    "axis": AXIS_NAMES[axis],
                    "slices": int(self.volume.whole_shape[axis]),
                    "first": int(self.volume.offset[axis]),
                    "count": int(self.volume.shape[axis]),
                    "start_mm": start,
                    "step_mm": step,
                }
            )
        return records

    def label_regions(self, panel: int) -> tuple[slice, slice, slice]:
        """Rows, and the columns of the position and of the slice number, below ``panel``.

        The position is drawn left-aligned in the first, the number right-aligned in the
        second (each clipped to it); a reader of the video finds them there.
        """
        box = self.layout.boxes[panel]
        half = max(0, box.width // 2 - 14)  # the bottom letter sits in between
        top = box.top + box.height + 2
        return (
            slice(top, top + self._labels.height),
            slice(box.left, box.left + half),
            slice(box.left + box.width - half, box.left + box.width),
        )

    def _draw_labels(self, frame: np.ndarray, panel: int, index: int) -> None:
        """Position below the panel's left half, slice number below its right half."""
        box = self.layout.boxes[panel]
        rows, position_cols, number_cols = self.label_regions(panel)
        half = position_cols.stop - position_cols.start
        frame[rows, position_cols] = self._black
        frame[rows, number_cols] = self._black
        position, number = (self._labels.render(t) for t in self.position_text(panel, index))
        position = position[:, :half]
        number = number[:, -half:] if half else number[:, :0]
        frame[rows, box.left : box.left + position.shape[1]] = position
        frame[rows, box.left + box.width - number.shape[1] : box.left + box.width] = number

    def frame(self, frame_index: int) -> np.ndarray:
        """Frame ``frame_index`` as a new uint8 (height, width) grey image."""
        return self._draw(self.background.copy(), frame_index, previous=None)

    def _draw(self, frame: np.ndarray, frame_index: int, previous: np.ndarray | None):
        """Draw the moving parts of frame ``frame_index`` into ``frame``.

        ``previous`` holds the slice indices already drawn in ``frame``; panels whose slice
        did not change (shorter axes repeat slices) are left as they are.
        """
        slice_indices = self.indices[frame_index]
        for panel, box in enumerate(self.layout.boxes):
            spec = self.specs[panel]
            index = int(slice_indices[spec.slice_axis])
            if previous is not None and previous[spec.slice_axis] == index:
                continue
            frame[box.top : box.top + box.height, box.left : box.left + box.width] = (
                self.panel_image(panel, index)
            )
            self._draw_labels(frame, panel, index)
        if self.sweep == "sequential":
            for panel, box in enumerate(self.layout.boxes):
                moving = self._is_moving(frame_index, panel)
                frame[box.top - 3 : box.top - 1, box.left : box.left + box.width] = (
                    self._active if moving else self._black
                )
        done = round(self.layout.width * (frame_index + 1) / self.n_frames)
        frame[HEADER_PX : HEADER_PX + PROGRESS_PX, :done] = self._progress
        frame[HEADER_PX : HEADER_PX + PROGRESS_PX, done:] = self._black
        return frame

    def _is_moving(self, frame_index: int, panel: int) -> bool:
        axis = self.specs[panel].slice_axis
        start = sum(self.volume.shape[:axis])
        return start <= frame_index < start + self.volume.shape[axis]

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame in order. One buffer is reused: copy a frame to keep it."""
        frame = self.background.copy()
        previous = None
        for frame_index in range(self.n_frames):
            yield self._draw(frame, frame_index, previous)
            previous = self.indices[frame_index]
