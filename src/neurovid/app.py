"""The ``neurovid`` command: the workflow as a BIDS App.

    neurovid BIDS_DIR OUTPUT_DIR participant [options] [-- SNAKEMAKE_OPTIONS]
    neurovid BIDS_DIR OUTPUT_DIR group

The command turns its options into one workflow configuration, writes it to
``OUTPUT_DIR/.neurovid/config.yaml`` and runs the installed workflow in this process through
Snakemake's Python API, with ``OUTPUT_DIR`` as Snakemake's working folder (so ``.snakemake/``
lands there, never in the folder the command was started from). Snakemake's own argument
parser and :func:`snakemake.cli.args_to_api` build the API settings, so that every Snakemake
option given after ``--``, every profile and every executor plugin means exactly what it
means to ``snakemake``; what this module adds is the BIDS-App interface, the mapping of its
options to the configuration, checks that answer with a usage error before anything is
written, and the choice of the ``neurovid`` progress logger.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from . import __version__, bundle

#: exit codes of a BIDS App
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
#: rules that work on one image; the group level never runs them (it aggregates what the
#: participant level wrote); tests/package/test_app.py checks this against the workflow
PARTICIPANT_RULES = frozenset({"render_video"})
#: the workflow configuration written by the command, relative to OUTPUT_DIR
CONFIG_RELPATH = ".neurovid/config.yaml"

_DESCRIPTION = """\
Quality-control videos and one review page for every anatomical MRI scan of a BIDS dataset.

The participant level finds every anatomical image (pybids), renders one MP4 per image
(all slices of the three planes, true orientation from the affine, true proportions) and
builds OUTPUT_DIR/index.html, a review page that works straight from disk. The group level
rebuilds the page and the group files from the videos already there, without rendering.
"""

_EPILOG = """\
examples:
  neurovid /data/ds001634 /data/ds001634/derivatives/neurovid participant
  neurovid /data/study /data/out participant --participant-label 01 02 --cores 8
  neurovid /data/study /data/out participant --profile slurm        # SLURM, 20 images a job
  neurovid /data/study /data/out participant --dry-run              # list what would render
  neurovid /data/study /data/out participant -- --keep-going --rerun-triggers mtime
  neurovid /data/study /data/out group                              # page + group files only

outputs (OUTPUT_DIR is a BIDS derivative):
  sub-X/[ses-Y/]anat/<stem>.mp4, .png, .json   video, poster, sidecar (status, provenance)
  index.html                                   the review page (no server, no network)
  dataset_description.json, logs/, .snakemake/ (Snakemake's metadata and complete log)

Paths may be relative to the current folder. Options after `--` go to Snakemake unchanged
(`snakemake --help`). After a crash: `neurovid BIDS_DIR OUTPUT_DIR participant -- --unlock`.
Without the `neurovid` logger (`--verbose`) Snakemake prints every job.

exit status: 0 done (failed images are cards on the page; see --strict), 1 the run failed,
2 usage error (bad option, missing folder, invalid setting).
"""


def _render_option_actions() -> list[argparse.Action]:
    """``render_video.py``'s options that are keys of the configuration's ``render`` section.

    One definition: names, types, choices and help come from :mod:`neurovid.cli`.
    """
    from .cli import _render_parser

    render_keys = set(_schema()["properties"]["render"]["properties"])
    return [
        action
        for action in _render_parser()._actions
        if action.dest in render_keys and action.option_strings
    ]


def _config_defaults() -> dict[str, Any]:
    return yaml.safe_load(bundle.default_config_path().read_text())


def _schema() -> dict[str, Any]:
    return yaml.safe_load(bundle.config_schema_path().read_text())


#: configuration keys with options of their own (positional, "which images", --strict, render)
_KEYS_WITH_OWN_OPTIONS = {
    "bids_dir", "output_dir", "participant_label", "exclude_participant_label",
    "session_label", "suffixes", "strict", "render",
}  # fmt: skip
_JSON_TYPES = {"string": str, "integer": int, "number": float}


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "yes", "1", "false", "no", "0"):
        return lowered in ("true", "yes", "1")
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _add_schema_option(group, option: str, dest: str, spec: dict[str, Any], default) -> None:
    """An option made from a key's JSON Schema (type, enum, array items, description)."""
    kwargs: dict[str, Any] = {"dest": dest, "default": None}
    item = spec.get("items", {}) if spec.get("type") == "array" else spec
    if spec.get("type") == "array":
        kwargs["nargs"] = "+"
    if item.get("type") == "boolean":
        kwargs["type"] = _boolean
        kwargs["metavar"] = "{true,false}"
    elif "enum" in item:
        kwargs["choices"] = item["enum"]
    else:
        kwargs["type"] = _JSON_TYPES.get(item.get("type"), str)
        kwargs["metavar"] = dest.rpartition(".")[2].upper()
    description = " ".join(str(spec.get("description", "")).split())
    kwargs["help"] = f"{description} (default {default})"
    group.add_argument(option, **kwargs)


def _add_other_config_options(parser: argparse.ArgumentParser) -> None:
    """Options for every other key of config/schema.yaml: ``--SECTION-KEY`` for sections
    (e.g. ``--ratings-consensus``), ``--KEY`` for plain keys; new keys get options by
    themselves."""
    defaults = _config_defaults()
    for name, spec in _schema()["properties"].items():
        if name in _KEYS_WITH_OWN_OPTIONS:
            continue
        flag = name.replace("_", "-")
        if spec.get("type") == "object":
            group = parser.add_argument_group(f"{name} (config/README.md)")
            for key, sub in spec.get("properties", {}).items():
                default = defaults.get(name, {}).get(key, sub.get("default"))
                option = f"--{flag}-{key.replace('_', '-')}"
                _add_schema_option(group, option, f"{name}.{key}", sub, default)
        else:
            _add_schema_option(parser, f"--{flag}", name, spec, defaults.get(name))


def _cores(value: str) -> str:
    if value == "all" or (value.isdigit() and int(value) > 0):
        return value
    raise argparse.ArgumentTypeError(f"expected a positive number or 'all', got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    """The ``neurovid`` argument parser (BIDS-App form)."""
    parser = argparse.ArgumentParser(
        prog="neurovid",
        usage="neurovid BIDS_DIR OUTPUT_DIR {participant,group} [options] [-- SNAKEMAKE_OPTIONS]",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bids_dir", metavar="BIDS_DIR", help="the BIDS dataset (read only)")
    parser.add_argument(
        "output_dir",
        metavar="OUTPUT_DIR",
        help="where videos, sidecars, logs and index.html go, e.g. BIDS_DIR/derivatives/neurovid",
    )
    parser.add_argument(
        "analysis_level",
        choices=("participant", "group"),
        help="participant: render and build the page; group: rebuild the page and group files "
        "from what is there, rendering nothing",
    )
    parser.add_argument(
        "--version", action="version", version=f"neurovid {__version__}", help="print the version"
    )

    images = parser.add_argument_group("which images")
    images.add_argument(
        "--participant-label",
        "--participant_label",
        dest="participant_label",
        nargs="+",
        metavar="LABEL",
        help="only these participants (01 or sub-01); default: all",
    )
    images.add_argument(
        "--exclude-participant-label",
        dest="exclude_participant_label",
        nargs="+",
        metavar="LABEL",
        help="leave these participants out",
    )
    images.add_argument(
        "--session-label",
        "--session_label",
        dest="session_label",
        nargs="+",
        metavar="LABEL",
        help="only these sessions (pre or ses-pre); default: all",
    )
    images.add_argument(
        "--suffixes",
        nargs="+",
        metavar="SUFFIX",
        help="anatomical suffixes to render (default: T1w), e.g. T1w T2w FLAIR",
    )

    run = parser.add_argument_group("how to run")
    run.add_argument(
        "--cores",
        type=_cores,
        metavar="N",
        help="CPU cores to use on this machine (default: all; with --profile: the profile's)",
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--profile",
        metavar="NAME",
        help="a Snakemake profile: 'slurm' (neurovid's own, docs/slurm.md) or the name or "
        "folder of yours",
    )
    where.add_argument(
        "--executor", metavar="NAME", help="a Snakemake executor plugin, e.g. slurm"
    )
    run.add_argument(
        "-n", "--dry-run", action="store_true", help="list what would be done, do nothing"
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 at the end if any image failed (otherwise failed images are cards on "
        "the page and the run exits 0)",
    )
    run.add_argument(
        "--config-file",
        metavar="FILE",
        help="a YAML file of configuration keys, like config/config.yaml (config/README.md); "
        "options given on the command line win",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="Snakemake's full output (one block per job) instead of the progress line",
    )

    render = parser.add_argument_group(
        "rendering (default: config/config.yaml, described in config/README.md)"
    )
    defaults = _config_defaults()["render"]
    for action in _render_option_actions():
        help_text = re.sub(r"\s*\(default %\(default\)s[^)]*\)", "", action.help or "")
        kwargs: dict[str, Any] = {
            "dest": f"render.{action.dest}",
            "default": None,  # not given: config/config.yaml (or --config-file) decides
            "help": f"{help_text} (default {defaults.get(action.dest)})",
        }
        if isinstance(action, argparse.BooleanOptionalAction):  # --crop / --no-crop
            options = [
                option for option in action.option_strings if not option.startswith("--no-")
            ]
            render.add_argument(*options, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        render.add_argument(
            *action.option_strings,
            type=action.type,
            nargs=action.nargs,
            choices=action.choices,
            metavar=action.metavar or (None if action.choices else action.dest.upper()),
            **kwargs,
        )
    _add_other_config_options(parser)
    return parser


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """neurovid's own arguments and the Snakemake options after ``--``."""
    argv = list(argv)
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def workflow_config(args: argparse.Namespace, cwd: Path | None = None) -> dict[str, Any]:
    """The configuration overrides that ``args`` stand for (only what was given).

    ``bids_dir`` and ``output_dir`` become absolute (relative to ``cwd``, default the current
    folder), since Snakemake runs with ``OUTPUT_DIR`` as its working folder.
    """
    cwd = cwd or Path.cwd()
    config: dict[str, Any] = {
        "bids_dir": str((cwd / args.bids_dir).resolve()),
        "output_dir": str((cwd / args.output_dir).resolve()),
    }
    for key in ("participant_label", "exclude_participant_label", "session_label", "suffixes"):
        value = getattr(args, key)
        if value is not None:
            config[key] = list(value)
    if args.strict:
        config["strict"] = True
    # the other keys: "section.key" for a section's key (render.fps), "key" for a plain one
    others = set(_schema()["properties"]) - _KEYS_WITH_OWN_OPTIONS
    for dest, value in vars(args).items():
        if value is None:
            continue
        value = list(value) if isinstance(value, tuple | list) else value
        section, _, key = dest.partition(".")
        if key and (section == "render" or section in others):
            config.setdefault(section, {})[key] = value
        elif dest in others:
            config[dest] = value
    return config


def merge_config_file(config: dict[str, Any], path: Path) -> dict[str, Any]:
    """``config`` over the keys of the YAML file at ``path`` (the command line wins)."""
    loaded = yaml.safe_load(path.read_text())
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ValueError("not a mapping of configuration keys")
    merged = dict(loaded)
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _workflow_rule_names() -> set[str]:
    """Every rule of the installed workflow (``rule NAME:`` lines, at column 0 by snakefmt)."""
    root = bundle.workflow_dir()
    names: set[str] = set()
    for path in [root / "Snakefile", *sorted((root / "workflow" / "rules").glob("*.smk"))]:
        names.update(re.findall(r"^(?:rule|checkpoint)\s+(\w+)\s*:", path.read_text(), re.M))
    return names


def group_rules() -> list[str]:
    """The rules the group level may run: every rule but the per-image ones."""
    return sorted(_workflow_rule_names() - PARTICIPANT_RULES)


def snakemake_argv(
    args: argparse.Namespace, config_file: Path, workdir: Path, extra: Sequence[str] = ()
) -> list[str]:
    """The Snakemake command line (without ``snakemake``) that runs ``args`` in ``workdir``."""
    argv = ["--configfile", str(config_file)]
    if args.analysis_level == "group":
        argv += ["--allowed-rules", *group_rules()]
    if args.profile:
        packaged = bundle.profile_dir(args.profile)
        argv += ["--workflow-profile", str(packaged)] if packaged else ["--profile", args.profile]
    else:
        # no profile from the folder the command was started in (Snakemake would look for
        # profiles/default there); a user's $SNAKEMAKE_PROFILE still applies
        argv += ["--workflow-profile", "none"]
    if args.executor:
        argv += ["--executor", args.executor]
    if args.cores:
        argv += ["--cores", str(args.cores)]
    elif not (args.profile or args.executor or _given(extra, "--cores", "-c", "--jobs", "-j")):
        argv += ["--cores", "all"]
    if args.dry_run:
        argv.append("--dry-run")
    if not args.verbose and not _given(extra, "--logger"):
        argv += ["--logger", "neurovid"]
    argv += ["--snakefile", str(bundle.workflow_path())]
    # last before the pass-through: a single-valued option, so that targets given after
    # `--` are not taken as more values of a multi-valued option above
    argv += ["--directory", str(workdir)]
    return [*argv, *extra]


#: Snakemake options the command sets itself (a second value would silently replace its own)
_OWN_SNAKEMAKE_OPTIONS = {
    "--configfile": "--config-file", "--configfiles": "--config-file",
    "--snakefile": None, "-s": None, "--directory": "OUTPUT_DIR", "-d": "OUTPUT_DIR",
    "--workflow-profile": "--profile",
}  # fmt: skip


def _given(extra: Sequence[str], *options: str) -> bool:
    return any(
        item == option or item.startswith(option + "=") for item in extra for option in options
    )


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    parser.print_usage(sys.stderr)
    print(f"neurovid: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace, config: dict) -> int | None:
    """Usage errors found before anything is written; None when all is well."""
    from .config import check_paths, validate_config
    from .derivative import foreign_description
    from .discovery import layout_problem
    from .errors import ConfigError

    bids_dir = Path(config["bids_dir"])
    if not bids_dir.is_dir():
        what = "does not exist" if not bids_dir.exists() else "is not a folder"
        return _usage_error(parser, f"BIDS_DIR {args.bids_dir} {what}")
    merged = _config_defaults()
    for key, value in config.items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    try:
        validate_config(merged, bundle.config_schema_path())
        for warning in check_paths(config["bids_dir"], config["output_dir"]):
            print(warning, file=sys.stderr)
        # a subject folder given as BIDS_DIR, another pipeline's output folder: the workflow
        # refuses them too, but here nothing has been written yet
        problem = layout_problem(config["bids_dir"]) or foreign_description(config["output_dir"])
        if problem:
            raise ConfigError(problem)
    except ConfigError as error:
        return _usage_error(parser, str(error).removeprefix("config error: "))
    return None


def write_config(config: dict[str, Any], out_dir: Path) -> Path:
    """Write the run's configuration to ``OUTPUT_DIR/.neurovid/config.yaml``."""
    from .atomic import write_text_atomic

    path = out_dir / CONFIG_RELPATH
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# written by the neurovid command ({__version__}); Snakemake reads it with "
        "--configfile\n# on top of the workflow's config/config.yaml\n"
    )
    write_text_atomic(path, header + yaml.safe_dump(config, sort_keys=False))
    return path


def run_snakemake(argv: Sequence[str]) -> bool:
    """Run Snakemake in this process on ``argv``; True when it succeeded.

    Snakemake's parser applies profiles and plugin options; :func:`snakemake.cli.args_to_api`
    makes the :class:`snakemake.api.SnakemakeApi` calls (and changes back to the current
    folder when it is done).
    """
    from snakemake.cli import args_to_api, parse_args

    parser, args = parse_args(list(argv))
    return bool(args_to_api(args, parser))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``neurovid``; returns the exit status."""
    own, extra = split_argv(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(own)
    if unknown:
        return _usage_error(
            parser,
            f"unrecognized arguments: {' '.join(unknown)} "
            "(Snakemake's own options go after `--`, e.g. `-- --keep-going`)",
        )
    for option, instead in _OWN_SNAKEMAKE_OPTIONS.items():
        if _given(extra, option):
            hint = f"; use {instead}" if instead else ""
            return _usage_error(parser, f"{option} is set by neurovid itself{hint}")
    config = workflow_config(args)
    if args.config_file:
        try:
            config = merge_config_file(config, Path(args.config_file))
        except (OSError, ValueError) as error:
            return _usage_error(parser, f"--config-file {args.config_file}: {error}")
    problem = _check(parser, args, config)
    if problem is not None:
        return problem
    out_dir = Path(config["output_dir"])
    with tempfile.TemporaryDirectory(prefix="neurovid-") as scratch:
        if args.dry_run:
            # a dry run writes nothing: the configuration goes to a scratch folder, and a
            # missing OUTPUT_DIR is not created (an existing one holds Snakemake's metadata,
            # which tells what is out of date)
            config_file = write_config(config, Path(scratch))
            workdir = out_dir if out_dir.is_dir() else Path(scratch)
        else:
            config_file, workdir = write_config(config, out_dir), out_dir
        return _run(args, snakemake_argv(args, config_file, workdir, extra))


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        ok = run_snakemake(argv)
    except KeyboardInterrupt:
        print("neurovid: interrupted", file=sys.stderr)
        return 130
    except SystemExit as stop:  # the workflow's one-line errors, or Snakemake's parser
        code = stop.code if isinstance(stop.code, int) else EXIT_FAILURE
        return EXIT_USAGE if code == 2 else (EXIT_OK if code == 0 else EXIT_FAILURE)
    if not ok and args.analysis_level == "group":
        print(
            "neurovid: the group level uses the videos the participant level made; if some "
            "are missing, run `neurovid BIDS_DIR OUTPUT_DIR participant` first",
            file=sys.stderr,
        )
    return EXIT_OK if ok else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
