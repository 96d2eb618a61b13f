"""H.264 encoding with the ffmpeg binary that imageio-ffmpeg ships.

Frames go to ffmpeg's stdin as raw 8-bit grey; ffmpeg writes libx264, yuv420p, even
dimensions, ``+faststart`` (browsers can start playing before the whole file arrives).
Output is byte-identical for identical frames and settings: no creation time, bit-exact
muxer flags, and a fixed number of encoder threads.

Which ffmpeg: always the one :func:`imageio_ffmpeg.get_ffmpeg_exe` returns, i.e. the binary
inside the imageio-ffmpeg wheel from PyPI (``environment.yml`` installs imageio-ffmpeg with
pip for that reason), unless ``IMAGEIO_FFMPEG_EXE`` names another one, or the wheel has no
binary for this platform (then a conda or system ffmpeg). :func:`ffmpeg_binary` says which
one was used and every sidecar records it.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

import imageio_ffmpeg
import numpy as np


@functools.cache
def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's bundled ffmpeg."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.cache
def ffmpeg_version() -> str:
    """Version string of the bundled ffmpeg, e.g. ``"n9.0.2-17-g2a571b6068-20260930"``."""
    return imageio_ffmpeg.get_ffmpeg_version()


def ffmpeg_source(exe: str) -> str:
    """Where the ffmpeg at ``exe`` comes from.

    ``"IMAGEIO_FFMPEG_EXE"`` (the user chose it), ``"imageio-ffmpeg"`` (the binary inside the
    imageio-ffmpeg wheel: the one neurovid is tested with), ``"conda"`` (the environment's
    ``bin/ffmpeg``) or ``"system"`` (found on ``PATH``).
    """
    if os.environ.get("IMAGEIO_FFMPEG_EXE"):
        return "IMAGEIO_FFMPEG_EXE"
    bundled_dir = Path(imageio_ffmpeg.__file__).resolve().parent / "binaries"
    path = Path(exe)
    if path.is_absolute() and path.resolve().parent == bundled_dir:
        return "imageio-ffmpeg"
    if path.is_absolute() and path.resolve().parent == (Path(sys.prefix) / "bin").resolve():
        return "conda"
    return "system"


@functools.cache
def ffmpeg_binary() -> dict[str, str]:
    """The ffmpeg that encodes: ``{"path", "version", "source"}`` (see :func:`ffmpeg_source`).

    ``path`` is absolute (a bare ``ffmpeg`` found on ``PATH`` is resolved).
    """
    exe = ffmpeg_exe()
    resolved = shutil.which(exe) or exe
    return {
        "path": str(Path(resolved).resolve()),
        "version": ffmpeg_version(),
        "source": ffmpeg_source(exe),
    }


class EncoderError(RuntimeError):
    """ffmpeg failed or was killed; an environment failure, never the input's fault."""


def ffmpeg_command(
    out_path: str | os.PathLike[str],
    width: int,
    height: int,
    fps: float,
    *,
    crf: int = 20,
    preset: str = "superfast",
    threads: int = 1,
    x264_params: str = "",
    input_pix_fmt: str = "gray",
) -> list[str]:
    """The ffmpeg command line that encodes frames from stdin into ``out_path``.

    ``input_pix_fmt`` is ``"gray"`` (full-range grey, converted by ffmpeg) or ``"yuv420p"``
    (video-range luma plus neutral chroma, passed to x264 as it is).
    """
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p needs even frame dimensions, got {width}x{height}")
    return [
        ffmpeg_exe(),
        "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", input_pix_fmt,
        *(["-color_range", "tv"] if input_pix_fmt == "yuv420p" else []),
        "-s", f"{width}x{height}",
        "-framerate", f"{fps}", "-i", "pipe:0",
        "-an", "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
        "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt709",
        "-color_primaries", "bt709", "-color_trc", "bt709",
        "-threads", str(threads),
        "-x264-params", ":".join(filter(None, [f"threads={threads}", x264_params])),
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-movflags", "+faststart", "-f", "mp4", os.fspath(out_path),
    ]  # fmt: skip


class VideoWriter:
    """Pipe frames into ffmpeg; use as a context manager.

    On an exception inside the ``with`` block ffmpeg is killed and the partial file
    removed; on a clean exit ffmpeg's exit status is checked.
    """

    def __init__(self, out_path: str | os.PathLike[str], width: int, height: int, fps: float,
                 *, crf: int = 20, preset: str = "superfast", threads: int = 1,
                 x264_params: str = "", video_range: bool = False) -> None:  # fmt: skip
        self.out_path = Path(out_path)
        self.shape = (height, width)
        self.command = ffmpeg_command(
            out_path,
            width,
            height,
            fps,
            crf=crf,
            preset=preset,
            threads=threads,
            x264_params=x264_params,
            input_pix_fmt="yuv420p" if video_range else "gray",
        )
        # video range: each frame is the luma plane; the chroma planes are constant (grey)
        self._chroma = bytes([128]) * (2 * (width // 2) * (height // 2)) if video_range else b""
        self.frames_written = 0
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VideoWriter:
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # a feeder thread keeps a few frames queued, so composing the next frame overlaps
        # with ffmpeg reading this one (a pipe buffer holds less than one frame)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._feed_error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()
        return self

    def _feed(self) -> None:
        assert self._process is not None and self._process.stdin is not None
        stdin = self._process.stdin
        while (chunk := self._queue.get()) is not None:
            if self._feed_error is not None:
                continue  # drain, so the producer never blocks on a dead encoder
            try:
                stdin.write(chunk)
            except (BrokenPipeError, OSError) as error:
                self._feed_error = error

    def write(self, frame: np.ndarray) -> None:
        """Queue one uint8 (height, width) frame (grey, or luma with ``video_range``)."""
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 {self.shape}, got {frame.dtype} {frame.shape}")
        if self._feed_error is not None:
            raise EncoderError(f"ffmpeg stopped early: {self._stderr()}")
        self._queue.put(np.ascontiguousarray(frame).tobytes())
        if self._chroma:
            self._queue.put(self._chroma)
        self.frames_written += 1

    def _stderr(self) -> str:
        assert self._process is not None
        self._process.wait()
        message = (
            self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
        )
        return " ".join(message.split()) or f"exit status {self._process.returncode}"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        self._queue.put(None)
        if exc_type is not None:
            process.kill()
            self._feeder.join()
            process.wait()
            self.out_path.unlink(missing_ok=True)
            return
        self._feeder.join()
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
        returncode = process.wait()
        if returncode != 0 or self._feed_error is not None:
            self.out_path.unlink(missing_ok=True)
            raise EncoderError(f"ffmpeg failed writing {self.out_path}: {self._stderr()}")
