"""Build OUTPUT_DIR/index.html from the sidecars (rule ``review_page``); never re-renders."""

import json
from pathlib import Path

from neurovid.atomic import write_text_atomic
from neurovid.report import build_review_page
from neurovid.summary import summarize

job = snakemake  # noqa: F821 (injected by Snakemake)
output_dir = Path(job.params.output_dir)
sidecars = [Path(p) for p in job.input.sidecars]
build_review_page(
    output_dir, sidecars, Path(job.output.html), dataset_name=job.params.dataset_name
)
summary = summarize(sidecars)
write_text_atomic(job.output.summary, json.dumps(summary, indent=2) + "\n")
with open(job.log[0], "w") as log:
    for failure in summary["failures"]:
        print(f"failed: {failure['error']}", file=log)
    print(f"{summary['rendered']} rendered, {summary['failed']} failed", file=log)
