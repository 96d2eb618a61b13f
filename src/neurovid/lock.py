"""One run at a time per output folder, whichever folder Snakemake was started from.

Snakemake's own lock lives in ``.snakemake/`` of the working folder, so two runs started from
two folders on one output folder do not see each other (and delete each other's files). The
main Snakemake process of a run therefore holds an exclusive ``flock`` on
``OUTPUT_DIR/.neurovid/lock`` for its whole life; cluster jobs never take it. The kernel
drops the lock when the process ends, however it ends (``kill -9`` included), so a stale lock
cannot exist: the file may stay, the lock does not. The file holds who took it, for the
message the second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from .errors import NeurovidError

LOCK_NAME = ".neurovid/lock"


class OutputLocked(NeurovidError):
    """Another run holds the output folder; the message is one line saying which."""


def _holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']}, started {info['started']} from {info['cwd']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def acquire_output_lock(output_dir: str | os.PathLike[str]) -> int:
    """Take the output folder's lock for the rest of this process's life.

    Parameters
    ----------
    output_dir : path
        OUTPUT_DIR (its ``.neurovid/`` folder is created if missing).

    Returns
    -------
    int
        The open file descriptor that holds the lock; keep it open (closing it releases).

    Raises
    ------
    OutputLocked
        Another process holds the lock.
    """
    lock_path = Path(output_dir) / LOCK_NAME
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise OutputLocked(
            f"error: another neurovid run is writing to {output_dir} ({_holder(lock_path)}); "
            "wait for it to end, or stop it, then run again"
        ) from None
    except BaseException:
        os.close(descriptor)
        raise
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cwd": os.getcwd(),
        "command": " ".join(sys.argv),
    }
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, (json.dumps(info) + "\n").encode("utf-8", "replace"), 0)
    return descriptor


def lock_holder(output_dir: str | os.PathLike[str]) -> str | None:
    """Who holds the output folder's lock, or None if nobody does. Writes nothing.

    For a dry run, which must not write (so cannot take the lock) but may say that a real
    run is going on.
    """
    lock_path = Path(output_dir) / LOCK_NAME
    try:
        descriptor = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(lock_path)
    finally:
        os.close(descriptor)
    return None
