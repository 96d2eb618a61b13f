"""Cluster resources of a render job, computed from the image header (cached)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from stat import S_ISREG

from . import __version__
from .atomic import write_text_atomic

#: What a render needs besides the volume itself (interpreter, libraries, ffmpeg), in MB.
BASE_MEM_MB = 300


def memory_estimates(
    paths: Mapping[str, str], cache_file: str | os.PathLike[str], *, write: bool = True
) -> dict[str, int]:
    """Bytes each image needs to render (from its header), by key.

    Reading thousands of gzipped headers takes longer than the rest of a warm workflow
    start, so estimates are cached in ``cache_file`` by absolute path with the file's size
    and mtime (following symlinks). A header that cannot be read gets no estimate (the job
    needs little and records why the image failed) and is not cached; nor does anything
    but a regular file, which is never opened here. ``write=False``
    (a dry run, which must write nothing) reads the cache but never writes it.
    """
    from .volume import estimate_memory_bytes

    try:
        cached = json.loads(Path(cache_file).read_text())
        known = cached["images"] if cached.get("version") == __version__ else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        known = {}
    needed: dict[str, int] = {}
    new = {}
    for key, path in paths.items():
        path = os.path.abspath(path)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        if not S_ISREG(stat.st_mode):
            continue  # a FIFO or a device is never opened (its job records why)
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = known.get(path)
        if isinstance(entry, list) and entry[:2] == stamp:
            needed[key] = entry[2]
            continue
        try:
            needed[key] = estimate_memory_bytes(path)
        except Exception:  # unreadable header: the render job records why
            continue
        new[path] = [*stamp, needed[key]]
    if new and write:
        try:
            write_text_atomic(
                cache_file, json.dumps({"version": __version__, "images": {**known, **new}})
            )
        except OSError:
            pass  # read-only output folder: estimate again next time
    return needed


def job_mem_mb(needed_bytes: int, attempt: int = 1) -> int:
    """``mem_mb`` for a render job; each retry asks for the volume's share once more."""
    return int(BASE_MEM_MB + attempt * needed_bytes / 2**20)
