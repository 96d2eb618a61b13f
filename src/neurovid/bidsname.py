"""BIDS file names: entities parsed without pybids (cheap enough for every render job)."""

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


def strip_nifti_suffix(name: str) -> str:
    """``sub-01_T1w.nii.gz`` → ``sub-01_T1w`` (also ``.nii``)."""
    for extension in (".nii.gz", ".nii"):
        if name.endswith(extension):
            return name[: -len(extension)]
    return PurePath(name).stem


def entities_from_filename(path: str | PurePath) -> dict[str, str]:
    """Entities of a BIDS file name, with pybids' names (``subject``, ``run``, ``suffix``).

    Unknown ``key-value`` pairs keep their short key; non-BIDS names give ``{}`` or
    whatever pairs they contain.
    """
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
