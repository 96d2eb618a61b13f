"""Job memory from the image header, cached by path, size and mtime."""

from __future__ import annotations

import json
import os

import numpy as np

from conftest import write_image
from neurovid.resources import BASE_MEM_MB, job_mem_mb, memory_estimates
from neurovid.testing import phantom
from neurovid.volume import estimate_memory_bytes


def test_estimates_scale_with_the_header_and_are_cached(tmp_path, monkeypatch):
    small = write_image(tmp_path / "a_T1w.nii.gz", phantom((20, 24, 18)), np.eye(4), np.int16)
    big = write_image(tmp_path / "b_T1w.nii.gz", phantom((60, 64, 50)), np.eye(4), np.int16)
    broken = tmp_path / "c_T1w.nii.gz"
    broken.write_text("no header")
    cache = tmp_path / "cache" / "memory.json"
    paths = {"a": str(small), "b": str(big), "c": str(broken)}
    needed = memory_estimates(paths, cache)
    assert needed == {"a": estimate_memory_bytes(small), "b": estimate_memory_bytes(big)}
    assert needed["b"] > needed["a"]
    assert len(json.loads(cache.read_text())["images"]) == 2

    import neurovid.volume

    def no_header_reads(path):
        raise AssertionError("cached estimates must not read headers again")

    monkeypatch.setattr(neurovid.volume, "estimate_memory_bytes", no_header_reads)
    assert memory_estimates({"a": str(small), "b": str(big)}, cache) == needed
    monkeypatch.undo()

    stat = small.stat()
    os.utime(small, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: read again
    write_image(small, phantom((30, 24, 18)), np.eye(4), np.int16)
    assert memory_estimates({"a": str(small)}, cache)["a"] == estimate_memory_bytes(small)


def test_job_mem_mb_grows_with_retries():
    assert job_mem_mb(0) == BASE_MEM_MB
    assert job_mem_mb(2**30, attempt=2) == BASE_MEM_MB + 2048
