# Configuration, discovery and input functions shared by the rules.
#
# Everything here runs at every start of Snakemake (and of every cluster job), and the
# input functions run once per job: with 2,000 images that is 2,000 calls each, so they
# look up what was computed once (see benchmarks/bench_workflow.py).
import json
import os
import sys
from pathlib import Path

from neurovid.config import ConfigError, check_paths, render_options, validate_config
from neurovid.discovery import discover_images

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


def _memory_needed(cache_file):
    """Bytes each image needs (``estimate_memory_bytes``, from its header), by image key.

    Reading thousands of gzipped headers takes longer than the rest of a warm start, so the
    estimates are cached in ``cache_file`` by absolute path with the file's size and mtime
    (following symlinks); a header that cannot be read is not cached (the job needs little
    and records why the image failed).
    """
    from neurovid import __version__

    try:
        cached = json.loads(Path(cache_file).read_text())
        known = cached["images"] if cached.get("version") == __version__ else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        known = {}
    needed, new = {}, {}
    for key, path in IMAGE_PATHS.items():
        path = os.path.abspath(path)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = known.get(path)
        if isinstance(entry, list) and entry[:2] == stamp:
            needed[key] = entry[2]
            continue
        from neurovid.volume import estimate_memory_bytes

        try:
            needed[key] = estimate_memory_bytes(path)
        except Exception:  # unreadable header: the job will record why
            continue
        new[path] = [*stamp, needed[key]]
    if new:
        try:
            cache_path = Path(cache_file)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            partial = cache_path.with_name(f".{cache_path.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps({"version": __version__, "images": {**known, **new}}))
            os.replace(partial, cache_path)
        except OSError:
            pass  # read-only output folder: estimate again next time
    return needed


MEMORY_NEEDED = _memory_needed(f"{OUT}/.neurovid/memory.json")


def image_mem_mb(wildcards, attempt):
    needed = MEMORY_NEEDED.get(wildcards.image, 0)
    return int(300 + attempt * needed / 2**20)


def sidecars():
    return [f"{OUT}/{key}.json" for key in sorted(IMAGES)]


def final_targets():
    targets = [f"{OUT}/index.html", f"{OUT}/dataset_description.json"]
    if config["strict"]:
        targets.append(f"{OUT}/logs/strict_check.txt")
    return targets
