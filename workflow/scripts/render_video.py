"""Render one QC video: ``python workflow/scripts/render_video.py IN.nii[.gz] OUT.mp4``.

Run by Snakemake (rule ``render_video``) or by hand; both call
:func:`neurovid.render.render_image`. ``--help`` lists the options.
"""

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake


def run_from_snakemake(job) -> None:
    """Render ``job.params.image``; the sidecar ``job.output.sidecar`` is written last.

    A job that runs although nothing changed (the input was only touched, or re-copied
    with the same bytes) keeps the existing MP4 and poster when its sidecar vouches for
    them (same input SHA-256, options, fingerprint and versions; see
    :func:`neurovid.render.render_or_reuse`) and logs "unchanged". Snakemake deletes a
    job's declared outputs before it runs, so this needs the sidecar flagged ``update()``.
    """
    import traceback

    from neurovid.render import OutputPaths, RenderOptions, render_or_reuse

    params = job.params
    with open(job.log[0], "w") as log:
        try:
            sidecar, unchanged = render_or_reuse(
                params.image,
                params.video,
                options=RenderOptions.from_mapping(params.options),
                source=params.source,
                entities=params.entities,
                log_path=params.log_relative,
                paths=OutputPaths.for_video(params.video),  # its sidecar: job.output.sidecar
                fingerprint=getattr(params, "fingerprint", None),
            )
        except BaseException:
            # not the input's fault (disk full, ffmpeg killed, ...): fail the job, keep why
            traceback.print_exc(file=log)
            raise
        if unchanged:
            # a kept sidecar must still look newer than the rule's script to Snakemake's
            # mtime check, or every later run would re-run this job (trust-workflow)
            import os

            os.utime(job.output.sidecar)
            print(f"unchanged {sidecar['source']}: input, options and code as recorded", file=log)
        elif sidecar["status"] == "rendered":
            print(
                f"rendered {sidecar['source']}: {sidecar['video']['frame_count']} frames", file=log
            )
        else:
            print(f"failed: {sidecar['error']}", file=log)
        for warning in sidecar["warnings"]:
            print(f"warning: {sidecar['source']}: {warning}", file=log)


if "snakemake" in globals():
    run_from_snakemake(snakemake)  # noqa: F821 (injected by Snakemake)
elif __name__ == "__main__":
    from neurovid.cli import render_main

    sys.exit(render_main())
