"""Find the images to render in a BIDS dataset: exactly the anatomical images BIDS defines.

An image becomes a render job only if its path is
``sub-<label>/[ses-<label>/]anat/sub-<label>[_ses-<label>]_…_<suffix>.nii[.gz]`` with the
folder labels repeated in the name and a name that the BIDS validator's own rules accept
(:mod:`bids_validator`, which pybids installs), unless ``.bidsignore`` lists it. Anything
else that looks like an image (a copy in ``anat/old/``, a symlink loop ``anat/again -> .``,
an image at the top of the dataset or directly in a subject folder, a ``backup/`` copy of
the dataset, an upper-case extension, a folder named like an image, a FIFO or device, a
``.nii`` beside a ``.nii.gz`` of the same name, a name BIDS does not allow) is returned as a
:class:`NotRendered` record with its reason: it is reported, never a job, so nothing found
here can stop the workflow.

The walk is ``os.scandir`` over the folders where BIDS puts anatomical images (the root, the
subject and session folders, their ``anat`` folders and any folder nested in those), so its
cost grows with the number of files there, and symlinked folders are never followed. Its
result (names and kinds of what it saw) is fingerprinted; checking each name against the
validator's rules (~80 µs a name) is done only when the fingerprint changes and is cached in
a small JSON file that is read back by every later start, including cluster jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import write_text_atomic
from .bidsname import strip_nifti_suffix

CACHE_VERSION = 2
NIFTI_EXTENSIONS = (".nii.gz", ".nii")
#: folders at the top of a dataset that hold no raw images to review (BIDS 1.10, plus
#: pybids' ``models``); dot-folders are always skipped.
TOP_LEVEL_NON_RAW = frozenset(
    {"derivatives", "sourcedata", "code", "stimuli", "phenotype", "models"}
)
#: datatype folders of subjects and sessions other than ``anat``: never looked into.
OTHER_DATATYPES = frozenset(
    {"func", "dwi", "fmap", "perf", "beh", "eeg", "meg", "ieeg", "pet", "micr", "nirs",
     "motion", "mrs"}
)  # fmt: skip
_LABEL = "[a-zA-Z0-9]+"
_SUBJECT_DIR = re.compile(rf"^sub-({_LABEL})$")
_SESSION_DIR = re.compile(rf"^ses-({_LABEL})$")
#: how deep a folder nested in ``anat`` (or an unknown folder in a subject) is searched
NESTED_DEPTH = 6


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


@dataclass(frozen=True)
class NotRendered:
    """Something that looks like an image but is not one BIDS defines, and why.

    Attributes
    ----------
    path : str
        Relative to the BIDS root (printable: control characters are escaped); folders end
        with ``/``.
    reason : str
        One line: what is wrong and where a BIDS image would be.
    """

    path: str
    reason: str

    def line(self) -> str:
        """``not rendered: <path>, <reason>`` (one line)."""
        return f"not rendered: {self.path}, {self.reason}"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class Discovery:
    """What :func:`discover` found.

    Attributes
    ----------
    images : list of ImageRecord
        The images to render, after the filters, sorted by path.
    not_rendered : list of NotRendered
        Everything image-like that is not a BIDS image (independent of the filters).
    available : list of ImageRecord
        Every BIDS image of the requested suffixes before the participant and session
        filters (to name the labels that exist when a filter matches nothing).
    fingerprint : str
        Fingerprint of the dataset's layout, the key of the cache.
    from_cache : bool
        Whether the classification came from the cache file.
    """

    images: list[ImageRecord]
    not_rendered: list[NotRendered]
    available: list[ImageRecord]
    fingerprint: str
    from_cache: bool = False
    _payload: dict[str, Any] | None = None

    def save_cache(self, cache_file: str | os.PathLike[str]) -> bool:
        """Write the cache (atomically) if it was not read from it; False if it could not."""
        if self.from_cache or self._payload is None:
            return False
        try:
            write_text_atomic(cache_file, json.dumps(self._payload))
        except OSError:
            return False  # read-only output folder: classify again next time
        return True


def strip_prefix(labels: Iterable[object] | None, prefix: str) -> list[str]:
    """``["sub-01", "02"]`` → ``["01", "02"]`` for ``prefix="sub-"``."""
    result = []
    for label in labels or ():
        text = str(label)
        result.append(text[len(prefix) :] if text.startswith(prefix) else text)
    return result


def printable(text: str) -> str:
    """``text`` with control characters, line breaks and undecodable bytes escaped.

    File names may hold any byte but ``/`` and NUL; a warning or a page entry must stay one
    line and valid UTF-8.
    """
    out = []
    for char in text:
        if char.isprintable() and not 0xD800 <= ord(char) <= 0xDFFF:
            out.append(char)
        elif 0xDC80 <= ord(char) <= 0xDCFF:  # an undecodable byte (surrogateescape)
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(repr(char)[1:-1] if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return "".join(out)


# --------------------------------------------------------------------------------------------
# .bidsignore
# --------------------------------------------------------------------------------------------


class BidsIgnore:
    """The patterns of a dataset's ``.bidsignore``, with ``.gitignore`` semantics.

    BIDS says ``.bidsignore`` uses ``.gitignore`` syntax; pybids does not read it (0.22),
    and ``pathspec``, which implements that syntax, is not among our runtime dependencies,
    so this is the small subset that the syntax defines: ``#`` comments, ``!`` negation (the
    last matching line wins), a trailing ``/`` for folders only, a ``/`` inside the pattern
    anchoring it to the dataset root (else it matches at any depth), ``*`` and ``?`` within
    one path component, ``[...]`` classes and ``**`` across folders. A folder that matches
    is skipped whole (as git does, a file inside it cannot be re-included).
    """

    def __init__(self, lines: Iterable[str] = ()) -> None:
        self.rules: list[tuple[re.Pattern[str], bool, bool]] = []
        for raw in lines:
            rule = _gitignore_rule(raw)
            if rule is not None:
                self.rules.append(rule)

    @classmethod
    def from_dataset(cls, root: str | os.PathLike[str]) -> BidsIgnore:
        try:
            text = (Path(root) / ".bidsignore").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return cls()
        return cls(text.splitlines())

    def ignored(self, relpath: str, is_dir: bool = False) -> bool:
        """Whether ``relpath`` (relative to the root, ``/``-separated) is ignored."""
        result = False
        for regex, dir_only, negate in self.rules:
            if dir_only and not is_dir:
                continue
            if regex.match(relpath):
                result = not negate
        return result


def _gitignore_rule(line: str) -> tuple[re.Pattern[str], bool, bool] | None:
    """(regex, folders only, negated) for one ``.gitignore`` line, or None for none."""
    line = line.rstrip("\n\r")
    if not line.endswith("\\ "):
        line = line.rstrip(" ")
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate:
        line = line[1:]
    elif line.startswith(("\\!", "\\#")):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    body, i = [], 0
    while i < len(line):
        char = line[i]
        if line.startswith("**/", i):
            body.append("(?:.*/)?")
            i += 3
        elif line.startswith("**", i):
            body.append(".*")
            i += 2
        elif char == "*":
            body.append("[^/]*")
            i += 1
        elif char == "?":
            body.append("[^/]")
            i += 1
        elif char == "[":
            end = line.find("]", i + 2 if line[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                body.append(re.escape(char))
                i += 1
                continue
            inner = line[i + 1 : end]
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            body.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        elif char == "\\" and i + 1 < len(line):
            body.append(re.escape(line[i + 1]))
            i += 2
        else:
            body.append(re.escape(char))
            i += 1
    prefix = "^" if anchored else "^(?:.*/)?"
    try:
        return re.compile(prefix + "".join(body) + "$", re.DOTALL), dir_only, negate
    except re.error:
        return None  # a pattern git would reject too: ignore the line


# --------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------


def looks_like_image(name: str) -> bool:
    """A name ending in ``.nii`` or ``.nii.gz`` in any letter case."""
    lowered = name.lower()
    return lowered.endswith(".nii") or lowered.endswith(".nii.gz")


def _kind(entry: os.DirEntry[str]) -> str:
    """``dir``, ``file``, ``broken`` (dangling symlink), ``loop`` or the special file type.

    Symlinks are followed (one ``stat``): a DataLad file is a symlink into the annex.
    """
    try:
        mode = entry.stat(follow_symlinks=True).st_mode
    except FileNotFoundError:
        return "broken"
    except OSError as error:
        return "loop" if error.errno == 40 else "unreadable"  # ELOOP
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


@dataclass
class _Walk:
    """What the walk saw: candidate images, and notes decided without the name rules."""

    candidates: list[tuple[str, str]] = field(default_factory=list)  # (relpath, kind)
    notes: list[NotRendered] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)  # everything that shapes the result

    def note(self, relpath: str, reason: str) -> None:
        self.notes.append(NotRendered(printable(relpath), reason))
        self.layout.append(f"N\0{relpath}\0{reason}")


def _scandir(folder: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError:
        return []


def _walk(root: str, ignore: BidsIgnore, skip: Sequence[str] = ()) -> _Walk:
    """The walk; ``skip``: folders never looked into (our own output folder)."""
    walk = _Walk()
    skipped = {os.path.realpath(folder) for folder in skip}

    def visible(entry: os.DirEntry[str], rel: str, is_dir: bool) -> bool:
        return not entry.name.startswith(".") and not ignore.ignored(rel, is_dir)

    for entry in _scandir(root):
        rel = entry.name
        kind = _kind(entry)
        if not visible(entry, rel, kind == "dir"):
            continue
        if kind == "dir":
            if _SUBJECT_DIR.match(entry.name):
                # symlinked subject, session and anat folders are followed: the walk has a
                # fixed depth there, so a link cannot make it loop
                _walk_container(root, rel, walk, ignore, sessions=True)
            elif entry.name.startswith("sub-"):
                walk.note(rel + "/", "a subject folder's label must be letters and digits only")
            elif entry.name in TOP_LEVEL_NON_RAW or entry.is_symlink():
                continue
            elif skipped and os.path.realpath(entry.path) in skipped:
                continue  # the output folder, inside the dataset but not in sub-*
            else:
                inside = [e.name for e in _scandir(entry.path) if e.name.startswith("sub-")]
                if inside:
                    walk.note(
                        rel + "/",
                        f"not a BIDS folder but holds {inside[0]}/…: a copy of the dataset? "
                        "(list it in .bidsignore to silence this)",
                    )
        elif looks_like_image(entry.name):
            walk.note(rel, "an image at the top of the dataset; BIDS images sit in "
                      "sub-<label>/[ses-<label>/]anat/")  # fmt: skip
    return walk


def _walk_container(
    root: str, rel: str, walk: _Walk, ignore: BidsIgnore, *, sessions: bool
) -> None:
    """A subject folder (``sessions=True``) or a session folder."""
    for entry in _scandir(os.path.join(root, rel)):
        child = f"{rel}/{entry.name}"
        kind = _kind(entry)
        if entry.name.startswith(".") or ignore.ignored(child, kind == "dir"):
            continue
        if kind == "dir":
            if entry.name == "anat":
                _walk_anat(root, child, walk, ignore)
            elif sessions and _SESSION_DIR.match(entry.name):
                _walk_container(root, child, walk, ignore, sessions=False)
            elif sessions and entry.name.startswith("ses-"):
                walk.note(child + "/", "a session folder's label must be letters and digits only")
            elif entry.name in OTHER_DATATYPES:
                continue
            elif looks_like_image(entry.name):
                walk.note(child + "/", "a folder, not an image file")
            elif not entry.is_symlink():
                _walk_nested(root, child, walk, ignore, "not in an anat folder", NESTED_DEPTH)
        elif looks_like_image(entry.name):
            where = "subject" if sessions else "session"
            walk.note(child, f"directly in the {where} folder; BIDS images sit in its anat/")


def _walk_anat(root: str, rel: str, walk: _Walk, ignore: BidsIgnore) -> None:
    walk.layout.append(f"A\0{rel}")
    for entry in _scandir(os.path.join(root, rel)):
        child = f"{rel}/{entry.name}"
        kind = _kind(entry)
        if entry.name.startswith(".") or ignore.ignored(child, kind == "dir"):
            continue
        if kind == "dir":
            if looks_like_image(entry.name):
                walk.note(child + "/", "a folder, not an image file")
            elif entry.is_symlink():
                walk.note(child + "/", "a symlinked folder inside anat/ (never followed: it "
                          "may loop); BIDS images sit directly in anat/")  # fmt: skip
            else:
                _walk_nested(root, child, walk, ignore,
                             "in a folder inside anat/; BIDS images sit directly in anat/",
                             NESTED_DEPTH)  # fmt: skip
        elif not looks_like_image(entry.name):
            continue
        elif kind in ("file", "broken"):
            # a broken symlink (DataLad content not fetched) is a job: its card says why
            walk.candidates.append((child, kind))
            walk.layout.append(f"C\0{child}\0{kind}")
        elif kind == "loop":
            walk.note(child, "a symlink loop")
        elif kind == "unreadable":
            walk.note(child, "cannot be inspected (permission denied?)")
        else:
            target = " (a symlink to one)" if entry.is_symlink() else ""
            walk.note(child, f"not a regular file but a {kind}{target}")


def _walk_nested(
    root: str, rel: str, walk: _Walk, ignore: BidsIgnore, reason: str, depth: int
) -> None:
    """Image-like entries below a folder where BIDS puts none (symlinked folders not followed)."""
    if depth <= 0:
        return
    for entry in _scandir(os.path.join(root, rel)):
        child = f"{rel}/{entry.name}"
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if entry.name.startswith(".") or ignore.ignored(child, is_dir):
            continue
        if is_dir:
            if looks_like_image(entry.name):
                walk.note(child + "/", "a folder, not an image file")
            else:
                _walk_nested(root, child, walk, ignore, reason, depth - 1)
        elif looks_like_image(entry.name):
            walk.note(child, reason)


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def _name_problem(relpath: str) -> str | None:
    """Why ``relpath`` (in an anat folder) is not a BIDS image name, or None if it is one."""
    from bids_validator import BIDSValidator

    folder, _, name = relpath.rpartition("/")
    if not name.endswith(NIFTI_EXTENSIONS):
        return "upper-case extension; BIDS images end in .nii or .nii.gz"
    subject = folder.split("/")[0]
    parts = folder.split("/")
    session = parts[1] if len(parts) == 3 else None
    expected = f"{subject}_{session}_" if session else f"{subject}_"
    if not name.startswith(expected):
        return (
            f"the name must start with {expected!r} (the labels of its folders); "
            "a stray or misplaced copy?"
        )
    if not BIDSValidator().is_bids("/" + relpath):
        if any(not (c.isascii() and (c.isalnum() or c in "-_.")) for c in name):
            return "not a BIDS name: only letters, digits, '-' and '_' are allowed"
        return (
            "not a BIDS name (bids-validator rules): check the entities, their order "
            "and the suffix"
        )
    return None


def _entities(relpath: str) -> dict[str, str]:
    """BIDS entities of a valid name, with pybids' names and string values."""
    from bids.layout import parse_file_entities

    return {
        key: str(value)
        for key, value in parse_file_entities("/" + relpath).items()
        if key not in ("extension", "datatype")
    }


def _classify(walk: _Walk) -> tuple[list[ImageRecord], list[NotRendered]]:
    """Check every candidate's name; a ``.nii`` beside a ``.nii.gz`` of the same name yields."""
    records: dict[str, ImageRecord] = {}
    notes = list(walk.notes)
    for relpath, _kind_of in walk.candidates:
        problem = _name_problem(relpath)
        if problem:
            notes.append(NotRendered(printable(relpath), problem))
            continue
        record = ImageRecord(relpath, _entities(relpath))
        other = records.get(record.key)
        if other is None:
            records[record.key] = record
            continue
        gz, plain = (record, other) if relpath.endswith(".gz") else (other, record)
        records[record.key] = gz
        twin = gz.relpath.rsplit("/")[-1]
        reason = f"a .nii beside {twin} of the same name (that one is rendered)"
        notes.append(NotRendered(printable(plain.relpath), reason))
    notes.sort(key=lambda n: n.path)
    return sorted(records.values(), key=lambda r: r.relpath), notes


# --------------------------------------------------------------------------------------------
# Dataset-level checks, fingerprint, cache
# --------------------------------------------------------------------------------------------


def layout_problem(bids_dir: str | os.PathLike[str]) -> str | None:
    """One line saying what to pass instead when ``bids_dir`` is not a dataset root.

    Recognises a subject, session or ``anat`` folder (names the dataset root above it) and
    a folder holding several datasets (names them). Returns None when ``bids_dir`` has
    ``sub-*`` folders or looks like none of these.
    """
    root = Path(bids_dir)
    entries = _scandir(os.fspath(root))
    if any(_SUBJECT_DIR.match(e.name) and e.is_dir() for e in entries):
        return None
    absolute = root.resolve()
    for parent in (absolute, *absolute.parents):
        if _SUBJECT_DIR.match(parent.name):
            dataset = parent.parent
            return (
                f"config error: bids_dir '{bids_dir}' is inside the subject folder "
                f"{parent.name}/ of a dataset; pass the dataset root: bids_dir={dataset}"
            )  # (resolved: symlinks in the path are followed to find the root)
    if absolute.name == "anat":
        return (
            f"config error: bids_dir '{bids_dir}' is an anat folder outside any sub-* "
            "folder; pass the root of a BIDS dataset (the folder holding sub-*/)"
        )
    datasets = sorted(
        e.name
        for e in entries
        if e.is_dir()
        and not e.name.startswith(".")
        and (
            os.path.isfile(os.path.join(e.path, "dataset_description.json"))
            or any(_SUBJECT_DIR.match(c.name) for c in _scandir(e.path))
        )
    )
    if datasets:
        shown = ", ".join(datasets[:5]) + (", …" if len(datasets) > 5 else "")
        return (
            f"config error: bids_dir '{bids_dir}' holds {len(datasets)} "
            f"dataset{'s' if len(datasets) > 1 else ''} ({shown}) rather than sub-* folders; "
            f"pass one of them, e.g. bids_dir={os.path.normpath(root / datasets[0])}"
        )
    return None


def _fingerprint(walk: _Walk) -> str:
    digest = hashlib.sha256()
    try:
        import bids_validator

        validator_version = getattr(bids_validator, "__version__", "")
    except ImportError:  # pragma: no cover - pybids requires it
        validator_version = ""
    digest.update(json.dumps([CACHE_VERSION, __version__, validator_version]).encode())
    for line in walk.layout:
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def dataset_fingerprint(bids_dir: str | os.PathLike[str]) -> str:
    """Fingerprint of what discovery sees: names and kinds of the image-like files (a
    dangling symlink is another kind than a fetched one), the folders they are in, and
    ``.bidsignore``. Content is the render's business (its own fingerprint)."""
    root = os.fspath(bids_dir)
    return _fingerprint(_walk(root, BidsIgnore.from_dataset(root)))


def _apply_filters(
    images: Sequence[ImageRecord],
    *,
    participant_label: Sequence[str],
    exclude_participant_label: Sequence[str],
    session_label: Sequence[str],
    suffixes: Sequence[str],
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    wanted_suffixes = set(suffixes)
    available = [r for r in images if r.entities.get("suffix") in wanted_suffixes]
    participants = set(strip_prefix(participant_label, "sub-"))
    excluded = set(strip_prefix(exclude_participant_label, "sub-"))
    sessions = set(strip_prefix(session_label, "ses-"))
    selected = [
        r
        for r in available
        if (not participants or r.entities.get("subject") in participants)
        and r.entities.get("subject") not in excluded
        and (not sessions or r.entities.get("session") in sessions)
    ]
    return selected, available


def discover(
    bids_dir: str | os.PathLike[str],
    *,
    participant_label: Sequence[object] = (),
    exclude_participant_label: Sequence[object] = (),
    session_label: Sequence[object] = (),
    suffixes: Sequence[str] = ("T1w",),
    cache_file: str | os.PathLike[str] | None = None,
    skip: Sequence[str | os.PathLike[str]] = (),
) -> Discovery:
    """The images to render and what was not rendered, from the cache when the dataset's
    layout has not changed. Nothing is written: call :meth:`Discovery.save_cache` (a dry
    run must not write).

    Parameters
    ----------
    bids_dir : path
        Root of the BIDS dataset.
    participant_label, exclude_participant_label, session_label : sequence of str
        Filters (with or without ``sub-`` / ``ses-``); empty means all.
    suffixes : sequence of str
        BIDS suffixes to render, e.g. ``["T1w", "T2w"]``.
    cache_file : path, optional
        JSON cache of the classification, valid while the fingerprint matches.
    skip : sequence of path, optional
        Folders at the top of the dataset never looked into (the output folder, when it is
        e.g. ``BIDS_DIR/qc``: it holds ``sub-*`` folders but is not a copy of the data).
    """
    root = os.fspath(bids_dir)
    walk = _walk(root, BidsIgnore.from_dataset(root), [os.fspath(p) for p in skip])
    fingerprint = _fingerprint(walk)
    cached = _read_cache(cache_file, fingerprint) if cache_file is not None else None
    if cached is not None:
        images, notes = cached
    else:
        images, notes = _classify(walk)
    selected, available = _apply_filters(
        images,
        participant_label=[str(x) for x in participant_label],
        exclude_participant_label=[str(x) for x in exclude_participant_label],
        session_label=[str(x) for x in session_label],
        suffixes=suffixes,
    )
    payload = None
    if cached is None:
        payload = {
            "fingerprint": fingerprint,
            "images": [{"relpath": r.relpath, "entities": r.entities} for r in images],
            "not_rendered": [n.to_json() for n in notes],
        }
    return Discovery(selected, notes, available, fingerprint, cached is not None, payload)


def _read_cache(
    cache_file: str | os.PathLike[str], fingerprint: str | None
) -> tuple[list[ImageRecord], list[NotRendered]] | None:
    """Images and notes from the cache file, if it is readable and (unless ``fingerprint``
    is None) was written for that fingerprint."""
    try:
        data = json.loads(Path(cache_file).read_text(encoding="utf-8"))
        if fingerprint is not None and data.get("fingerprint") != fingerprint:
            return None
        return (
            [ImageRecord(r["relpath"], r["entities"]) for r in data["images"]],
            [NotRendered(n["path"], n["reason"]) for n in data["not_rendered"]],
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def discover_planned(
    bids_dir: str | os.PathLike[str],
    *,
    participant_label: Sequence[object] = (),
    exclude_participant_label: Sequence[object] = (),
    session_label: Sequence[object] = (),
    suffixes: Sequence[str] = ("T1w",),
    cache_file: str | os.PathLike[str],
    skip: Sequence[str | os.PathLike[str]] = (),
) -> Discovery:
    """What the main Snakemake process of this run found, read back from its cache without
    walking the dataset (arguments as :func:`discover`).

    For cluster jobs: each one starts Snakemake again for a few images of a study that may
    have tens of thousands, and a walk costs a ``scandir`` per folder of the dataset (on a
    shared file system, the slowest part of a job's start). The main process writes the
    cache before it submits any job (``prepare_run`` in ``workflow/rules/common.smk``), so
    this is the classification the job was planned from. Without a readable cache it is
    :func:`discover`.
    """
    cached = _read_cache(cache_file, None)
    if cached is None:
        return discover(
            bids_dir,
            participant_label=participant_label,
            exclude_participant_label=exclude_participant_label,
            session_label=session_label,
            suffixes=suffixes,
            cache_file=cache_file,
            skip=skip,
        )
    images, notes = cached
    selected, available = _apply_filters(
        images,
        participant_label=[str(x) for x in participant_label],
        exclude_participant_label=[str(x) for x in exclude_participant_label],
        session_label=[str(x) for x in session_label],
        suffixes=suffixes,
    )
    return Discovery(selected, notes, available, "", from_cache=True)


def discover_images(
    bids_dir: str | os.PathLike[str],
    *,
    participant_label: Sequence[object] = (),
    exclude_participant_label: Sequence[object] = (),
    session_label: Sequence[object] = (),
    suffixes: Sequence[str] = ("T1w",),
    cache_file: str | os.PathLike[str] | None = None,
) -> list[ImageRecord]:
    """The images to render (see :func:`discover`); writes the cache when given one."""
    found = discover(
        bids_dir,
        participant_label=participant_label,
        exclude_participant_label=exclude_participant_label,
        session_label=session_label,
        suffixes=suffixes,
        cache_file=cache_file,
    )
    if cache_file is not None:
        found.save_cache(cache_file)
    return found.images


def _natural_key(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text) if t]


def _listing(labels: Iterable[str], limit: int = 20) -> str:
    ordered = sorted(set(labels), key=_natural_key)
    shown = ", ".join(ordered[:limit])
    return shown + (f", … ({len(ordered)} in all)" if len(ordered) > limit else "")


def filter_messages(
    found: Discovery,
    *,
    participant_label: Sequence[object] = (),
    exclude_participant_label: Sequence[object] = (),
    session_label: Sequence[object] = (),
    suffixes: Sequence[str] = ("T1w",),
) -> tuple[list[str], str | None]:
    """Warnings for filter labels that match nothing, and an error when nothing is left.

    Returns
    -------
    (warnings, error)
        ``warnings`` name each label that matches no image of the requested suffixes;
        ``error`` (or None) is one line for a run with no image left, listing the labels
        that exist.
    """
    kinds = "/".join(suffixes)
    subjects = {r.entities.get("subject", "") for r in found.available}
    sessions = {r.entities.get("session", "") for r in found.available} - {""}
    warnings = []
    for option, labels, prefix, existing, what in (
        ("participant_label", participant_label, "sub-", subjects, "participant"),
        ("exclude_participant_label", exclude_participant_label, "sub-", subjects,
         "participant"),
        ("session_label", session_label, "ses-", sessions, "session"),
    ):  # fmt: skip
        wanted = strip_prefix([str(x) for x in labels], prefix)
        missing = [label for label in wanted if label not in existing]
        if not missing:
            continue
        matches = f"match{'es' if len(missing) == 1 else ''}"
        if len(missing) < len(wanted) or option.startswith("exclude"):
            warnings.append(
                f"warning: {option} {', '.join(map(repr, missing))} {matches} no {what} "
                f"with {kinds} images"
            )
        else:
            there = _listing(existing) if existing else "none"
            return warnings, (
                f"config error: {option} {', '.join(map(repr, missing))} {matches} no {what} "
                f"with {kinds} images (the {what}s with {kinds} images: {there})"
            )
    if not found.images:
        if not found.available:
            return warnings, (
                f"config error: no {kinds} image in the dataset (sub-*/[ses-*/]anat/"
                f"sub-*_{suffixes[0]}.nii[.gz]); {len(found.not_rendered)} image-like "
                "files are not BIDS images (listed above)"
                if found.not_rendered
                else f"config error: no {kinds} image in the dataset "
                f"(sub-*/[ses-*/]anat/sub-*_{suffixes[0]}.nii[.gz])"
            )
        return warnings, (
            "config error: the filters (participant_label, exclude_participant_label, "
            f"session_label) leave no {kinds} image (participants: {_listing(subjects)})"
        )
    return warnings, None
