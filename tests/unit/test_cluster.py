"""What a render job asks a cluster for, and how many renders a cluster job runs at once
(neurovid.cluster; the workflow on SLURM itself: tests/cluster)."""

from __future__ import annotations

import os

import pytest

from neurovid.cluster import (
    BYTES_PER_RUNTIME_MINUTE,
    job_runtime_min,
    renders_in_flight,
)


@pytest.mark.parametrize(
    ("needed_bytes", "attempt", "minutes"),
    [
        (0, 1, 1),  # unreadable header: the job only writes a failed sidecar
        (61 * 2**20, 1, 1),  # a 1 mm head
        (BYTES_PER_RUNTIME_MINUTE, 1, 1),
        (BYTES_PER_RUNTIME_MINUTE + 1, 1, 2),
        (10 * BYTES_PER_RUNTIME_MINUTE, 1, 10),
        (61 * 2**20, 2, 2),  # a retry asks for as much again
        (3 * BYTES_PER_RUNTIME_MINUTE, 2, 6),
        (-5, 0, 1),
    ],
)
def test_runtime_is_whole_minutes_from_the_header(needed_bytes, attempt, minutes):
    assert job_runtime_min(needed_bytes, attempt) == minutes


def test_renders_in_flight_are_the_cpus_slurm_gave():
    assert renders_in_flight(8, {"SLURM_CPUS_PER_TASK": "3"}) == 3
    assert renders_in_flight(4, {}) == 4
    assert renders_in_flight("4", {"SLURM_CPUS_PER_TASK": "junk"}) == 4
    own = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    assert renders_in_flight(None, {}) == max(1, own)
    assert renders_in_flight("all", {"SLURM_CPUS_PER_TASK": "0"}) == max(1, own)
