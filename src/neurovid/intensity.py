"""One intensity window for a whole video, chosen so that the brain gets the grey range.

Two methods (``RenderOptions.window``):

``"brain"`` (default)
    The window is set from the brain, not from everything in the field of view, so that
    bright scalp fat, neck, marrow or vessels cannot squeeze grey and white matter into a
    few dark grey levels:

    1. a coarse **head mask** (:func:`head_mask`) on a ~3 mm subsample of the display
       volume: voxels above half of Otsu's threshold, filled along the three axes;
    2. the **brain core**: the head mask eroded by 15 mm (scalp, skull and most fat lie
       within that depth), keeping only the top 100 mm of the head (leaves out the neck and
       the face of scans that include them). Both depths shrink for small heads;
    3. the **white-matter peak** ``W``: the most common intensity among the brighter half of
       the core's voxels (the mode of a smoothed histogram above the core's median). In a
       T1w image white matter is the largest bright tissue there; fat, vessels and marrow
       are brighter but far fewer, so they move percentiles but not this mode. Voxels at
       the image's maximum (clipped, or burned-in markers) are left out unless they are a
       quarter of the core or more (a noise-free image);
    4. ``low`` is the 0.5th percentile of all voxels (the background level, so noise and
       ghosts outside the head stay visible as dark grey) and ``high`` puts ``W`` at
       :data:`WHITE_LEVEL` (80 %) of the grey range. Grey matter then falls in the middle
       of the range and anything brighter than 1.25 ``W`` (fat) is white. If that would
       clip more than 5 % of the brain core (a receive-coil bias that makes the cortex near
       the coil much brighter than the centre), ``W`` goes down to where 5 % clip, but not
       below 60 % grey, so a core with much fat still cannot squeeze the brain. An image with no
       noise at all outside the head (skull-stripped or zero-filled, such as the MNI
       template) has nothing to show below the brain: there ``low`` is the 1st percentile
       of the brain core (its darkest CSF), which gives grey and white matter more levels.

    If no core can be found (an image that is not a head), the ``"percentiles"`` method
    is used and the sidecar says so.

``"percentiles"``
    The earlier rule: the ``percentiles`` (default 0.5 and 99.5) of the head voxels
    (everything brighter than 2 % of the range) become black and white.

Either way there is one window per video, so frames never flicker. NaN and Inf are
ignored. Everything here is plain numpy on a subsample (a few tens of ms for a 256³
volume): scipy.ndimage would do the morphology too, but importing it costs ~0.3 s per
render job, a third of a whole render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Voxels below this fraction of the (min → 99.9th percentile) range count as background
#: (``"percentiles"`` method).
BACKGROUND_FRACTION = 0.02
#: Target spacing (mm) of the subsample the head mask is computed on.
SAMPLE_MM = 3.0
#: The head mask keeps voxels above this fraction of Otsu's threshold.
HEAD_FRACTION = 0.5
#: Depth (mm) below the head's surface where the brain core starts.
CORE_DEPTH_MM = 15.0
#: The brain core keeps this many mm below the top of the head.
CORE_HEIGHT_MM = 100.0
#: Grey level (fraction of the range) given to the white-matter peak.
WHITE_LEVEL = 0.8
#: ... unless more than this share (%) of the brain core would then be clipped white, in
#: which case the peak goes down, but not below :data:`MIN_WHITE_LEVEL`.
MAX_CLIPPED_PERCENT = 5.0
MIN_WHITE_LEVEL = 0.6
#: Fewer core voxels than this and the ``"brain"`` method gives up.
MIN_CORE_VOXELS = 200

WINDOW_METHODS = ("brain", "percentiles")


@dataclass(frozen=True)
class Window:
    """The display window of one video.

    Attributes
    ----------
    low, high : float
        Intensities (image units) drawn black and white; ``high > low``.
    method : str
        The method that chose them: ``"brain"`` or ``"percentiles"`` (also when
        ``"brain"`` was asked for but fell back).
    white_peak : float or None
        The white-matter peak ``W`` (``"brain"`` method), in image units.
    """

    low: float
    high: float
    method: str
    white_peak: float | None = None

    @property
    def limits(self) -> tuple[float, float]:
        """``(low, high)``."""
        return self.low, self.high


@dataclass(frozen=True)
class HeadMask:
    """A coarse head mask of a display volume, on a regular subsample of its voxels.

    Attributes
    ----------
    mask : numpy.ndarray
        bool array on the subsample grid: voxel ``i`` of the grid is voxel
        ``i * step`` of the volume. Thresholded and filled.
    solid : numpy.ndarray
        ``mask`` without isolated samples (specks of noise): the bounding box's.
    step : (int, int, int)
        Subsample step along x, y, z, in voxels.
    voxel_sizes_mm : (float, float, float)
        Spacing of the subsample grid in mm.
    volume_shape : (int, int, int)
        Shape of the full volume.
    threshold : float
        Intensity above which a voxel counted as head (before filling).
    """

    mask: np.ndarray
    solid: np.ndarray
    step: tuple[int, int, int]
    voxel_sizes_mm: tuple[float, float, float]
    volume_shape: tuple[int, int, int]
    threshold: float

    def bounding_box(self, margin_mm: float = 0.0) -> tuple[tuple[int, int], ...] | None:
        """Voxel range ``(start, stop)`` along x, y, z of the volume that holds the head.

        Parameters
        ----------
        margin_mm : float
            Background kept around the head on every side (clipped to the volume), in mm.

        Returns
        -------
        tuple of (int, int), or None
            Half-open ranges of full-volume voxel indices; None if the mask is empty.
        """
        if not self.solid.any():
            return None
        ranges = []
        for axis in range(3):
            other = tuple(a for a in range(3) if a != axis)
            present = np.flatnonzero(self.solid.any(axis=other))
            step = self.step[axis]
            full_mm = self.voxel_sizes_mm[axis] / step  # full-volume voxel size
            margin = int(np.ceil(margin_mm / full_mm))
            start = max(0, int(present[0]) * step - margin)
            stop = min(self.volume_shape[axis], (int(present[-1]) + 1) * step + margin)
            ranges.append((start, stop))
        return tuple(ranges)


def _subsample(
    data: np.ndarray, voxel_sizes_mm: Sequence[float], target_mm: float = SAMPLE_MM
) -> tuple[np.ndarray, tuple[int, int, int], tuple[float, float, float]]:
    """Every n-th voxel along each axis so the spacing is about ``target_mm``; float32 copy."""
    step = tuple(max(1, int(round(target_mm / max(float(v), 1e-6)))) for v in voxel_sizes_mm)
    sample = np.asarray(data[:: step[0], :: step[1], :: step[2]], dtype=np.float32)
    spacing = tuple(float(v) * s for v, s in zip(voxel_sizes_mm, step, strict=True))
    return sample, step, spacing  # type: ignore[return-value]


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut that best splits ``values`` into two classes.

    Parameters
    ----------
    values : numpy.ndarray
        Finite intensities (any shape).
    bins : int
        Histogram bins between the minimum and maximum.

    Returns
    -------
    float
        A threshold in the units of ``values`` (the midpoint of the histogram for a
        constant input).
    """
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist, dtype=np.float64)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(hist * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = mass_low / weight_low
        mean_high = (mass_low[-1] - mass_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    if between.size == 0 or between.max() <= 0:
        return float(centres[len(centres) // 2])
    return float(edges[int(np.argmax(between)) + 1])


def _min_filter(mask: np.ndarray, radius: Sequence[int], outside: bool) -> np.ndarray:
    """Erosion of a bool array by a box of half-widths ``radius`` (voxels) per axis.

    ``outside`` is the value assumed beyond the array's edges.
    """
    out = mask
    for axis, r in enumerate(radius):
        if r <= 0:
            continue
        source, out = out, out.copy()
        n = out.shape[axis]
        for shift in range(1, min(r, n) + 1):
            low = [slice(None)] * 3
            high = [slice(None)] * 3
            low[axis], high[axis] = slice(0, n - shift), slice(shift, n)
            out[tuple(low)] &= source[tuple(high)]
            out[tuple(high)] &= source[tuple(low)]
        if not outside:
            edge = [slice(None)] * 3
            edge[axis] = slice(0, min(r, n))
            out[tuple(edge)] = False
            edge[axis] = slice(max(0, n - r), n)
            out[tuple(edge)] = False
    return out if out is not mask else mask.copy()


def _has_face_neighbour(mask: np.ndarray) -> np.ndarray:
    """True where at least one of the six face neighbours is in ``mask``."""
    out = np.zeros_like(mask)
    for axis in range(3):
        n = mask.shape[axis]
        low = [slice(None)] * 3
        high = [slice(None)] * 3
        low[axis], high[axis] = slice(0, n - 1), slice(1, n)
        out[tuple(low)] |= mask[tuple(high)]
        out[tuple(high)] |= mask[tuple(low)]
    return out


def _fill_along_axes(mask: np.ndarray) -> np.ndarray:
    """Voxels enclosed by ``mask`` along all three axes, plus ``mask`` itself.

    Fills ventricles, sinuses and dark brain that a threshold leaves out, the way
    ``scipy.ndimage.binary_fill_holes`` would for these shapes, at a fraction of its cost.
    """
    inside = np.ones_like(mask)
    for axis in range(3):
        forward = np.logical_or.accumulate(mask, axis=axis)
        backward = np.flip(np.logical_or.accumulate(np.flip(mask, axis), axis=axis), axis)
        inside &= forward & backward
    return inside | mask


def head_mask(
    data: np.ndarray, voxel_sizes_mm: Sequence[float], fraction: float = HEAD_FRACTION
) -> HeadMask:
    """A coarse mask of the head (or whatever object the image holds).

    Parameters
    ----------
    data : numpy.ndarray
        3-D volume (the display volume: axes x, y, z = R, A, S). NaN/Inf are ignored.
    voxel_sizes_mm : sequence of float
        Voxel size along each axis of ``data``, in mm.
    fraction : float
        Voxels above ``fraction`` × Otsu's threshold count as head before filling.

    Returns
    -------
    HeadMask
        Mask on a ~3 mm subsample: thresholded and filled along the three axes.
    """
    sample, step, spacing = _subsample(data, voxel_sizes_mm)
    finite = np.isfinite(sample)
    values = sample[finite]
    shape = tuple(int(n) for n in data.shape[:3])
    if values.size == 0:
        empty = np.zeros(sample.shape, bool)
        return HeadMask(empty, empty, step, spacing, shape, 0.0)  # type: ignore[arg-type]
    low, high = np.percentile(values, [0.5, 99.5])
    threshold = fraction * otsu_threshold(np.clip(values, low, high))
    filled = _fill_along_axes(finite & (sample > threshold))
    # specks of noise outside the head must not widen its bounding box, but a thin part of
    # the head (nose, ear, a marker) must not be cut off either: samples with no neighbour
    # sharing a face go, anything of two connected samples or more stays
    solid = filled & _has_face_neighbour(filled)
    if not solid.any():  # a one-sample object
        solid = filled
    return HeadMask(filled, solid, step, spacing, shape, float(threshold))  # type: ignore[arg-type]


def brain_core(head: HeadMask) -> np.ndarray:
    """The deep, upper part of the head mask where the brain is; bool, on the subsample grid.

    The head mask eroded by :data:`CORE_DEPTH_MM` and cut :data:`CORE_HEIGHT_MM` below the
    top of the head (z is superior). For a head smaller than an adult's both shrink (to 15 %
    of its smallest extent, and 70 % of its height), so the core is never empty for lack of
    size.
    """
    mask = head.mask
    if not mask.any():
        return mask
    extents_mm = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(mask.any(axis=other))
        extents_mm.append((present[-1] - present[0] + 1) * head.voxel_sizes_mm[axis])
    depth_mm = min(CORE_DEPTH_MM, 0.15 * min(extents_mm))
    radius = [int(round(depth_mm / v)) for v in head.voxel_sizes_mm]
    core = _min_filter(mask, radius, outside=False)
    top = np.flatnonzero(mask.any(axis=(0, 1)))[-1]
    height_mm = min(CORE_HEIGHT_MM, 0.7 * extents_mm[2])
    bottom = int(top - round(height_mm / head.voxel_sizes_mm[2]))
    core[:, :, : max(0, bottom + 1)] = False
    return core


def white_matter_peak(values: np.ndarray) -> float | None:
    """The most common intensity among the brighter half of ``values``.

    Parameters
    ----------
    values : numpy.ndarray
        Intensities of the brain core (1-D, finite).

    Returns
    -------
    float or None
        The mode, above the median, of a histogram with bins of 1/30 of the interquartile
        range (a multiple of the data's own quantisation step, so integer data gives no
        comb pattern), smoothed by a Gaussian of 1/15 of that range; None if there are too
        few values.
    """
    if values.size < MIN_CORE_VOXELS:
        return None
    low, q1, q3, high = np.percentile(values, [0.5, 25, 75, 99.5])
    spread = q3 - q1 if q3 > q1 else (high - low) / 4
    if not spread > 0:
        return None
    high = min(high, q3 + 4 * spread)  # a long bright tail (vessels, fat) must not coarsen bins
    distinct = np.unique(values[(values >= low) & (values <= high)])
    quantum = float(np.min(np.diff(distinct))) if distinct.size > 1 else spread
    width = quantum * np.ceil(spread / 30 / quantum)
    edges = np.arange(low - width / 2, high + width, width)
    hist, edges = np.histogram(values, bins=edges)
    sigma = max(1.0, spread / 15 / width)
    taps = np.arange(-int(3 * sigma), int(3 * sigma) + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    smooth = np.convolve(hist, kernel / kernel.sum())[taps.size // 2 :][: hist.size]
    centres = (edges[:-1] + edges[1:]) / 2
    brighter = centres >= np.median(values)
    if not brighter.any():
        return None
    return float(centres[brighter][int(np.argmax(smooth[brighter]))])


def window_limits(
    data: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.5), max_samples: int = 200_000
) -> tuple[float, float]:
    """The ``"percentiles"`` window: percentiles of the non-background voxels.

    Parameters
    ----------
    data : numpy.ndarray
        The volume (any shape). NaN and Inf are ignored.
    percentiles : (float, float)
        Low and high percentile (0–100) of the head voxels mapped to black and white.
    max_samples : int
        A regular subsample of at most this many voxels is used, for speed; the window of a
        head does not depend on every voxel.

    Returns
    -------
    (float, float)
        ``(low, high)`` in the image's intensity units, with ``high > low``.
    """
    flat = data.ravel(order="K")  # a view for C- and Fortran-ordered volumes alike
    step = max(1, flat.size // max_samples)
    sample = flat[::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    vmin, vtop = np.percentile(sample, [0.0, 99.9])
    head = sample[sample > vmin + BACKGROUND_FRACTION * (vtop - vmin)]
    if head.size < 100:
        head = sample
    low, high = (float(v) for v in np.percentile(head, percentiles))
    if not high > low:
        low, high = float(sample.min()), float(sample.max())
    if not high > low:
        high = low + 1.0
    return low, high


def brain_window(
    data: np.ndarray, voxel_sizes_mm: Sequence[float], head: HeadMask | None = None
) -> Window | None:
    """The ``"brain"`` window (see the module docstring), or None if there is no brain core.

    Parameters
    ----------
    data : numpy.ndarray
        3-D display volume (axes R, A, S), any dtype; NaN/Inf ignored.
    voxel_sizes_mm : sequence of float
        Voxel size along x, y, z in mm.
    head : HeadMask, optional
        :func:`head_mask` of ``data``, if already computed.
    """
    head = head if head is not None else head_mask(data, voxel_sizes_mm)
    core = brain_core(head)
    if core.sum() < MIN_CORE_VOXELS:
        return None
    sample = np.asarray(data[:: head.step[0], :: head.step[1], :: head.step[2]])
    everything = sample[np.isfinite(sample)]
    values = sample[core].astype(np.float64)
    values = values[np.isfinite(values)]
    # a minority of voxels at the very top of the range is clipped or burned in (markers,
    # text), not tissue; a majority there is a noise-free image whose brightest tissue it is
    at_max = values >= everything.max()
    if at_max.mean() < 0.25:
        values = values[~at_max]
    peak = white_matter_peak(values)
    if peak is None:
        return None
    low = float(np.percentile(everything, 0.5))
    # the air more than two samples (~6 mm) away from the head: past partial-volume edges
    near_head = ~_min_filter(~head.mask, (2, 2, 2), outside=True)
    outside = sample[~near_head]
    if not np.any(outside[np.isfinite(outside)] > low):
        # no noise at all around the head (skull-stripped or zero-filled): nothing to see
        # below the brain, so black moves up to its darkest tissue
        low = max(low, float(np.percentile(values, 1.0)))
    if not peak > low:
        return None
    # W at 80 % grey; lower (down to 60 %) when the brain's own bright edge would be clipped:
    # a receive-coil bias can make the cortex near the coil far brighter than the centre
    bright_brain = float(np.percentile(values, 100 - MAX_CLIPPED_PERCENT))
    high = min(
        max(low + (peak - low) / WHITE_LEVEL, bright_brain),
        low + (peak - low) / MIN_WHITE_LEVEL,
    )
    return Window(low, float(high), "brain", peak)


def choose_window(
    data: np.ndarray,
    voxel_sizes_mm: Sequence[float],
    method: str = "brain",
    percentiles: tuple[float, float] = (0.5, 99.5),
    head: HeadMask | None = None,
) -> Window:
    """The display window of a volume by ``method`` (``"brain"`` or ``"percentiles"``).

    ``"brain"`` falls back to ``"percentiles"`` when the image has no brain core; the
    returned :attr:`Window.method` says which rule was used.
    """
    if method not in WINDOW_METHODS:
        raise ValueError(f"window must be one of {', '.join(WINDOW_METHODS)}, not {method!r}")
    if method == "brain":
        window = brain_window(data, voxel_sizes_mm, head)
        if window is not None:
            return window
    low, high = window_limits(data, percentiles)
    return Window(low, high, "percentiles")


#: H.264 "video range" luma: black is 16 and white 235 (what browsers expect).
VIDEO_BLACK, VIDEO_WHITE = 16, 235


def to_uint8(
    image: np.ndarray, limits: tuple[float, float], levels: tuple[int, int] = (0, 255)
) -> np.ndarray:
    """Map ``image`` linearly so that ``limits`` become ``levels`` (clipped), as uint8."""
    low, high = limits
    black, white = levels
    scaled = (np.asarray(image, dtype=np.float32) - np.float32(low)) * np.float32(
        (white - black) / (high - low)
    )
    np.clip(scaled, 0.0, float(white - black), out=scaled)
    scaled += black + 0.5
    return scaled.astype(np.uint8)


def video_range_lut() -> np.ndarray:
    """uint8 lookup table from full-range grey (0–255) to video-range luma (16–235)."""
    full = np.arange(256, dtype=np.float64)
    return np.round(VIDEO_BLACK + full * (VIDEO_WHITE - VIDEO_BLACK) / 255).astype(np.uint8)


def full_range_lut() -> np.ndarray:
    """uint8 lookup table from video-range luma back to full-range grey (clipped)."""
    luma = np.arange(256, dtype=np.float64)
    full = (luma - VIDEO_BLACK) * 255 / (VIDEO_WHITE - VIDEO_BLACK)
    return np.clip(np.round(full), 0, 255).astype(np.uint8)
