"""Build hook: the workflow files travel inside the wheel, keeping their relative layout.

``Snakefile``, ``workflow/{rules,scripts,profiles}`` and ``config/`` stay at the top of the
repository (where ``snakemake`` users expect them); a built wheel gets a copy under
``neurovid/workflow_files/`` (found by :mod:`neurovid.bundle`). Editable installs get no copy:
they use the checkout itself. (A plain ``force-include`` table would also copy the files
into site-packages for editable installs, where nothing reads them.)
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WORKFLOW_FILES = ("Snakefile", "workflow/rules", "workflow/scripts", "workflow/profiles", "config")
TARGET = "neurovid/workflow_files"


class WorkflowFilesHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "standard":
            for path in WORKFLOW_FILES:
                build_data["force_include"][path] = f"{TARGET}/{path}"
