"""The output folder as the workflow sees it: paths Snakemake can name, and renders whose
video or poster went missing.

Snakemake reads ``{name}`` in any input or output path as a wildcard and has no escape for a
literal brace in a file path (``{{x}}`` still holds the wildcard ``{x}``). An output folder
whose path contains such a pattern (``/data/{x}/qc``, ``/data/${x}``) is therefore given to
Snakemake through a symlink without braces (:func:`snakemake_output_dir`); the files are
written through it into the real folder, and every message names the real folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ALIAS_ROOT",
    "incomplete_renders",
    "needs_alias",
    "set_aside",
    "snakemake_output_dir",
]

#: where the brace-free aliases live (inside Snakemake's own folder of the working folder)
ALIAS_ROOT = ".snakemake/neurovid/output-dirs"


def needs_alias(path: str) -> bool:
    """Whether Snakemake would read a wildcard in ``path`` (its own pattern decides)."""
    from snakemake.io import contains_wildcard

    return contains_wildcard(path)


def snakemake_output_dir(output_dir: str, alias_root: str = ALIAS_ROOT) -> str:
    """``output_dir`` itself, or a brace-free symlink to it for Snakemake's paths.

    The symlink is ``<alias_root>/<16 hex digits of the absolute path>`` and points at the
    absolute output folder (which need not exist yet); it is (re)made here, in Snakemake's
    own ``.snakemake`` folder, never in the output or the dataset.
    """
    if not needs_alias(output_dir):
        return output_dir
    target = os.path.abspath(output_dir)
    name = hashlib.sha256(os.fsencode(target)).hexdigest()[:16]
    alias = Path(alias_root) / name
    if not (alias.is_symlink() and os.readlink(alias) == target):
        alias.parent.mkdir(parents=True, exist_ok=True)
        temporary = alias.with_name(f".{name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target, target_is_directory=True)
        os.replace(temporary, alias)
    return alias.as_posix()


def incomplete_renders(
    output_dir: str | os.PathLike[str], keys: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Keys without a sidecar, and keys whose sidecar says ``rendered`` but whose MP4 or
    poster is gone.

    One ``os.scandir`` per output folder; a sidecar is read only when a file beside it is
    missing (rare), so the cost is O(folders) system calls plus O(images) set lookups.

    Returns
    -------
    (no_sidecar, no_video) : (list of str, list of str)
    """
    from .sidecar import try_read_sidecar

    by_folder: dict[str, list[str]] = {}
    for key in keys:
        folder, _, stem = key.rpartition("/")
        by_folder.setdefault(folder, []).append(stem)
    no_sidecar, no_video = [], []
    for folder, stems in sorted(by_folder.items()):
        try:
            with os.scandir(os.path.join(output_dir, folder)) as entries:
                names = {entry.name for entry in entries}
        except OSError:
            names = set()
        for stem in stems:
            key = f"{folder}/{stem}" if folder else stem
            if f"{stem}.json" not in names:
                no_sidecar.append(key)
                continue
            if f"{stem}.mp4" in names and f"{stem}.png" in names:
                continue
            sidecar, _error = try_read_sidecar(os.path.join(output_dir, folder, f"{stem}.json"))
            if sidecar is None or sidecar.status != "rendered" or sidecar.video is None:
                continue
            if sidecar.video.file not in names or sidecar.video.poster not in names:
                no_video.append(key)
    return no_sidecar, no_video


def set_aside(output_dir: str | os.PathLike[str], relpath: str) -> Path | None:
    """Move ``OUTPUT_DIR/<relpath>`` to ``OUTPUT_DIR/.neurovid/stale/<relpath>`` (so that
    Snakemake makes it again); returns where it went, or None if it was not there."""
    source = Path(output_dir) / relpath
    target = Path(output_dir) / ".neurovid" / "stale" / relpath
    if not source.exists():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return target
