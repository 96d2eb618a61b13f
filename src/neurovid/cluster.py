"""How a cluster job runs the renders it was given, and what it asks the cluster for.

With ``--executor slurm``, Snakemake's main process submits each group of render jobs (the
profile's ``groups:`` and ``group-components:``) as one ``sbatch`` job that runs Snakemake
again (``--mode remote``) on the job's targets. Snakemake sizes that job for renders running
side by side: CPUs = renders in flight (at most ``--cores``), memory = the sum of their
``mem_mb``, time = the sum over the "layers" of renders that run one after another. But the
job-step executor of snakemake-executor-plugin-slurm (0.6.1) runs each member through its own
``srun`` step, one at a time (``--jobs 1``, each step waited for), and each step starts
Snakemake a third time, parsing the workflow and building a DAG again before its render
(snakemake-executor-plugin-slurm issue #469, "Group jobs run sequentially on Slurm").

:func:`run_renders_in_this_job` makes the job do what it asked for: inside a job (and only
there) the render rule is a local rule, so Snakemake's own local executor runs the members
as subprocesses of the job's Snakemake, as many at once as the job has CPUs, with no step
and no further Snakemake start. That relies on the rule's group being set by the profile
(``groups: render_video=render``), which Snakemake does not pass on to the job, and not by a
``group:`` directive (a member of a group is never local). The main process is untouched:
there the rule is grouped and submitted as before.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BYTES_PER_RUNTIME_MINUTE",
    "job_runtime_min",
    "renders_in_flight",
    "run_renders_in_this_job",
]

#: A render's ``runtime`` request: one minute per this many bytes of load memory (see
#: :func:`neurovid.volume.estimate_memory_bytes`, about 7 to 12 bytes a voxel). A 1 mm head
#: (8.7 M voxels, 61 MB) renders in 1.6 s of CPU on this project's benchmark machine, so a
#: minute covers images up to ~6 times its size with a margin of 5 or more for a slow or
#: busy node; SLURM counts time in whole minutes, so less cannot be asked.
BYTES_PER_RUNTIME_MINUTE = 400 * 2**20


def job_runtime_min(needed_bytes: int, attempt: int = 1) -> int:
    """``runtime`` (minutes) for one render job, from what loading its image needs.

    Parameters
    ----------
    needed_bytes : int
        Bytes to load the image (0 when its header could not be read: such a job only
        writes a failed sidecar).
    attempt : int
        Snakemake's attempt number; a retry (``--retries``) asks for as much again.

    Returns
    -------
    int
        Whole minutes, at least one per attempt.
    """
    per_attempt = max(1, math.ceil(max(0, needed_bytes) / BYTES_PER_RUNTIME_MINUTE))
    return per_attempt * max(1, attempt)


def renders_in_flight(cores: Any, environ: Mapping[str, str] | None = None) -> int:
    """How many renders a cluster job runs at once: the CPUs SLURM gave it.

    ``SLURM_CPUS_PER_TASK`` (set when the job asked for CPUs, as the slurm executor always
    does) wins; otherwise Snakemake's ``--cores`` for the job (which capped the CPUs the
    group asked for), else the CPUs this process may use.
    """
    env = os.environ if environ is None else environ
    for value in (env.get("SLURM_CPUS_PER_TASK"), cores):
        try:
            number = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if number > 0:
            return number
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run_renders_in_this_job(workflow: Any, *rule_names: str) -> int | None:
    """Inside a cluster job (Snakemake's ``--mode remote``), run ``rule_names`` locally,
    as many at once as the job has CPUs; elsewhere do nothing.

    Returns how many run at once, or None outside a cluster job.
    """
    if not getattr(workflow, "remote_exec", False):
        return None
    workflow.localrules(*rule_names)
    in_flight = renders_in_flight(workflow.resource_settings.cores)
    # Snakemake counts every local job against its "nodes" (the job gets --jobs 1 from the
    # slurm executor, and the scheduler lifts the core limit whenever nodes are counted):
    # one node per render in flight.
    workflow.global_resources["_nodes"] = in_flight
    return in_flight
