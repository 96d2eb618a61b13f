"""Exceptions that users see.

Two kinds matter to the workflow:

* :class:`InputError` — the input image itself is unusable (corrupt, 2D, empty, ...).
  The render job records it in the sidecar as ``"status": "failed"`` and exits 0, so one
  bad scan never stops a study.
* everything else (out of memory, disk full, ffmpeg killed, a bug) propagates and fails
  the job, so Snakemake's ``retries`` and ``--rerun-incomplete`` apply.
"""

from __future__ import annotations

import os


class NeurovidError(Exception):
    """Base class for neurovid's own errors; ``str(err)`` is one line for the user."""


class InputError(NeurovidError):
    """The input image cannot be rendered; the message names the file and the reason.

    Parameters
    ----------
    path : str or os.PathLike
        The offending input file, as the user knows it.
    reason : str
        One line saying what is wrong (and, where possible, what to do).

    Attributes
    ----------
    input_sha256 : str or None
        SHA-256 of the file's bytes as the loader read them, when it is a regular file
        that could be read (recorded in the failed sidecar); None otherwise.
    input_size_bytes : int or None
        The file's size in bytes, when known.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = " ".join(str(reason).split())
        self.input_sha256: str | None = None
        self.input_size_bytes: int | None = None
        super().__init__(f"{self.path}: {self.reason}")


class OutputConflictError(NeurovidError):
    """An output would overwrite something that is not ours (the input, a BIDS file, ...).

    Parameters
    ----------
    path : str or os.PathLike
        The output that cannot be written.
    reason : str
        One line saying why.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


class ConfigError(NeurovidError):
    """The workflow configuration is wrong; the message is one line for the user."""
