#!/usr/bin/env python
"""Benchmarks of issue 14: a 20,000-image study plans in seconds and its cluster jobs spend
their time rendering.

    python benchmarks/bench_scale.py                          # print the table
    python benchmarks/bench_scale.py --slurm --page --write docs/benchmarks.md

Run with the project's venv from the repository root. The exit status is 1 when a goal is
missed. About 20 minutes on 2 cores with ``--slurm --page`` (3 of them for the SLURM run,
2 for the page); develop with small sizes (``--subjects 500 --render-images 10
--repeats 1``).

Figures (each a whole process from start to exit, imports included, measured as
``benchmarks/bench_workflow.py`` measures them; medians of ``--repeats`` interleaved runs,
``--cold-repeats`` for the cold figure and bare pybids; a 2-core VM's run-to-run spread of
the same dry run is about +-15 %):

1. Planning a study of ``--subjects`` x ``--sessions`` (default 10,000 x 2 = 20,000 T1w, each
   session with two bold runs and their JSON: 100,000 files, hard links to three files):

   - *bare pybids*: ``BIDSLayout(root, validate=False)`` (reference of the cold goal);
   - *cold* ``snakemake -n``: no discovery cache (goal <= 1.2x bare pybids);
   - *warm* ``snakemake -n``: with the caches a real run leaves (discovery, job memory),
     written by the same library calls (a dry run writes nothing);
   - *Snakemake alone*: ``-n`` of a plain Snakefile with the same per-image DAG and no
     neurovid code (goal: warm <= 1.25x it).

2. One cluster job's start: the command the SLURM job runs (``--mode remote``, the job-step
   executor, its targets; ``tests/cluster/job_command.py``) for one image, from start to
   Snakemake's ``localrule render_video:`` line (the render starting), on the planned study
   above and on one of ``--small-subjects`` x ``--sessions`` (default 200 images). Goal: at
   20,000 images <= 1.5x at 200.

3. ``--slurm`` (root): ``--render-images`` (default 100) images through the one-node SLURM of
   ``tests/cluster/slurm`` with the README's command, against the ideal
   ``N x CPU(one standalone render) / node CPUs``; jobs submitted, and for each job its CPUs,
   memory and time limit (``scontrol show job``), renders and run time. Goal <= 1.3x ideal.

4. ``--page``: the page at 20,000 cards, ``benchmarks/bench_review_page.py --images 20000``
   in the same run (its four goals; with ``--write`` it writes its own detailed section).
Generated data live in a temporary directory that is removed at the end (``--keep`` keeps
it); the ``.snakemake/metadata`` records of the benchmark's outputs are removed too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _markdown import write_section
from bench_workflow import (
    PYTHON,
    REPO,
    SLURM_START,
    SNAKEMAKE,
    WARM_CACHES,
    Run,
    Series,
    checked,
    forget_metadata,
    image_shape,
    load,
    machine_facts,
    make_discovery_dataset,
    make_render_dataset,
    make_sources,
    run_measured,
    run_on_slurm,
    slurm_cluster,
    time_bare_and_cold,
)

sys.path.insert(0, str(REPO))
from tests.cluster.job_command import remote_job_command  # noqa: E402

#: goals of issue 14 (ratios)
WARM_GOAL = 1.25  # warm snakemake -n / Snakemake alone
COLD_GOAL = 1.2  # cold snakemake -n / bare pybids
JOB_START_GOAL = 1.5  # job start at the large study / at the small one
SLURM_GOAL = 1.3  # 100 images on the one-node SLURM / ideal

#: what Snakemake prints when the job's render starts
RENDER_LINE = "localrule render_video:"


# --------------------------------------------------------------------------- planning

#: Snakemake alone: the jobs and edges of neurovid's plan (one render per image; every
#: sidecar consumed by the page, the ratings merge, the group table and rule all), plain
#: files and shell commands, no neurovid code (no discovery, input functions, params,
#: script:, update()).
FLOOR_SNAKEFILE = """\
KEYS = {keys!r}
OUT = config["output_dir"]
BIDS = config["bids_dir"]
SIDECARS = [f"{{OUT}}/{{key}}.json" for key in KEYS]

localrules: all, dataset_description, review_page, merge_ratings, group_table

rule all:
    input:
        f"{{OUT}}/index.html", f"{{OUT}}/dataset_description.json", SIDECARS,
        f"{{OUT}}/group_T1w.tsv", f"{{OUT}}/group_T1w.json",
        f"{{OUT}}/qc_ratings.tsv", f"{{OUT}}/qc_ratings.json", f"{{OUT}}/exclude.json",

rule render_video:
    input: image=f"{{BIDS}}/{{{{image}}}}.nii.gz"
    output: sidecar=f"{{OUT}}/{{{{image}}}}.json"
    log: f"{{OUT}}/logs/render/{{{{image}}}}.log"
    threads: 1
    resources: mem_mb=300, runtime=1
    shell: "touch {{output}}"

rule dataset_description:
    output: f"{{OUT}}/dataset_description.json"
    shell: "touch {{output}}"

rule merge_ratings:
    input: SIDECARS
    output: f"{{OUT}}/qc_ratings.tsv", f"{{OUT}}/qc_ratings.json", f"{{OUT}}/exclude.json"
    shell: "touch {{output}}"

rule group_table:
    input: SIDECARS
    output: f"{{OUT}}/group_T1w.tsv", f"{{OUT}}/group_T1w.json"
    shell: "touch {{output}}"

rule review_page:
    input: SIDECARS, f"{{OUT}}/qc_ratings.json"
    output: f"{{OUT}}/index.html", f"{{OUT}}/logs/summary.json"
    shell: "touch {{output}}"
"""


def write_floor_workflow(folder: Path, bids: Path, *, script: bool = False) -> None:
    """Snakemake alone; ``script=True``: its render rule is a ``script:`` rule, as
    neurovid's is (Snakemake reads a script rule's script for every job it plans)."""
    keys = sorted(
        str(path.relative_to(bids))[: -len(".nii.gz")]
        for path in bids.glob("sub-*/ses-*/anat/*_T1w.nii.gz")
    )
    folder.mkdir(parents=True)
    text = FLOOR_SNAKEFILE.format(keys=keys)
    if script:
        render_shell = '    resources: mem_mb=300, runtime=1\n    shell: "touch {output}"'
        assert render_shell in text
        text = text.replace(
            render_shell, '    resources: mem_mb=300, runtime=1\n    script: "touch.py"'
        )
        (folder / "touch.py").write_text(
            "for path in snakemake.output:\n    open(path, 'w').close()\n"
        )
    (folder / "Snakefile").write_text(text)


def warm_caches(bids: Path, out: Path, log_file: Path) -> None:
    """The caches a real run leaves in OUTPUT_DIR/.neurovid (discovery, job memory)."""
    run = run_measured(
        [PYTHON, "-c", WARM_CACHES, str(bids), str(out)], cwd=REPO, log_file=log_file
    )
    checked(run, "writing the caches")


def bench_planning(tmp: Path, sources: dict, args) -> dict:
    bids = tmp / "bids-large"
    began = time.perf_counter()
    counts = make_discovery_dataset(bids, sources, args.subjects, args.sessions)
    made = time.perf_counter() - began
    print(f"  dataset: {counts} in {made:.0f} s", file=sys.stderr)
    out = tmp / "out-large"
    floor_dir = tmp / "floor"
    write_floor_workflow(floor_dir, bids)
    script_floor_dir = tmp / "floor-script"
    if args.script_floor:
        write_floor_workflow(script_floor_dir, bids, script=True)
    config = ["--config", f"bids_dir={bids}", f"output_dir={out}"]
    dry = [*SNAKEMAKE, "-n", "--cores", "2", *config]
    logs = tmp / "logs"
    names = ("bare", "cold", "warm", "floor", *(("floor_script",) if args.script_floor else ()))
    series = {name: Series() for name in names}
    for i in range(args.repeats):
        # interleaved, so that load from other work spreads over all figures alike; the
        # cold figure and its reference (minutes each, far from their goal) once
        if i < args.cold_repeats:
            time_bare_and_cold(bids, out, dry, series, logs, i, cwd=tmp)
            warm_caches(bids, out, logs / f"caches-large-{i}.log")
        run = run_measured(dry, cwd=REPO, log_file=logs / f"warm-{i}.log")
        series["warm"].runs.append(checked(run, "warm snakemake -n"))
        run = run_measured(dry, cwd=floor_dir, log_file=logs / f"floor-{i}.log")
        series["floor"].runs.append(checked(run, "Snakemake alone -n"))
        if args.script_floor:
            run = run_measured(dry, cwd=script_floor_dir, log_file=logs / f"floor-script-{i}.log")
            series["floor_script"].runs.append(checked(run, "Snakemake alone (script:) -n"))
        last = {name: s.runs[-1].wall for name, s in series.items() if s.runs}
        print(
            f"  planning {i + 1}/{args.repeats}: "
            + ", ".join(f"{name} {wall:.1f} s" for name, wall in last.items())
            + f" (load {load():.2f})",
            file=sys.stderr,
        )
    for name in ("cold", "warm", "floor", *(("floor_script",) if args.script_floor else ())):
        jobs = series[name].runs[-1].log.count("rule render_video:")
        if jobs != counts["T1w"]:
            raise SystemExit(f"bench: {name} dry run planned {jobs} renders, not {counts['T1w']}")
    return {"counts": counts, "series": series, "bids": bids, "out": out}


# --------------------------------------------------------------------------- job start


def first_key(bids: Path) -> str:
    subject = sorted(p.name for p in bids.glob("sub-*"))[0]
    path = sorted((bids / subject).glob("ses-*/anat/*_T1w.nii.gz"))[0]
    return str(path.relative_to(bids))[: -len(".nii.gz")]


def time_job_start(bids: Path, out: Path, log_file: Path) -> tuple[float, float]:
    """Seconds from starting the job's command to its render line, and to its exit."""
    key = first_key(bids)
    (out / f"{key}.json").unlink(missing_ok=True)
    command = remote_job_command(
        PYTHON, REPO / "Snakefile", [key], [f"bids_dir={bids}", f"output_dir={out}"]
    )
    start = time.perf_counter()
    started = None
    with open(log_file, "w") as log:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            if started is None and line.strip() == RENDER_LINE:
                started = time.perf_counter() - start
            log.write(line)
        process.wait()
    took = time.perf_counter() - start
    if process.returncode != 0 or started is None:
        tail = "\n".join(log_file.read_text().splitlines()[-30:])
        raise SystemExit(f"bench: the job for {key} failed (exit {process.returncode}):\n{tail}")
    return started, took


def bench_job_start(tmp: Path, sources: dict, large: dict | None, args) -> dict:
    logs = tmp / "logs"
    small_bids = tmp / "bids-small"
    make_discovery_dataset(small_bids, sources, args.small_subjects, args.sessions)
    small_out = tmp / "out-small"
    warm_caches(small_bids, small_out, logs / "caches-small.log")
    studies = {"small": (small_bids, small_out)}
    if large is not None:
        studies["large"] = (large["bids"], large["out"])
    starts: dict[str, list[float]] = {name: [] for name in studies}
    whole: dict[str, list[float]] = {name: [] for name in studies}
    for i in range(args.job_repeats):
        for name, (bids, out) in studies.items():
            started, took = time_job_start(bids, out, logs / f"job-{name}-{i}.log")
            starts[name].append(started)
            whole[name].append(took)
        print(
            "  job start "
            + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in starts.items())
            + f" (load {load():.2f})",
            file=sys.stderr,
        )
    counts = {"small": args.small_subjects * args.sessions}
    if large is not None:
        counts["large"] = large["counts"]["T1w"]
    return {"starts": starts, "whole": whole, "counts": counts}


# --------------------------------------------------------------------------- SLURM


def scontrol_job(env: dict, job_id: str) -> dict[str, str]:
    result = subprocess.run(
        ["scontrol", "show", "job", job_id], env=env, capture_output=True, text=True
    )
    return dict(re.findall(r"(\w[\w/:]*)=(\S*)", result.stdout))


def bench_slurm(tmp: Path, sources: dict, args) -> dict:
    """``--render-images`` images through the README's cluster command, one run."""
    image = sources[args.render_image]
    logs = tmp / "logs"
    single = Series()
    for i in range(args.repeats_render):
        run = run_measured(
            [PYTHON, "workflow/scripts/render_video.py", str(image), str(tmp / f"single-{i}.mp4")],
            cwd=REPO,
            log_file=logs / f"single-{i}.log",
        )
        single.runs.append(checked(run, "standalone render"))
    cpu_one = single.median("cpu")
    bids = tmp / "bids-render"
    make_render_dataset(bids, image, args.render_images)
    with slurm_cluster() as (env, _user):
        node_cpus = int(
            re.search(
                r"CPUTot=(\d+)",
                subprocess.run(
                    ["scontrol", "show", "node"], env=env, capture_output=True, text=True
                ).stdout,
            ).group(1)
        )
        run = run_on_slurm(bids, tmp / "out-slurm", args.render_images, logs / "slurm.log", env)
        job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", run.log)), key=int)
        jobs = []
        for job_id in job_ids:
            fields = scontrol_job(env, job_id)
            logs_of_job = list((REPO / ".snakemake" / "slurm_logs").rglob(f"{job_id}.log"))
            text = logs_of_job[0].read_text(errors="replace") if logs_of_job else ""
            jobs.append(
                {
                    "id": job_id,
                    "cpus": int(fields.get("NumCPUs", 0)),
                    "memory": fields.get("MinMemoryNode", "?"),
                    "time_limit": fields.get("TimeLimit", "?"),
                    "run_time": fields.get("RunTime", "?"),
                    "state": fields.get("JobState", "?"),
                    "renders": text.count(RENDER_LINE),
                    "snakemake_starts": text.count("Building DAG of jobs"),
                }
            )
            for found in logs_of_job:
                found.unlink()
    print(f"  slurm: {run.wall:.1f} s wall, {len(jobs)} SLURM jobs", file=sys.stderr)
    forget_metadata(tmp)
    return {
        "run": run,
        "jobs": jobs,
        "single": single,
        "cpu_one": cpu_one,
        "node_cpus": node_cpus,
        "ideal": args.render_images * cpu_one / node_cpus,
        "shape": image_shape(image),
    }


# --------------------------------------------------------------------------- page


def bench_page(args) -> dict:
    """``bench_review_page.py`` (its own process, Chromium) in the same run; with
    ``--write`` it writes its own section (the page's detailed table) too."""
    command = [PYTHON, str(REPO / "benchmarks" / "bench_review_page.py"),
               "--images", str(args.page_images)]  # fmt: skip
    if args.write:
        command += ["--write", str(args.write)]
    began = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    verdicts = [line[2:] for line in result.stdout.splitlines() if line.startswith("- ")]
    if not verdicts:
        raise SystemExit(f"bench: bench_review_page.py failed:\n{result.stderr[-3000:]}")
    took = time.perf_counter() - began
    print(f"  page: {took:.0f} s", file=sys.stderr)
    return {"verdicts": verdicts, "ok": result.returncode == 0, "images": args.page_images}


def page_rows(page: dict) -> str:
    """One table row per goal of the page (its figures as bench_review_page prints them)."""
    rows = []
    for line in page["verdicts"]:
        verdict_word, _, text = line.partition(": ")
        figure, _, measured = text.partition(": ")
        rows.append(
            f"| the review page at {page['images']:,} cards, headless Chromium "
            f"(`bench_review_page.py`) | {measured} | {figure} "
            f"| {verdict(verdict_word == 'PASS')} |"
        )
    return "\n".join(rows)


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def build_table(planning, job_start, slurm, args) -> tuple[str, bool]:
    rows: list[tuple[str, str, str, str]] = []
    all_ok = True
    if planning:
        s, c = planning["series"], planning["counts"]
        bare, floor = s["bare"].median("wall"), s["floor"].median("wall")
        cold, warm = s["cold"].median("wall"), s["warm"].median("wall")
        rows.append(
            (
                f"bare pybids `BIDSLayout(root, validate=False)`: {c['T1w']:,} T1w + "
                f"{c['bold']:,} bold + {c['json']:,} JSON",
                f"{bare:.1f} s, {s['bare'].median('maxrss_mb'):.0f} MB",
                "reference",
                "",
            )
        )
        rows.append(
            (
                f"Snakemake alone: `-n` of a plain Snakefile with the same {c['T1w']:,}-render "
                "DAG",
                f"{floor:.1f} s, {s['floor'].median('maxrss_mb'):.0f} MB",
                "reference",
                "",
            )
        )
        ok = cold <= COLD_GOAL * bare
        all_ok &= ok
        rows.append(
            (
                "cold `snakemake -n --cores 2` (no discovery cache)",
                f"{cold:.1f} s = **{cold / bare:.2f}x** bare pybids, "
                f"{s['cold'].median('maxrss_mb'):.0f} MB",
                f"<= {COLD_GOAL}x bare pybids ({COLD_GOAL * bare:.1f} s)",
                verdict(ok),
            )
        )
        if "floor_script" in s:
            script_floor = s["floor_script"].median("wall")
            rows.append(
                (
                    "Snakemake alone, its render rule a `script:` rule (as neurovid's is)",
                    f"{script_floor:.1f} s: warm neurovid is {warm / script_floor:.2f}x it",
                    "information",
                    "",
                )
            )
        ok = warm <= WARM_GOAL * floor
        all_ok &= ok
        rows.append(
            (
                "warm `snakemake -n --cores 2` (the caches a real run leaves)",
                f"{warm:.1f} s = **{warm / floor:.2f}x** Snakemake alone, "
                f"{s['warm'].median('maxrss_mb'):.0f} MB: neurovid adds {warm - floor:.1f} s",
                f"<= {WARM_GOAL}x Snakemake alone ({WARM_GOAL * floor:.1f} s)",
                verdict(ok),
            )
        )
    if job_start:
        starts, counts = job_start["starts"], job_start["counts"]
        small = statistics.median(starts["small"])
        rows.append(
            (
                f"one cluster job's start, {counts['small']:,}-image study: its command "
                f"(`--mode remote`, one image) to `{RENDER_LINE}`",
                f"{small:.2f} s",
                "reference",
                "",
            )
        )
        if "large" in starts:
            large = statistics.median(starts["large"])
            ok = large <= JOB_START_GOAL * small
            all_ok &= ok
            rows.append(
                (
                    f"the same, {counts['large']:,}-image study",
                    f"{large:.2f} s = **{large / small:.2f}x** the {counts['small']:,}-image "
                    "start",
                    f"<= {JOB_START_GOAL}x ({JOB_START_GOAL * small:.2f} s)",
                    verdict(ok),
                )
            )
    if slurm:
        run, jobs, n = slurm["run"], slurm["jobs"], args.render_images
        ideal = slurm["ideal"]
        ok = run.wall <= SLURM_GOAL * ideal
        all_ok &= ok
        rows.append(
            (
                f"one standalone render `python workflow/scripts/render_video.py IN OUT`, "
                f"{args.render_image} demo image ({slurm['shape']})",
                f"{slurm['cpu_one']:.2f} s CPU (user+sys), "
                f"{slurm['single'].median('wall'):.2f} s wall",
                "reference",
                "",
            )
        )
        cpus = sorted({job["cpus"] for job in jobs})
        renders = [job["renders"] for job in jobs]
        rows.append(
            (
                f"{n} images on the one-node SLURM ({slurm['node_cpus']} CPUs), README command "
                "(`workflow/profiles/slurm`, status polls every 5 s), start to end",
                f"{run.wall:.1f} s = **{run.wall / ideal:.2f}x** ideal ({ideal:.1f} s = {n} x "
                f"{slurm['cpu_one']:.2f} s / {slurm['node_cpus']} CPUs); {len(jobs)} SLURM "
                f"jobs of {'/'.join(map(str, cpus))} CPUs, {'+'.join(map(str, renders))} "
                "renders",
                f"<= {SLURM_GOAL}x ideal ({SLURM_GOAL * ideal:.1f} s)",
                verdict(ok),
            )
        )
    lines = ["| figure | measured | goal | result |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines), all_ok


def details(planning, job_start, slurm) -> str:
    lines = []

    def series_line(label: str, series: Series) -> None:
        lines.append(
            f"- {label}: wall {series.values('wall', '{:.2f}')} s; CPU "
            f"{series.values('cpu', '{:.2f}')} s; peak RSS "
            f"{series.values('maxrss_mb', '{:.0f}')} MB; load at start "
            f"{series.values('load', '{:.2f}')}"
        )

    if planning:
        for name, series in planning["series"].items():
            series_line(name, series)
    if job_start:
        for name, values in job_start["starts"].items():
            whole = ", ".join(f"{v:.2f}" for v in job_start["whole"][name])
            lines.append(
                f"- job start, {job_start['counts'][name]:,} images: to the render line "
                f"{', '.join(f'{v:.2f}' for v in values)} s; to the end (render included) "
                f"{whole} s"
            )
    if slurm:
        series_line("standalone render", slurm["single"])
        run: Run = slurm["run"]
        lines.append(
            f"- snakemake --executor slurm: wall {run.wall:.1f} s; Snakemake's own process CPU "
            f"{run.own_cpu:.1f} s; load at start {run.load:.2f}"
        )
        for job in slurm["jobs"]:
            lines.append(
                f"- SLURM job {job['id']}: {job['state']}, {job['cpus']} CPUs, memory "
                f"{job['memory']}, time limit {job['time_limit']}, ran {job['run_time']}; "
                f"{job['renders']} renders, {job['snakemake_starts']} Snakemake start(s)"
            )
    return "\n".join(lines)


SECTION = """\
## Scale: 20,000 images, cluster jobs (issue 14)

{table}

Measured {date} in {took:.1f} min (`{command}`), medians of {repeats} interleaved runs for
the warm and Snakemake-alone figures, {cold_repeats} for cold and bare pybids, and
{job_repeats} for the job starts. Load average (1/5/15 min):
{loads}.

{facts}

Each run, in order:

{details}

What is measured: see the docstring of `benchmarks/bench_scale.py`; what changed and what
each change bought: [docs/slurm.md](slurm.md) (cluster jobs) and the notes below.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="MD", help="also write the section into this file")
    parser.add_argument("--subjects", type=int, default=10_000, help="default 10000")
    parser.add_argument("--sessions", type=int, default=2, help="default 2")
    parser.add_argument(
        "--small-subjects", type=int, default=100, help="small study of the job start (100)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="warm and Snakemake-alone runs (default 5)"
    )
    parser.add_argument(
        "--cold-repeats", type=int, default=1, help="cold and bare pybids runs (default 1)"
    )
    parser.add_argument(
        "--script-floor",
        action="store_true",
        help="also time Snakemake alone with a script: render rule (information; ~1 min)",
    )
    parser.add_argument("--job-repeats", type=int, default=5, help="job starts (default 5)")
    parser.add_argument("--render-images", type=int, default=100, help="default 100")
    parser.add_argument("--render-image", choices=("1mm", "2mm"), default="1mm")
    parser.add_argument(
        "--repeats-render", type=int, default=3, help="standalone renders (default 3)"
    )
    parser.add_argument("--only", choices=("planning", "job-start", "slurm", "page"))
    parser.add_argument("--slurm", action="store_true", help="run the SLURM figure (root)")
    parser.add_argument(
        "--page",
        action="store_true",
        help="also run bench_review_page.py at --page-images cards (Chromium; ~2 min)",
    )
    parser.add_argument("--page-images", type=int, default=20_000, help="default 20000")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args(argv)
    if (args.slurm or args.only == "slurm") and not SLURM_START.is_file():
        parser.error(f"--slurm needs {SLURM_START}")

    began = time.perf_counter()
    loads_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="neurovid-bench-scale-"))
    (tmp / "logs").mkdir()
    print(f"bench: data in {tmp}; load average {loads_before[0]:.2f}", file=sys.stderr)
    planning = job_start = slurm = page = None
    try:
        sources = make_sources(tmp)
        if args.only in (None, "planning", "job-start"):
            if args.only != "job-start":
                planning = bench_planning(tmp, sources, args)
            job_start = bench_job_start(tmp, sources, planning, args)
        if args.only == "slurm" or (args.only is None and args.slurm):
            slurm = bench_slurm(tmp, sources, args)
        if args.page and args.only in (None, "page"):
            page = bench_page(args)
    finally:
        if args.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        forget_metadata(tmp)
    took = time.perf_counter() - began
    loads = f"{_loads(loads_before)} before, {_loads(os.getloadavg())} after"
    table, all_ok = build_table(planning, job_start, slurm, args)
    if page is not None:
        table += "\n" + page_rows(page)
        all_ok &= page["ok"]
    print(table)
    print(f"\nbenchmark took {took / 60:.1f} min; load average (1/5/15 min): {loads}")
    if args.write:
        command = " ".join(["python benchmarks/bench_scale.py", *(argv or sys.argv[1:])])
        text = SECTION.format(
            table=table,
            date=time.strftime("%Y-%m-%d %H:%M"),
            took=took / 60,
            command=command,
            repeats=args.repeats,
            cold_repeats=args.cold_repeats,
            job_repeats=args.job_repeats,
            loads=loads,
            facts="\n".join(f"- {fact}" for fact in machine_facts()),
            details=details(planning, job_start, slurm),
        )
        write_section(Path(args.write), "bench_scale", text + "\n" + NOTES)
        print(f"bench: wrote its section of {args.write}", file=sys.stderr)
    return 0 if all_ok else 1


def _loads(values) -> str:
    return "/".join(f"{x:.2f}" for x in values)


NOTES = """\
### Where the time went, and what changed (issue 14)

Found with py-spy and cProfile on `snakemake -n` over 5,000 and 20,000 images, Snakemake alone
beside it (the table's reference: the same jobs and edges, plain files and `shell:` rules),
and by timing a job's command alone. Figures in this list are from development runs on the
same 2-core machine while others used it (minimum user CPU of interleaved runs); the table
above is the one to quote.

- **A cluster job's start** (before: 4.1-4.3 s at 20,000 images against 1.6-2.5 s at 600, a
  walk of the whole dataset, every image's memory estimate and every sidecar's path in
  each start; and a SLURM job started Snakemake twice per render, once for the job and
  once for its `srun` step). Now a job reads the discovery the main process planned from
  (`discover_planned`), sizes only its own images, never builds the lists of every
  sidecar (input functions now), and runs its renders in its own Snakemake process:
  2.1 s at 20,000 against 1.9 s at 600, once per 50 renders (docs/slurm.md).
- **Snakemake's `inspect.signature` per job.** Snakemake asks which arguments each of a
  rule's functions takes, ~28 times per render job (input function, params, resources):
  ~8 s of a 20,000-image plan at 15 us each. The workflow's functions carried their
  `__signature__` (7x faster per call, issue 14's first step), and now also the answer
  itself, where Snakemake looks first (the attribute `snakemake.common.
  overwrite_function_params` sets; `neurovid.planning.known_signature`,
  `tests/unit/test_planning.py`): no `inspect` call per job at all.
- **Lists of every sidecar at parse time** (rule all, the page, the ratings merge: three
  lists of 20,000 paths that Snakemake processed when reading the Snakefile, 5 s under the
  profiler, and again in every cluster job) are input functions, evaluated once, for the
  one job that needs them.
- **The render rule's `script:` directive and its seven params** (Snakemake's
  `ScriptProcessor` reads the script through its source cache and formats its path for
  every job it plans: 6.5 s of a 46 s warm plan at 20,000 images, measured as Snakemake
  alone with a `script:` render rule against the same with `shell:`; each job also
  unpickled a preamble). The rule is now a `shell:` command running
  `python -m neurovid.render_job JOB SIDECAR LOG`; the whole command, quoted once, is one
  derived (not compared) param, and what a re-render depends on is three compared params
  (the image's path, entities and stat signature in one function; the fingerprint; the
  options) instead of five, so Snakemake calls two param functions per job instead of
  seven. The job module joined the render fingerprint. With the point above, warm went
  from 1.26-1.33x Snakemake alone (53 s against 40 s) to the table's figure.
- **What is left of neurovid's part when warm**: Snakemake's own per-job handling of what
  the render rule declares beyond a plain rule (two per-image resources, memory and time
  from the header, needed by the cluster; three params; the input function that prepares
  the run: lock, caches, set-aside renders), the walk of the dataset that checks the
  discovery cache (~2-3 s: a `scandir` per subject, session and anat folder) and fixed
  costs (config validation, the render fingerprint: ~1 s, which weigh more in small
  studies).
- **Cold** needs no change: classifying 20,000 names (BIDS validator rules, pybids'
  entities) costs about half of pybids indexing the same dataset.
- **The page** (`bench_review_page.py`): 20,000 cards were 40 MB of inline JSON; the cards
  are now packed by column (`neurovid.columns`: a constant once, a few distinct values by
  index, paths made from the sidecar's link, nested objects and arrays the same way) and
  unpacked by the page into the same records: 9.7 MB, and the page is usable in 1.1 s
  instead of 1.8 s. Cards of pages left are released (picture-player), search and filters
  scan one precomputed string per card, and the study view draws one plot per task.
"""


if __name__ == "__main__":
    sys.exit(main())
