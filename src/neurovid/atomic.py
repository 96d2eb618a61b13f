"""Files that appear at their final path only when complete, and are durable when they do.

Everything neurovid writes goes to a hidden temporary name in the same folder, is flushed
to disk (``fsync``) and then renamed over the final path, and the folder is flushed too, so
a reader (or a rerun deciding what is done) never sees half a file, even after a power loss.

A temporary name is ``.<name>.<host>-<pid>.<random>.partial``: ``<host>`` is 8 hex digits
of the SHA-256 of the host name, ``<pid>`` the writing process. Names longer than fit in the
file system's 255-byte limit (counted in bytes of UTF-8, not characters) are cut at a
character boundary and end in ``~`` and 16 hex digits of the SHA-256 of the whole name, so
two long names never share a temporary name.

Leftovers of a killed writer are removed only when provably ours and dead: the entry's
name must be exactly ``.<name>.`` followed by the pattern above (compared as a string, never
as a glob, so ``*``, ``?`` or ``[`` in one image's name cannot match another image's
file), written on this host, by a process that no longer exists. A leftover from another
host (a cluster node writing to the same shared folder) is left alone: its writer may
still be running.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import socket
from pathlib import Path

__all__ = [
    "NAME_MAX",
    "fsync_directory",
    "fsync_file",
    "leftovers",
    "replace_durably",
    "temporary_path",
    "write_bytes_atomic",
    "write_text_atomic",
]

#: Longest file name in bytes on Linux file systems (ext4, xfs, btrfs, tmpfs, NFS).
NAME_MAX = 255
_SUFFIX = ".partial"
_PID_DIGITS = 10  # room for any pid (Linux pid_max is at most 2**22: 7 digits)
# "." name "." host(8) "-" pid "." random(8) ".partial"
_OVERHEAD = 1 + 1 + 8 + 1 + _PID_DIGITS + 1 + 8 + len(_SUFFIX)
_TAG = re.compile(r"(?P<host>[0-9a-f]{8})-(?P<pid>[1-9][0-9]{0,9})\.[0-9a-f]{8}\.partial")
_HASH_DIGITS = 16


@functools.cache
def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _name_part(name: str) -> str:
    """``name``, or a shortened unique stand-in if the temporary name would not fit."""
    encoded = os.fsencode(name)
    room = NAME_MAX - _OVERHEAD
    if len(encoded) <= room:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:_HASH_DIGITS]
    keep = encoded[: room - 1 - _HASH_DIGITS]
    for cut in range(len(keep), max(len(keep) - 4, 0), -1):  # end on a whole character
        try:
            return keep[:cut].decode("utf-8") + "~" + digest
        except UnicodeDecodeError:
            continue
    return os.fsdecode(keep) + "~" + digest  # not UTF-8 at all: keep its bytes


def temporary_path(final: str | os.PathLike[str]) -> Path:
    """A hidden, unique temporary name in the folder of ``final`` (at most 255 bytes)."""
    final = Path(final)
    tag = f"{_host_tag()}-{os.getpid()}.{secrets.token_hex(4)}"
    return final.with_name(f".{_name_part(final.name)}.{tag}{_SUFFIX}")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def leftovers(final: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of ``final`` whose writer, on this host, no longer runs.

    Only these are safe to delete: a temporary file of a live process (another job
    rendering the same image, or this process) or of another host is never listed.
    """
    final = Path(final)
    prefix = f".{_name_part(final.name)}."
    host = _host_tag()
    found = []
    try:
        entries = list(os.scandir(final.parent))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _TAG.fullmatch(entry.name[len(prefix) :])
        if match is None or match["host"] != host or _process_exists(int(match["pid"])):
            continue
        found.append(final.parent / entry.name)
    return sorted(found)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file's data to disk (e.g. one written by ffmpeg or Pillow)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries to disk, so a rename into it survives a power loss."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # e.g. a file system that does not open folders: nothing more to do
        return
    try:
        os.fsync(fd)
    except OSError:  # some network file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def replace_durably(temporary: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Flush ``temporary``, rename it over ``final`` and flush the folder."""
    fsync_file(temporary)
    os.replace(temporary, final)
    fsync_directory(Path(final).parent)


def write_bytes_atomic(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically and durably (folder created if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        with open(temporary, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (folder created if missing)."""
    write_bytes_atomic(path, text.encode("utf-8"))
