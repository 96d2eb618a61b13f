"""Write OUTPUT_DIR/dataset_description.json (rule ``dataset_description``)."""

from pathlib import Path

from neurovid.derivative import write_dataset_description

job = snakemake  # noqa: F821 (injected by Snakemake)
write_dataset_description(job.params.bids_dir, Path(job.output[0]).parent)
