"""BIDS file names: entities parsed without pybids (cheap enough for every render job).

The workflow gets each image's entities from pybids; these functions serve the standalone
renderer, which gets a bare path: a BIDS-shaped name (``sub-01_ses-1_T1w.nii.gz``) gives its
entities, anything else gives none — nothing is made up from a name like
``05_xa30_anat-T1w_acq-tfl.nii`` — and only a file inside a dataset's ``sub-<label>/``
folder (of its own subject) gets a BIDS source path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath

#: pybids entity names for the BIDS keys of anatomical file names, in BIDS order.
ENTITY_KEYS = {
    "sub": "subject",
    "ses": "session",
    "task": "task",
    "acq": "acquisition",
    "ce": "ceagent",
    "rec": "reconstruction",
    "run": "run",
    "echo": "echo",
    "flip": "flip",
    "inv": "inv",
    "mt": "mt",
    "part": "part",
    "chunk": "chunk",
}
ENTITY_ORDER = tuple(ENTITY_KEYS.values())
_PAIR = re.compile(r"^([a-zA-Z]+)-([a-zA-Z0-9]+)$")
#: ``sub-<label>``, then ``key-<value>`` pairs, then a suffix (BIDS' file-name grammar).
_BIDS_STEM = re.compile(r"^sub-[a-zA-Z0-9]+(?:_[a-zA-Z]+-[a-zA-Z0-9]+)*_[a-zA-Z0-9]+$")
#: Image extensions a BIDS name may carry (NIfTI) or a standalone input may have (nibabel).
IMAGE_EXTENSIONS = (".nii.gz", ".nii", ".mgz", ".mgh", ".hdr", ".img")


def strip_nifti_suffix(name: str) -> str:
    """``sub-01_T1w.nii.gz`` → ``sub-01_T1w`` (also ``.nii``)."""
    for extension in (".nii.gz", ".nii"):
        if name.endswith(extension):
            return name[: -len(extension)]
    return PurePath(name).stem


def is_bids_name(path: str | PurePath) -> bool:
    """True for a BIDS-shaped image name: ``sub-<label>[_key-<value>…]_<suffix>.<ext>``."""
    name = PurePath(path).name
    extension = next((e for e in IMAGE_EXTENSIONS if name.lower().endswith(e)), None)
    if extension is None:
        return False
    return bool(_BIDS_STEM.match(name[: -len(extension)]))


def dataset_relative_path(path: str | PurePath) -> str | None:
    """The path from the image's ``sub-<label>`` folder on, if it is inside a BIDS dataset.

    That is: the name is BIDS-shaped and a folder above it is ``sub-<label>`` of the same
    subject (``…/sub-01/[ses-1/]anat/sub-01_…_T1w.nii.gz``). Otherwise None: a standalone
    file, whose sidecar gets no ``bids:`` source.
    """
    parts = PurePath(path).parts
    if not parts or not is_bids_name(parts[-1]):
        return None
    subject = parts[-1].split("_", 1)[0]
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == subject:
            return "/".join(parts[i:])
    return None


def entities_from_filename(path: str | PurePath) -> dict[str, str]:
    """Entities of a BIDS file name, with pybids' names (``subject``, ``run``, ``suffix``).

    Unknown ``key-value`` pairs keep their short key. A name that is not BIDS-shaped
    (:func:`is_bids_name`) gives ``{}``: no entity is made up from it.
    """
    if not is_bids_name(path):
        return {}
    stem = strip_nifti_suffix(PurePath(path).name)
    parts = stem.split("_")
    entities: dict[str, str] = {}
    for part in parts:
        match = _PAIR.match(part)
        if match:
            entities[ENTITY_KEYS.get(match.group(1), match.group(1))] = match.group(2)
    if len(parts) > 1 and not _PAIR.match(parts[-1]):
        entities["suffix"] = parts[-1]
    return entities


def entity_label(entities: Mapping[str, object]) -> str:
    """Short human label, e.g. ``sub-01 · ses-1 · run-2 · T1w``."""
    short = {name: key for key, name in ENTITY_KEYS.items()}
    ordered = [name for name in ENTITY_ORDER if name in entities]
    ordered += sorted(
        k
        for k in entities
        if k not in ENTITY_ORDER and k not in ("suffix", "extension", "datatype")
    )
    words = [f"{short.get(name, name)}-{entities[name]}" for name in ordered]
    if "suffix" in entities:
        words.append(str(entities["suffix"]))
    return " · ".join(words)


def bids_relative_path(path: str | PurePath) -> str:
    """The part of ``path`` from its ``sub-*`` folder on, or the file name if there is none."""
    parts = PurePath(path).parts
    for i, part in enumerate(parts[:-1]):
        if part.startswith("sub-"):
            return "/".join(parts[i:])
    return parts[-1]
