"""Cheap image-quality measures and flags of one image, computed while it is rendered.

Everything here works on the display volume that the renderer has already loaded (RAS+:
array axes point to the subject's Right, Anterior and Superior; see
:mod:`neurovid.orientation`), with numpy only, on three grids:

* the *working grid*: every other voxel along axes finer than ~1.4 mm (a ~2 mm grid; no
  averaging, so the noise in air keeps its Rayleigh distribution);
* the *coarse grid*: 2x2x2 blocks of the working grid (~4 mm), where the head mask lives;
* the *sample*: one working voxel per coarse block (``work[::2, ::2, ::2]``), aligned with
  the coarse grid, for statistics that need values, not every value.

No registration, no segmentation: a head mask from the image alone, and a handful of
measures chosen because each catches one failure a reviewer must see. Each measure is
defined once, in :data:`MEASURES` (name, unit, definition, which direction is worse, how
the study level compares it); ``docs/quality.md`` shows the same table (a test keeps them
equal). Each flag is defined once, in :data:`FLAGS`. :func:`measure_quality` returns a
:class:`QualityReport`, stored in the sidecar under ``quality``.

Morphology (erosion, dilation, connected component, hole filling) is written here in a few
lines of numpy (6-connectivity) rather than taken from ``scipy.ndimage``: scipy is not a
dependency of neurovid, and on the ~4 mm coarse grid numpy is fast enough.
"""

from __future__ import annotations

import functools
import gzip
import io
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

__all__ = [
    "FLAGS",
    "FLAG_IDS",
    "MEASURES",
    "MEASURE_NAMES",
    "QUALITY_VERSION",
    "Flag",
    "FlagSpec",
    "Measure",
    "QualityReport",
    "measure_quality",
]

#: Version of the definitions below; bump it when a definition or threshold changes.
QUALITY_VERSION = 1


# --------------------------------------------------------------------------------------------
# Definitions: measures and flags (one place; docs/quality.md shows the same tables)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One quality measure: what it is, in which unit, and how a study compares it.

    Attributes
    ----------
    name : str
        Column name in the sidecar and the group file (snake_case).
    label : str
        Short name for the review page.
    unit : str
        Unit of the value (``"1"`` for a pure number).
    worse : {"high", "low"}
        Which direction suggests a problem (the attention score counts only that side).
    definition : str
        What is computed.
    log : bool
        Compare across images on a log scale (ratios such as SNR span decades).
    min_spread : float
        Smallest spread (in the compared scale) the robust z-score divides by, so that a
        measure that is the same in every clean image still gives a finite z.
    typical, bad : float or None
        Absolute levels for studies too small for z-scores: at ``typical`` an image is
        unremarkable, at ``bad`` it is as far out as a robust z of 3. None: no absolute
        scale (the measure depends too much on the scanner and protocol).
    """

    name: str
    label: str
    unit: str
    worse: str
    definition: str
    log: bool = False
    min_spread: float = 0.0
    typical: float | None = None
    bad: float | None = None


MEASURES: tuple[Measure, ...] = (
    Measure(
        "fov_contact_pct",
        "FOV contact",
        "%",
        "high",
        "How much of the head touches the edge of the field of view, at the worst of its "
        "superior, anterior, posterior, left and right faces (not the inferior face: necks "
        "are cut). For one face: the area of the head mask in the outermost slice, as a "
        "percentage of the head's largest cross-section parallel to that face; on the four "
        "side faces only the upper 110 mm of the head count (chins and necks often touch). "
        "0 when there is air all around the head.",
        min_spread=2.0,
        typical=2.0,
        bad=10.0,
    ),
    Measure(
        "wrap_pct",
        "Wrap-around",
        "%",
        "high",
        "Signal that continues across opposite faces of the field of view, as phase "
        "wrap-around makes it: along each axis, the area where both outermost slices hold "
        "head-level signal, the head touches one of them and the two look alike (no more "
        "different than neighbouring slices), as a percentage of the head's largest "
        "cross-section; the worst axis.",
        min_spread=1.0,
        typical=2.0,
        bad=10.0,
    ),
    Measure(
        "orientation_fit",
        "Orientation fit",
        "1",
        "low",
        "Overlap (soft Dice, 0-1) between the head mask as the header orients it (peeled by "
        "8 mm of scalp and skull) and the MNI152 brain mask shipped with neurovid (8 mm "
        "cells), after aligning the tops of both and matching their width; only the upper "
        "140 mm (template scale) are compared, so a neck does not count.",
        min_spread=0.02,
        typical=0.75,
        bad=0.5,
    ),
    Measure(
        "orientation_gap",
        "Orientation gap",
        "1",
        "high",
        "How much better the best other axis assignment fits the template than the "
        "header's: the best soft Dice over the 48 axis permutations and flips, left-right "
        "mirrors taken as one (shape cannot tell them apart), minus `orientation_fit`. "
        "Below 0 when the header's assignment fits best.",
        min_spread=0.01,
        typical=-0.01,
        bad=0.01,
    ),
    Measure(
        "snr",
        "SNR",
        "1",
        "low",
        "Signal-to-noise ratio: the mean of the bright class of head voxels (Otsu split "
        "inside the head) divided by the noise σ. σ is measured in the air outside the "
        "head mask dilated by 10 mm, preferably where nothing is in line with the head "
        "along any axis: median / 1.1774, the median of a Rayleigh distribution, since "
        "magnitude images have Rayleigh noise in air. n/a when the air is zero-filled "
        "(masked, skull-stripped or synthetic images).",
        log=True,
        min_spread=0.1,
        typical=20.0,
        bad=8.0,
    ),
    Measure(
        "cnr",
        "CNR",
        "1",
        "low",
        "Contrast-to-noise ratio: the difference of the bright and dark class means of "
        "head voxels (Otsu split) divided by the noise σ (as for `snr`). n/a when the air "
        "is zero-filled.",
        log=True,
        min_spread=0.1,
    ),
    Measure(
        "ghost_pct",
        "Ghosting",
        "%",
        "high",
        "Structured signal in the air beside the head along one axis, where motion ghosts "
        "and other phase-encoding artefacts land: for each axis, the mean intensity of the "
        "air that is in line with the head along that axis only, minus the mean of the air "
        "in line with the head along no axis (or, without such air, the Rayleigh mean "
        "1.2533 σ), as a percentage of the bright-tissue mean; the worst axis.",
        min_spread=0.2,
        typical=0.3,
        bad=1.0,
    ),
    Measure(
        "background_pct",
        "Background",
        "%",
        "high",
        "Mean intensity of the air far from the head (as for `snr`), above the image's "
        "minimum, as a percentage of the bright-tissue mean: noise, a k-space spike's "
        "offset and anything else that should not be there.",
        min_spread=0.5,
    ),
    Measure(
        "spike_ratio",
        "Spike",
        "1",
        "high",
        "Strongest isolated peak in the image's spatial-frequency spectrum: the Fourier "
        "magnitude of the sample grid (mean removed, edges tapered by a Tukey window so that "
        "a head cut by the field of view adds no ridge), divided by the median magnitude at "
        "the same spatial frequency, maximised over frequencies above 20 % of Nyquist. A "
        "k-space spike (a herringbone pattern over the whole image) makes one frequency "
        "stand out by 50-800; clean images give 5-20.",
        log=True,
        min_spread=0.15,
        typical=15.0,
        bad=40.0,
    ),
    Measure(
        "efc",
        "EFC",
        "1",
        "high",
        "Entropy focus criterion (Atkinson et al. 1997, as in MRIQC) over the sample grid: "
        "the Shannon entropy of the voxel intensities, each divided by the square root of "
        "the sum of squares, divided by its largest possible value (0-1). Motion blurring "
        "and ghosting spread the energy of the image and raise it.",
        min_spread=0.01,
    ),
    Measure(
        "sharpness",
        "Sharpness",
        "1/mm",
        "low",
        "Steepness of the sharpest edges inside the head: the 95th percentile of the "
        "intensity gradient magnitude (forward differences on the working grid, per mm) in "
        "the head eroded by ~4 mm, divided by the difference of the bright and dark tissue "
        "means. Motion and blurring lower it; noise raises it.",
        min_spread=0.02,
    ),
    Measure(
        "inu_pct",
        "Non-uniformity",
        "%",
        "high",
        "Intensity non-uniformity proxy: the head within its upper 110 mm, eroded by 16 mm "
        "(scalp, skull and fat go), is cut into 3x3x3 blocks; each block's level is the "
        "90th percentile of its voxels (its brightest tissue); a linear function of the "
        "block's left-right and anterior-posterior position is fitted to the log levels (a "
        "bias field is smooth, anatomy is not; superior-inferior is left out because there "
        "anatomy itself changes the brightest tissue from white matter to cortex); the value "
        "is 100 x (max / min - 1) of the fitted field over the blocks.",
        min_spread=3.0,
        typical=15.0,
        bad=60.0,
    ),
    Measure(
        "tissue_contrast",
        "Contrast",
        "1",
        "low",
        "Contrast within the head: (bright - dark) / (bright + dark) of the means of the "
        "two Otsu classes of head voxels, above the image's minimum (Michelson contrast, "
        "0-1).",
        min_spread=0.02,
    ),
)

MEASURE_NAMES: tuple[str, ...] = tuple(m.name for m in MEASURES)
MEASURES_BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}

#: Flag thresholds (the rules in :data:`FLAGS` quote them).
CUT_PCT = 10.0
WRAP_PCT = 10.0
ORIENTATION_GAP = 0.01
ORIENTATION_MIN_FIT = 0.6
LOW_SNR = 8.0
GHOST_PCT = 1.0
SPIKE_RATIO = 40.0
INU_PCT = 75.0

FACES: tuple[str, ...] = ("superior", "anterior", "posterior", "left", "right")
_FACE_AXIS = {"left": (0, 0), "right": (0, -1), "posterior": (1, 0), "anterior": (1, -1)}
_FACE_AXIS["superior"] = (2, -1)
_AXIS_NAMES = ("left-right", "anterior-posterior", "superior-inferior")


@dataclass(frozen=True)
class FlagSpec:
    """One kind of flag: its id, short label for the page, and when it is raised."""

    id: str
    label: str
    rule: str


FLAGS: tuple[FlagSpec, ...] = (
    *(
        FlagSpec(
            f"head_cut_{face}",
            f"cut {face}",
            f"the head mask covers ≥ {CUT_PCT:g} % of the head's cross-section in the {face} "
            "edge slice of the field of view (see `fov_contact_pct`), and no wrap-around "
            "along that axis explains it",
        )
        for face in FACES
    ),
    FlagSpec("wrap_around", "wrap-around", f"`wrap_pct` ≥ {WRAP_PCT:g}"),
    FlagSpec(
        "orientation",
        "orientation?",
        f"another axis assignment fits the template better by ≥ {ORIENTATION_GAP:g} "
        f"(`orientation_gap`) and fits it well (soft Dice ≥ {ORIENTATION_MIN_FIT:g}); not "
        "judged when the head is cut at the top (the comparison aligns the tops)",
    ),
    FlagSpec(
        "low_snr",
        "low SNR",
        f"`snr` < {LOW_SNR:g}, or no head stands out of the background at all",
    ),
    FlagSpec("ghosting", "ghosting?", f"`ghost_pct` ≥ {GHOST_PCT:g}"),
    FlagSpec("spike", "spike", f"`spike_ratio` ≥ {SPIKE_RATIO:g}"),
    FlagSpec("nonuniform", "non-uniform", f"`inu_pct` ≥ {INU_PCT:g}"),
)

FLAG_IDS: tuple[str, ...] = tuple(f.id for f in FLAGS)
FLAGS_BY_ID: dict[str, FlagSpec] = {f.id: f for f in FLAGS}


# --------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """A raised flag: its id (one of :data:`FLAG_IDS`) and a one-line reason."""

    id: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "reason": self.reason}


@dataclass(frozen=True)
class QualityReport:
    """The ``quality`` record of a sidecar.

    Attributes
    ----------
    metrics : dict of str to float or None
        One value per name of :data:`MEASURE_NAMES` (None: not measurable here).
    flags : list of Flag
        Raised flags, in the order of :data:`FLAGS`.
    version : int
        :data:`QUALITY_VERSION` of the definitions used.

    No timing is recorded: the same image must give a byte-identical sidecar (the CPU cost
    is measured by ``benchmarks/bench_triage.py``).
    """

    metrics: dict[str, float | None]
    flags: list[Flag] = field(default_factory=list)
    version: int = QUALITY_VERSION

    def to_json(self) -> dict[str, Any]:
        """JSON-ready mapping: ``{"version", "metrics", "flags"}``."""
        return {
            "version": self.version,
            "metrics": {name: self.metrics.get(name) for name in MEASURE_NAMES},
            "flags": [flag.to_json() for flag in self.flags],
        }

    @classmethod
    def from_json(cls, data: Any) -> QualityReport | None:
        """The record from a sidecar's ``quality`` value; None if missing or malformed.

        Unknown metrics are ignored, non-finite or non-numeric values become None, flags
        without a string id are dropped and reasons are made one line: a hand-edited or
        older sidecar never breaks a reader.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("metrics"), Mapping):
            return None
        raw_metrics = data["metrics"]
        metrics = {name: _finite(raw_metrics.get(name)) for name in MEASURE_NAMES}
        flags = []
        raw_flags = data.get("flags")
        for item in raw_flags if isinstance(raw_flags, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("id"), str) and item["id"]:
                reason = " ".join(str(item.get("reason") or "").split())[:500]
                flags.append(Flag(" ".join(item["id"].split())[:100], reason))
        version = data.get("version")
        return cls(
            metrics=metrics,
            flags=flags,
            version=version if isinstance(version, int) and not isinstance(version, bool) else 0,
        )


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _round(value: float | None, digits: int = 4) -> float | None:
    """4 significant digits (enough for triage; keeps sidecars byte-stable and short)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


# --------------------------------------------------------------------------------------------
# Morphology in numpy (6-connectivity; beyond the array's edge counts as a copy of the edge)
# --------------------------------------------------------------------------------------------


def _erode(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Binary erosion by the 6-neighbour cross, `iterations` times."""
    out = mask
    for _ in range(iterations):
        src, out = out, out.copy()
        for axis in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(1, None), slice(None, -1)
            out[tuple(lo)] &= src[tuple(hi)]
            out[tuple(hi)] &= src[tuple(lo)]
    return out


def _dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Binary dilation by the 6-neighbour cross, `iterations` times."""
    out = mask
    for _ in range(iterations):
        src, out = out, out.copy()
        for axis in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(1, None), slice(None, -1)
            out[tuple(lo)] |= src[tuple(hi)]
            out[tuple(hi)] |= src[tuple(lo)]
    return out


def _run_ids(allowed: np.ndarray, axis: int) -> np.ndarray:
    """Label each run of `allowed` voxels along `axis` with its own id (0 outside runs)."""
    moved = np.moveaxis(allowed, axis, -1)
    starts = np.array(moved, order="C")
    starts[..., 1:] &= ~moved[..., :-1]
    ids = np.cumsum(starts, axis=None, dtype=np.int32).reshape(moved.shape)
    ids *= moved
    return np.ascontiguousarray(np.moveaxis(ids, -1, axis))


def _spread(allowed: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 6-connected components of `allowed` that contain a seed.

    Whole runs along x, y and z are filled at once (each run labelled once), so a head
    takes a handful of sweeps rather than one dilation per voxel of its diameter.
    """
    ids = [_run_ids(allowed, axis) for axis in range(3)]
    n_ids = [int(i.max()) + 1 for i in ids]
    reached = seeds & allowed
    count = int(reached.sum())
    while True:
        for axis in range(3):
            hit = np.zeros(n_ids[axis], dtype=bool)
            hit[ids[axis][reached]] = True
            hit[0] = False
            reached = hit[ids[axis]]
        new_count = int(reached.sum())
        if new_count == count:
            return reached
        count = new_count


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 6-connected component, searched from seeds near the mask's centre."""
    total = int(mask.sum())
    best = np.zeros_like(mask)
    remaining = mask.copy()
    while remaining.any() and best.sum() * 2 < total and best.sum() < remaining.sum():
        core = _erode(remaining, 2)
        points = np.argwhere(core if core.any() else remaining)
        centre = np.argwhere(remaining).mean(axis=0)
        seed = np.zeros_like(mask)
        seed[tuple(points[np.argmin(((points - centre) ** 2).sum(axis=1))])] = True
        component = _spread(remaining, seed)
        if component.sum() > best.sum():
            best = component
        remaining &= ~component
    return best


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """`mask` plus every region of background that does not reach the array's border."""
    if not mask.any():
        return mask
    box = np.argwhere(mask)
    lo = np.maximum(box.min(axis=0) - 1, 0)
    hi = np.minimum(box.max(axis=0) + 2, mask.shape)
    where = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    inner = mask[where]  # everything outside this box reaches the border anyway
    border = np.zeros_like(inner)
    border[[0, -1], :, :] = True
    border[:, [0, -1], :] = True
    border[:, :, [0, -1]] = True
    filled = mask.copy()
    filled[where] = ~_spread(~inner, border)
    return filled


# --------------------------------------------------------------------------------------------
# Numeric helpers
# --------------------------------------------------------------------------------------------

_RAYLEIGH_MEDIAN = math.sqrt(2 * math.log(2))  # of a Rayleigh variable with σ = 1
_RAYLEIGH_MEAN = math.sqrt(math.pi / 2)
_RAYLEIGH_SD = math.sqrt(2 - math.pi / 2)
_RAYLEIGH_P25 = math.sqrt(-2 * math.log(0.75))


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1-D sample (the split maximising between-class variance)."""
    low, high = float(values.min()), float(values.max())
    if not high > low:
        return low
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts, dtype=np.float64)
    weighted = np.cumsum(counts * centres)
    w_low, w_high = weight[:-1], weight[-1] - weight[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_low = weighted[:-1] / w_low
        mean_high = (weighted[-1] - weighted[:-1]) / w_high
        between = np.nan_to_num(w_low * w_high * (mean_low - mean_high) ** 2, nan=-1.0)
    return float(edges[1 + int(np.argmax(between))])


def _block_mean(work: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """Mean over blocks of `factors` voxels (edge blocks average the voxels they have)."""
    shape = [-(-n // f) for n, f in zip(work.shape, factors, strict=True)]
    total = np.zeros(shape, dtype=np.float32)
    for offsets in itertools.product(*(range(f) for f in factors)):
        part = work[tuple(slice(o, None, f) for o, f in zip(offsets, factors, strict=True))]
        total[: part.shape[0], : part.shape[1], : part.shape[2]] += part
    counts = [
        np.minimum(f, n - np.arange(s) * f).astype(np.float32)
        for n, f, s in zip(work.shape, factors, shape, strict=True)
    ]
    total /= counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    return total


# --------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------

TEMPLATE_FILE = "data/mni152_brain_8mm.nii.gz"
DEPTH_MM = 140.0  # compare the upper part of the head only (template scale)
ORIENTATION_PEEL_MM = 8.0  # scalp and skull off before comparing with a brain


@dataclass(frozen=True)
class _Template:
    """The template brain in a frame that aligns with any candidate orientation.

    ``local[i, j, k]`` is the fraction of brain in the 8 mm cell at ``i - n`` cells to the
    side and ``j - n`` cells to the front of the in-plane centroid, and ``k + 0.5`` cells
    below the top of the brain, within the upper ``depth_mm``. Left-right is symmetric (the
    2009a template is), so flipping ``j`` or swapping ``i`` and ``j`` is exact.
    """

    cell_mm: float
    half: int  # n: cells either side of the centroid
    local: np.ndarray
    radius_mm: float  # in-plane radius of gyration of the upper depth_mm


@functools.lru_cache(maxsize=2)
def _template(depth_mm: float = DEPTH_MM) -> _Template:
    """The shipped MNI152 brain mask (made by tools/build_template_mask.py), prepared."""
    from nibabel import Nifti1Image

    raw = resources.files("neurovid").joinpath(TEMPLATE_FILE).read_bytes()
    image = Nifti1Image.from_stream(io.BytesIO(gzip.decompress(raw)))
    occupancy = np.asarray(image.dataobj, dtype=np.float64) / 255.0
    cell = float(image.affine[0, 0])
    origin = np.asarray(image.affine[:3, 3], dtype=np.float64)
    coords = origin + np.indices(occupancy.shape).reshape(3, -1).T * cell
    weights = occupancy.ravel()
    top = float(coords[weights >= 0.5, 2].max() + cell / 2)
    upper = weights * (coords[:, 2] >= top - depth_mm)
    centre = (coords[:, :2] * upper[:, None]).sum(axis=0) / upper.sum()
    radius = math.sqrt(
        float((((coords[:, :2] - centre) ** 2).sum(axis=1) * upper).sum() / upper.sum())
    )
    half = int(math.ceil(max(occupancy.shape[:2]) / 2)) + 2
    depth_cells = int(math.ceil(depth_mm / cell))
    offsets = np.arange(-half, half + 1) * cell
    grid = np.meshgrid(
        centre[0] + offsets,
        centre[1] + offsets,
        top - (np.arange(depth_cells) + 0.5) * cell,
        indexing="ij",
    )
    local = _trilinear(occupancy, [(g - o) / cell for g, o in zip(grid, origin, strict=True)])
    return _Template(cell, half, local.astype(np.float32), radius)


def _trilinear(volume: np.ndarray, index: Sequence[np.ndarray]) -> np.ndarray:
    """`volume` at fractional voxel indices (0 outside)."""
    out = np.zeros(index[0].shape)
    base = [np.floor(i).astype(np.intp) for i in index]
    frac = [i - b for i, b in zip(index, base, strict=True)]
    for corner in itertools.product((0, 1), repeat=3):
        where = [b + c for b, c in zip(base, corner, strict=True)]
        valid = np.ones(out.shape, dtype=bool)
        for w, n in zip(where, volume.shape, strict=True):
            valid &= (w >= 0) & (w < n)
        weight = np.ones(out.shape)
        for f, c in zip(frac, corner, strict=True):
            weight *= f if c else 1 - f
        clipped = [np.clip(w, 0, n - 1) for w, n in zip(where, volume.shape, strict=True)]
        out += np.where(valid, volume[tuple(clipped)], 0.0) * weight
    return out


# --------------------------------------------------------------------------------------------
# The head
# --------------------------------------------------------------------------------------------

WORK_MM = 2.0
HEAD_FRACTION = 0.1  # of the robust maximum: below every tissue of a T1w/T2w head, above air


@dataclass
class _Head:
    """What the measures share."""

    work: np.ndarray  # working grid (float32, RAS+)
    work_mm: np.ndarray  # its voxel sizes, mm
    factors: tuple[int, int, int]  # coarse block size, working voxels
    coarse_mm: np.ndarray  # coarse voxel sizes, mm
    sample: np.ndarray  # work[::f0, ::f1, ::f2]: one working voxel per coarse block
    floor: float  # the image's minimum
    top: float  # its 99th percentile
    sigma_border: float  # Rayleigh σ of the air at the border of the field of view
    threshold: float  # air/head intensity on the working grid
    mask: np.ndarray  # head mask on the coarse grid


def _working_copy(data: np.ndarray, voxel_mm: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Every n-th voxel along each axis so that voxels are ~2 mm (float32, C order)."""
    steps = [max(1, round(WORK_MM / float(v) + 0.25)) for v in voxel_mm]
    work = np.array(data[:: steps[0], :: steps[1], :: steps[2]], dtype=np.float32, order="C")
    return work, np.asarray(voxel_mm, dtype=np.float64) * steps


def _border_sigma(work: np.ndarray, floor: float) -> float:
    """Noise σ from the outermost two slices of every face, as a Rayleigh variable.

    The 25th percentile is used, so the estimate holds while the head covers up to three
    quarters of those slices.
    """
    border = np.concatenate(
        [np.take(work, [0, 1, n - 2, n - 1], axis=a).ravel() for a, n in enumerate(work.shape)]
    )
    return max(0.0, float(np.percentile(border, 25)) - floor) / _RAYLEIGH_P25


def _find_head(work: np.ndarray, work_mm: np.ndarray) -> _Head:
    """Head mask: threshold a ~4 mm block average, open by ~8 mm, keep the largest
    component, fill its holes.

    The threshold is 10 % of the robust maximum (below every tissue of a T1w or T2w head,
    above air), raised if needed to 5 standard deviations above the mean of air in the
    block average, so that noise stays out even of very noisy images.
    """
    flat = work.ravel()
    sample_1d = flat[:: max(1, flat.size // 200_000)]
    floor = float(work.min())
    top = float(np.percentile(sample_1d, 99.0))
    sigma = _border_sigma(work, floor)
    factors = tuple(2 if mm < 3.0 else 1 for mm in work_mm)
    coarse = _block_mean(work, factors)
    n_block = math.prod(factors)
    coarse_threshold = floor + max(
        HEAD_FRACTION * (top - floor),
        sigma * (_RAYLEIGH_MEAN + 5.0 * _RAYLEIGH_SD / math.sqrt(n_block)),
    )
    mask = coarse > coarse_threshold
    # opening by ~8 mm: noise specks, thin strands and burned-in markers go; a head that
    # continues beyond the field of view is far wider than that and stays
    coarse_mm = work_mm * factors
    radius = max(1, round(8.0 / float(coarse_mm.min())))
    mask = _dilate(_erode(mask, radius), radius)
    mask = _fill_holes(_largest_component(mask))
    return _Head(
        work=work,
        work_mm=work_mm,
        factors=factors,  # type: ignore[arg-type]
        coarse_mm=coarse_mm,
        sample=work[:: factors[0], :: factors[1], :: factors[2]],
        floor=floor,
        top=top,
        sigma_border=sigma,
        threshold=floor + max(HEAD_FRACTION * (top - floor), 3.0 * sigma),
        mask=mask,
    )


def _upper(mask: np.ndarray, coarse_mm: np.ndarray, depth_mm: float) -> np.ndarray:
    """`mask` within `depth_mm` of its highest voxel (z)."""
    z_filled = np.flatnonzero(mask.any(axis=(0, 1)))
    out = mask.copy()
    if z_filled.size:
        lowest = z_filled[-1] - round(depth_mm / float(coarse_mm[2]))
        if lowest > 0:
            out[:, :, :lowest] = False
    return out


# --------------------------------------------------------------------------------------------
# The measures
# --------------------------------------------------------------------------------------------


def _fov_contact(head: _Head) -> dict[str, float]:
    """Contact percentage per face (see ``fov_contact_pct``)."""
    upper = _upper(head.mask, head.coarse_mm, 110.0)
    areas = {
        0: upper.sum(axis=(1, 2)),
        1: upper.sum(axis=(0, 2)),
        2: head.mask.sum(axis=(0, 1)),
    }
    contact = {}
    for face in FACES:
        axis, index = _FACE_AXIS[face]
        largest = float(areas[axis].max())
        contact[face] = 100.0 * float(areas[axis][index]) / largest if largest else 0.0
    return contact


def _wrap(head: _Head) -> dict[int, float]:
    """Wrap-around percentage per axis (see ``wrap_pct``)."""
    work, threshold = head.work, head.threshold
    result = {}
    for axis in range(3):
        n, f = work.shape[axis], head.factors[axis]
        result[axis] = 0.0
        if n < 6:
            continue
        first, second, before_last, last = (np.take(work, i, axis=axis) for i in (0, 1, -2, -1))
        others = [a for a in range(3) if a != axis]
        touching = np.take(head.mask, [0, -1], axis=axis).any(axis=axis)
        touching = np.repeat(touching, head.factors[others[0]], axis=0)
        touching = np.repeat(touching, head.factors[others[1]], axis=1)
        touching = touching[: first.shape[0], : first.shape[1]]
        both = (first > threshold) & (last > threshold) & touching
        if not both.any():
            continue
        across = float(np.mean(np.abs(first[both] - last[both])))
        within = (
            float(
                np.mean(
                    np.abs(first[both] - second[both]) + np.abs(last[both] - before_last[both])
                )
            )
            / 2
        )
        if across > 1.5 * within:
            continue  # two different things touch the two faces: not one wrapped object
        largest = float(head.mask.sum(axis=tuple(a for a in range(3) if a != axis)).max())
        largest *= math.prod(head.factors) / f  # coarse cells → working voxels in a slice
        result[axis] = 100.0 * float(both.sum()) / largest if largest else 0.0
    return result


@dataclass
class _Background:
    sigma: float | None  # Rayleigh σ of the noise; None if the air is zero-filled
    air_mean: float | None  # mean of the reference air above the floor
    ghost: float | None  # worst axis: mean excess over the reference air


def _background(head: _Head, bright: float) -> _Background:
    """Noise σ, air level and ghosting, from the sample grid (see ``snr``, ``ghost_pct``)."""
    around = _dilate(head.mask, max(1, round(10.0 / float(head.coarse_mm.min()))))
    in_line = [np.broadcast_to(around.any(axis=a, keepdims=True), around.shape) for a in range(3)]
    sample = head.sample
    air = ~around
    if int(air.sum()) < 200:
        return _Background(None, None, None)
    corners = air & ~in_line[0] & ~in_line[1] & ~in_line[2]
    use_corners = int(corners.sum()) >= 200
    reference = sample[corners] if use_corners else sample[air]
    air_mean = float(reference.mean()) - head.floor
    sigma: float | None = (float(np.median(reference)) - head.floor) / _RAYLEIGH_MEDIAN
    if float(np.mean(reference <= head.floor)) > 0.5 or sigma < 1e-3 * (bright - head.floor):
        sigma = None  # zero-filled air (masked, skull-stripped, synthetic): no noise to measure
    noise_mean = air_mean if use_corners or sigma is None else sigma * _RAYLEIGH_MEAN
    ghost = None
    for axis in range(3):
        others = [in_line[a] for a in range(3) if a != axis]
        region = air & in_line[axis] & ~others[0] & ~others[1]
        if int(region.sum()) < 50:
            continue
        excess = float(sample[region].mean()) - head.floor - noise_mean
        ghost = excess if ghost is None else max(ghost, excess)
    return _Background(sigma, air_mean, ghost)


def _tissue_classes(head: _Head) -> tuple[float, float]:
    """Means of the dark and bright Otsu classes of head voxels (above the floor)."""
    values = head.sample[head.mask] - head.floor
    if values.size < 10:
        return math.nan, math.nan
    split = _otsu(values)
    dark, bright = values[values <= split], values[values > split]
    if dark.size == 0 or bright.size == 0:
        return float(values.mean()), float(values.mean())
    return float(dark.mean()), float(bright.mean())


def _sharpness(head: _Head, contrast: float) -> float | None:
    """95th percentile of the gradient magnitude in the eroded head / contrast (1/mm)."""
    if not contrast > 0:
        return None
    work, f = head.work, head.factors
    if min(work.shape) < 2:
        return None
    # forward differences at one working voxel per coarse block (the sample's positions)
    ends = [n - 1 for n in work.shape]
    base = work[: ends[0] : f[0], : ends[1] : f[1], : ends[2] : f[2]]
    grad2 = np.zeros(base.shape, dtype=np.float32)
    for axis in range(3):
        where = [slice(0, ends[a], f[a]) for a in range(3)]
        where[axis] = slice(1, work.shape[axis], f[axis])
        diff = (work[tuple(where)] - base) / np.float32(head.work_mm[axis])
        grad2 += diff * diff
    core = _erode(head.mask, 1)[: base.shape[0], : base.shape[1], : base.shape[2]]
    if core.sum() < 20:
        return None
    return float(np.sqrt(np.percentile(grad2[core], 95))) / contrast


def _efc(sample: np.ndarray, floor: float) -> float | None:
    """Entropy focus criterion (see ``efc``)."""
    values = (sample - floor).ravel().astype(np.float64)
    values = values[values > 0]
    n = sample.size
    if values.size == 0 or n < 2:
        return None
    ratio = values / math.sqrt(float(np.dot(values, values)))
    entropy = -float(np.dot(ratio, np.log(ratio)))
    return entropy / (math.sqrt(n) * math.log(math.sqrt(n)))


def _spike_ratio(sample: np.ndarray) -> float | None:
    """Strongest isolated spectral peak above 20 % of Nyquist (see ``spike_ratio``)."""
    if min(sample.shape) < 8:
        return None
    volume = sample.astype(np.float32)
    volume -= volume.mean()
    # a Tukey window (10 % taper at each end of each axis): a head cut by the field of view
    # is a step at the array's edge, which the periodic Fourier transform would see as a
    # broad ridge of energy
    for axis, n in enumerate(volume.shape):
        taper = max(1, n // 10)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(taper) + 0.5) / taper)
        window = np.ones(n, dtype=np.float32)
        window[:taper], window[n - taper :] = ramp, ramp[::-1]
        shape = [1, 1, 1]
        shape[axis] = n
        volume *= window.reshape(shape)
    magnitude = np.abs(np.fft.rfftn(volume))
    freqs = [np.fft.fftfreq(n) for n in volume.shape[:2]] + [np.fft.rfftfreq(volume.shape[2])]
    radius = 2.0 * np.sqrt(
        freqs[0][:, None, None] ** 2 + freqs[1][None, :, None] ** 2 + freqs[2][None, None, :] ** 2
    )  # 1 = Nyquist along one axis
    shell = np.minimum((radius * 20).astype(np.int32), 20)
    # frequencies on the three axis planes are left out: edges of the field of view and
    # structures constant along one axis (e.g. burned-in markers) put energy there
    on_plane = (freqs[0] == 0)[:, None, None] | (freqs[1] == 0)[None, :, None]
    on_plane = on_plane | (freqs[2] == 0)[None, None, :]
    high = (radius > 0.2) & ~on_plane
    ratio = 0.0
    for index in np.unique(shell[high]):
        values = magnitude[high & (shell == index)]
        median = float(np.median(values))
        if median > 0:
            ratio = max(ratio, float(values.max()) / median)
    return ratio or None


def _inu(head: _Head) -> float | None:
    """Non-uniformity (see ``inu_pct``)."""
    core = _erode(
        _upper(head.mask, head.coarse_mm, 110.0), max(1, round(16.0 / float(head.coarse_mm.min())))
    )
    core = core[: head.sample.shape[0], : head.sample.shape[1], : head.sample.shape[2]]
    if core.sum() < 27:
        return None
    box = np.argwhere(core)
    lo, hi = box.min(axis=0), box.max(axis=0) + 1
    edges = [np.linspace(lo[a], hi[a], 4).round().astype(int) for a in range(3)]
    levels, positions = [], []
    for block in itertools.product(range(3), repeat=3):
        where = tuple(slice(edges[a][b], edges[a][b + 1]) for a, b in enumerate(block))
        values = head.sample[where][core[where]]
        if values.size >= 20:
            levels.append(float(np.percentile(values, 90)) - head.floor)
            positions.append([block[0] - 1, block[1] - 1])
    level_array = np.asarray(levels)
    if len(levels) < 8 or np.any(level_array <= 0):
        return None
    design = np.column_stack([np.ones(len(levels)), np.asarray(positions, dtype=np.float64)])
    coef, *_ = np.linalg.lstsq(design, np.log(level_array), rcond=None)
    fitted = design @ coef
    return 100.0 * (math.exp(float(fitted.max() - fitted.min())) - 1.0)


# --------------------------------------------------------------------------------------------
# Orientation
# --------------------------------------------------------------------------------------------

_DIRECTION_WORDS = (("left", "right"), ("posterior", "anterior"), ("inferior", "superior"))


@dataclass(frozen=True)
class _Candidate:
    """An axis assignment: which display axis (and sign) is the anatomy's up and front."""

    up_axis: int
    up_sign: int
    front_axis: int
    front_sign: int

    @property
    def is_header(self) -> bool:
        return (self.up_axis, self.up_sign, self.front_axis, self.front_sign) == (2, 1, 1, 1)

    def describe(self) -> str:
        """How the anatomy relates to the header's labels, in words."""
        if self.up_axis == 2 and self.front_axis == 1:
            flipped = [
                name
                for name, sign in (
                    ("anterior-posterior", self.front_sign),
                    ("superior-inferior", self.up_sign),
                )
                if sign < 0
            ]
            return " and ".join(flipped) + " flipped"
        up = _DIRECTION_WORDS[self.up_axis][self.up_sign > 0]
        front = _DIRECTION_WORDS[self.front_axis][self.front_sign > 0]
        return f"the header's {up} being superior and its {front} anterior"


#: 24 candidates; each stands for itself and its left-right mirror (48 assignments in all).
_CANDIDATES = tuple(
    _Candidate(up, up_sign, front, front_sign)
    for up in range(3)
    for up_sign in (1, -1)
    for front in range(3)
    if front != up
    for front_sign in (1, -1)
)


def _orientation_fits(head: _Head, depth_mm: float = DEPTH_MM) -> dict[_Candidate, float]:
    """Soft Dice with the template for each candidate (see ``orientation_fit``).

    For each of the 6 choices of "up", the head (peeled of scalp and skull) is cut at
    `depth_mm` below its top (at template scale), scaled to the template's width, centred
    in-plane and binned into the template's local 8 mm frame once; the 4 choices of "front"
    are then transposes and flips of that grid.
    """
    template = _template(depth_mm)
    peel = max(1, round(ORIENTATION_PEEL_MM / float(head.coarse_mm.min())))
    mask = _erode(head.mask, peel)
    if mask.sum() < 200:
        mask = head.mask
    idx = np.argwhere(mask)
    if idx.shape[0] < 50:
        return {}
    step = max(1, idx.shape[0] // 12_000)
    coords = (idx[::step] + 0.5) * head.coarse_mm
    point_volume = float(np.prod(head.coarse_mm)) * idx.shape[0] / coords.shape[0]
    local = template.local
    n, depth_cells = template.half, local.shape[2]
    target_sum = float(local.sum())
    fits = {}
    for up_axis, up_sign in itertools.product(range(3), (1, -1)):
        height = coords[:, up_axis] * up_sign
        depth = height.max() - height
        p, q = (a for a in range(3) if a != up_axis)
        scale, keep = 1.0, depth <= depth_mm
        for _ in range(2):  # match widths, then re-cut at the template's depth
            if keep.sum() < 20:
                break
            radius = math.sqrt(float(coords[keep, p].var() + coords[keep, q].var()))
            if radius <= 0:
                break
            scale = template.radius_mm / radius
            keep = depth * scale <= depth_mm
        if keep.sum() < 20:
            continue
        to_cells = scale / template.cell_mm
        u = np.rint((coords[keep, p] - coords[keep, p].mean()) * to_cells).astype(np.intp) + n
        v = np.rint((coords[keep, q] - coords[keep, q].mean()) * to_cells).astype(np.intp) + n
        k = np.minimum((depth[keep] * to_cells).astype(np.intp), depth_cells - 1)
        inside = (u >= 0) & (u <= 2 * n) & (v >= 0) & (v <= 2 * n)
        flat = np.ravel_multi_index((u[inside], v[inside], k[inside]), local.shape)
        weight = point_volume * scale**3 / template.cell_mm**3
        grid = np.bincount(flat, minlength=local.size).reshape(local.shape) * weight
        denominator = float(keep.sum()) * weight + target_sum
        swapped = grid.transpose(1, 0, 2)
        for front_axis, front_sign, arranged in (
            (q, 1, grid),
            (q, -1, grid[:, ::-1]),
            (p, 1, swapped),
            (p, -1, swapped[:, ::-1]),
        ):
            overlap = float(np.minimum(arranged, local).sum())
            fits[_Candidate(up_axis, up_sign, front_axis, front_sign)] = 2 * overlap / denominator
    return fits


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def measure_quality(data: np.ndarray, voxel_sizes_mm: Sequence[float]) -> QualityReport:
    """Quality measures and flags of one image.

    Parameters
    ----------
    data : numpy.ndarray
        3-D display volume in RAS+ order (``DisplayVolume.data``, usually a view of the
        loaded image; it is not modified), finite values.
    voxel_sizes_mm : sequence of float
        Voxel sizes along x, y and z of `data` (mm).

    Returns
    -------
    QualityReport
        A value for each of :data:`MEASURES` (None where not measurable), rounded to 4
        significant digits, and the raised :data:`FLAGS`.
    """
    work, work_mm = _working_copy(data, voxel_sizes_mm)
    head = _find_head(work, work_mm)
    metrics: dict[str, float | None] = dict.fromkeys(MEASURE_NAMES)
    flags: list[Flag] = []

    def report() -> QualityReport:
        rounded = {name: _round(value) for name, value in metrics.items()}
        return QualityReport(rounded, flags)

    metrics["spike_ratio"] = _spike_ratio(head.sample)
    if not head.mask.any():
        # nothing stands out of the background: pure noise, or an empty image
        if head.sigma_border > 0:
            metrics["snr"] = (head.top - head.floor) / head.sigma_border
        flags.append(Flag("low_snr", "no head found: nothing stands out of the background"))
        return report()

    dark, bright = _tissue_classes(head)
    background = _background(head, bright + head.floor)
    contact = _fov_contact(head)
    wrap = _wrap(head)
    fits = _orientation_fits(head)

    metrics["fov_contact_pct"] = max(contact.values())
    metrics["wrap_pct"] = max(wrap.values())
    header_fit = fits.get(_Candidate(2, 1, 1, 1))
    best = max(fits, key=lambda c: (fits[c], c.is_header), default=None)
    if header_fit is not None:
        metrics["orientation_fit"] = header_fit
        metrics["orientation_gap"] = (
            max(f for c, f in fits.items() if not c.is_header) - header_fit
        )
    if bright > 0:
        if background.air_mean is not None:
            metrics["background_pct"] = 100.0 * background.air_mean / bright
        if background.sigma:
            metrics["snr"] = bright / background.sigma
            metrics["cnr"] = (bright - dark) / background.sigma
        if background.ghost is not None:
            metrics["ghost_pct"] = 100.0 * background.ghost / bright
        metrics["tissue_contrast"] = (bright - dark) / (bright + dark)
    metrics["sharpness"] = _sharpness(head, bright - dark)
    metrics["efc"] = _efc(head.sample, head.floor)
    metrics["inu_pct"] = _inu(head)

    wrapped = {axis for axis, pct in wrap.items() if pct >= WRAP_PCT}
    for face in FACES:
        if contact[face] >= CUT_PCT and _FACE_AXIS[face][0] not in wrapped:
            flags.append(
                Flag(
                    f"head_cut_{face}",
                    f"head cut off at the {face} edge of the field of view (the head mask "
                    f"covers {contact[face]:.0f} % of its cross-section there)",
                )
            )
    if wrapped:
        axes = " and ".join(_AXIS_NAMES[a] for a in sorted(wrapped))
        flags.append(
            Flag(
                "wrap_around",
                f"wrap-around along {axes}: the head continues across opposite edges of the "
                f"field of view ({max(wrap.values()):.0f} % of its cross-section)",
            )
        )
    gap = metrics["orientation_gap"]
    if (
        best is not None
        and header_fit is not None
        and contact["superior"] < CUT_PCT  # a cut top misaligns the comparison: no verdict
        and not best.is_header
        and gap is not None
        and gap >= ORIENTATION_GAP
        and fits[best] >= ORIENTATION_MIN_FIT
    ):
        flags.append(
            Flag(
                "orientation",
                f"orientation labels look wrong: the anatomy fits {best.describe()} better "
                f"(template overlap {fits[best]:.2f} vs {header_fit:.2f}; left and right "
                "cannot be told from shape)",
            )
        )
    snr = metrics["snr"]
    if snr is not None and snr < LOW_SNR:
        flags.append(Flag("low_snr", f"low signal-to-noise ratio (SNR {snr:.1f} < {LOW_SNR:g})"))
    ghost = metrics["ghost_pct"]
    if ghost is not None and ghost >= GHOST_PCT:
        flags.append(
            Flag(
                "ghosting",
                f"structured signal in the air beside the head ({ghost:.1f} % of the tissue "
                "level): motion ghosts, or other signal that is not anatomy (e.g. markers)",
            )
        )
    spike = metrics["spike_ratio"]
    if spike is not None and spike >= SPIKE_RATIO:
        flags.append(
            Flag(
                "spike",
                f"one spatial frequency stands out {spike:.0f}× above its neighbours: a "
                "herringbone pattern (k-space spike?)",
            )
        )
    inu = metrics["inu_pct"]
    if inu is not None and inu >= INU_PCT:
        flags.append(
            Flag(
                "nonuniform",
                f"strong intensity non-uniformity: the brightest tissue varies {inu:.0f} % "
                "across the head",
            )
        )
    return report()


def quality_record(data: np.ndarray, voxel_sizes_mm: Sequence[float]) -> dict[str, Any]:
    """The sidecar's ``quality`` value: :func:`measure_quality` as JSON, never raising.

    A failure of the measures (a bug, an image they cannot handle) must not cost the
    video: it gives every metric None, no flag, and ``error`` saying what went wrong.
    ``MemoryError`` still propagates (the job is retried with more memory).
    """
    try:
        return measure_quality(data, voxel_sizes_mm).to_json()
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded, the render goes on
        record = QualityReport(dict.fromkeys(MEASURE_NAMES)).to_json()
        record["error"] = f"quality measures failed: {type(exc).__name__}: {exc}"[:300]
        return record


# --------------------------------------------------------------------------------------------
# Documentation (docs/quality.md shows these tables; tests/unit/test_quality.py keeps them equal)
# --------------------------------------------------------------------------------------------


def measures_markdown() -> str:
    """The Markdown table of :data:`MEASURES`, as ``docs/quality.md`` shows it."""
    rows = [
        "| measure | unit | worse | definition | study scale | typical → bad (small studies) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in MEASURES:
        scale = f"log, min spread {m.min_spread:g}" if m.log else f"min spread {m.min_spread:g}"
        levels = f"{m.typical:g} → {m.bad:g}" if m.bad is not None else "—"
        rows.append(f"| `{m.name}` | {m.unit} | {m.worse} | {m.definition} | {scale} | {levels} |")
    return "\n".join(rows) + "\n"


def flags_markdown() -> str:
    """The Markdown table of :data:`FLAGS`, as ``docs/quality.md`` shows it."""
    rows = ["| flag | badge | raised when |", "| --- | --- | --- |"]
    rows += [f"| `{f.id}` | {f.label} | {f.rule} |" for f in FLAGS]
    return "\n".join(rows) + "\n"
