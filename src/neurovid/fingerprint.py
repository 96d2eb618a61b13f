"""What a video depends on, as strings the workflow can compare: the render fingerprint and
the input's stat signature.

Snakemake re-runs a job when one of its ``params`` differs from what it recorded for the
output (rerun trigger ``params``, on by default). The render rule therefore carries:

* :func:`render_fingerprint` — a hash of the rendering code (:func:`code_files`: every module
  that ``neurovid.render`` imports, directly or not, and the package's data files such as
  the fonts drawn into the frames), the versions of nibabel, numpy, Pillow and neurovid, the
  ffmpeg build (its full ``-version`` text) and every render option. A bug fix in the frame
  code or another ffmpeg re-renders every video; a change to the review page, discovery or
  the command line does not (those modules are not imported by ``neurovid.render``).
* :func:`input_signature` — size, mtime, ctime and inode of the input (one ``stat``). mtimes
  lie (``cp -p``, ``rsync -a``, ``tar x`` restore older ones), ctime cannot be set by a user:
  any replacement of the file changes the signature. A mere ``touch`` changes it too; the
  render job then finds the same bytes, options and fingerprint in the sidecar
  (:func:`neurovid.render.render_or_reuse`) and keeps the video.

Nothing here reads an image at parse time: the fingerprint is computed once per start, the
signature is one ``stat`` per image.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "code_files",
    "code_digest",
    "input_signature",
    "render_fingerprint",
    "software_versions",
]

PACKAGE_DIR = Path(__file__).resolve().parent
#: the module whose import closure decides pixels and the sidecar
ROOT_MODULE = "render"
#: the workflow's render job (it hands the rule's options and names to ``render``)
JOB_MODULE = "render_job"
#: imported by ``render`` to record the fingerprint, but deciding nothing in a video (a
#: change to how the fingerprint is computed changes its value anyway)
NOT_RENDER_MODULES = frozenset({"fingerprint"})
#: package folders that never reach a video (the review page's template)
NOT_RENDER_DATA = ("templates", "__pycache__")


def _imports(path: Path, package: str = "neurovid") -> set[str]:
    """Names of the package's own modules that ``path`` imports (at any depth in the file)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and node.module and node.module.startswith(package + "."):
                found.add(node.module.split(".")[1])
            elif node.level == 0 and node.module == package:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(package + "."):
                    found.add(alias.name.split(".")[1])
    return found


@functools.lru_cache(maxsize=8)
def _code_files_cached(root: Path) -> tuple[Path, ...]:
    return tuple(_find_code_files(root))


def code_files(package_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The files whose content decides a video's pixels and its sidecar.

    ``neurovid/__init__.py``, ``render.py``, ``render_job.py`` (the workflow's job) and
    every module of the package they import
    (followed through the imports of those, function-level imports included; this module
    left out), plus every non-Python file of the package outside ``templates/`` (fonts,
    data). Sorted by path. Not included, so never re-rendering anything: the review page
    (``report``, ``templates/``), ``discovery``, ``config``, ``derivative``, ``summary``,
    ``lock``, ``cli`` and the other modules ``render`` does not import.

    Parameters
    ----------
    package_dir : path, optional
        The ``neurovid`` package folder (default: the one this module is in); tests pass a
        copy to prove that editing the code changes the fingerprint.
    """
    root = Path(package_dir).resolve() if package_dir is not None else PACKAGE_DIR
    return list(_code_files_cached(root))


def _find_code_files(root: Path) -> list[Path]:
    modules, todo = set(), ["__init__", ROOT_MODULE, JOB_MODULE]
    while todo:
        name = todo.pop()
        path = root / f"{name}.py"
        if name in modules or name in NOT_RENDER_MODULES or not path.is_file():
            continue
        modules.add(name)
        todo.extend(_imports(path))
    files = {root / f"{name}.py" for name in modules}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if (
            path.is_file()
            and path.suffix not in (".py", ".pyc")
            and relative.parts[0] not in NOT_RENDER_DATA
        ):
            files.add(path)
    return sorted(files)


def code_digest(files: Iterable[str | os.PathLike[str]] | None = None) -> str:
    """SHA-256 over the names (relative to the package) and bytes of :func:`code_files`."""
    paths = [Path(p) for p in files] if files is not None else code_files()
    base = os.path.commonpath([str(p.parent) for p in paths]) if paths else ""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = os.path.relpath(path, base).replace(os.sep, "/")
        content = path.read_bytes()
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def software_versions() -> dict[str, str]:
    """Versions of what turns voxels into an MP4: neurovid, nibabel, numpy, Pillow, ffmpeg.

    ffmpeg is described by the full text of ``ffmpeg -version`` (build, configuration and
    library versions), so two builds with one version number still differ.
    """
    import subprocess

    import nibabel
    import numpy
    import PIL

    from . import __version__
    from .encode import ffmpeg_exe

    try:
        ffmpeg = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-version"],
            capture_output=True, text=True, timeout=60, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        ffmpeg = f"unavailable: {error}"
    return {
        "neurovid": __version__,
        "nibabel": nibabel.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "ffmpeg": hashlib.sha256(ffmpeg.encode()).hexdigest()[:16],
    }


def render_fingerprint(
    options: Mapping[str, Any], *, files: Sequence[str | os.PathLike[str]] | None = None
) -> str:
    """``"sha256:<hex>"`` of the rendering code, the software versions and the options.

    Parameters
    ----------
    options : mapping
        Every render option (``RenderOptions.to_dict()``).
    files : sequence of path, optional
        The code files (default :func:`code_files`).
    """
    payload = {
        "code": code_digest(files),
        "versions": software_versions(),
        "options": dict(options),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def input_signature(path: str | os.PathLike[str]) -> str:
    """One ``stat`` of the input, as a string that changes whenever the file is replaced.

    ``size:mtime_ns:ctime_ns:inode`` of what the path points to (symlinks followed: a
    DataLad file's content is its annex target). ctime is set by the kernel on every
    change and cannot be set back, so even ``cp -p`` over the file with an older mtime
    changes it. The device number is left out: NFS may give it another one after a
    remount. A dangling symlink gives ``missing:<target>`` and a FIFO or device its kind:
    nothing is ever opened.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        try:
            return f"missing:{os.readlink(path)}"
        except OSError:
            return "missing"
    except OSError as error:
        return f"unreadable:{error.errno}"
    if not stat.S_ISREG(info.st_mode):
        return f"special:{stat.S_IFMT(info.st_mode):o}"
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"
