"""Render one QC video: ``python workflow/scripts/render_video.py IN.nii[.gz] OUT.mp4``.

Calls :func:`neurovid.render.render_image` (the workflow's rule ``render_video`` calls it
through :mod:`neurovid.render_job`). ``--help`` lists the options.
"""

import sys

if __name__ == "__main__":
    from neurovid.cli import render_main

    sys.exit(render_main())
