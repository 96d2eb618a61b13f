"""Write OUTPUT_DIR/dataset_description.json and .bidsignore (rule ``dataset_description``).

A description that neurovid did not write is left as it is (the workflow refuses such an
output folder at start; this guards a file that appeared since).
"""

import sys

from neurovid.derivative import write_dataset_description

job = snakemake  # noqa: F821 (injected by Snakemake)
with open(job.log[0], "w") as log:
    if write_dataset_description(job.params.bids_dir, job.params.output_dir) is None:
        message = f"{job.params.output_dir}/dataset_description.json is not neurovid's: kept"
        print(message, file=log)
        sys.exit(message)
