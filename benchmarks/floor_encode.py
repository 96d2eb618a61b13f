"""The floor for one render: load the volume with nibabel, then x264-encode frames that are
already composed (read from a raw file into memory first) with neurovid's exact settings
(video-range luma, as neurovid sends them).

    python benchmarks/floor_encode.py IN.nii.gz FRAMES.raw WIDTH HEIGHT OUT.mp4
"""

import sys

import nibabel as nib
import numpy as np

from neurovid.encode import VideoWriter
from neurovid.render import RenderOptions

in_path, raw_path, width, height, out_path = sys.argv[1:6]
width, height = int(width), int(height)
volume = nib.load(in_path).get_fdata(dtype=np.float32)
frames = np.fromfile(raw_path, dtype=np.uint8).reshape(-1, height, width)
options = RenderOptions()
with VideoWriter(out_path, width, height, options.fps, crf=options.crf, preset=options.preset,
                 threads=options.threads, x264_params=options.x264_params,
                 video_range=True) as writer:  # fmt: skip
    for frame in frames:
        writer.write(frame)
