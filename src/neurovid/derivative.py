"""The output folder as a BIDS derivative dataset: its ``dataset_description.json`` and the
``.bidsignore`` that tells the BIDS validator which of our files are not BIDS files.

A ``dataset_description.json`` that neurovid did not write (another pipeline's derivative
chosen as output folder by mistake) is never overwritten: :func:`foreign_description` makes
the workflow stop at start with one line, and :func:`write_dataset_description` leaves it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import write_text_atomic

CODE_URL = "https://github.com/neurovid/neurovid"
GENERATOR = "neurovid"
#: what neurovid writes into the output folder that is not a BIDS file. BIDS has no datatype
#: for QC videos, so the per-image sidecars (which describe the MP4s) are ignored too; the
#: official validator then reports no errors (tests/package/test_bids_validator.py;
#: accepted warnings in docs/bids-validator.md)
BIDSIGNORE = (
    "*.html\n*.mp4\n*.png\nsub-*/**/*.json\nlogs/\n.neurovid/\n"
    "group_*.tsv\ngroup_*.json\nqc_ratings.*\nratings/\nexclude.json\n"
)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        return ...  # present but unreadable: not provably ours


def is_ours(description: Any) -> bool:
    """Whether a parsed ``dataset_description.json`` was written by neurovid."""
    if not isinstance(description, dict):
        return False
    generated = description.get("GeneratedBy")
    return (
        isinstance(generated, list)
        and bool(generated)
        and isinstance(generated[0], dict)
        and generated[0].get("Name") == GENERATOR
    )


def foreign_description(output_dir: str | os.PathLike[str]) -> str | None:
    """One line if ``output_dir`` holds a ``dataset_description.json`` that is not ours."""
    path = Path(output_dir) / "dataset_description.json"
    description = _read_json(path)
    if description is None or is_ours(description):
        return None
    if isinstance(description, dict):
        generated = description.get("GeneratedBy")
        name = description.get("Name")
        if isinstance(generated, list) and generated and isinstance(generated[0], dict):
            name = generated[0].get("Name", name)
        what = f"of '{name}'" if name else "that neurovid did not write"
    else:
        what = "that neurovid cannot read"
    return (
        f"config error: output_dir '{output_dir}' holds a dataset_description.json {what}: "
        "it is another dataset, and neurovid overwrites nothing that is not its own; choose "
        f"another output_dir (e.g. {Path(output_dir) / 'neurovid'})"
    )


def _raw_link(bids_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> str:
    """The raw dataset for ``DatasetLinks``: a relative path when the derivative sits inside
    it (``derivatives/neurovid`` → ``../..``), else a ``file://`` URI."""
    raw = Path(bids_dir).resolve()
    out = Path(out_dir).resolve()
    if out.is_relative_to(raw):
        return os.path.relpath(raw, out).replace(os.sep, "/")
    return raw.as_uri()


def dataset_description(
    bids_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """``dataset_description.json`` content for the derivative of ``bids_dir``.

    ``DatasetLinks.raw`` resolves the ``bids:raw:<path>`` URIs of every sidecar's
    ``Sources``; ``GeneratedBy`` names neurovid, its version and code URL.
    """
    source: dict[str, Any] = {"URL": Path(bids_dir).resolve().as_uri()}
    raw = _read_json(Path(bids_dir) / "dataset_description.json")
    if isinstance(raw, dict):
        if raw.get("DatasetDOI"):
            source["DOI"] = raw["DatasetDOI"]
        if raw.get("BIDSVersion"):
            source["Version"] = str(raw["BIDSVersion"])
    return {
        "Name": "neurovid quality-control videos",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "DatasetLinks": {"raw": _raw_link(bids_dir, out_dir if out_dir is not None else ".")},
        "GeneratedBy": [
            {
                "Name": GENERATOR,
                "Version": __version__,
                "CodeURL": CODE_URL,
                "Description": "One QC video (MP4) per anatomical image and a review page",
            }
        ],
        "SourceDatasets": [source],
    }


def write_dataset_description(
    bids_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> Path | None:
    """Write ``dataset_description.json`` and ``.bidsignore`` into ``out_dir`` (atomically).

    Returns the description's path, or None when a description that is not ours is
    there: then nothing is written (neither file).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    existing = _read_json(out / "dataset_description.json")
    if existing is not None and not is_ours(existing):
        return None
    text = json.dumps(dataset_description(bids_dir, out), indent=2) + "\n"
    write_text_atomic(out / "dataset_description.json", text)
    write_text_atomic(out / ".bidsignore", BIDSIGNORE)
    return out / "dataset_description.json"
