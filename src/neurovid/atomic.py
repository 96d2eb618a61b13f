"""Files that appear at their final path only when complete.

Everything neurovid writes goes to a hidden temporary name in the same folder
(``.<name>.<pid>.<random>.partial``), is flushed to disk and then renamed over the final
path, so a reader (or a rerun deciding what is done) never sees half a file. Leftovers of a
killed process match ``.<name>.*.partial`` and can be removed by the next run.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temporary_path(final: str | os.PathLike[str]) -> Path:
    """A hidden, unique temporary name in the folder of ``final``."""
    final = Path(final)
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")


def leftovers(final: str | os.PathLike[str]) -> list[Path]:
    """Temporary files that interrupted writes of ``final`` left behind."""
    final = Path(final)
    return sorted(final.parent.glob(f".{final.name}.*.partial"))


def write_bytes_atomic(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (folder created if missing)."""
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


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (folder created if missing)."""
    write_bytes_atomic(path, text.encode("utf-8"))
