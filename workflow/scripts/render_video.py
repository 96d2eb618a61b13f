"""Render one QC video: ``python workflow/scripts/render_video.py IN.nii[.gz] OUT.mp4``.

Run by Snakemake (rule ``render_video``) or by hand; both call
:func:`neurovid.render.render_image`. ``--help`` lists the options.
"""

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake


def run_from_snakemake(job) -> None:
    """Render ``job.params.image``; the sidecar ``job.output.sidecar`` is written last."""
    import traceback

    from neurovid.render import RenderOptions, render_image

    with open(job.log[0], "w") as log:
        try:
            sidecar = render_image(
                job.params.image,
                job.params.video,
                options=RenderOptions.from_mapping(job.params.options),
                source=job.params.source,
                entities=job.params.entities,
                log_path=job.params.log_relative,
            )
        except BaseException:
            # not the input's fault (disk full, ffmpeg killed, ...): fail the job, keep why
            traceback.print_exc(file=log)
            raise
        if sidecar["status"] == "rendered":
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
