"""The environment: conda and pip pin the same versions; every import is a declared
dependency; the ffmpeg that encodes and the fonts that draw are known (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from conftest import REPO


def pip_pins() -> dict[str, str]:
    pins = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                package, version = line.split("==")
                pins[package.lower()] = version
    return pins


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pins = {}
    for dependency in env["dependencies"]:
        if isinstance(dependency, dict):
            for line in dependency["pip"]:
                if "==" in line:
                    package, version = line.split("==")
                    pins[package.lower()] = version
        elif "=" in dependency and not dependency.startswith("python="):
            package, version = dependency.split("=")
            pins[package.lower()] = version
    return pins


def test_conda_and_pip_pin_the_same_packages_and_versions():
    assert conda_pins() == pip_pins()


def test_every_pip_pin_is_exact_and_in_the_constraints():
    constraints = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line:
            package, version = line.split("==")
            constraints[re.sub(r"[-_.]+", "-", package.lower())] = version
    for package, version in pip_pins().items():
        assert re.fullmatch(r"[0-9][0-9a-z.]*", version), package
        assert constraints[re.sub(r"[-_.]+", "-", package)] == version, package


# -- honest dependencies (issue 13) ----------------------------------------------------------

FIRST_PARTY = {"neurovid", "snakemake_logger_plugin_neurovid"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules(paths) -> dict[str, set[str]]:
    """Top-level modules imported (absolutely) by ``paths``: {module: {files}}.

    Python files are parsed with ast; Snakemake files (not Python) by their import lines.
    """
    import ast

    found: dict[str, set[str]] = {}
    for path in paths:
        text = path.read_text()
        if path.suffix == ".py":
            names = []
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Import):
                    names += [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.append(node.module)
        else:
            names = re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][\w.]*)", text, re.M)
        for name in names:
            found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(REPO)))
    return found


def _declared(requirements: list[str]) -> set[str]:
    return {_normalise(re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0])
            for line in requirements if line.strip()}  # fmt: skip


def _distributions_of(module: str) -> set[str]:
    import importlib.metadata

    return {_normalise(d) for d in importlib.metadata.packages_distributions().get(module, [])}


def _undeclared(imports: dict[str, set[str]], declared: set[str], local: set[str]):
    stdlib = set(sys.stdlib_module_names)
    problems = []
    for module, files in sorted(imports.items()):
        if module in stdlib or module in FIRST_PARTY or module in local:
            continue
        distributions = _distributions_of(module)
        if not distributions:
            problems.append(f"{module} (imported by {sorted(files)}) is not installed")
        elif not distributions & declared:
            problems.append(
                f"{module} (from {sorted(distributions)}, imported by {sorted(files)})"
            )
    return problems


def test_every_import_of_the_package_and_workflow_is_a_declared_dependency():
    """src/, workflow/scripts and the rules import only what pyproject.toml declares."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = _declared(project["dependencies"])
    paths = [*(REPO / "src").rglob("*.py"), *(REPO / "workflow" / "scripts").glob("*.py"),
             *(REPO / "workflow" / "rules").glob("*.smk"), REPO / "Snakefile"]  # fmt: skip
    problems = _undeclared(_imported_modules(paths), declared, local=set())
    assert not problems, "imported but not in pyproject.toml dependencies:\n" + "\n".join(problems)


def test_every_import_of_the_tests_and_benchmarks_is_pinned_for_developers():
    declared = set(pip_pins())
    declared |= _declared(
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    paths = [*(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").glob("*.py")]
    local = {path.stem for path in paths} | {"tests", "benchmarks"}
    problems = _undeclared(_imported_modules(paths), {_normalise(d) for d in declared}, local)
    assert not problems, "imported but not in requirements*.txt:\n" + "\n".join(problems)


def test_every_declared_dependency_is_pinned_in_requirements():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = {_normalise(name) for name in pip_pins()}
    for dependency in _declared(project["dependencies"]):
        assert dependency in pinned, f"{dependency} has no pin in requirements.txt"


def test_package_metadata_licence_and_citation_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["license"] == "MIT"
    import neurovid

    assert citation["version"] == neurovid.__version__
    assert f"## [{neurovid.__version__}]" in (REPO / "CHANGELOG.md").read_text()


# -- ffmpeg and fonts -------------------------------------------------------------------------


def test_the_ffmpeg_that_encodes_is_imageio_ffmpegs_own_binary(monkeypatch):
    import imageio_ffmpeg

    from neurovid import encode

    monkeypatch.delenv("IMAGEIO_FFMPEG_EXE", raising=False)
    binary = encode.ffmpeg_source(imageio_ffmpeg.get_ffmpeg_exe())
    assert binary == "imageio-ffmpeg"
    info = encode.ffmpeg_binary()
    assert Path(info["path"]).is_file()
    assert Path(info["path"]).parent.name == "binaries"
    assert info["version"] == imageio_ffmpeg.get_ffmpeg_version()


def test_a_user_chosen_ffmpeg_is_recorded_as_such(monkeypatch, tmp_path):
    import imageio_ffmpeg

    from neurovid import encode

    chosen = tmp_path / "ffmpeg"
    chosen.symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(chosen))
    assert encode.ffmpeg_source(imageio_ffmpeg.get_ffmpeg_exe()) == "IMAGEIO_FFMPEG_EXE"
    assert encode.ffmpeg_source("ffmpeg") == "IMAGEIO_FFMPEG_EXE"
    monkeypatch.delenv("IMAGEIO_FFMPEG_EXE")
    assert encode.ffmpeg_source("ffmpeg") == "system"


def test_sidecar_records_the_ffmpeg_binary(tmp_path):
    import numpy as np

    from conftest import write_image
    from neurovid.render import render_image
    from neurovid.testing import phantom

    image = write_image(tmp_path / "sub-01_T1w.nii.gz", phantom((16, 20, 14)), np.eye(4),
                        dtype=np.int16)  # fmt: skip
    sidecar = render_image(image, tmp_path / "sub-01_T1w.mp4")
    assert sidecar["status"] == "rendered"
    assert sidecar["versions"]["ffmpeg_source"] == "imageio-ffmpeg"
    assert Path(sidecar["versions"]["ffmpeg_path"]).is_file()


def test_fonts_ship_with_their_licence_and_text_needs_no_matplotlib():
    script = (
        "import sys; from neurovid.text import font, font_bytes; font(14); font(14, bold=True);"
        "assert 'matplotlib' not in sys.modules; print(len(font_bytes()))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 100_000
    fonts = REPO / "src" / "neurovid" / "fonts"
    assert "Bitstream Vera" in (fonts / "LICENSE_DEJAVU").read_text()


def test_demo_without_nilearn_says_in_one_line_how_to_install_it(tmp_path):
    script = (
        "import sys; sys.modules['nilearn'] = None; from neurovid.demo import main;"
        f"sys.exit(main([{str(tmp_path / 'demo')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "the demo dataset needs nilearn, which is not installed "
        "(pip install nilearn; `pip install neurovid` includes it)"
    ]
    assert not (tmp_path / "demo").exists()
