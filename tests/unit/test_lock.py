"""One run at a time per output folder (neurovid.lock)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from neurovid.lock import OutputLocked, acquire_output_lock, lock_holder

HOLD = """
import sys, time
from neurovid.lock import acquire_output_lock
acquire_output_lock(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_is_exclusive_across_processes_and_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLocked) as refused:
            acquire_output_lock(tmp_path)
        message = str(refused.value)
        assert message.startswith(f"error: another neurovid run is writing to {tmp_path} ")
        assert f"pid {holder.pid} " in message and "\n" not in message
        assert lock_holder(tmp_path).startswith(f"pid {holder.pid} ")
    finally:
        holder.kill()  # like kill -9: the kernel drops the lock
        holder.wait()
    assert lock_holder(tmp_path) is None
    descriptor = acquire_output_lock(tmp_path)
    os.close(descriptor)


def test_lock_holder_writes_nothing(tmp_path):
    assert lock_holder(tmp_path / "out") is None
    assert not (tmp_path / "out").exists()
