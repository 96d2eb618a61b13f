"""With ``strict: true``, fail the run when any image failed (rule ``strict_check``)."""

import json
import sys
from pathlib import Path

job = snakemake  # noqa: F821 (injected by Snakemake)
summary = json.loads(Path(job.input.summary).read_text())
if summary["failed"]:
    with open(job.log[0], "w") as log:
        for failure in summary["failures"]:
            print(f"failed: {failure['error']}", file=log)
    sys.exit(f"strict: {summary['failed']} of {summary['images']} images failed (see index.html)")
Path(job.output[0]).write_text(f"{summary['rendered']} rendered, 0 failed\n")
