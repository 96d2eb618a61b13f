"""One intensity window for a whole video, so frames never flicker."""

from __future__ import annotations

import numpy as np

#: Voxels below this fraction of the (min → 99.9th percentile) range count as background.
BACKGROUND_FRACTION = 0.02


def window_limits(
    data: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.5), max_samples: int = 200_000
) -> tuple[float, float]:
    """Robust display window from percentiles of the non-background voxels.

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
