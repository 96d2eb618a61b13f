"""The command a SLURM job of the workflow runs, as snakemake-executor-plugin-slurm 2.8.0
writes it for ``sbatch --wrap`` (``format_job_exec``; storage, conda and source-cache options
left out: they do not apply here). Used by tests/cluster/test_job_start.py and
benchmarks/bench_scale.py to start "a cluster job" outside SLURM.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def remote_job_command(
    python: str,
    snakefile: Path,
    targets: Sequence[str],
    config: Sequence[str],
    *,
    cores: int = 2,
    rule: str = "render_video",
) -> list[str]:
    """``python -m snakemake --target-jobs ... --mode remote`` for ``targets`` (wildcard
    values of ``rule``'s ``image``) with ``config`` (``key=value`` items)."""
    return [
        python, "-m", "snakemake",
        "--snakefile", str(snakefile),
        "--target-jobs", *(f"{rule}:image={target}" for target in targets),
        "--allowed-rules", rule,
        "--cores", str(cores), "--attempt", "1", "--force",
        "--target-files-omit-workdir-adjustment", "--max-inventory-time", "0",
        "--retries", "0", "--nocolor", "--no-hooks", "--nolock", "--ignore-incomplete",
        "--config", *config,
        "--executor", "slurm-jobstep", "--jobs", "1", "--mode", "remote",
    ]  # fmt: skip
