"""Where the workflow files are: the repository checkout, or the copy inside the installed wheel.

The Snakefile, ``workflow/`` (rules, scripts, profiles) and ``config/`` (defaults and schema)
stay at the top of the repository, where ``snakemake`` users expect them. A built wheel
carries a copy of them in ``neurovid/workflow_files/`` with the same relative layout
(``[tool.hatch.build.targets.wheel.force-include]`` in ``pyproject.toml``), so the
installed ``neurovid`` command and ``snakemake -s $(python -m neurovid.bundle)`` work from
any folder. An editable install (``pip install -e .``, ``make venv``) has no copy and
resolves to the checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
#: folder of the copy inside an installed wheel
BUNDLED_DIR = _PACKAGE_DIR / "workflow_files"
#: the repository root, when the package is imported from ``src/neurovid`` of a checkout
CHECKOUT_DIR = _PACKAGE_DIR.parents[1]


def _is_workflow_root(folder: Path) -> bool:
    return (folder / "Snakefile").is_file() and (folder / "workflow" / "rules").is_dir()


def workflow_dir() -> Path:
    """The folder holding ``Snakefile``, ``workflow/`` and ``config/``.

    Raises
    ------
    FileNotFoundError
        When neither an installed copy nor a checkout is found (a broken install).
    """
    for folder in (BUNDLED_DIR, CHECKOUT_DIR):
        if _is_workflow_root(folder):
            return folder
    raise FileNotFoundError(
        f"neurovid's workflow files are missing (looked in {BUNDLED_DIR} and {CHECKOUT_DIR}); "
        "reinstall neurovid"
    )


def workflow_path() -> Path:
    """The workflow's ``Snakefile`` (for ``snakemake -s``)."""
    return workflow_dir() / "Snakefile"


def config_schema_path() -> Path:
    """The JSON Schema (YAML) that every configuration is validated against."""
    return workflow_dir() / "config" / "schema.yaml"


def default_config_path() -> Path:
    """The workflow's default ``config.yaml``."""
    return workflow_dir() / "config" / "config.yaml"


def profile_dir(name: str) -> Path | None:
    """The workflow profile ``workflow/profiles/<name>``, or None if there is none by that name."""
    folder = workflow_dir() / "workflow" / "profiles" / name
    return folder if folder.is_dir() else None


if __name__ == "__main__":  # `python -m neurovid.bundle` prints the Snakefile's path
    print(workflow_path())
    sys.exit(0)
