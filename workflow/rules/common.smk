# Configuration, discovery and input functions shared by the rules.
#
# Everything at the top level runs at every start of Snakemake (and of every cluster job):
# per image it costs no more than a stat (the walk of the anat folders and, per job, the
# input's signature); the input functions run once per job and look up what was computed
# once (see benchmarks/bench_workflow.py). A cluster job walks nothing and reads no header
# but its own images' (it reads the discovery cache the main process wrote), and lists of
# every image are input functions, built only when a job needs them
# (benchmarks/bench_scale.py). Nothing here writes into the output folder at parse time:
# a dry run must write nothing, and whether this is one is only known once the DAG is
# being built (prepare_run below).
import os
import shlex
import sys
import time

from neurovid.cluster import job_runtime_min, run_renders_in_this_job
from neurovid.config import ConfigError, check_paths, render_options, validate_config
from neurovid.derivative import foreign_description
from neurovid.discovery import (
    discover,
    discover_planned,
    filter_messages,
    layout_problem,
)
from neurovid.fingerprint import input_signature, render_fingerprint
from neurovid.lock import OutputLocked, acquire_output_lock, lock_holder
from neurovid.outputs import incomplete_renders, set_aside, snakemake_output_dir
from neurovid.planning import known_signature
from neurovid.render_job import job_json
from neurovid.resources import job_mem_mb, memory_estimates

DEFAULT_DEMO_BIDS = "demo/bids"
RUN_STARTED = time.time()
#: the main Snakemake process (not a cluster job, which re-reads this file): it alone
#: prints the dataset's warnings and, in a real run, holds the output lock
MAIN_PROCESS = workflow.is_main_process
#: in a cluster job, its renders run in its own Snakemake process, as many at once as it
#: has CPUs (None elsewhere; neurovid.cluster says why and how)
RENDERS_IN_FLIGHT = run_renders_in_this_job(workflow, "render_video")
#: how many "not rendered" lines the terminal shows (the page and not_rendered.json list all)
MAX_NOT_RENDERED_LINES = 50


def _literal_path(path):
    return path


# Snakemake 9 expands "<name>" in every input/output/log path ("pathvars": <results>,
# <logs>, ... or an error for an unknown name) and has no escape for it. neurovid defines
# no pathvars, and a dataset or output folder may be called "<word>": paths stay literal.
# (tests/workflow/test_names.py runs the workflow on such paths.)
workflow.pathvars.apply = _literal_path


def _fail(error):
    # one line, no traceback: the user's mistake, not ours
    print(error, file=sys.stderr)
    sys.exit(1)


def _note(message):
    if MAIN_PROCESS:
        print(message, file=sys.stderr)


try:
    validate_config(config, workflow.source_path("../../config/schema.yaml"))
    if config["bids_dir"] == DEFAULT_DEMO_BIDS:
        if not os.path.exists(DEFAULT_DEMO_BIDS):
            from neurovid.demo import build_demo_dataset

            print(
                f"Building the demo dataset in {DEFAULT_DEMO_BIDS} ...", file=sys.stderr
            )
            build_demo_dataset(DEFAULT_DEMO_BIDS)
        _note(
            f"note: no bids_dir given: rendering the demo dataset ({DEFAULT_DEMO_BIDS}) into "
            f"{config['output_dir']}; for a study: --config bids_dir=DIR output_dir=DIR"
        )
    _path_warnings = check_paths(
        config["bids_dir"],
        config["output_dir"],
        is_default_demo=config["bids_dir"] == DEFAULT_DEMO_BIDS,
    )
    # (a cluster job's main process has checked the layout: a scandir of the whole root)
    problem = (MAIN_PROCESS and layout_problem(config["bids_dir"])) or (
        foreign_description(config["output_dir"])
    )
    if problem:
        raise ConfigError(problem)
    for _warning in _path_warnings:
        _note(_warning)
except ConfigError as error:
    _fail(error)

BIDS_DIR = config["bids_dir"]
#: the output folder as the user named it (messages, Python file access)
OUT_DIR = config["output_dir"].rstrip(os.sep) or os.sep
#: the output folder in Snakemake's paths: OUT_DIR, or a symlink to it without "{...}",
#: which Snakemake would read as a wildcard (neurovid.outputs explains)
OUT = snakemake_output_dir(OUT_DIR)
RENDER_OPTIONS = render_options(config)
RENDER_FINGERPRINT = render_fingerprint(RENDER_OPTIONS)
FILTERS = {
    key: config[key]
    for key in (
        "participant_label",
        "exclude_participant_label",
        "session_label",
        "suffixes",
    )
}
# a cluster job renders what the main process planned: its discovery, from the cache
DISCOVERY = (discover if MAIN_PROCESS else discover_planned)(
    BIDS_DIR,
    **FILTERS,
    cache_file=f"{OUT_DIR}/.neurovid/discovery.json",
    # the output folder may sit at the top of the dataset (BIDS_DIR/qc): not a stray copy
    skip=[OUT_DIR],
)
for _entry in DISCOVERY.not_rendered[:MAX_NOT_RENDERED_LINES]:
    _note(f"warning: {_entry.line()}")
if len(DISCOVERY.not_rendered) > MAX_NOT_RENDERED_LINES:
    _note(
        f"warning: … and {len(DISCOVERY.not_rendered) - MAX_NOT_RENDERED_LINES} more not "
        f"rendered (all are listed on the review page)"
    )
_warnings, _error = filter_messages(DISCOVERY, **FILTERS)
for _warning in _warnings:
    _note(_warning)
if _error:
    _fail(_error)
IMAGES = {image.key: image for image in DISCOVERY.images}
#: what the review page says about this run: the filters it used and what was not rendered
RUN_RECORD = {
    "selection": {key: [str(v) for v in value] for key, value in FILTERS.items()},
    "not_rendered": [entry.to_json() for entry in DISCOVERY.not_rendered],
}


wildcard_constraints:
    image=r"sub-[a-zA-Z0-9]+/(ses-[a-zA-Z0-9]+/)?anat/sub-[^/]+",


#: a render's log, in OUTPUT_DIR (the rule's log: and the job's own copy of that path)
RENDER_LOG = "logs/render/{image}.log"
IMAGE_PATHS = {
    key: os.path.join(BIDS_DIR, image.relpath) for key, image in IMAGES.items()
}
_RUN = {"prepared": False, "lock": None, "memory": None}


def _real_run():
    """True in the main process of a run that executes jobs (not -n, --touch, --summary)."""
    return (
        MAIN_PROCESS
        and workflow.executor_plugin is not None
        and not workflow.dryrun
        and not workflow.touch
    )


@known_signature
def prepare_run(wildcards=None):
    """Once per run, when Snakemake builds the DAG (the first job's input is asked for):
    take the output lock, save the discovery cache, and make Snakemake re-make renders
    whose MP4 or poster was deleted.

    Snakemake re-makes a missing sidecar by itself (rule all asks for every sidecar of the
    run), but the MP4 and poster are no outputs it knows (a failed image has none). So a
    sidecar that says "rendered" but whose MP4 or poster is gone is set aside (moved to
    OUTPUT_DIR/.neurovid/stale/): Snakemake sees it missing and renders the image, once.
    Nothing else changes, so the next run has nothing to do (a param that differed on
    every run would re-render forever). The check is one scandir per output folder (a
    sidecar is read only when a file beside it is missing). A dry run only says what a
    real run would do and writes nothing; cluster jobs and --summary/--lint do nothing.
    """
    if _RUN["prepared"]:
        return []
    _RUN["prepared"] = True
    if not MAIN_PROCESS or workflow.executor_plugin is None:
        return []
    _no_sidecar, no_video = incomplete_renders(OUT_DIR, IMAGES)
    if not _real_run():
        holder = lock_holder(OUT_DIR)
        if holder:
            print(
                f"note: a run is writing to {OUT_DIR} now ({holder})", file=sys.stderr
            )
        for key in no_video:
            print(
                f"note: {key}: its MP4 or poster is missing; a real run renders it again",
                file=sys.stderr,
            )
        return []
    try:
        _RUN["lock"] = acquire_output_lock(OUT_DIR)
    except OutputLocked as error:
        _fail(error)
    DISCOVERY.save_cache(f"{OUT_DIR}/.neurovid/discovery.json")
    for key in no_video:
        set_aside(OUT_DIR, f"{key}.json")
        print(f"re-rendering {key}: its MP4 or poster is missing", file=sys.stderr)
    return []


@known_signature
def render_command(wildcards, output):
    # the render job's command (neurovid.render_job, with the Python of this Snakemake: of
    # a cluster job, the job's; as Snakemake runs a script: rule). A "derived" param (it
    # takes `output`): Snakemake does not compare it between runs, so the same dataset
    # reached by another path (relative, moved, mounted elsewhere) or another venv path
    # re-renders nothing; what the video depends on is in the rule's compared params
    image = IMAGES[wildcards.image]
    argument = job_json(
        image=IMAGE_PATHS[wildcards.image],
        # the MP4 beside the sidecar Snakemake names
        video=os.path.splitext(output.sidecar)[0] + ".mp4",
        source=image.relpath,
        entities=image.entities,
        log_relative=RENDER_LOG.format(image=wildcards.image),
        options=RENDER_OPTIONS,
        fingerprint=RENDER_FINGERPRINT,
    )
    # the whole command, quoted here once per job: Snakemake formats a shell command three
    # times per job it plans, each field of it a lookup (the log: the rule's log:, which
    # Snakemake creates the folder of)
    return shlex.join(
        [
            sys.executable,
            "-m",
            "neurovid.render_job",
            argument,
            output.sidecar,
            os.path.join(OUT, RENDER_LOG.format(image=wildcards.image)),
        ]
    )


@known_signature
def image_identity(wildcards):
    # compared between runs: the image's BIDS path and entities, and its stat signature,
    # which changes whenever the input file is replaced (neurovid.fingerprint.
    # input_signature: one stat, never a read). One function for the three: Snakemake
    # inspects each param function several times per job (20,000 jobs in a large study)
    image = IMAGES[wildcards.image]
    return {
        "source": image.relpath,
        "entities": image.entities,
        "input_signature": input_signature(IMAGE_PATHS[wildcards.image]),
    }


def _needed_bytes(key):
    memory = _RUN["memory"]
    if memory is None:
        memory = _RUN["memory"] = {}
        if MAIN_PROCESS:
            # header sizes for every image at once (cached in the output folder by a real
            # run); only regular files are read: a FIFO or a device is never opened
            memory.update(
                memory_estimates(
                    IMAGE_PATHS, f"{OUT_DIR}/.neurovid/memory.json", write=_real_run()
                )
            )
    if key not in memory and not MAIN_PROCESS:
        # a cluster job reads its own images' headers, not the estimates of the study
        # (os.devnull: no cache file to read; only a regular file is opened)
        memory.update(
            memory_estimates({key: IMAGE_PATHS[key]}, os.devnull, write=False)
        )
        # none (unreadable, not a regular file): asked once, not again for each resource
        memory.setdefault(key, 0)
    return memory.get(key, 0)


@known_signature
def image_mem_mb(wildcards, attempt):
    return job_mem_mb(_needed_bytes(wildcards.image), attempt)


@known_signature
def image_runtime_min(wildcards, attempt):
    # SLURM's time limit for the render (minutes, from the header; neurovid.cluster)
    return job_runtime_min(_needed_bytes(wildcards.image), attempt)


def sidecars():
    return [f"{OUT}/{key}.json" for key in sorted(IMAGES)]


@known_signature
def all_sidecars(wildcards):
    # an input function: the list of every sidecar is built when the job that needs it
    # is planned, not at each start of Snakemake (each cluster job's included)
    return sidecars()


def sidecars_of_suffix(suffix):
    # triage (rules/triage.smk): the sidecars one group_<suffix>.tsv is built from
    return [
        f"{OUT}/{key}.json"
        for key in sorted(IMAGES)
        if IMAGES[key].entities.get("suffix") == suffix
    ]


def group_tables():
    # triage (rules/triage.smk): one group file (+ JSON) per suffix that has images
    found = sorted({image.entities.get("suffix") for image in IMAGES.values()} - {None})
    return [
        f"{OUT}/group_{suffix}.{ext}" for suffix in found for ext in ("tsv", "json")
    ]


@known_signature
def final_targets(wildcards=None):
    # every sidecar of the run, so that Snakemake re-makes one that was deleted (it does
    # not re-make a missing file that only an up-to-date job, here the page, needs)
    targets = [f"{OUT}/index.html", f"{OUT}/dataset_description.json", *sidecars()]
    targets += group_tables()
    # ratings (rules/ratings.smk): the merge of OUTPUT_DIR/ratings/
    targets += [
        f"{OUT}/qc_ratings.tsv",
        f"{OUT}/qc_ratings.json",
        f"{OUT}/exclude.json",
    ]
    if config["strict"]:
        targets.append(f"{OUT}/logs/strict_check.txt")
    return targets
