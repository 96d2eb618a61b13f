"""Find the images to render in a BIDS dataset (pybids), once per dataset state.

Indexing a large dataset with pybids takes seconds, and Snakemake re-parses the workflow
in every cluster job. The result is therefore cached in a small JSON file keyed by a
fingerprint of the dataset (relative paths, sizes and mtimes of the files that matter,
computed with ``os.scandir``, without pybids) and of the filters: any change to the dataset
invalidates the cache by itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .atomic import write_text_atomic
from .bidsname import strip_nifti_suffix

CACHE_VERSION = 1
NIFTI_EXTENSIONS = (".nii.gz", ".nii")
#: files at the top of a dataset that change what pybids finds
TOP_LEVEL_FILES = ("dataset_description.json", ".bidsignore")
#: What pybids need not index (regexes searched in "/" + the path relative to the root, of
#: folders and files alike): pybids' defaults (``code``, ``models``, ``sourcedata``,
#: ``stimuli``; it always leaves out ``derivatives`` and dot files), and inside subject and
#: session folders everything but ``anat`` (func, dwi, fmap, ...: often most of the files,
#: and never an ``anat`` image). Indexing only what can match keeps a cache miss fast.
NOT_INDEXED = (
    re.compile(r"^/(code|models|sourcedata|stimuli)"),
    re.compile(r"^/sub-[^/]+/(?!anat(?:/|$)|ses-)"),  # in a subject: neither anat nor session
    re.compile(r"^/sub-[^/]+/ses-[^/]+/(?!anat(?:/|$))"),  # in a session: not anat
)


@dataclass(frozen=True)
class ImageRecord:
    """One image to render.

    Attributes
    ----------
    relpath : str
        Path relative to the BIDS root, e.g. ``sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz``.
    entities : dict
        BIDS entities (pybids names, string values), e.g. ``{"subject": "01", ...}``.
    """

    relpath: str
    entities: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The relative path without extension: the output name of this image."""
        folder, _, name = self.relpath.rpartition("/")
        return f"{folder}/{strip_nifti_suffix(name)}" if folder else strip_nifti_suffix(name)


def strip_prefix(labels: Iterable[object] | None, prefix: str) -> list[str]:
    """``["sub-01", "02"]`` → ``["01", "02"]`` for ``prefix="sub-"``."""
    result = []
    for label in labels or ():
        text = str(label)
        result.append(text[len(prefix) :] if text.startswith(prefix) else text)
    return result


def _anat_folders(bids_dir: Path) -> Iterable[Path]:
    with os.scandir(bids_dir) as entries:
        subjects = sorted(e.name for e in entries if e.name.startswith("sub-") and e.is_dir())
    for subject in subjects:
        subject_dir = bids_dir / subject
        yield subject_dir / "anat"
        with os.scandir(subject_dir) as entries:
            sessions = sorted(e.name for e in entries if e.name.startswith("ses-") and e.is_dir())
        for session in sessions:
            yield subject_dir / session / "anat"


def dataset_fingerprint(bids_dir: str | os.PathLike[str], extra: object = None) -> str:
    """SHA-256 over (relative path, size, mtime) of every file in the anat folders.

    Symlinks are described by ``lstat`` (a DataLad placeholder changes when its content
    arrives); ``extra`` (e.g. the filters) is folded in as JSON.
    """
    root = Path(bids_dir)
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, __version__, extra]).encode())
    for name in TOP_LEVEL_FILES:
        try:
            stat = (root / name).stat()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except FileNotFoundError:
            digest.update(f"{name}\0-\n".encode())
    for folder in _anat_folders(root):
        try:
            with os.scandir(folder) as entries:
                files = sorted((e.name, e.stat(follow_symlinks=False)) for e in entries)
        except (FileNotFoundError, NotADirectoryError):
            continue
        relative = folder.relative_to(root).as_posix()
        for name, stat in files:
            digest.update(f"{relative}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def index_with_pybids(
    bids_dir: str | os.PathLike[str],
    *,
    participant_label: Sequence[str] = (),
    exclude_participant_label: Sequence[str] = (),
    session_label: Sequence[str] = (),
    suffixes: Sequence[str] = ("T1w",),
) -> list[ImageRecord]:
    """Every ``anat`` NIfTI image with one of ``suffixes``, found by pybids.

    ``derivatives/``, ``sourcedata/``, ``code/``, dot-folders and the other datatype
    folders of subjects and sessions are not indexed (:data:`NOT_INDEXED`). Labels may be
    given with or without their ``sub-``/``ses-`` prefix.
    """
    # imported here: ~1 s, needed only on a cache miss
    from bids import BIDSLayout, BIDSLayoutIndexer

    root = Path(bids_dir).resolve()
    layout = BIDSLayout(
        root,
        validate=False,
        derivatives=False,
        indexer=BIDSLayoutIndexer(validate=False, index_metadata=False, ignore=list(NOT_INDEXED)),
    )
    query: dict[str, object] = {
        "datatype": "anat",
        "suffix": list(suffixes),
        "extension": list(NIFTI_EXTENSIONS),
        "return_type": "object",
    }
    if participant_label:
        query["subject"] = strip_prefix(participant_label, "sub-")
    if session_label:
        query["session"] = strip_prefix(session_label, "ses-")
    excluded = set(strip_prefix(exclude_participant_label, "sub-"))
    records: dict[str, ImageRecord] = {}
    for bids_file in layout.get(**query):
        entities = {
            key: str(value)
            for key, value in bids_file.get_entities().items()
            if key not in ("extension", "datatype")
        }
        if entities.get("subject") in excluded:
            continue
        relpath = Path(bids_file.path).relative_to(root).as_posix()
        record = ImageRecord(relpath, entities)
        # sub-01_T1w.nii and sub-01_T1w.nii.gz side by side: keep the compressed one
        if record.key not in records or relpath.endswith(".nii.gz"):
            records[record.key] = record
    return sorted(records.values(), key=lambda r: r.relpath)


def discover_images(
    bids_dir: str | os.PathLike[str],
    *,
    participant_label: Sequence[str] = (),
    exclude_participant_label: Sequence[str] = (),
    session_label: Sequence[str] = (),
    suffixes: Sequence[str] = ("T1w",),
    cache_file: str | os.PathLike[str] | None = None,
) -> list[ImageRecord]:
    """Images to render, from the cache when the dataset has not changed.

    Parameters
    ----------
    bids_dir : path
        Root of the BIDS dataset.
    participant_label, exclude_participant_label, session_label : sequence of str
        Filters (with or without ``sub-`` / ``ses-``); empty means all.
    suffixes : sequence of str
        BIDS suffixes to render, e.g. ``["T1w", "T2w"]``.
    cache_file : path, optional
        JSON cache; written atomically after a pybids index, reused while the
        fingerprint matches.
    """
    filters = {
        "participant_label": strip_prefix(participant_label, "sub-"),
        "exclude_participant_label": strip_prefix(exclude_participant_label, "sub-"),
        "session_label": strip_prefix(session_label, "ses-"),
        "suffixes": list(suffixes),
    }
    fingerprint = None
    if cache_file is not None:
        fingerprint = dataset_fingerprint(bids_dir, extra=[str(Path(bids_dir).resolve()), filters])
        try:
            cached = json.loads(Path(cache_file).read_text())
            if cached.get("fingerprint") == fingerprint:
                return [ImageRecord(r["relpath"], r["entities"]) for r in cached["images"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    records = index_with_pybids(bids_dir, **filters)
    if cache_file is not None:
        payload = {
            "fingerprint": fingerprint,
            "images": [{"relpath": r.relpath, "entities": r.entities} for r in records],
        }
        write_text_atomic(cache_file, json.dumps(payload))
    return records
