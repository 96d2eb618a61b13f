"""The output is a BIDS derivative the official validators accept (issue 13, point 5).

Two validators judge the output of the installed ``neurovid`` command (the tiny dataset, one
failed image included) and the demo-like layout where the derivative sits in
``BIDS_DIR/derivatives/neurovid``:

* the schema validator, ``bids-validator`` 3.x, from PyPI (``bids-validator-deno``, pinned
  in requirements-dev.txt), run offline (Deno without network permission): no errors;
* the ``bids-validator`` package of the npm registry (1.15.0, the legacy validator: the
  schema validator is not published there), installed by ``.ci/run`` (``make validator``)
  into ``.tools/bids-validator``: exactly the messages docs/bids-validator.md explains.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

from .conftest import run

pytestmark = pytest.mark.slow

#: what each validator may report, and nothing else (each one explained in docs/bids-validator.md)
ACCEPTED_SCHEMA_VALIDATOR = {"warning": {"README_FILE_MISSING", "TOO_FEW_AUTHORS"}}
ACCEPTED_LEGACY_VALIDATOR = {
    "error": {"SUBJECT_FOLDERS"},
    "warning": {"README_FILE_MISSING", "NO_AUTHORS"},
}
LEGACY_VALIDATOR = REPO / ".tools" / "bids-validator" / "node_modules" / ".bin" / "bids-validator"


def schema_validator_command(*args) -> list:
    """The schema validator run by Deno without network permission (nothing is fetched)."""
    import bids_validator_deno
    from deno import find_deno_bin

    bundle = Path(bids_validator_deno.__file__).parent / "bids-validator.js"
    return [os.fsdecode(find_deno_bin()), "run", "--no-prompt", "--allow-read", "--allow-env",
            bundle, "--format", "json", *args]  # fmt: skip


def schema_validator(dataset: Path) -> dict[str, set[str]]:
    """Codes reported by the schema validator, by severity."""
    result = run(schema_validator_command(dataset), cwd=dataset, timeout=300)
    codes: dict[str, set[str]] = {}
    for issue in json.loads(result.stdout)["issues"]["issues"]:
        codes.setdefault(issue["severity"], set()).add(issue["code"])
    return codes


def legacy_validator(dataset: Path) -> dict[str, set[str]]:
    result = run([LEGACY_VALIDATOR, "--json", dataset], cwd=dataset, timeout=300)
    report = json.loads(result.stdout)
    return {
        severity: {issue["key"] for issue in report["issues"][f"{severity}s"]}
        for severity in ("error", "warning")
        if report["issues"][f"{severity}s"]
    }


@pytest.fixture(scope="module")
def derivative(installed_run, tmp_path_factory) -> Path:
    """The output folder as a user would publish it (Snakemake's own metadata left out)."""
    assert installed_run.participant.returncode == 0, installed_run.participant.stderr
    copy = tmp_path_factory.mktemp("published") / "neurovid"
    shutil.copytree(installed_run.out, copy, ignore=shutil.ignore_patterns(".snakemake"))
    return copy


def test_derivative_description_names_its_source_and_generator(derivative):
    description = json.loads((derivative / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    (generated_by,) = description["GeneratedBy"]
    assert generated_by["Name"] == "neurovid" and generated_by["Version"]
    assert generated_by["CodeURL"].startswith("https://")
    ignored = (derivative / ".bidsignore").read_text().split()
    for pattern in ("*.mp4", "*.png", "logs/"):
        assert pattern in ignored


def test_schema_validator_reports_no_errors(derivative):
    assert schema_validator(derivative) == ACCEPTED_SCHEMA_VALIDATOR


def test_schema_validator_accepts_the_raw_dataset_with_the_derivative_inside(
    installed, tmp_path, tiny_dataset
):
    """The usual layout: BIDS_DIR/derivatives/neurovid, validated recursively (-r)."""
    bids = tmp_path / "bids"
    shutil.copytree(tiny_dataset, bids)
    shutil.rmtree(bids / "sub-03")  # its "image" is a text file: the raw data would fail
    result = run(
        [installed.bin / "neurovid", bids, bids / "derivatives" / "neurovid", "participant",
         "--cores", "2"],
        cwd=tmp_path, env=installed.env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shutil.rmtree(bids / "derivatives" / "neurovid" / ".snakemake")
    report = run(schema_validator_command("--recursive", bids), cwd=tmp_path, timeout=300)
    issues = json.loads(report.stdout)["issues"]["issues"]
    errors = [(issue["code"], issue.get("location")) for issue in issues
              if issue["severity"] == "error"]  # fmt: skip
    assert errors == []


@pytest.mark.skipif(
    not LEGACY_VALIDATOR.exists(),
    reason="npm's bids-validator is not installed (make validator; .ci/run installs it)",
)
def test_npm_bids_validator_reports_only_the_documented_messages(derivative):
    assert legacy_validator(derivative) == ACCEPTED_LEGACY_VALIDATOR


def test_every_accepted_message_is_explained_in_the_docs():
    text = (REPO / "docs" / "bids-validator.md").read_text()
    for accepted in (ACCEPTED_SCHEMA_VALIDATOR, ACCEPTED_LEGACY_VALIDATOR):
        for codes in accepted.values():
            for code in codes:
                assert f"`{code}`" in text, code


def test_validators_are_the_pinned_versions():
    from importlib.metadata import version

    assert version("bids-validator-deno") == "3.0.2"
    if LEGACY_VALIDATOR.exists():
        printed = subprocess.run(
            [LEGACY_VALIDATOR, "--version"], capture_output=True, text=True, timeout=120
        ).stdout
        assert printed.strip() == "1.15.0"
