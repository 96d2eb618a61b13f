"""Smoke test: a tiny workflow through `snakemake --executor slurm` on the one-node cluster.

Three `render_video` jobs in group `render` must share ONE SLURM job (the profile's
`group-components: render=20`), and `summary` must run as a second SLURM job.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SNAKEFILE = textwrap.dedent(
    """\
    SCANS = ["a", "b", "c"]

    localrules: all

    rule all:
        input: "summary.txt"

    rule render_video:
        output: "render/{scan}.txt"
        group: "render"
        threads: 1
        resources: mem_mb=100, runtime=2
        shell: 'echo "{wildcards.scan} job=$SLURM_JOB_ID host=$(hostname)" > {output}'

    rule summary:
        input: expand("render/{scan}.txt", scan=SCANS)
        output: "summary.txt"
        resources: mem_mb=100, runtime=2
        shell: 'cat {input} > {output}; echo "summary job=$SLURM_JOB_ID" >> {output}'
    """
)


def _job_id(path: Path) -> str:
    line = path.read_text().splitlines()[-1]
    job = line.split("job=", 1)[1].split()[0] if "job=" in line else ""
    assert job.isdigit(), f"{path} was not written inside a SLURM job: {line!r}"
    return job


@pytest.mark.cluster
def test_group_jobs_run_as_slurm_jobs(slurm_cluster, run_snakemake_slurm, tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)

    result = run_snakemake_slurm(tmp_path, "--snakefile", "Snakefile", timeout=300)

    log = result.log_text
    print(f"cluster set-up {slurm_cluster.setup_seconds:.1f}s, snakemake {result.duration:.1f}s")
    assert not result.timed_out, f"snakemake timed out after {result.duration:.0f}s:\n{log}"
    assert result.returncode == 0, f"snakemake failed ({result.returncode}):\n{log}"

    renders = [tmp_path / "render" / f"{scan}.txt" for scan in "abc"]
    summary = tmp_path / "summary.txt"
    for out in [*renders, summary]:
        assert out.is_file(), f"missing {out}"

    # The three renders ran in one SLURM job, the summary in another one.
    render_jobs = {_job_id(p) for p in renders}
    assert len(render_jobs) == 1, f"renders spread over SLURM jobs {render_jobs}"
    (render_job,) = render_jobs
    summary_job = _job_id(summary)
    assert summary_job != render_job

    # ... and those are the jobs snakemake says it submitted, with logs kept.
    submitted = result.slurm_job_ids
    assert sorted(submitted) == sorted([render_job, summary_job]), log
    slurm_logs = tmp_path / ".snakemake" / "slurm_logs"
    assert list(slurm_logs.glob("group_render*")), list(slurm_logs.rglob("*"))
    assert list(slurm_logs.rglob(f"{render_job}.log")), list(slurm_logs.rglob("*"))
    assert list(slurm_logs.rglob(f"{summary_job}.log")), list(slurm_logs.rglob("*"))

    # SLURM itself recorded both jobs as completed.
    states = slurm_cluster.job_states([render_job, summary_job])
    assert states == {render_job: "COMPLETED", summary_job: "COMPLETED"}, states
