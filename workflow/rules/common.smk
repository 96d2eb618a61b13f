# Configuration, discovery and input functions shared by the rules.
#
# Everything here runs at every start of Snakemake (and of every cluster job), and the
# input functions run once per job: with 2,000 images that is 2,000 calls each, so they
# look up what was computed once (see benchmarks/bench_workflow.py).
import os
import sys
from pathlib import Path

from neurovid.config import ConfigError, check_paths, render_options, validate_config
from neurovid.discovery import discover_images
from neurovid.resources import job_mem_mb, memory_estimates

DEFAULT_DEMO_BIDS = "demo/bids"


def _fail(error):
    # one line, no traceback: the user's mistake, not ours
    print(error, file=sys.stderr)
    sys.exit(1)


try:
    validate_config(config, workflow.source_path("../../config/schema.yaml"))
    if config["bids_dir"] == DEFAULT_DEMO_BIDS and not Path(DEFAULT_DEMO_BIDS).exists():
        from neurovid.demo import build_demo_dataset

        print(f"Building the demo dataset in {DEFAULT_DEMO_BIDS} ...", file=sys.stderr)
        build_demo_dataset(DEFAULT_DEMO_BIDS)
    for warning in check_paths(
        config["bids_dir"],
        config["output_dir"],
        is_default_demo=config["bids_dir"] == DEFAULT_DEMO_BIDS,
    ):
        print(warning, file=sys.stderr)
except ConfigError as error:
    _fail(error)

BIDS_DIR = Path(config["bids_dir"])
OUT = config["output_dir"].rstrip("/")
RENDER_OPTIONS = render_options(config)
IMAGES = {
    image.key: image
    for image in discover_images(
        BIDS_DIR,
        participant_label=config["participant_label"],
        exclude_participant_label=config["exclude_participant_label"],
        session_label=config["session_label"],
        suffixes=config["suffixes"],
        cache_file=f"{OUT}/.neurovid/discovery.json",
    )
}
if not IMAGES:
    _fail(
        f"config error: no {'/'.join(config['suffixes'])} image in {BIDS_DIR} matches the "
        "filters (participant_label, exclude_participant_label, session_label, suffixes)"
    )


wildcard_constraints:
    image=r"sub-[^/]+/(ses-[^/]+/)?anat/[^/]+",


IMAGE_PATHS = {key: str(BIDS_DIR / image.relpath) for key, image in IMAGES.items()}


def image_path(wildcards):
    return IMAGE_PATHS[wildcards.image]


def image_input(wildcards):
    # a broken symlink (e.g. DataLad content not fetched) is not a Snakemake input, so the
    # run goes on and the render job records why the image failed
    path = IMAGE_PATHS[wildcards.image]
    return [path] if os.path.exists(path) else []


MEMORY_NEEDED = memory_estimates(IMAGE_PATHS, f"{OUT}/.neurovid/memory.json")


def image_mem_mb(wildcards, attempt):
    return job_mem_mb(MEMORY_NEEDED.get(wildcards.image, 0), attempt)


def sidecars():
    return [f"{OUT}/{key}.json" for key in sorted(IMAGES)]


def final_targets():
    targets = [f"{OUT}/index.html", f"{OUT}/dataset_description.json"]
    # ratings (rules/ratings.smk): the merge of OUTPUT_DIR/ratings/
    targets += [f"{OUT}/qc_ratings.tsv", f"{OUT}/qc_ratings.json", f"{OUT}/exclude.json"]
    if config["strict"]:
        targets.append(f"{OUT}/logs/strict_check.txt")
    return targets
