"""Clean heads and seeded simulated artefacts for the triage benchmark and tests.

Not part of neurovid: the product measures images, it never makes artefacts. Everything here
works on display volumes (RAS+ arrays, x → Right, y → Anterior, z → Superior) with their
voxel sizes in mm, and every random choice comes from the ``numpy.random.Generator`` passed
in, so a seed gives the same image on every machine.

Artefact kinds (:data:`KINDS`), each a function ``(data, voxel_mm, rng) -> (data, voxel_mm)``:

==============  ======================================================================
kind            simulation
==============  ======================================================================
motion          k-space of the magnitude image: 25-40 % of the phase-encoding lines
                (A-P) taken from a copy of the head moved by 3-8 mm (and 2-5°
                about L-R), in bursts, as a patient who moves now and then
wrap            phase wrap-around: the field of view along A-P made 15-35 mm smaller
                than the head, the part outside folded onto the opposite side (sum)
fov_cut         the array cropped 10-30 mm into the head at its superior, anterior,
                posterior, left or right face (one, at random)
noise           Rician noise with σ = 15-30 % of the head's median tissue level
bias            a smooth multiplicative field, exp of a random linear + quadratic
                polynomial, spanning a factor 1.8-2.6 across the head
spike           one k-space spike (a point at a random frequency between 15 % and 45 %
                of Nyquist per axis): a herringbone pattern over the whole image whose
                amplitude is 6-15 % of the bright-tissue level
flip_ap         anatomy flipped anterior-posterior with the header unchanged
flip_si         anatomy flipped superior-inferior with the header unchanged
==============  ======================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

Volume = tuple[np.ndarray, tuple[float, float, float]]

REAL_T1W = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-t1w"
#: Real scans used as clean bases (04 is really cut by its field of view and 18 carries
#: burned-in L/R markers: neither is clean, both are kept for the flag check instead).
REAL_CLEAN = (
    "03_dcmqa-philips-enh_ADNI_Sag3D_MPRAGE_native.nii.gz",
    "05_dcmqa-xa30_5_anat-T1w_acq-tfl.nii",
    "07_vrd-seg3D_MR_clinical_T1.nii.gz",
    "08_niivue-brainchop_t1_crop_256cube_LIA.nii.gz",
)


# --------------------------------------------------------------------------------------------
# Clean bases
# --------------------------------------------------------------------------------------------


def rician(data: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``|data + n1 + i n2|`` with n1, n2 ~ N(0, sigma²): magnitude MR noise."""
    real = data + rng.normal(0.0, sigma, data.shape).astype(np.float32)
    imag = rng.normal(0.0, sigma, data.shape).astype(np.float32)
    return np.sqrt(real * real + imag * imag, dtype=np.float32)


def bright_level(data: np.ndarray) -> float:
    """98th percentile of the voxels above 10 % of the maximum (bright tissue, roughly)."""
    values = data[data > 0.1 * float(data.max())]
    return float(np.percentile(values, 98))


def head_level(data: np.ndarray) -> float:
    """Median of the voxels above 10 % of the bright level (the head's typical tissue)."""
    return float(np.median(data[data > 0.1 * bright_level(data)]))


def template_head(voxel_mm: float = 1.0) -> Volume:
    """The demo's MNI152 brain (nilearn's wheel), RAS+, resampled to ``voxel_mm`` (linear)."""
    import nibabel as nib

    from neurovid.demo import template_path

    image = nib.as_closest_canonical(nib.load(template_path()))
    data = np.asarray(image.dataobj, dtype=np.float32)
    if voxel_mm != 1.0:
        from scipy import ndimage

        data = ndimage.zoom(data, 1.0 / voxel_mm, order=1, grid_mode=True, mode="grid-constant")
        data = np.clip(data, 0, None).astype(np.float32)
    return data, (voxel_mm, voxel_mm, voxel_mm)


def padded(data: np.ndarray, voxel_mm: tuple[float, float, float], margin_mm: float) -> Volume:
    """The volume with ``margin_mm`` of air added on every face (as a scanner's FOV has)."""
    pads = [(round(margin_mm / v),) * 2 for v in voxel_mm]
    return np.pad(data, pads).astype(np.float32), voxel_mm


def clean_template_bases(seed: int = 0) -> dict[str, Volume]:
    """The template at 1, 1.2, 1.5 and 2 mm: noise-free (as in the demo) and with noise.

    Noisy copies get 20 mm of air around the brain (a scanner's field of view is larger
    than the head) and Rician noise at SNR 60, 40 and 25 of the bright tissue: 16 images,
    a study big enough for robust z-scores.
    """
    rng = np.random.default_rng(seed)
    bases: dict[str, Volume] = {}
    for voxel in (1.0, 1.2, 1.5, 2.0):
        data, vox = template_head(voxel)
        bases[f"mni-{voxel:g}mm"] = (data, vox)
        roomy, vox = padded(data, vox, 20.0)
        level = bright_level(roomy)
        for snr in (60, 40, 25):
            bases[f"mni-{voxel:g}mm-snr{snr}"] = (rician(roomy, level / snr, rng), vox)
    return bases


def real_bases(folder: Path = REAL_T1W) -> dict[str, Volume]:
    """The clean real scans (:data:`REAL_CLEAN`) present in ``folder``, RAS+ (empty if none)."""
    from neurovid.orientation import to_display_volume
    from neurovid.volume import load_volume

    bases: dict[str, Volume] = {}
    for name in REAL_CLEAN:
        path = folder / name
        if path.is_file():
            volume = load_volume(path)
            display = to_display_volume(volume.data, volume.affine)
            bases["real-" + name[:2]] = (
                np.ascontiguousarray(display.data),
                display.voxel_sizes_mm,
            )
    return bases


# --------------------------------------------------------------------------------------------
# Artefacts
# --------------------------------------------------------------------------------------------


def _head_box(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last slice along each axis where the head is (ignoring noise specks).

    A slice belongs to the head if at least 2 % of the largest count of voxels above a
    quarter of the bright level, among slices along that axis, are in it.
    """
    above = data > 0.25 * bright_level(data)
    lo, hi = [], []
    for axis in range(3):
        counts = above.sum(axis=tuple(a for a in range(3) if a != axis))
        inside = np.flatnonzero(counts >= 0.02 * counts.max())
        lo.append(inside[0])
        hi.append(inside[-1])
    return np.array(lo), np.array(hi)


def _kspace(data: np.ndarray) -> np.ndarray:
    return np.fft.fftn(data.astype(np.complex64))


def _image(kspace: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.ifftn(kspace)).astype(np.float32)


def motion(data: np.ndarray, vox: tuple, rng: np.random.Generator) -> Volume:
    """Motion ghosts: bursts of phase-encoding lines (A-P) from a moved head."""
    kspace = _kspace(data)
    ny = data.shape[1]
    shift_mm = rng.uniform(3.0, 8.0) * rng.choice([-1, 1])
    angle = math.radians(rng.uniform(2.0, 5.0) * rng.choice([-1, 1]))
    moved = _rotate_x(data, angle)
    moved_k = _kspace(moved)
    axis = int(rng.choice([1, 2]))  # translate along A-P or S-I
    freq = np.fft.fftfreq(data.shape[axis], d=vox[axis])
    shape = [1, 1, 1]
    shape[axis] = -1
    moved_k *= np.exp(-2j * np.pi * freq * shift_mm).reshape(shape).astype(np.complex64)
    lines = np.zeros(ny, dtype=bool)
    target = rng.uniform(0.25, 0.40) * ny
    while lines.sum() < target:
        start = int(rng.integers(0, ny))
        lines[start : start + int(rng.integers(2, 8))] = True
    kspace[:, lines, :] = moved_k[:, lines, :]
    return _image(kspace), vox


def _rotate_x(data: np.ndarray, angle: float) -> np.ndarray:
    """Rotate about the L-R axis through the centre (linear interpolation)."""
    from scipy import ndimage

    return ndimage.rotate(data, math.degrees(angle), axes=(1, 2), reshape=False, order=1)


def wrap(data: np.ndarray, vox: tuple, rng: np.random.Generator) -> Volume:
    """Wrap-around along A-P: a field of view 15-35 mm shorter than the head, folded."""
    lo, hi = _head_box(data)
    extent = hi[1] - lo[1] + 1
    n = extent - round(rng.uniform(15.0, 35.0) / vox[1])
    start = lo[1] + int(rng.integers(0, extent - n + 1))  # where the new FOV begins
    out = np.zeros((data.shape[0], n, data.shape[2]), dtype=np.float32)
    for y in range(data.shape[1]):
        out[:, (y - start) % n, :] += data[:, y, :]
    return out, vox


FACES = ("superior", "anterior", "posterior", "left", "right")


def fov_cut(data: np.ndarray, vox: tuple, rng: np.random.Generator, face: str | None = None):
    """The array cropped 10-30 mm into the head at one face."""
    face = face or str(rng.choice(FACES))
    axis, high = {
        "left": (0, False),
        "right": (0, True),
        "posterior": (1, False),
        "anterior": (1, True),
        "superior": (2, True),
    }[face]
    lo, hi = _head_box(data)
    depth = round(rng.uniform(10.0, 30.0) / vox[axis])
    where = [slice(None)] * 3
    where[axis] = slice(0, hi[axis] + 1 - depth) if high else slice(lo[axis] + depth, None)
    return np.ascontiguousarray(data[tuple(where)]), vox


def noise(data: np.ndarray, vox: tuple, rng: np.random.Generator) -> Volume:
    """Strong Rician noise (σ 15-30 % of the head's median tissue level)."""
    return rician(data, rng.uniform(0.15, 0.30) * head_level(data), rng), vox


def bias(data: np.ndarray, vox: tuple, rng: np.random.Generator) -> Volume:
    """A smooth multiplicative field spanning a factor 1.8-2.6 across the head."""
    grids = np.meshgrid(
        *(np.linspace(-1, 1, n, dtype=np.float32) for n in data.shape), indexing="ij"
    )
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    field = sum(d * g for d, g in zip(direction, grids, strict=True))
    field = field + 0.5 * rng.normal() * (grids[0] ** 2 + grids[1] ** 2 - grids[2] ** 2)
    inside = data > 0.1 * bright_level(data)
    span = float(field[inside].max() - field[inside].min())
    log_ratio = math.log(rng.uniform(1.8, 2.6))
    gain = np.exp((field - float(field[inside].mean())) * (log_ratio / span))
    return (data * gain).astype(np.float32), vox


def spike(data: np.ndarray, vox: tuple, rng: np.random.Generator) -> Volume:
    """One k-space spike at 15-45 % of Nyquist along each axis."""
    kspace = _kspace(data)
    where = []
    for n in data.shape:
        k = round(rng.uniform(0.15, 0.45) * n / 2) * int(rng.choice([-1, 1]))
        where.append(k % n)
    # a point of height h in k-space is a plane wave of amplitude h / N in the image
    amplitude = rng.uniform(0.06, 0.15) * bright_level(data)
    kspace[tuple(where)] += amplitude * data.size
    return _image(kspace), vox


def flip_ap(data: np.ndarray, vox: tuple, rng: np.random.Generator) -> Volume:
    """Anatomy flipped anterior-posterior, header unchanged."""
    return np.ascontiguousarray(data[:, ::-1, :]), vox


def flip_si(data: np.ndarray, vox: tuple, rng: np.random.Generator) -> Volume:
    """Anatomy flipped superior-inferior, header unchanged."""
    return np.ascontiguousarray(data[:, :, ::-1]), vox


KINDS: dict[str, Callable[..., Volume]] = {
    "motion": motion,
    "wrap": wrap,
    "fov_cut": fov_cut,
    "noise": noise,
    "bias": bias,
    "spike": spike,
    "flip_ap": flip_ap,
    "flip_si": flip_si,
}

#: The flag that should catch each kind (``head_cut`` stands for any ``head_cut_*``).
MATCHING_FLAG = {
    "motion": "ghosting",
    "wrap": "wrap_around",
    "fov_cut": "head_cut",
    "noise": "low_snr",
    "bias": "nonuniform",
    "spike": "spike",
    "flip_ap": "orientation",
    "flip_si": "orientation",
}
