#!/usr/bin/env python
"""Benchmarks of issue 6: speed of discovery and Snakemake's overhead.

    python benchmarks/bench_workflow.py                     # print the table
    python benchmarks/bench_workflow.py --write docs/benchmarks.md

Run with the project's venv (``.venv/bin/python``); Snakemake is run from the repository
root exactly as a user would (``snakemake ... --config bids_dir=... output_dir=...``). The
exit status is 1 when a goal of the issue is missed. About 6 minutes on 2 cores.

Figures (every one is the median of ``--repeats`` runs, each run a fresh process measured
from start to exit, imports included: wall time from ``time.perf_counter``, CPU time (user +
sys, children included) from ``os.wait4``, peak RSS from ``/usr/bin/time``):

1. Discovery on a generated dataset of ``--subjects`` x ``--sessions`` (default 1,000 x 2)
   sessions, each with one anat T1w and two func bold runs with JSON sidecars: 2,000 T1w +
   4,000 bold + 4,000 JSON files, all hard links to three small files (no disk cost).

   - *bare pybids*: ``python -c 'BIDSLayout(root, validate=False)'``;
   - *cold* ``snakemake -n --cores 2``: no discovery cache (``OUTPUT_DIR/.neurovid`` deleted;
     a dry-run writes no ``.snakemake`` metadata, so there is nothing else to delete);
   - *warm* ``snakemake -n --cores 2``: the same command again, with the cache;
   - *Snakemake floor* (information): a stand-alone Snakefile with the same DAG (2,000
     render jobs with input/output/log/resources, one gather job) and no neurovid code:
     what Snakemake itself costs for ``-n`` over 2,000 jobs.

2. Rendering ``--render-images`` (default 100) distinct subjects hard-linked to one demo
   image (``--render-image 1mm``: the 197x233x189 MNI152 template as uint8, the demo's
   ``sub-01``; ``2mm``: its 2 mm downsample) with ``snakemake --cores 2`` into a fresh
   output directory, against the ideal ``N x CPU(one standalone render) / 2 cores``, where
   CPU = user + sys of ``python workflow/scripts/render_video.py IN OUT`` (whole process).

3. ``--slurm`` (root; adds ~5 minutes): the same renders once through the one-node SLURM of
   ``tests/cluster/slurm/start.sh`` with ``--workflow-profile workflow/profiles/slurm``,
   sharing that cluster the way ``tests/cluster/conftest.py`` does.

Generated data live in a temporary directory that is removed at the end (``--keep`` keeps
it); the ``.snakemake/metadata`` records of the benchmark's outputs are removed too.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _markdown import cpu_model, write_section

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SNAKEMAKE = [PYTHON, "-m", "snakemake"]
SLURM_START = REPO / "tests" / "cluster" / "slurm" / "start.sh"
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
TIME = Path("/usr/bin/time")

#: goals of issue 6 (ratios)
WARM_GOAL = 0.5
COLD_GOAL = 1.2
RENDER_GOAL = 1.2

BARE_PYBIDS = "import sys; from bids import BIDSLayout; BIDSLayout(sys.argv[1], validate=False)"
#: A dry run writes nothing (issue 9), so the caches a real run leaves (discovery, job
#: memory) are written here by the same library calls, without rendering.
WARM_CACHES = """
import os, sys
from neurovid.discovery import discover
from neurovid.resources import memory_estimates
bids, out = sys.argv[1], sys.argv[2]
found = discover(bids, cache_file=f"{out}/.neurovid/discovery.json")
found.save_cache(f"{out}/.neurovid/discovery.json")
paths = {r.key: os.path.join(bids, r.relpath) for r in found.images}
memory_estimates(paths, f"{out}/.neurovid/memory.json")
"""


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One measured process (and its waited-for descendants)."""

    wall: float
    user: float
    sys: float
    maxrss_mb: float
    returncode: int
    #: CPU seconds of the top process alone (sampled every 0.1 s, so a lower bound)
    own_cpu: float = 0.0
    log: str = ""
    #: 1-minute load average when the run started (other work on the machine)
    load: float = 0.0

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def run_measured(cmd: list[str], *, cwd: Path, log_file: Path, env: dict | None = None) -> Run:
    """Run ``cmd`` to completion; wall, CPU (with children), peak RSS, own CPU.

    ``cmd`` is started by ``/usr/bin/time`` (when present), so that its peak RSS is its
    own: a child forked from this (large) Python process would inherit our high-water mark.
    """
    rss_file = log_file.with_suffix(".rss")
    wrapper = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if TIME.is_file() else []
    load_at_start = os.getloadavg()[0]
    with open(log_file, "w") as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            [*wrapper, *cmd], cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        own = [0.0, 0.0]  # CPU seconds, VmHWM MB of the measured process
        done = threading.Event()

        def sample() -> None:
            ticks = os.sysconf("SC_CLK_TCK")
            pid = process.pid
            while not done.wait(0.1):
                try:
                    if wrapper and pid == process.pid:
                        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                        if not children:
                            continue
                        pid = int(children[0])
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    own[0] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            own[1] = max(own[1], int(line.split()[1]) / 1024)
                except (OSError, IndexError, ValueError):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    try:
        maxrss_mb = int(rss_file.read_text().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        maxrss_mb = own[1]  # no /usr/bin/time: sampled (a lower bound)
    return Run(
        wall=wall,
        user=usage.ru_utime,
        sys=usage.ru_stime,
        maxrss_mb=maxrss_mb,
        returncode=process.returncode,
        own_cpu=own[0],
        log=log_file.read_text(errors="replace"),
        load=load_at_start,
    )


def checked(run: Run, what: str) -> Run:
    if run.returncode != 0:
        tail = "\n".join(run.log.splitlines()[-30:])
        raise SystemExit(f"bench: {what} failed (exit {run.returncode}):\n{tail}")
    return run


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)

    def values(self, attribute: str, fmt: str = "{:.1f}") -> str:
        return ", ".join(fmt.format(getattr(run, attribute)) for run in self.runs)


def load() -> float:
    return os.getloadavg()[0]


def wait_for_quiet(max_load: float, max_wait: float) -> float:
    """Wait (bounded) until the 1-minute load average is below ``max_load``."""
    deadline = time.monotonic() + max_wait
    while load() > max_load and time.monotonic() < deadline:
        time.sleep(5)
    return load()


# --------------------------------------------------------------------------- datasets


def make_sources(tmp: Path) -> dict[str, Path]:
    """The demo dataset (real brain images) plus a small 4-D bold image and its sidecar."""
    import nibabel as nib
    import numpy as np

    from neurovid.demo import build_demo_dataset

    demo = tmp / "demo"
    build_demo_dataset(demo)
    bold = tmp / "bold.nii.gz"
    image = nib.Nifti1Image(np.zeros((64, 64, 36, 10), np.int16), np.diag([3.0, 3.0, 3.5, 1.0]))
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, bold)
    bold_json = tmp / "bold.json"
    bold_json.write_text(json.dumps({"RepetitionTime": 2.0, "TaskName": "rest"}))
    return {
        "1mm": demo / "sub-01" / "anat" / "sub-01_T1w.nii.gz",
        "2mm": demo / "sub-02" / "ses-2" / "anat" / "sub-02_ses-2_T1w.nii.gz",
        "bold": bold,
        "bold_json": bold_json,
    }


def write_description(root: Path, name: str) -> None:
    root.mkdir(parents=True)
    description = {"Name": name, "BIDSVersion": "1.10.0", "DatasetType": "raw"}
    (root / "dataset_description.json").write_text(json.dumps(description))


def make_discovery_dataset(root: Path, sources: dict, subjects: int, sessions: int) -> dict:
    """``subjects`` x ``sessions``: anat T1w + 2 bold runs (+ JSON) each, all hard links."""
    write_description(root, "neurovid discovery benchmark")
    counts = {"T1w": 0, "bold": 0, "json": 0}
    width = max(4, len(str(subjects)))
    for s in range(1, subjects + 1):
        subject = f"sub-{s:0{width}d}"
        for t in range(1, sessions + 1):
            session = f"ses-{t}"
            folder = root / subject / session
            (folder / "anat").mkdir(parents=True)
            (folder / "func").mkdir()
            stem = f"{subject}_{session}"
            os.link(sources["2mm"], folder / "anat" / f"{stem}_T1w.nii.gz")
            counts["T1w"] += 1
            for run in (1, 2):
                func = folder / "func" / f"{stem}_task-rest_run-{run}_bold"
                os.link(sources["bold"], f"{func}.nii.gz")
                os.link(sources["bold_json"], f"{func}.json")
                counts["bold"] += 1
                counts["json"] += 1
    return counts


def make_render_dataset(root: Path, image: Path, n: int) -> None:
    write_description(root, "neurovid render benchmark")
    width = max(3, len(str(n)))
    for s in range(1, n + 1):
        subject = f"sub-{s:0{width}d}"
        (root / subject / "anat").mkdir(parents=True)
        os.link(image, root / subject / "anat" / f"{subject}_T1w.nii.gz")


FLOOR_SNAKEFILE = textwrap.dedent(
    """\
    # Snakemake alone: the DAG shape of neurovid (2,000 render jobs -> one gather) without
    # any neurovid code, input function or pybids.
    KEYS = {keys!r}
    OUT = config["output_dir"]
    BIDS = config["bids_dir"]

    rule all:
        input: f"{{OUT}}/index.html"

    rule render_video:
        input: image=f"{{BIDS}}/{{{{image}}}}.nii.gz"
        output: sidecar=f"{{OUT}}/{{{{image}}}}.json"
        log: f"{{OUT}}/logs/render/{{{{image}}}}.log"
        threads: 1
        resources: mem_mb=300, runtime=20
        group: "render"
        shell: "touch {{output}}"

    rule review_page:
        input: expand(f"{{OUT}}/{{{{image}}}}.json", image=KEYS)
        output: html=f"{{OUT}}/index.html", summary=f"{{OUT}}/logs/summary.json"
        shell: "touch {{output}}"
    """
)


def write_floor_workflow(folder: Path, bids: Path) -> None:
    keys = sorted(
        str(path.relative_to(bids))[: -len(".nii.gz")]
        for path in bids.glob("sub-*/ses-*/anat/*_T1w.nii.gz")
    )
    folder.mkdir(parents=True)
    (folder / "Snakefile").write_text(FLOOR_SNAKEFILE.format(keys=keys))


def forget_metadata(prefix: Path) -> int:
    """Delete ``REPO/.snakemake`` records (metadata, incomplete) of files under ``prefix``."""
    removed = 0
    for kind in ("metadata", "incomplete"):
        base = REPO / ".snakemake" / kind
        if not base.is_dir():
            continue
        for dirpath, _, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(base)
            parts = [p[1:] if p.startswith("@") else p for p in rel_dir.parts]
            for name in filenames:
                encoded = "".join([*parts, name])
                try:
                    path = base64.urlsafe_b64decode(encoded).decode()
                except (ValueError, UnicodeDecodeError):
                    continue
                if path.startswith(str(prefix)):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
        for dirpath, dirnames, filenames in os.walk(base, topdown=False):
            if dirpath != str(base) and not dirnames and not filenames:
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
    return removed


# --------------------------------------------------------------------------- benchmarks


def time_bare_and_cold(
    bids: Path, out: Path, dry: list[str], series: dict, logs: Path, i: int, cwd: Path
) -> None:
    """Run ``i`` of bare pybids and of a cold ``snakemake -n`` (no discovery cache), each
    appended to its series; a dry run must write no cache."""
    run = run_measured(
        [PYTHON, "-c", BARE_PYBIDS, str(bids)], cwd=cwd, log_file=logs / f"bare-{i}.log"
    )
    series["bare"].runs.append(checked(run, "bare BIDSLayout"))
    shutil.rmtree(out / ".neurovid", ignore_errors=True)
    run = run_measured(dry, cwd=REPO, log_file=logs / f"cold-{i}.log")
    series["cold"].runs.append(checked(run, "cold snakemake -n"))
    if (out / ".neurovid" / "discovery.json").is_file():
        raise SystemExit("bench: the dry run wrote a discovery cache")


def bench_discovery(tmp: Path, sources: dict, args) -> dict:
    bids = tmp / "bids-discovery"
    counts = make_discovery_dataset(bids, sources, args.subjects, args.sessions)
    out = tmp / "out-discovery"
    floor_dir = tmp / "floor"
    write_floor_workflow(floor_dir, bids)
    config = ["--config", f"bids_dir={bids}", f"output_dir={out}"]
    dry = [*SNAKEMAKE, "-n", "--cores", "2", *config]
    logs = tmp / "logs"
    series = {name: Series() for name in ("bare", "cold", "warm", "floor")}
    for i in range(args.repeats):
        # interleaved, so that load from other work spreads over all figures alike
        time_bare_and_cold(bids, out, dry, series, logs, i, cwd=tmp)
        run = run_measured(
            [PYTHON, "-c", WARM_CACHES, str(bids), str(out)], cwd=tmp, log_file=logs / "warm.log"
        )
        checked(run, "writing the caches")
        run = run_measured(dry, cwd=REPO, log_file=logs / f"warm-{i}.log")
        series["warm"].runs.append(checked(run, "warm snakemake -n"))
        run = run_measured(
            [*SNAKEMAKE, "-n", "--cores", "2", *config],
            cwd=floor_dir,
            log_file=logs / f"floor-{i}.log",
        )
        series["floor"].runs.append(checked(run, "Snakemake floor -n"))
        last = {name: s.runs[-1].wall for name, s in series.items()}
        print(
            f"  discovery {i + 1}/{args.repeats}: "
            + ", ".join(f"{name} {wall:.2f} s" for name, wall in last.items())
            + f" (load {load():.2f})",
            file=sys.stderr,
        )
    for name in ("cold", "warm"):
        jobs = series[name].runs[-1].log.count("rule render_video:")
        if jobs != counts["T1w"]:
            raise SystemExit(f"bench: {name} dry-run planned {jobs} renders, not {counts['T1w']}")
    return {"counts": counts, "series": series}


#: what a render job's Python does before rendering: start and import (standalone), or
#: start and unpickle the ``snakemake`` object (the ``script:`` preamble)
IMPORTS = "import neurovid.render, neurovid.cli"
PREAMBLE = (
    "import pickle; from snakemake.logging import logger; "
    "from snakemake.iocontainers import Snakemake; import snakemake.script"
)


def bench_render(tmp: Path, sources: dict, args) -> dict:
    image = sources[args.render_image]
    logs = tmp / "logs"
    single, imports, preamble = Series(), Series(), Series()
    for i in range(args.repeats):
        run = run_measured(
            [PYTHON, "workflow/scripts/render_video.py", str(image), str(tmp / f"single-{i}.mp4")],
            cwd=REPO,
            log_file=logs / f"single-{i}.log",
        )
        single.runs.append(checked(run, "standalone render"))
        run = run_measured([PYTHON, "-c", IMPORTS], cwd=REPO, log_file=logs / f"imports-{i}.log")
        imports.runs.append(checked(run, "imports"))
        run = run_measured([PYTHON, "-c", PREAMBLE], cwd=REPO, log_file=logs / f"pre-{i}.log")
        preamble.runs.append(checked(run, "script preamble"))
    bids = tmp / "bids-render"
    make_render_dataset(bids, image, args.render_images)
    workflow = Series()
    for i in range(args.repeats):
        if args.max_load:
            wait_for_quiet(args.max_load, 120)
        out = tmp / f"out-render-{i}"
        run = run_measured(
            [*SNAKEMAKE, "--cores", "2", "--config", f"bids_dir={bids}", f"output_dir={out}"],
            cwd=REPO,
            log_file=logs / f"render-{i}.log",
        )
        workflow.runs.append(checked(run, "snakemake --cores 2"))
        check_rendered(out, args.render_images)
        print(
            f"  render {i + 1}/{args.repeats}: {run.wall:.1f} s wall, {run.cpu:.1f} s CPU "
            f"(Snakemake's own process {run.own_cpu:.1f} s; load {run.load:.2f} -> {load():.2f})",
            file=sys.stderr,
        )
        shutil.rmtree(out)
    forget_metadata(tmp)
    cpu_one = single.median("cpu")
    return {
        "single": single,
        "imports": imports,
        "preamble": preamble,
        "workflow": workflow,
        "ideal": args.render_images * cpu_one / 2,
        "cpu_one": cpu_one,
        "shape": image_shape(image),
    }


def check_rendered(out: Path, n: int) -> None:
    sidecars = [json.loads(p.read_text()) for p in out.glob("sub-*/anat/*.json")]
    rendered = sum(s["status"] == "rendered" for s in sidecars)
    if rendered != n or not (out / "index.html").is_file():
        raise SystemExit(f"bench: {rendered} of {n} images rendered in {out}")


# The one-node SLURM cluster of tests/cluster/slurm is shared by everything on this machine:
# use it as tests/cluster/conftest.py does (tests/cluster/shared_cluster.py).


@contextlib.contextmanager
def slurm_cluster():
    """The shared one-node cluster, started if needed and released after: yields the
    environment of a command that uses it, and the cluster user."""
    sys.path.insert(0, str(REPO))
    from tests.cluster.shared_cluster import ClusterUser, parse_exports, state_dir_from_env

    user = ClusterUser(state_dir_from_env())
    try:
        start = user.start()
        if start.returncode != 0:
            raise SystemExit(f"bench: {SLURM_START} failed:\n{start.stderr[-3000:]}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        env.update(parse_exports(start.stdout))
        env["PATH"] = f"{Path(PYTHON).parent}:{env.get('PATH', '')}"
        yield env, user
    finally:
        user.release()


def run_on_slurm(bids: Path, out: Path, n_images: int, log_file: Path, env: dict) -> Run:
    """The README's cluster command on ``bids``; every image must be rendered."""
    run = run_measured(slurm_command(bids, out), cwd=REPO, log_file=log_file, env=env)
    checked(run, "snakemake --executor slurm")
    check_rendered(out, n_images)
    return run


def bench_slurm(tmp: Path, args) -> dict:
    """The render dataset through ``snakemake --executor slurm`` (README's command)."""
    import re

    with slurm_cluster() as (env, user):
        run = run_on_slurm(
            tmp / "bids-render", tmp / "out-slurm", args.render_images,
            tmp / "logs" / "slurm.log", env,
        )  # fmt: skip
        jobs = len(set(re.findall(r"SLURM jobid (\d+)", run.log)))
        print(f"  slurm: {run.wall:.1f} s wall, {jobs} SLURM jobs", file=sys.stderr)
        forget_metadata(tmp)
        return {"run": run, "jobs": jobs, "by_hand": user.started_by_hand}


#: status polls every 5 s instead of the profile's 20 s (as tests/cluster does)
SLURM_POLL = [
    "--slurm-init-seconds-before-status-checks",
    "5",
    "--seconds-between-status-checks",
    "5",
]


def slurm_command(bids: Path, out: Path) -> list[str]:
    """The README's cluster command (the SLURM profile), with the benchmark's faster polling."""
    return [*SNAKEMAKE, "--workflow-profile", "workflow/profiles/slurm", "--executor", "slurm",
            *SLURM_POLL, "--config", f"bids_dir={bids}", f"output_dir={out}"]  # fmt: skip


def image_shape(path: Path) -> str:
    import nibabel as nib

    image = nib.load(path)
    shape = "x".join(map(str, image.shape[:3]))
    zooms = "x".join(f"{z:g}" for z in image.header.get_zooms()[:3])
    return f"{shape} voxels of {zooms} mm, {image.get_data_dtype()}"


# --------------------------------------------------------------------------- report


def machine_facts() -> list[str]:
    import bids
    import snakemake

    from neurovid import __version__

    cpu = cpu_model()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    commit = git.stdout.strip() or "?"
    dirty = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", "src", "workflow", "Snakefile"], cwd=REPO
    )
    if dirty.returncode != 0:
        commit += " with uncommitted changes"
    return [
        f"`nproc` {os.cpu_count()}; CPU {cpu}; {mem:.0f} GiB RAM; "
        f"{platform.system()} {platform.release()}; file system of the temp dir: "
        f"{filesystem(tempfile.gettempdir())}",
        f"Python {platform.python_version()}, Snakemake {snakemake.__version__}, "
        f"pybids {bids.__version__}, neurovid {__version__} (commit {commit})",
    ]


def filesystem(path: str) -> str:
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) > len(
                best
            ):
                best, kind = mount, fstype
    except OSError:
        pass
    return kind


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def build_table(discovery, render, slurm, args) -> tuple[str, bool]:
    rows = []
    all_ok = True
    if discovery:
        s = discovery["series"]
        c = discovery["counts"]
        bare = s["bare"].median("wall")
        rows.append(
            (
                f"bare pybids `BIDSLayout(root, validate=False)`: {c['T1w']:,} T1w + "
                f"{c['bold']:,} bold + {c['json']:,} JSON",
                f"{bare:.2f} s, {s['bare'].median('maxrss_mb'):.0f} MB",
                "reference",
                "",
            )
        )
        for name, goal, label in (
            ("cold", COLD_GOAL, "cold `snakemake -n --cores 2` (no discovery cache)"),
            ("warm", WARM_GOAL, "warm `snakemake -n --cores 2` (discovery cache)"),
        ):
            wall = s[name].median("wall")
            ok = wall <= goal * bare
            all_ok &= ok
            rows.append(
                (
                    label,
                    f"{wall:.2f} s = **{wall / bare:.2f}x** bare, "
                    f"{s[name].median('maxrss_mb'):.0f} MB",
                    f"<= {goal}x bare ({goal * bare:.2f} s)",
                    verdict(ok),
                )
            )
        floor = s["floor"].median("wall")
        warm = s["warm"].median("wall")
        rows.append(
            (
                f"Snakemake alone: `-n` of a {c['T1w']:,}-job DAG of the same shape, no neurovid",
                f"{floor:.2f} s, {s['floor'].median('maxrss_mb'):.0f} MB: neurovid adds "
                f"{warm - floor:.2f} s warm, {s['cold'].median('wall') - floor:.2f} s cold",
                "information",
                "",
            )
        )
    if render:
        n = args.render_images
        single, workflow = render["single"], render["workflow"]
        cpu_one = render["cpu_one"]
        rows.append(
            (
                f"one standalone render `python workflow/scripts/render_video.py IN OUT`, "
                f"{args.render_image} demo image ({render['shape']})",
                f"{cpu_one:.2f} s CPU (user+sys), {single.median('wall'):.2f} s wall",
                "reference",
                "",
            )
        )
        wall = workflow.median("wall")
        ideal = render["ideal"]
        ok = wall <= RENDER_GOAL * ideal
        all_ok &= ok
        rows.append(
            (
                f"{n} images, `snakemake --cores 2`, fresh output dir, start to end",
                f"{wall:.1f} s = **{wall / ideal:.2f}x** ideal ({ideal:.1f} s = {n} x "
                f"{cpu_one:.2f} s / 2)",
                f"<= {RENDER_GOAL}x ideal ({RENDER_GOAL * ideal:.1f} s)",
                verdict(ok),
            )
        )
        cpu = workflow.median("cpu")
        own = workflow.median("own_cpu")
        per_job = (cpu - own) / n
        rows.append(
            (
                "where that run's CPU went",
                f"{cpu:.1f} s: Snakemake's own process {own:.1f} s (start, DAG, scheduling "
                f"{n + 2} jobs); jobs {per_job:.2f} s per image (review page included) vs "
                f"{cpu_one:.2f} s standalone",
                "information",
                "",
            )
        )
        rows.append(
            (
                "per-job Python start-up, in each render's CPU",
                f"start + `{IMPORTS}`: {render['imports'].median('cpu'):.2f} s (standalone and "
                f"job alike); the `script:` preamble (unpickling the job): "
                f"{render['preamble'].median('cpu'):.2f} s",
                "information",
                "",
            )
        )
        if slurm:
            run = slurm["run"]
            rows.append(
                (
                    f"{n} images on the one-node SLURM (`workflow/profiles/slurm`, status polls "
                    "every 5 s), one run",
                    f"{run.wall:.1f} s = {run.wall / ideal:.2f}x ideal, "
                    f"{slurm['jobs']} SLURM jobs",
                    "information",
                    "",
                )
            )
        else:
            rows.append(
                (
                    f"{n} images on the one-node SLURM",
                    "not run: TODO `--slurm` (root; tests/cluster/slurm/start.sh)",
                    "",
                    "",
                )
            )
    lines = ["| figure | measured (median) | goal | result |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines), all_ok


def raw_figures(discovery, render, slurm) -> str:
    lines = []

    def line(label: str, series: Series, own: bool = False) -> None:
        text = (
            f"- {label}: wall {series.values('wall', '{:.2f}')} s; CPU "
            f"{series.values('cpu', '{:.2f}')} s; peak RSS {series.values('maxrss_mb', '{:.0f}')}"
            f" MB; load at start {series.values('load', '{:.2f}')}"
        )
        if own:
            text += f"; Snakemake's own process CPU {series.values('own_cpu')} s"
        lines.append(text)

    if discovery:
        for name, series in discovery["series"].items():
            line(name, series)
    if render:
        line("standalone render", render["single"])
        line("python start + imports", render["imports"])
        line("script preamble", render["preamble"])
        line("snakemake --cores 2", render["workflow"], own=True)
    if slurm:
        line("snakemake --executor slurm", Series([slurm["run"]]), own=True)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="MD", help="also write the report to this file")
    parser.add_argument("--subjects", type=int, default=1000, help="default 1000")
    parser.add_argument("--sessions", type=int, default=2, help="default 2")
    parser.add_argument("--render-images", type=int, default=100, help="default 100")
    parser.add_argument(
        "--render-image",
        choices=("1mm", "2mm"),
        default="1mm",
        help="demo image to render (default 1mm)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--only", choices=("discovery", "render"))
    parser.add_argument(
        "--slurm",
        action="store_true",
        help="also render on the one-node SLURM of tests/cluster (root)",
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=0.0,
        metavar="LOAD",
        help="before each render run, wait (<= 2 min) for a lower load",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args(argv)
    if args.slurm and not SLURM_START.is_file():
        parser.error(f"--slurm needs {SLURM_START.relative_to(REPO)}")
    if args.slurm and args.only == "discovery":
        parser.error("--slurm renders: not with --only discovery")

    began = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="neurovid-bench-"))
    (tmp / "logs").mkdir()
    print(f"bench: data in {tmp}; load average {load_before[0]:.2f}", file=sys.stderr)
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        print("bench: warning: the machine is busy: timings will be high", file=sys.stderr)
    discovery = render = slurm = None
    try:
        sources = make_sources(tmp)
        if args.only in (None, "discovery"):
            discovery = bench_discovery(tmp, sources, args)
        if args.only in (None, "render"):
            render = bench_render(tmp, sources, args)
            if args.slurm:
                slurm = bench_slurm(tmp, args)
    finally:
        if args.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        forget_metadata(tmp)
    took = time.perf_counter() - began
    load_after = os.getloadavg()
    table, all_ok = build_table(discovery, render, slurm, args)
    loads = f"{_loads(load_before)} before, {_loads(load_after)} after"
    print(table)
    print(f"\nbenchmark took {took / 60:.1f} min; load average (1/5/15 min): {loads}")
    if args.write:
        write_report(
            Path(args.write), table, raw_figures(discovery, render, slurm), args, took, loads
        )
    return 0 if all_ok else 1


def _loads(values) -> str:
    return "/".join(f"{x:.2f}" for x in values)


def write_report(path: Path, table: str, raw: str, args, took: float, loads: str) -> None:
    options = [
        f"--{name.replace('_', '-')} {value}"
        for name, value in (
            ("subjects", args.subjects),
            ("sessions", args.sessions),
            ("render_images", args.render_images),
            ("render_image", args.render_image),
            ("repeats", args.repeats),
        )
        if value != DEFAULTS[name]
    ]
    flags = [
        *options,
        *(["--only " + args.only] if args.only else []),
        *(["--slurm"] if args.slurm else []),
    ]
    command = " ".join(["python benchmarks/bench_workflow.py", *flags, "--write", str(path)])
    text = HEADER.format(
        table=table,
        command=command,
        facts="\n".join(f"- {fact}" for fact in machine_facts()),
        took=took / 60,
        repeats=args.repeats,
        loads=loads,
        slurm_time=" (`--slurm`: about 3 of them)" if args.slurm else "",
        date=time.strftime("%Y-%m-%d %H:%M"),
        raw=raw,
    )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(OWN_FILE_HEADER)
    # a section of its own: with `make bench` the file is docs/benchmarks.md, shared
    write_section(path, "bench_workflow", text + "\n" + NOTES)
    print(f"bench: wrote its section of {path}", file=sys.stderr)


DEFAULTS = {
    "subjects": 1000,
    "sessions": 2,
    "render_images": 100,
    "render_image": "1mm",
    "repeats": 3,
}

OWN_FILE_HEADER = """\
# Workflow benchmarks

Written by `python benchmarks/bench_workflow.py --write docs/benchmarks.md`, which
rewrites its own section below (`make bench` writes the same section into
docs/benchmarks.md).
"""

HEADER = """\
## Workflow: discovery speed and Snakemake's overhead (issue 6)

{table}

Medians of {repeats} runs, measured {date} in {took:.1f} min. Load average (1/5/15 min):
{loads}. Every figure is one whole process from start to exit, Python start-up and
imports included, for pybids and Snakemake alike: wall time by the benchmark, CPU time
(user + sys, children included) and peak RSS from the kernel.

### Reproduce

From the repository root, with the project's environment:

```sh
{command}
```

It prints the table, takes about {took:.0f} min{slurm_time} and leaves nothing behind
(generated data in a temporary folder; their records in `.snakemake/metadata` are removed).
`--help` lists the options (`--repeats`, `--only discovery|render`, `--slurm`,
`--max-load`, `--keep`); the exit status is 1 when a goal is missed.

### Machine

{facts}

### Raw figures (each run, in order)

{raw}
"""

NOTES = """\
### What is measured

- **Discovery dataset**: 1,000 subjects x 2 sessions, each with `anat/..._T1w.nii.gz` and
  `func/..._task-rest_run-{1,2}_bold.nii.gz` + `.json`: hard links to three files (the demo's
  2 mm T1w, 117x95x99 int16; a 64x64x36x10 int16 bold; a two-key JSON sidecar), plus
  `dataset_description.json`.
- **bare pybids** = `python -c "import sys; from bids import BIDSLayout;
  BIDSLayout(sys.argv[1], validate=False)" ROOT`: default arguments otherwise, so pybids
  indexes every file and the JSON metadata. Whole process, imports included: the same
  interpretation as for `snakemake`.
- **cold** = `snakemake -n --cores 2 --config bids_dir=... output_dir=...` from the repository
  root after deleting `OUTPUT_DIR/.neurovid` (the discovery and memory caches); a dry-run
  writes no `.snakemake` metadata, so there is nothing else to delete. Cold means "no
  discovery cache", not a cold page cache. **warm** = the same command again.
- **Snakemake alone** = a generated Snakefile with the same DAG (2,000 render jobs with
  input, output, log, resources and group, one gather job) and no neurovid code: what
  Snakemake itself needs for `-n` over 2,000 jobs. neurovid's own part is the rest.
- **Renders**: 100 subjects hard-linked to the demo's 1 mm T1w (the MNI152 template as
  uint8, 197x233x189, a realistic 1 mm render). Ideal = 100 x CPU (user + sys) of one
  standalone `python workflow/scripts/render_video.py IN OUT` (whole process) / 2 cores.
  The measured run is `snakemake --cores 2` into a fresh output dir, start to end
  (discovery, 100 renders, `dataset_description`, review page).

### Where the time went, and what changed (issue 6)

Profiled with cProfile (`python -m cProfile -m snakemake -n ...`), `python -X importtime` and
runs of a copy of the workflow with parts stubbed out. Before the changes, on this machine
(single runs, moderate load): bare pybids 10.9 s, cold 8.5 s, warm 4.7 s (4.2 s CPU).

- **Cold**: `index_with_pybids` had pybids index all 10,000 files (3.9 s), although images
  are only ever taken from `sub-*/[ses-*/]anat/` (the workflow's wildcard constraint, and the
  folders the cache fingerprint covers). `src/neurovid/discovery.py` now passes pybids
  `ignore` patterns (`NOT_INDEXED`) that skip the other datatype folders (func, dwi, fmap,
  ...) and subject-level files, besides pybids' defaults (code, models, sourcedata, stimuli;
  derivatives and dot files always). Index: 3.9 s -> 1.7 s here. The result is identical:
  checked against the old code on the demo, the bad-input corpus, the tests' dataset, this
  2,000-image dataset and a layout with odd folders (top-level non-subject folders, nested
  and symlinked anat folders, `anatomy/`, T1w names in func/), with every filter.
- **Warm**: neurovid's part (warm minus Snakemake alone) was ~1.7 s of 4.2 s CPU. The
  biggest piece (~0.55 s) was `image_mem_mb`, which read 2,000 gzipped NIfTI headers to
  size every job's memory, at every start. `workflow/rules/common.smk` now computes the
  estimates once and keeps them in `OUTPUT_DIR/.neurovid/memory.json`, keyed by absolute
  path, size and mtime of the image (`os.stat`, following symlinks: DataLad content that
  arrives is seen); unreadable headers are not cached. Image paths are joined once, not per
  call. Every job's input, output, wildcards and resources in a dry-run are identical
  before and after (demo, bad-input corpus, 2,000 images; cold and warm).
- What is left of neurovid's part when warm (~1 s) is mostly Snakemake's work on what the
  rules ask for, per job: the render rule's five `params` callables (~0.2 s; Snakemake calls
  `inspect.signature` on every callable each time, ~50,000 calls), the `script:` directive
  (~0.15 s), the input function (~0.1 s), plus config validation and imports (~0.2 s).
  Discovery from the cache takes 0.05 s (fingerprint: `os.scandir` of the 3,000
  subject/session/anat folders) and does not import pybids.
- **Renders**: the per-job overhead is small. Each job is one Python process, as the
  standalone render is: start + imports cost the same in both; the `script:` preamble
  (unpickling the job) adds ~0.1 s; jobs used no more CPU per image than the standalone
  render. Two renders run at once (`--cores 2`, one thread each). Snakemake's own process
  uses ~7 s CPU for 102 jobs (start, DAG, cold discovery of 100 images, scheduling,
  metadata), taken from the two cores the renders use. The ILP and greedy schedulers gave
  the same times (40-image runs). Nothing needed changing here.
- **SLURM** (`--slurm`, root, not in the default run; adds about 3 minutes): the profile's
  `group-components: render=20` makes 5 SLURM jobs of 20 renders. Two ran at a time (one
  CPU each) and the fifth alone, leaving a CPU idle for its ~40 s; inside a SLURM job the
  renders ran one after another, each as its own `srun` step that starts Snakemake again
  (~2.7 s per render step when two jobs shared the node, vs 1.7 s CPU per render); and
  Snakemake noticed finished jobs up to ~30 s late (status polls every 5 s here, 20 s in
  the profile). Hence ~2x the ideal: a matter for the SLURM profile and executor, not for
  discovery; the table's figure is for information.
"""


if __name__ == "__main__":
    sys.exit(main())
