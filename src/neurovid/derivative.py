"""The output folder as a BIDS derivative dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import write_text_atomic

CODE_URL = "https://github.com/neurovid/neurovid"
# Not BIDS files: BIDS has no datatype for QC videos, so the per-image sidecars (which describe
# the MP4s) are ignored too; the official validator then reports no errors
# (tests/package/test_bids_validator.py; accepted warnings in docs/bids-validator.md)
BIDSIGNORE = (
    "*.html\n*.mp4\n*.png\nsub-*/**/*.json\nlogs/\n.neurovid/\n"
    "group_*.tsv\nqc_ratings.*\nratings/\n"
)


def dataset_description(bids_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``dataset_description.json`` content for the derivative of ``bids_dir``."""
    source: dict[str, Any] = {"URL": Path(bids_dir).resolve().as_uri()}
    try:
        raw = json.loads((Path(bids_dir) / "dataset_description.json").read_text())
        if isinstance(raw, dict):
            if raw.get("DatasetDOI"):
                source["DOI"] = raw["DatasetDOI"]
            if raw.get("BIDSVersion"):
                source["Version"] = str(raw["BIDSVersion"])
    except (OSError, ValueError):
        pass
    return {
        "Name": "neurovid quality-control videos",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [
            {
                "Name": "neurovid",
                "Version": __version__,
                "CodeURL": CODE_URL,
                "Description": "One QC video (MP4) per anatomical image and a review page",
            }
        ],
        "SourceDatasets": [source],
    }


def write_dataset_description(
    bids_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> Path:
    """Write ``dataset_description.json`` and ``.bidsignore`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("dataset_description.json", json.dumps(dataset_description(bids_dir), indent=2) + "\n"),
        (".bidsignore", BIDSIGNORE),
    ):
        write_text_atomic(out / name, text)
    return out / "dataset_description.json"
