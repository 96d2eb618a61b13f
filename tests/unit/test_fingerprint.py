"""The render fingerprint and the input signature (neurovid.fingerprint)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from neurovid import fingerprint
from neurovid.fingerprint import code_files, input_signature, render_fingerprint


def names(files):
    return {path.relative_to(fingerprint.PACKAGE_DIR).as_posix() for path in files}


def test_code_files_are_what_render_imports_and_the_fonts():
    found = names(code_files())
    assert {"__init__.py", "render.py", "render_job.py", "frames.py", "volume.py",
            "encode.py"} <= found  # fmt: skip
    assert any(name.endswith(".ttf") for name in found)  # drawn into every frame
    # the page, discovery, configuration, locking and this module decide no pixel
    for name in ("report.py", "discovery.py", "config.py", "lock.py", "fingerprint.py",
                 "summary.py", "cli.py", "templates/review.html"):  # fmt: skip
        assert name not in found


def test_fingerprint_follows_code_options_and_nothing_else(tmp_path):
    package = tmp_path / "neurovid"
    shutil.copytree(fingerprint.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    options = {"fps": 15, "crf": 21}
    base = render_fingerprint(options, files=code_files(package))
    assert base == render_fingerprint(dict(options), files=code_files(package))
    assert base == render_fingerprint(options)  # the copy is the same code
    assert render_fingerprint({**options, "fps": 10}, files=code_files(package)) != base
    (package / "report.py").write_text("# the page changed\n")
    assert render_fingerprint(options, files=code_files(package)) == base
    (package / "frames.py").write_text((package / "frames.py").read_text() + "\n# fix\n")
    fingerprint._code_files_cached.cache_clear()
    assert render_fingerprint(options, files=code_files(package)) != base


def test_input_signature_sees_every_replacement_and_nothing_when_untouched(tmp_path):
    path = tmp_path / "sub-01_T1w.nii.gz"
    path.write_bytes(b"a" * 100)
    first = input_signature(path)
    assert input_signature(path) == first
    # cp -p of an older file with the same size: only the ctime changes
    older = tmp_path / "older"
    older.write_bytes(b"b" * 100)
    os.utime(older, (time.time() - 86400, time.time() - 86400))
    time.sleep(0.01)
    subprocess.run(["cp", "-p", older, path], check=True)
    replaced = input_signature(path)
    assert replaced != first and os.stat(path).st_mtime < os.stat(older).st_ctime + 1
    os.replace(older, path)  # a new inode (mv, rsync)
    assert input_signature(path) != replaced


def test_input_signature_never_opens_odd_files(tmp_path):
    fifo = tmp_path / "fifo.nii.gz"
    os.mkfifo(fifo)
    assert input_signature(fifo).startswith("special:")  # would hang if opened
    link = tmp_path / "zero.nii.gz"
    link.symlink_to("/dev/zero")
    assert input_signature(link).startswith("special:")
    broken = tmp_path / "annexed.nii.gz"
    broken.symlink_to("../.git/annex/objects/xx")
    assert input_signature(broken) == "missing:../.git/annex/objects/xx"
