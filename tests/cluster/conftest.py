"""Fixtures for tests against a real one-node SLURM cluster started on this host.

``slurm_cluster`` (session scope) runs ``tests/cluster/slurm/start.sh`` once, yields a
:class:`SlurmCluster` and runs ``stop.sh`` at teardown, also when tests failed. There is one
cluster per machine (fixed ports, /etc/slurm/slurm.conf): concurrent pytest sessions share
it, each registered in ``STATE_DIR/users/<pid>``, and the last one out stops it. A cluster
that was started by hand (up, with no registered session) is reused and left running.
``run_snakemake_slurm`` runs ``snakemake --executor slurm`` against that cluster, bounded
by ``timeout -k``, e.g.::

    @pytest.mark.cluster
    def test_real_workflow(run_snakemake_slurm, tmp_path):
        result = run_snakemake_slurm(
            tmp_path,
            "--configfile", str(REPO_ROOT / "config" / "config.yaml"),  # cwd is tmp_path
            "--config", f"bids_dir={bids}", f"output_dir={tmp_path / 'out'}",
            snakefile=REPO_ROOT / "Snakefile",
            timeout=600,
        )
        assert result.returncode == 0, result.log_text

Starting the cluster needs root (it apt-installs slurm-wlm and munge when missing). Not
root: the tests are skipped, but when ``CI`` is set they fail instead: CI must never
silently skip them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .shared_cluster import ClusterUser, parse_exports, state_dir_from_env

REPO_ROOT = Path(__file__).resolve().parents[2]
SLURM_PROFILE = REPO_ROOT / "workflow" / "profiles" / "slurm"
# First status poll after this many seconds (the profile's 20 s is for real clusters).
TEST_STATUS_INTERVAL = 5


def _unavailable(reason: str) -> None:
    """Skip, or fail when running in CI (a missing capability must never pass there)."""
    if os.environ.get("CI"):
        pytest.fail(f"SLURM cluster tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class SlurmCluster:
    """A running one-node cluster.

    ``vars`` are the variables start.sh exported (SLURM_CONF, NEUROVID_SLURM_STATE_DIR,
    NEUROVID_SLURM_PARTITION); ``env`` is ``os.environ`` plus ``vars``: pass it as
    ``env=`` to anything that calls sbatch/squeue/scancel/sinfo.
    """

    vars: Mapping[str, str]
    env: Mapping[str, str]
    state_dir: Path
    conf: Path
    partition: str
    node: str
    setup_seconds: float
    logs: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "logs", self.state_dir / "log")

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command (e.g. ``"squeue"``) against this cluster."""
        return subprocess.run(
            list(cmd), env=dict(self.env), capture_output=True, text=True, timeout=timeout
        )

    def job_states(self, job_ids: Sequence[str]) -> dict[str, str]:
        """State of each job as squeue reports it (finished jobs stay for MinJobAge=300 s)."""
        res = self.run("squeue", "--states=all", "-h", "-o", "%i|%T", "-j", ",".join(job_ids))
        return dict(line.split("|", 1) for line in res.stdout.split() if "|" in line)

    def __getitem__(self, key: str) -> str:  # cluster["SLURM_CONF"]
        return self.vars[key]


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    if sys.platform != "linux":
        _unavailable("the SLURM test cluster needs Linux")
    if os.geteuid() != 0:
        _unavailable("starting the one-node SLURM test cluster needs root")
    for tool in ("bash", "flock", "timeout"):
        if shutil.which(tool) is None:
            _unavailable(f"'{tool}' is not installed")

    state_dir = state_dir_from_env()
    user = ClusterUser(state_dir)
    release = user.release
    try:
        proc = user.start()
        error = None if proc.returncode == 0 else f"exit {proc.returncode}"
        stderr = proc.stderr
    except subprocess.TimeoutExpired as exc:
        proc, error = None, "timed out"
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
    setup_seconds = user.setup_seconds
    exported = parse_exports(proc.stdout) if proc is not None else {}
    if error is None and "SLURM_CONF" not in exported:
        error = f"printed no SLURM_CONF: {proc.stdout!r}"
    if error is not None:
        release()
        pytest.fail(f"start.sh failed ({error}):\n{stderr[-5000:]}", pytrace=False)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(exported)
    cluster = SlurmCluster(
        vars=exported,
        env=env,
        state_dir=state_dir,
        conf=Path(exported["SLURM_CONF"]),
        partition=exported.get("NEUROVID_SLURM_PARTITION", "debug"),
        node=subprocess.run(
            ["hostname", "-s"], capture_output=True, text=True, check=True
        ).stdout.strip(),
        setup_seconds=setup_seconds,
    )
    try:
        yield cluster
    finally:
        res = release()
        if res is not None and res.returncode != 0:
            # Reported as a teardown error, apart from the tests' own results.
            pytest.fail(f"stop.sh failed ({res.returncode}):\n{res.stderr}", pytrace=False)


@dataclass
class SnakemakeResult:
    """Outcome of one ``snakemake --executor slurm`` run."""

    cmd: list[str]
    returncode: int
    log: Path
    workdir: Path
    duration: float

    @property
    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def timed_out(self) -> bool:
        return self.returncode in (124, 137)  # from `timeout -k`

    @property
    def slurm_job_ids(self) -> list[str]:
        """SLURM job ids the plugin reported submitting, in order."""
        pattern = r"submitted with SLURM jobid (\d+)|SLURM job ID (\d+)"
        return [a or b for a, b in re.findall(pattern, self.log_text)]


RunSnakemake = Callable[..., SnakemakeResult]


@pytest.fixture
def run_snakemake_slurm(slurm_cluster: SlurmCluster) -> RunSnakemake:
    """Return ``run(workdir, *args, snakefile=None, profile=..., timeout=300, jobs=None)``.

    Runs ``timeout -k 10 <timeout> python -m snakemake --workflow-profile <profile>
    --executor slurm --slurm-init-seconds-before-status-checks 5 [--snakefile S] *args``
    in ``workdir`` with the cluster's env; stdout+stderr go to ``workdir/snakemake.log``.
    Without ``snakefile`` snakemake looks for a Snakefile in workdir: for the real workflow
    pass ``snakefile=REPO_ROOT / "Snakefile"`` and ``--configfile`` (its ``configfile:`` is
    relative to workdir). ``profile=None`` leaves the workflow profile out.
    """

    def run(
        workdir: Path,
        *args: str,
        snakefile: Path | None = None,
        profile: Path | None = SLURM_PROFILE,
        timeout: int = 300,
        extra_env: Mapping[str, str] | None = None,
    ) -> SnakemakeResult:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        cmd: list[str] = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "snakemake"]
        if profile is not None:
            cmd += ["--workflow-profile", str(profile)]
        cmd += [
            "--executor",
            "slurm",
            "--slurm-init-seconds-before-status-checks",
            str(TEST_STATUS_INTERVAL),
            "--seconds-between-status-checks",
            str(TEST_STATUS_INTERVAL),
        ]
        if snakefile is not None:
            cmd += ["--snakefile", str(snakefile)]
        cmd += list(args)
        env = dict(slurm_cluster.env)
        # Keep the job's python the same as ours: jobs re-run `python -m snakemake`.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        if extra_env:
            env.update(extra_env)
        log = workdir / "snakemake.log"
        start = time.monotonic()
        with log.open("w") as fh:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            proc = subprocess.run(
                cmd, cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False
            )
        return SnakemakeResult(
            cmd=cmd,
            returncode=proc.returncode,
            log=log,
            workdir=workdir,
            duration=time.monotonic() - start,
        )

    return run
