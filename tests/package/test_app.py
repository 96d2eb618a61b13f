"""The ``neurovid`` command line: every option reaches the workflow configuration, the Snakemake
command line it builds, usage errors (exit 2, nothing written), and the group level's rules
(issue 13, points 1 and 6)."""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from neurovid import app, bundle

from .conftest import make_tiny_dataset, run

SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())


def parse(*argv: str):
    args, unknown = app.build_parser().parse_known_args(list(argv))
    assert not unknown
    return args


def test_positional_paths_become_absolute_relative_to_the_working_folder(tmp_path):
    args = parse("study", "../out/neurovid", "participant")
    config = app.workflow_config(args, cwd=tmp_path / "here")
    assert config == {
        "bids_dir": str(tmp_path / "here" / "study"),
        "output_dir": str(tmp_path / "out" / "neurovid"),
    }


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--participant-label", "01", "sub-02"], {"participant_label": ["01", "sub-02"]}),
        (["--participant_label", "01"], {"participant_label": ["01"]}),
        (["--exclude-participant-label", "13"], {"exclude_participant_label": ["13"]}),
        (["--session-label", "pre", "ses-post"], {"session_label": ["pre", "ses-post"]}),
        (["--suffixes", "T1w", "T2w"], {"suffixes": ["T1w", "T2w"]}),
        (["--strict"], {"strict": True}),
        (["--fps", "10"], {"render": {"fps": 10.0}}),
        (["--crf", "30", "--preset", "slow"], {"render": {"crf": 30, "preset": "slow"}}),
        (["--percentiles", "1", "99"], {"render": {"percentiles": [1.0, 99.0]}}),
        (["--display", "radiological"], {"render": {"display": "radiological"}}),
    ],
)
def test_each_option_reaches_its_configuration_key(tmp_path, argv, expected):
    config = app.workflow_config(parse("b", "o", "participant", *argv), cwd=tmp_path)
    del config["bids_dir"], config["output_dir"]
    assert config == expected


def test_every_configuration_key_has_an_option():
    """A key added to config/schema.yaml gets a way in from the command line."""
    dests = {action.dest for action in app.build_parser()._actions}
    for key, spec in SCHEMA["properties"].items():
        if key in ("bids_dir", "output_dir"):
            continue
        if spec.get("type") == "object":
            for sub_key in spec["properties"]:
                assert f"{key}.{sub_key}" in dests, f"no neurovid option for {key}.{sub_key}"
        else:
            assert key in dests, f"no neurovid option for {key}"


def test_options_made_from_the_schema_reach_their_keys(tmp_path):
    """Sections other than render (e.g. ratings) get --SECTION-KEY options from the schema."""
    for section, spec in SCHEMA["properties"].items():
        if spec.get("type") != "object" or section == "render":
            continue
        for key, sub in spec["properties"].items():
            item = sub.get("items", sub)
            samples = {"integer": ("3", 3), "number": ("0.5", 0.5), "boolean": ("true", True)}
            value, expected = samples.get(item.get("type"), ("x", "x"))
            if "enum" in item:
                value = expected = item["enum"][-1]
            option = f"--{section}-{key}".replace("_", "-")
            config = app.workflow_config(parse("b", "o", "group", option, value), cwd=tmp_path)
            assert config[section][key] == ([expected] if sub["type"] == "array" else expected)


def test_config_file_keys_are_used_and_the_command_line_wins(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("suffixes: [T2w]\nrender: {fps: 5, crf: 30}\n")
    args = parse("b", "o", "participant", "--fps", "8", "--config-file", str(path))
    config = app.merge_config_file(app.workflow_config(args, cwd=tmp_path), path)
    assert config["suffixes"] == ["T2w"]
    assert config["render"] == {"fps": 8.0, "crf": 30}


def test_every_render_option_is_the_render_scripts_option():
    """Names, types and choices come from neurovid.cli (one definition)."""
    from neurovid.cli import _render_parser

    script_options = {
        option: action for action in _render_parser()._actions for option in action.option_strings
    }
    for action in app.build_parser()._actions:
        if action.dest.startswith("render."):
            for option in action.option_strings:
                original = script_options[option]
                assert action.dest == f"render.{original.dest}"
                assert (action.type, action.choices, action.nargs) == (
                    original.type,
                    original.choices,
                    original.nargs,
                )


def test_every_option_given_at_once_validates_against_the_schema(tmp_path):
    from neurovid.config import validate_config

    argv = ["--participant-label", "01", "--exclude-participant-label", "02",
            "--session-label", "1", "--suffixes", "T1w", "--strict"]  # fmt: skip
    for action in app.build_parser()._actions:
        if action.dest.startswith("render."):
            value = {"fps": "12", "crf": "23", "frame_width": "640", "percentiles": ["1", "99"],
                     "oblique_threshold_deg": "3", "x264_params": "bframes=2",
                     "preset": "fast"}.get(action.dest.removeprefix("render."))  # fmt: skip
            value = value if value is not None else (action.choices or [None])[0]
            if value is None:
                continue
            argv += [action.option_strings[0], *([value] if isinstance(value, str) else value)]
    config = app.workflow_config(parse("b", "o", "participant", *argv), cwd=tmp_path)
    merged = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    merged.update({k: v for k, v in config.items() if k != "render"})
    merged["render"].update(config["render"])
    validate_config(merged, REPO / "config" / "schema.yaml")
    assert merged["render"]["fps"] == 12 and merged["strict"] is True


def test_snakemake_command_line_of_a_participant_run(tmp_path):
    args = parse("b", "o", "participant", "--cores", "3", "--dry-run")
    config_file = tmp_path / "out" / ".neurovid" / "config.yaml"
    argv = app.snakemake_argv(
        args, config_file, tmp_path / "out", ["--keep-going", "--", "target"]
    )
    assert argv[:2] == ["--configfile", str(config_file)]
    assert argv[argv.index("--cores") + 1] == "3"
    assert "--dry-run" in argv
    assert argv[argv.index("--logger") + 1] == "neurovid"
    assert argv[argv.index("--snakefile") + 1] == str(bundle.workflow_path())
    assert argv[argv.index("--workflow-profile") + 1] == "none"
    # OUTPUT_DIR is Snakemake's working folder; pass-through options come last, unchanged
    assert argv[-5:] == ["--directory", str(tmp_path / "out"), "--keep-going", "--", "target"]
    assert "--allowed-rules" not in argv


def test_defaults_all_cores_and_the_profile_decides_on_a_cluster(tmp_path):
    config_file = tmp_path / "out" / ".neurovid" / "config.yaml"
    argv = functools.partial(app.snakemake_argv, config_file=config_file, workdir=tmp_path)
    local = argv(parse("b", "o", "participant"))
    assert local[local.index("--cores") + 1] == "all"
    slurm = argv(parse("b", "o", "participant", "--profile", "slurm"))
    assert "--cores" not in slurm
    assert slurm[slurm.index("--workflow-profile") + 1] == str(bundle.profile_dir("slurm"))
    mine = argv(parse("b", "o", "participant", "--profile", "mycluster"))
    assert mine[mine.index("--profile") + 1] == "mycluster"
    verbose = argv(parse("b", "o", "participant", "-v"))
    assert "--logger" not in verbose
    rich = argv(parse("b", "o", "participant"), extra=["--logger", "rich"])
    assert rich.count("--logger") == 1


def test_group_level_allows_every_rule_but_the_per_image_ones(tmp_path):
    argv = app.snakemake_argv(parse("b", "o", "group"), tmp_path / "c.yaml", tmp_path / "o")
    start = argv.index("--allowed-rules") + 1
    end = next(i for i in range(start, len(argv)) if argv[i].startswith("--"))
    allowed = set(argv[start:end])
    assert allowed == app._workflow_rule_names() - {"render_video"}
    assert {"all", "review_page", "dataset_description"} <= allowed


def test_rule_classification_matches_the_workflow(tmp_path):
    """Every rule Snakemake sees is known to the command; the per-image rules (those whose
    outputs carry the ``{image}`` wildcard) are exactly app.PARTICIPANT_RULES."""
    bids = make_tiny_dataset(tmp_path / "bids")
    common = [sys.executable, "-m", "snakemake", "-s", bundle.workflow_path(), "--config",
              f"bids_dir={bids}", f"output_dir={tmp_path / 'out'}"]  # fmt: skip
    listed = run([*common, "--list-rules"], cwd=tmp_path, timeout=300)
    targets = run([*common, "--list-target-rules"], cwd=tmp_path, timeout=300)
    assert listed.returncode == 0 and targets.returncode == 0, listed.stderr + targets.stderr
    every_rule = set(listed.stdout.split())
    target_rules = set(targets.stdout.split())
    assert every_rule == app._workflow_rule_names()
    per_image = set()
    for rules_file in (bundle.workflow_path().parent / "workflow" / "rules").glob("*.smk"):
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t].*\n|\n)*)", rules_file.read_text(),
                                     flags=re.M):  # fmt: skip
            if "{{image}}" in body:
                per_image.add(name)
    assert per_image and per_image <= every_rule - target_rules
    assert per_image == app.PARTICIPANT_RULES


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{missing}", "{out}", "participant"], "BIDS_DIR {missing} does not exist"),
        (["{bids}", "{out}", "participant", "--fps", "0"], "'render.fps'"),
        (["{bids}", "{out}", "participant", "--display", "upside-down"], "invalid choice"),
        (["{bids}", "{out}", "participant", "--cores", "many"], "--cores"),
        (["{bids}", "{out}", "participant", "--keep-going"], "after `--`"),
        (["{bids}", "{out}", "everyone"], "invalid choice"),
        (["{bids}", "{bids}/sub-01/qc", "participant"], "inside the raw data folder 'sub-01'"),
        (["{bids}", "{out}", "participant", "--", "--no-such-snakemake-option"], "unrecognized"),
        (["{bids}", "{out}", "participant", "--", "--configfile", "x.yaml"], "--config-file"),
        (["{bids}", "{out}", "participant", "--", "-d", "elsewhere"], "OUTPUT_DIR"),
        (["{bids}", "{out}", "participant", "--config-file", "{missing}"], "--config-file"),
        (["{bids}", "{bids}", "participant"], "is the BIDS dataset itself"),
        (["{bids}", "{other}", "participant"], "dataset_description.json of 'fmriprep'"),
        (["{bids}/sub-01", "{out}", "participant"], "sub-01"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(tmp_path, argv, message):
    bids = make_tiny_dataset(tmp_path / "bids")
    other = tmp_path / "fmriprep"  # another pipeline's derivative: never written into
    other.mkdir()
    (other / "dataset_description.json").write_text('{"GeneratedBy": [{"Name": "fmriprep"}]}')
    values = {"bids": bids, "out": tmp_path / "out", "missing": tmp_path / "missing",
              "other": other}  # fmt: skip
    argv = [part.format(**values) for part in argv]
    message = message.format(**values)
    result = run([sys.executable, "-m", "neurovid.app", *argv], cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    if "--no-such-snakemake-option" not in argv:
        assert not (tmp_path / "out").exists()
        assert not (bids / "sub-01" / "qc").exists()
        assert not (bids / ".neurovid").exists()
        assert sorted(path.name for path in other.iterdir()) == ["dataset_description.json"]
    assert not (tmp_path / ".snakemake").exists()


def test_a_failed_run_exits_1(tmp_path):
    bids = make_tiny_dataset(tmp_path / "bids")
    result = run(
        [sys.executable, "-m", "neurovid.app", bids, tmp_path / "out", "participant",
         "--participant-label", "03", "--strict", "--cores", "1"],
        cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"images 1/1 \(100%\) · 1 failed", result.stderr)


def test_dry_run_lists_the_images_and_writes_nothing(tmp_path):
    bids = make_tiny_dataset(tmp_path / "bids")
    result = run(
        [sys.executable, "-m", "neurovid.app", bids, tmp_path / "out", "participant", "-n"],
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    planned = sorted(re.findall(r"would render (\S+)", result.stdout))
    assert planned == ["sub-01/anat/sub-01_T1w", "sub-02/ses-1/anat/sub-02_ses-1_T1w",
                       "sub-03/anat/sub-03_T1w"]  # fmt: skip
    assert not (tmp_path / "out").exists() and not (tmp_path / ".snakemake").exists()


def test_version_names_the_package():
    result = run([sys.executable, "-m", "neurovid.app", "--version"], cwd=Path.cwd())
    assert result.stdout.strip() == f"neurovid {app.__version__}"


@pytest.mark.slow
def test_odd_folder_names_and_relative_paths(tmp_path):
    """Spaces, braces (Snakemake's wildcard syntax) and non-ASCII in every path."""
    cwd = tmp_path / "a folder {x} é"
    cwd.mkdir()
    make_tiny_dataset(cwd / "bids data")
    result = run(
        [sys.executable, "-m", "neurovid.app", "bids data", "out {y}", "participant",
         "--participant-label", "01", "--cores", "1"],
        cwd=cwd, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = cwd / "out {y}"
    assert (out / "index.html").is_file() and (out / "sub-01/anat/sub-01_T1w.mp4").is_file()
    assert sorted(path.name for path in cwd.iterdir()) == ["bids data", "out {y}"]
