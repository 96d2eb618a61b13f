"""Build OUTPUT_DIR/index.html from every sidecar in the output folder (rule ``review_page``);
never re-renders.

The page is the study's one record: it shows every image rendered into the output folder,
whichever run (and filter) rendered it, plus what this run's discovery did not render and
which filters it used (``.neurovid/last_run.json``, read by ``python -m neurovid.report``
too).
"""

import json
import time
from pathlib import Path

from neurovid.atomic import write_text_atomic
from neurovid.report import RUN_RECORD, build_review_page, collect_sidecars
from neurovid.summary import summarize

job = snakemake  # noqa: F821 (injected by Snakemake)
output_dir = Path(job.params.output_dir)
run_record = {
    **job.params.run_record,
    "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
}
write_text_atomic(output_dir / RUN_RECORD, json.dumps(run_record, indent=1) + "\n")
sidecars = collect_sidecars(output_dir)
build_review_page(
    output_dir,
    sidecars,
    Path(job.output.html),
    dataset_name=job.params.dataset_name,
    run_record=run_record,
)
summary = summarize(sidecars, not_rendered=len(run_record["not_rendered"]))
write_text_atomic(job.output.summary, json.dumps(summary, indent=2) + "\n")
with open(job.log[0], "w") as log:
    for failure in summary["failures"]:
        print(f"failed: {failure['error']}", file=log)
    for entry in run_record["not_rendered"]:
        print(f"not rendered: {entry['path']}, {entry['reason']}", file=log)
    print(f"{summary['rendered']} rendered, {summary['failed']} failed", file=log)
