"""Snakemake Workflow Catalog conventions, and ``snakemake --lint`` with only the lints the
README explains (issue 13, point 5)."""

from __future__ import annotations

import re
import sys

import yaml

from conftest import REPO
from neurovid import bundle

from .conftest import make_tiny_dataset, run

#: the lints the README's "Installation, dependencies and standards" section explains
EXPLAINED_LINTS = {
    "Specify a conda environment or container for each rule.",
    'Absolute path "/") or "',
}


def lints(text: str) -> set[tuple[str, str]]:
    """(where, lint title) for each lint Snakemake printed."""
    found, where = set(), ""
    for line in text.splitlines():
        if line.startswith("Lints for "):
            where = line.removeprefix("Lints for ").rstrip(":")
        elif match := re.match(r"    \* (.+?)(?: in line \d+)?:$", line):
            found.add((where, match.group(1)))
    return found


def test_catalog_files_describe_the_workflow():
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    flags = catalog["usage"]["mandatory-flags"]["flags"]
    assert "bids_dir=" in flags and "output_dir=" in flags
    assert set(catalog["usage"]["software-stack-deployment"]) >= {"conda", "apptainer"}
    config_readme = (REPO / "config" / "README.md").read_text()
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    for key in schema["properties"]:
        described = f"`{key}`" in config_readme or f"`{key}:`" in config_readme
        assert described, f"config/README.md does not describe {key}"


def test_snakemake_lint_finds_only_the_explained_lints(tmp_path):
    bids = make_tiny_dataset(tmp_path / "bids")
    result = run(
        [sys.executable, "-m", "snakemake", "-s", bundle.workflow_path(), "--lint", "--config",
         f"bids_dir={bids}", f"output_dir={tmp_path / 'out'}"],
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    found = lints(result.stdout + result.stderr)
    assert found, "no lint parsed: has Snakemake's lint output changed?"
    unexplained = sorted(f"{where}: {title}" for where, title in found
                         if title not in EXPLAINED_LINTS)  # fmt: skip
    assert not unexplained, "lints the README does not explain:\n" + "\n".join(unexplained)
    readme = (REPO / "README.md").read_text()
    for title in ("Specify a conda environment or container for each rule", 'Absolute path "/"'):
        assert title in readme
