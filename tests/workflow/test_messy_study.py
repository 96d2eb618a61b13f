"""A messy study, run through the real workflow: every case of issue 9's "Why" list beside
good images, in a dataset and an output folder whose paths hold spaces, quotes, unicode,
``{x}``, ``{{x}}``, ``${x}``, ``<word>`` and glob characters.

The run must end (a hang is a failure: every run has a timeout), every good image must
render, every bad one must get a failed card or a "not rendered" line (in the terminal, on
the page, in ``.neurovid/last_run.json``), nothing may be left half-written, and a second
run must have nothing to do (no case re-renders forever, no FIFO hangs a rerun).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from repo_copy import copy_repo

from conftest import make_bids
from neurovid.testing import (
    absurd_shape_nifti2,
    build_bad_input_dataset,
    build_odd_name_images,
    nifti_bytes,
    phantom,
    phantom_affine,
    write_nifti,
)

pytestmark = pytest.mark.slow

#: a folder name with every character that Snakemake, a shell or a glob could misread
ODD_FOLDER = 'study {x} {{y}} ${z} <word> it\'s "q" *?[a] é字  two'
RUN_TIMEOUT_S = 1500


def snakemake(repo, env, *args, timeout=RUN_TIMEOUT_S):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *map(str, args)],
        cwd=repo, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def copy(root: Path, source: str, target: str) -> str:
    destination = root / target
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes((root / source).read_bytes())
    return target


def long_bids_name(subject: str, total_bytes: int) -> str:
    """A valid BIDS name ``sub-<subject>_acq-<letters>_T1w.nii.gz`` of ``total_bytes`` bytes."""
    fixed = len(f"sub-{subject}_acq-_T1w.nii.gz")
    return f"sub-{subject}_acq-{'a' * (total_bytes - fixed)}_T1w.nii.gz"


def build_messy_study(root: Path) -> tuple[dict, dict[str, str], set[str]]:
    """The dataset; returns (loader cases, layout cases {path: reason part}, good paths)."""
    cases = build_bad_input_dataset(root, exotic=True)
    good = {rel for rel, want in cases.items() if want.ok}
    make_bids(root, ["sub-ok01/anat/sub-ok01_T1w.nii.gz",
                     "sub-ok02/ses-1/anat/sub-ok02_ses-1_T1w.nii.gz",
                     "sub-ok02/ses-2/anat/sub-ok02_ses-2_run-1_T1w.nii"])  # fmt: skip
    good |= {"sub-ok01/anat/sub-ok01_T1w.nii.gz", "sub-ok02/ses-1/anat/sub-ok02_ses-1_T1w.nii.gz",
             "sub-ok02/ses-2/anat/sub-ok02_ses-2_run-1_T1w.nii"}  # fmt: skip
    image = nifti_bytes(phantom(), phantom_affine())
    for size in (230, 255):  # valid BIDS names at the file-system limit
        rel = f"sub-long/anat/{long_bids_name('long', size)}"
        write_nifti(root / rel, image)
        good.add(rel)
    if "sub-absurdshape/anat/sub-absurdshape_T1w.nii.gz" not in cases:
        write_nifti(
            root / "sub-absurdshape/anat/sub-absurdshape_T1w.nii.gz", absurd_shape_nifti2()
        )
    ok = "sub-ok01/anat/sub-ok01_T1w.nii.gz"
    layout = {
        copy(root, ok, "sub-ok01/anat/old/sub-ok01_T1w.nii.gz"): "in a folder inside anat/",
        copy(root, ok, "backup/sub-ok01/anat/sub-ok01_T1w.nii.gz"): "",  # listed as backup/
        "backup/": "holds sub-ok01/",
        copy(root, ok, "sub-ok01_T1w.nii.gz"): "at the top of the dataset",
        copy(root, ok, "sub-ok01/sub-ok01_T1w.nii.gz"): "directly in the subject folder",
        copy(root, ok, "sub-ok01/anat/sub-ok01_acq-up_T1w.NII.GZ"): "upper-case extension",
        copy(root, ok, "sub-ok01/anat/sub-ok01_T1w (1).nii.gz"): "not a BIDS name",
        copy(root, ok, "sub-ok01/anat/sub-ok02_T1w.nii.gz"): "must start with 'sub-ok01_'",
        copy(root, ok, "sub-ok01/anat/sub-ok01_T1w.nii"): "a .nii beside sub-ok01_T1w.nii.gz",
        "sub-ok01/anat/again/": "symlinked folder inside anat/",
    }
    (root / "sub-ok01/anat/again").symlink_to(".")  # a loop: 40 phantom images for pybids
    for path in build_odd_name_images(root / "sub-01" / "anat"):
        relpath = path.relative_to(root).as_posix()
        if relpath == "sub-01/anat/sub-01_acq-a_T1w.nii.gz":
            good.add(relpath)  # the one valid name, which the glob-like ones would match
        else:
            layout[relpath] = "not a BIDS name"
    # listed in .bidsignore (valid BIDS): neither a job nor a warning
    copy(root, ok, "sub-ok01/anat/drafts/sub-ok01_T1w.nii.gz")
    copy(root, ok, "sub-ok03/anat/sub-ok03_T1w.nii.gz")
    (root / ".bidsignore").write_text("**/drafts/\nsub-ok03/\n")
    layout = {path: reason for path, reason in layout.items() if path != "backup/sub-ok01/anat/"
              "sub-ok01_T1w.nii.gz"}  # fmt: skip
    return cases, layout, good


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("messy") / ODD_FOLDER
    bids, out = base / "bids", base / "out {x}"
    cases, layout, good = build_messy_study(bids)
    # a copy of the workflow: the second run must see the same rendering code (repo_copy)
    repo, env = copy_repo(base.parent / "repo")
    args = [repo, env, "--cores", 2, "--config", f"bids_dir={bids}", f"output_dir={out}"]
    first = snakemake(*args)
    return cases, layout, good, bids, out, args, first


def not_rendered_lines(text: str) -> list[str]:
    return re.findall(r"^warning: not rendered: (.*)$", text, re.M)


def test_the_run_ends_and_every_good_image_renders(messy_run):
    cases, _, good, _, out, _, result = messy_run
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(good) >= 10
    for relpath in sorted(good):
        stem = re.sub(r"\.nii(\.gz)?$", "", relpath)
        sidecar = json.loads((out / f"{stem}.json").read_text())
        assert sidecar["status"] == "rendered", (relpath, sidecar["error"])
        assert (out / f"{stem}.mp4").stat().st_size > 0 and (out / f"{stem}.png").is_file()
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]


def test_every_bad_image_gets_a_failed_card_or_a_not_rendered_line(messy_run):
    cases, layout, _, _, out, _, result = messy_run
    warned = {line.split(", ", 1)[0]: line for line in not_rendered_lines(result.stderr)}
    record = json.loads((out / ".neurovid" / "last_run.json").read_text())
    listed = {entry["path"]: entry["reason"] for entry in record["not_rendered"]}
    for relpath, want in cases.items():
        if want.ok:
            continue
        stem = re.sub(r"\.nii(\.gz)?$", "", relpath)
        sidecar_path = out / f"{stem}.json"
        if sidecar_path.is_file():
            sidecar = json.loads(sidecar_path.read_text())
            assert sidecar["status"] == "failed", relpath
            assert sidecar["error"].startswith(f"{relpath}: ") and "\n" not in sidecar["error"]
            assert want.text in sidecar["error"], (relpath, sidecar["error"])
            assert not (out / f"{stem}.mp4").exists()
        else:
            key = relpath + ("/" if (Path(out).parent / "bids" / relpath).is_dir() else "")
            assert key in listed and key in warned, (relpath, sorted(listed))
    for path, reason in layout.items():
        shown = path.replace("\t", "\\t").replace("\n", "\\n")
        assert shown in listed, (path, sorted(listed))
        assert reason in listed[shown] and shown in warned, (path, listed[shown])
    # each is listed once; .bidsignore'd files are neither jobs nor warnings
    assert len(not_rendered_lines(result.stderr)) == len(listed)
    assert not any("drafts" in p or "sub-ok03" in p for p in listed)
    assert not (out / "sub-ok03").exists()
    # the closing line counts them
    assert f"; {len(listed)} files not rendered (listed there)" in result.stderr


def test_the_page_shows_every_card_and_every_not_rendered_file(messy_run):
    cases, layout, good, _, out, _, _ = messy_run
    html = (out / "index.html").read_text()
    data = json.loads(
        re.search(
            r'<script type="application/json" id="neurovid-data">(.*?)</script>', html, re.S
        ).group(1)  # fmt: skip
    )
    sidecars = sorted(out.glob("sub-*/anat/*.json")) + sorted(out.glob("sub-*/ses-*/anat/*.json"))
    assert data["summary"]["images"] == len(sidecars) >= len(good)
    shown = {entry["path"] for entry in data["run"]["notRendered"]}
    assert {p.replace("\t", "\\t").replace("\n", "\\n") for p in layout} <= shown
    assert str(out) not in html  # links are relative, whatever the output folder is called


def test_derivative_is_described_and_links_the_raw_dataset(messy_run):
    _, _, _, bids, out, _, _ = messy_run
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Version"] and description["GeneratedBy"][0]["CodeURL"]
    raw = description["DatasetLinks"]["raw"]
    assert raw.startswith("file://") and Path(unquote(urlparse(raw).path)) == bids.resolve()
    sidecar = json.loads((out / "sub-ok01/anat/sub-ok01_T1w.json").read_text())
    assert sidecar["Sources"] == ["bids:raw:sub-ok01/anat/sub-ok01_T1w.nii.gz"]
    ignore = (out / ".bidsignore").read_text().split()
    assert {"*.html", "logs/", ".neurovid/", "*.mp4", "*.png"} <= set(ignore)


def test_a_second_run_has_nothing_to_do(messy_run):
    *_, args, first = messy_run
    assert first.returncode == 0
    again = snakemake(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr, again.stderr[-3000:]


def test_the_page_lists_what_was_not_rendered_in_chromium(messy_run, browser):
    """The page's "not rendered" section, as a reviewer sees it (headless Chromium)."""
    _, layout, _, _, out, _, _ = messy_run
    record = json.loads((out / ".neurovid" / "last_run.json").read_text())
    page = browser.new_page()
    try:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((out / "index.html").as_uri())
        page.wait_for_selector("html[data-ready='1']", timeout=60_000)
        assert page.is_visible("#run-notes")
        title = page.inner_text("#run-notes-title")
        assert f"{len(record['not_rendered'])} files not rendered" in title
        page.eval_on_selector("#run-notes", "e => { e.open = true; }")  # closed past 20
        items = page.locator("#not-rendered-list li").all_inner_texts()
        assert len(items) == len(record["not_rendered"])
        shown = "\n".join(items)
        assert "not rendered: sub-ok01/anat/old/sub-ok01_T1w.nii.gz, in a folder" in shown
        assert "no filters (the whole dataset)" in page.inner_text("#run-selection")
        assert errors == []
    finally:
        page.close()
