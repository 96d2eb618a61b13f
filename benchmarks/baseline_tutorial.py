"""The tutorial method neurovid is measured against (shared/BASELINE.md), re-implemented
faithfully for the benchmark only. Do not reuse: it ignores the affine.

    python benchmarks/baseline_tutorial.py IN.nii.gz OUT.mp4
"""

import sys

import imageio_ffmpeg
import matplotlib

matplotlib.use("Agg")
import matplotlib.animation as animation  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402

matplotlib.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()

img = nib.load(sys.argv[1])
data = img.get_fdata()
datarot1 = np.rot90(data, 1)
datarot2 = np.rot90(data, 3)
dataflip = np.fliplr(datarot1)

fig, axes = plt.subplots(1, 3, figsize=[18, 6])
fig.subplots_adjust(wspace=-0.5, hspace=1)
pos = 0


def animate(i):
    global pos
    pos += 1
    for slice_, ax in zip(
        [dataflip[:, :, pos], datarot1[:, pos, :], datarot2[pos, :, :]], axes, strict=True
    ):
        plt.sca(ax)
        plt.cla()
        for a in axes:
            a.set_xticks([])
            a.set_yticks([])
        axes[0].set_title("Sagittal", fontsize=25, color="red")
        axes[1].set_title("Coronal", fontsize=25, color="red")
        axes[2].set_title("Transversal", fontsize=25, color="red")
        axes[0].set_ylabel(f"Slice {pos}")
        plt.imshow(slice_, cmap="gray", origin="lower")


# frames=190 overruns smaller volumes; bound it by the volume. matplotlib 3.11 calls the
# frame function twice before the first saved frame (construction and save's init draw),
# so the bound is the smallest dimension - 3 (BASELINE.md's "- 2" predates that).
frames = min(190, min(dataflip.shape[2], datarot1.shape[1], datarot2.shape[0]) - 3)
anim = animation.FuncAnimation(fig, animate, frames=frames, interval=250)
anim.save(sys.argv[2], writer="ffmpeg")
