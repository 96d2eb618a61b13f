"""Temporary names and clean-up of neurovid.atomic: within the file-system limit, and
never touching a file that is not provably ours and dead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from neurovid.atomic import NAME_MAX, leftovers, temporary_path, write_text_atomic


def _name(n_bytes: int, char: str) -> str:
    """A file name of exactly `n_bytes` UTF-8 bytes ending in ``.mp4``."""
    width = len(char.encode())
    room = n_bytes - len(".mp4")
    return char * (room // width) + "x" * (room % width) + ".mp4"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _leftover(folder: Path, final_name: str, pid: int) -> Path:
    """A temporary file as a writer with process id `pid` on this host leaves it."""
    path = temporary_path(folder / final_name)
    renamed = path.with_name(path.name.replace(f"-{os.getpid()}.", f"-{pid}."))
    renamed.write_bytes(b"half a video")
    return renamed


@pytest.mark.parametrize("char", ["a", "é", "字", "𝄞"])
@pytest.mark.parametrize("n_bytes", [200, 216, 217, 230, 240, 254, 255])
def test_atomic_write_works_for_names_up_to_255_bytes(
    tmp_path: Path, n_bytes: int, char: str
) -> None:
    final = tmp_path / _name(n_bytes, char)
    assert len(os.fsencode(final.name)) == n_bytes
    temporary = temporary_path(final)
    assert len(os.fsencode(temporary.name)) <= NAME_MAX
    assert temporary.name.startswith(".") and temporary.name.endswith(".partial")
    temporary.name.encode("utf-8")  # cut on a character boundary: still valid UTF-8
    write_text_atomic(final, "done")
    assert final.read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]


def test_long_names_that_differ_only_at_the_end_get_different_temporary_names(
    tmp_path: Path,
) -> None:
    first, second = _name(255, "a"), _name(255, "a")[:-5] + "y.mp4"
    a, b = temporary_path(tmp_path / first), temporary_path(tmp_path / second)
    prefix = len(".") + 190
    assert a.name[:prefix] == b.name[:prefix]
    part_a = a.name.rsplit(".", 3)[0]
    part_b = b.name.rsplit(".", 3)[0]
    assert part_a != part_b
    # and each image's clean-up sees only its own leftovers
    dead = _dead_pid()
    left_a = _leftover(tmp_path, first, dead)
    left_b = _leftover(tmp_path, second, dead)
    assert leftovers(tmp_path / first) == [left_a]
    assert leftovers(tmp_path / second) == [left_b]


@pytest.mark.parametrize("pattern", ["sub-01_acq-*_T1w.mp4", "sub-01_acq-?_T1w.mp4",
                                     "sub-01_acq-[ab]_T1w.mp4"])  # fmt: skip
def test_glob_characters_never_match_another_images_leftovers(
    tmp_path: Path, pattern: str
) -> None:
    dead = _dead_pid()
    other = _leftover(tmp_path, "sub-01_acq-a_T1w.mp4", dead)
    own = _leftover(tmp_path, pattern, dead)
    assert leftovers(tmp_path / pattern) == [own]
    assert leftovers(tmp_path / "sub-01_acq-a_T1w.mp4") == [other]


def test_leftovers_of_a_live_process_are_kept(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = _leftover(tmp_path, "v.mp4", sleeper.pid)
        mine = temporary_path(tmp_path / "v.mp4")
        mine.write_bytes(b"being written by this process")
        dead = _leftover(tmp_path, "v.mp4", _dead_pid())
        assert leftovers(tmp_path / "v.mp4") == [dead]
        assert live.exists() and mine.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_leftovers_of_another_host_or_of_unknown_form_are_kept(tmp_path: Path) -> None:
    dead = _dead_pid()
    ours = _leftover(tmp_path, "v.mp4", dead)
    host = ours.name.split(".")[-4].split("-")[0]
    other_host = "0" * 8 if host != "0" * 8 else "1" * 8
    for name in (
        ours.name.replace(f"{host}-", f"{other_host}-"),  # another cluster node
        f".v.mp4.{dead}.0123abcd.partial",  # no host: cannot prove where it was written
        ".v.mp4.partial",
        f".v.mp4.{host}-{dead}.0123abcd.partial.extra",
        f".v.mp4.x.{host}-{dead}.0123abcd.partial",  # the leftover of image "v.mp4.x"
        "v.mp4",
    ):
        (tmp_path / name).write_bytes(b"not ours to delete")
    assert leftovers(tmp_path / "v.mp4") == [ours]
    assert leftovers(tmp_path / "missing-folder" / "v.mp4") == []
