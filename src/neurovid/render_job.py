"""The workflow's render job: ``python -m neurovid.render_job JOB_JSON SIDECAR LOG``.

The rule ``render_video`` is a ``shell:`` rule that runs this module, not a ``script:`` rule:
Snakemake reads and formats a ``script:`` rule's script for every job it plans (its
``ScriptProcessor``), which was 6.5 s of a 40 s plan of 20,000 images, and unpickles a
preamble in every job (``benchmarks/bench_scale.py``, docs/benchmarks.md). A shell command
costs neither. What the job needs comes as one JSON argument built by :func:`job_json`
(writer and reader of that argument are both here); the params that decide a re-render are
separate params of the rule, compared by Snakemake.

A job that runs although nothing changed (the input was only touched, or re-copied with the
same bytes) keeps the existing MP4 and poster when its sidecar vouches for them (same input
SHA-256, options, fingerprint and versions; :func:`neurovid.render.render_or_reuse`) and logs
"unchanged". Snakemake deletes a job's declared outputs before it runs, so this needs the
sidecar flagged ``update()``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["job_json", "main", "run_job"]


def job_json(
    *,
    image: str,
    video: str,
    source: str,
    entities: Mapping[str, Any],
    log_relative: str,
    options: Mapping[str, Any],
    fingerprint: str,
) -> str:
    """The job's one command-line argument (what :func:`run_job` reads)."""
    return json.dumps(
        {
            "image": image,
            "video": video,
            "source": source,
            "entities": dict(entities),
            "log_relative": log_relative,
            "options": dict(options),
            "fingerprint": fingerprint,
        },
        # ASCII only: a path's odd bytes (surrogate escapes) survive as \udcXX escapes
        sort_keys=True,
    )


def run_job(job: Mapping[str, Any], sidecar_path: str, log_path: str) -> None:
    """Render ``job["image"]`` (a :func:`job_json` mapping); the sidecar is written last,
    the log says ``rendered``, ``unchanged`` or ``failed`` and why. Raises only for what is
    not the input's fault (disk full, ffmpeg killed, ...): the job then fails, and the log
    keeps the traceback."""
    from neurovid.render import OutputPaths, RenderOptions, render_or_reuse

    with open(log_path, "w", encoding="utf-8", errors="surrogateescape") as log:
        try:
            sidecar, unchanged = render_or_reuse(
                job["image"],
                job["video"],
                options=RenderOptions.from_mapping(job["options"]),
                source=job["source"],
                entities=job["entities"],
                log_path=job["log_relative"],
                paths=OutputPaths.for_video(job["video"]),  # its sidecar: sidecar_path
                fingerprint=job["fingerprint"],
            )
        except BaseException:
            traceback.print_exc(file=log)
            raise
        if unchanged:
            # kept by update(): make it as new as the run that vouched for it
            os.utime(sidecar_path)
            print(f"unchanged {sidecar['source']}: input, options and code as recorded", file=log)
        elif sidecar["status"] == "rendered":
            print(
                f"rendered {sidecar['source']}: {sidecar['video']['frame_count']} frames", file=log
            )
        else:
            print(f"failed: {sidecar['error']}", file=log)
        for warning in sidecar["warnings"]:
            print(f"warning: {sidecar['source']}: {warning}", file=log)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print(
            "usage: python -m neurovid.render_job JOB_JSON SIDECAR LOG (run by the workflow; "
            "for one image use workflow/scripts/render_video.py IN OUT.mp4)",
            file=sys.stderr,
        )
        return 2
    job_text, sidecar_path, log_path = args
    run_job(json.loads(job_text), sidecar_path, log_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
