"""Ratings that cannot be lost, several raters merged by the real rule, blinded review.

Real parts only: a tiny BIDS study rendered by the neurovid workflow itself (``snakemake``,
real ffmpeg), the page opened from disk in Debian's Chromium, exports downloaded by the page
and merged by the rule ``merge_ratings`` on the next run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from neurovid import ratings as R
from neurovid.ratings_merge import merge_ratings
from neurovid.testing import nifti_bytes, phantom, phantom_affine, write_nifti

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
FILES = [
    "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz",
    "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz",
    "sub-02/anat/sub-02_run-1_T1w.nii.gz",
    "sub-02/anat/sub-02_run-2_T1w.nii.gz",
    "sub-03/anat/sub-03_T1w.nii.gz",
    "sub-04/anat/sub-04_acq-fast_T1w.nii.gz",
]
TITLES = ["sub-01 · ses-1", "sub-01 · ses-2", "sub-02", "sub-02", "sub-03", "sub-04"]
KEY = {"pass": "1", "doubtful": "2", "fail": "3"}


@dataclass
class Study:
    bids: Path
    out: Path

    @property
    def html(self) -> Path:
        return self.out / "index.html"

    @property
    def url(self) -> str:
        return self.html.as_uri()

    def dataset_id(self) -> str:
        return R.read_dataset_id(self.out)

    def sidecar(self, file: str) -> dict[str, Any]:
        return json.loads((self.out / file.replace(".nii.gz", ".json")).read_text())


def build_bids(root: Path) -> Path:
    """Six small phantoms, each with its own content (so each input has its own checksum)."""
    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "ratings", "BIDSVersion": "1.10.0"}')
    for i, file in enumerate(FILES):
        write_nifti(root / file, nifti_bytes(phantom() * (1 + i / 8), phantom_affine()))
    return root


def run_workflow(study: Study, *extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--config",
         f"bids_dir={study.bids}", f"output_dir={study.out}", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def new_study(root: Path) -> Study:
    study = Study(build_bids(root / "bids"), root / "out")
    run_workflow(study)
    return study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return new_study(tmp_path_factory.mktemp("ratings-study"))


def text(page: Any, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".card .title").all_inner_texts()]


def card(page: Any, title: str, nth: int = 0) -> Any:
    return (
        page.locator(".card")
        .filter(has=page.locator(".title", has_text=re.compile(rf"^{re.escape(title)}$")))
        .nth(nth)
    )


def card_of(page: Any, file: str) -> Any:
    """The card of an image by its file (its MP4 link names it)."""
    video = Path(file.replace(".nii.gz", ".mp4")).name
    return page.locator(".card").filter(has=page.locator(f"a[href$='{video}']"))


def set_rater(page: Any, name: str) -> None:
    page.fill("#rater", name)
    page.keyboard.press("Escape")


SELECTED = (
    "() => [...document.querySelectorAll('.card')]"
    ".findIndex(c => c.classList.contains('selected'))"
)


def select(page: Any, position: int) -> None:
    """Move the selection to the card at ``position`` of the grid with j / k."""
    current = page.evaluate(SELECTED)
    for _ in range(abs(position - current)):
        page.keyboard.press("j" if position > current else "k")
    assert page.evaluate(SELECTED) == position


def select_and_rate(page: Any, position: int, rating: str) -> None:
    select(page, position)
    page.keyboard.press(KEY[rating])


def download(page: Any, button: str, folder: Path, name: str | None = None) -> Path:
    with page.expect_download() as info:
        page.click(button)
    path = folder / (name or info.value.suggested_filename)
    folder.mkdir(parents=True, exist_ok=True)
    info.value.save_as(path)
    return path


def stored(page: Any, rater: str) -> dict[str, Any]:
    """Every stored rating of ``rater`` (all datasets), by storage key."""
    return page.evaluate(
        """(who) => { const out = {};
        for (const k of Object.keys(localStorage))
          if (k.startsWith('neurovid2|') && k.includes('|r|' + encodeURIComponent(who) + '|'))
            out[k] = JSON.parse(localStorage.getItem(k));
        return out; }""",
        rater,
    )


# --------------------------------------------------------------------------------------------
# Who rates
# --------------------------------------------------------------------------------------------


def test_rater_name_is_asked_before_the_first_rating(study: Study, new_page: Any) -> None:
    page, rec = new_page(study.url)
    page.keyboard.press("j")
    page.keyboard.press("1")
    page.wait_for_selector("#rater-dialog:not([hidden])")
    assert "saved with every rating" in text(page, "#rater-dialog")
    page.keyboard.press("Escape")  # no name, no rating
    page.wait_for_selector("#rater-dialog", state="hidden")
    assert text(page, "#sum-rated") == "0" and stored(page, "") == {}

    page.keyboard.press("1")
    page.wait_for_selector("#rater-dialog:not([hidden])")
    page.keyboard.press("Enter")  # an empty name is refused
    assert page.locator("#rater-dialog").is_visible()
    page.keyboard.type("Cleo")
    page.keyboard.press("Enter")
    page.wait_for_selector("#rater-dialog", state="hidden")
    assert text(page, "#sum-rated") == "1"  # the held-back rating was made
    assert page.input_value("#rater") == "Cleo"
    (record,) = stored(page, "Cleo").values()
    assert record["rater"] == "Cleo" and record["rating"] == "pass"
    assert record["file"] == FILES[0]
    assert record["input_sha256"] == study.sidecar(FILES[0])["input"]["sha256"]

    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    assert page.input_value("#rater") == "Cleo"  # remembered in this browser
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("3")
    assert page.locator("#rater-dialog").is_hidden()
    assert text(page, "#sum-rated") == "2"
    assert rec.errors == []


# --------------------------------------------------------------------------------------------
# Storage: tabs, reload, quota, datasets
# --------------------------------------------------------------------------------------------


def test_two_tabs_write_per_image_and_see_each_other(
    study: Study, new_page: Any, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        a, rec_a = new_page(study.url, context)
        b, rec_b = new_page(study.url, context)
        set_rater(a, "Tab")
        b.wait_for_function("() => document.getElementById('rater').value === 'Tab'")
        select_and_rate(a, 0, "pass")
        b.wait_for_function("() => document.getElementById('sum-rated').textContent === '1'")
        assert card(b, TITLES[0]).locator(".badge.rating").inner_text() == "Pass"

        select_and_rate(b, 1, "fail")  # B never reloaded: it must not write over A's rating
        a.wait_for_function("() => document.getElementById('sum-rated').textContent === '2'")
        assert card(a, TITLES[1]).locator(".badge.rating").inner_text() == "Fail"

        # A tags the image B rated: A starts from what storage holds, so B's rating stays
        select(a, 1)
        a.keyboard.press("m")
        b.wait_for_function(
            "() => [...document.querySelectorAll('.card .tagline')]"
            ".some(t => /Motion/.test(t.textContent))"
        )
        records = {r["file"]: r for r in stored(a, "Tab").values()}
        assert records[FILES[1]]["rating"] == "fail" and records[FILES[1]]["tags"] == ["motion"]
        assert records[FILES[0]]["rating"] == "pass"
        assert len([k for k in stored(a, "Tab") if study.dataset_id() in k]) == 2  # one key each

        for page in (a, b):
            page.reload()
            page.wait_for_selector("html[data-ready='1']")
            assert text(page, "#sum-rated") == "2"
        assert rec_a.errors == [] and rec_b.errors == []
    finally:
        context.close()


FILL_STORAGE = """() => {
  // fill this origin's localStorage to the last byte, as a long review with long notes would
  let i = 0, size = 1 << 20;
  while (size >= 16) {
    try { localStorage.setItem('junk' + i, 'x'.repeat(size)); i++; } catch (e) { size >>= 1; }
  }
  return i;
}"""


def test_full_storage_never_loses_a_rating(study: Study, new_page: Any, tmp_path: Path) -> None:
    page, rec = new_page(study.url)
    set_rater(page, "Quota")
    assert page.evaluate(FILL_STORAGE) > 0
    select_and_rate(page, 0, "fail")
    page.keyboard.press("m")
    page.wait_for_selector("#storage-alert:not([hidden])")
    assert "1 rating could not be saved in this browser (QuotaExceededError" in text(
        page, "#storage-alert"
    )
    assert card(page, TITLES[0]).locator(".mark.unsaved").is_visible()
    assert text(page, "#sum-rated") == "1"  # shown, and said to be unsaved
    page.wait_for_timeout(5000)  # longer than any toast: the alert stays
    assert page.locator("#storage-alert").is_visible()

    export = download(page, "#alert-export-json", tmp_path)  # offered at once
    doc = json.loads(export.read_text())
    (row,) = [r for r in doc["ratings"] if r["rating"]]
    assert (row["file"], row["rating"], row["tags"], row["rater"]) == (
        FILES[0], "fail", ["motion"], "Quota",
    )  # fmt: skip
    assert "last exported at" in text(page, "#storage-alert")

    page.evaluate("() => { localStorage.removeItem('junk0'); localStorage.removeItem('junk1'); }")
    select_and_rate(page, 2, "pass")  # the next write saves both
    page.wait_for_selector("#storage-alert", state="hidden")
    assert card(page, TITLES[0]).locator(".mark.unsaved").count() == 0
    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    assert text(page, "#sum-rated") == "2"
    assert card(page, TITLES[0]).locator(".badge.rating").inner_text() == "Fail"
    page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('junk'))"
                  ".forEach(k => localStorage.removeItem(k))")  # fmt: skip
    assert rec.errors == []


def test_each_dataset_has_its_own_ratings(
    study: Study, new_page: Any, browser: Any, tmp_path: Path
) -> None:
    """A copy of the derivative with another dataset id (all file:// pages share one
    storage) does not show the first one's ratings, although the images are the same; it
    offers to take over those of the very same images."""
    from neurovid.report import build_review_page, collect_sidecars

    copy = tmp_path / "copy"
    shutil.copytree(study.out, copy)
    (copy / R.DATASET_ID_FILE).unlink()
    build_review_page(copy, collect_sidecars(copy), copy / "index.html", dataset_name="bids")
    assert R.read_dataset_id(copy) not in ("", study.dataset_id())
    context = browser.new_context()
    try:
        first, _ = new_page(study.url, context)
        set_rater(first, "Dee")
        select_and_rate(first, 0, "fail")
        other, rec = new_page((copy / "index.html").as_uri(), context)
        assert other.input_value("#rater") == "Dee"  # the name is per browser ...
        assert text(other, "#sum-rated") == "0"  # ... the ratings per dataset
        # the same images under a new id (as when .neurovid/ was deleted): offered, not lost
        assert "1 rating by Dee of these very images" in text(other, "#adopt-bar")
        other.click("#adopt-btn")
        other.wait_for_selector("#adopt-bar", state="hidden")
        assert text(other, "#sum-rated") == "1"
        assert card(other, TITLES[0]).locator(".badge.rating").inner_text() == "Fail"
        assert rec.errors == []
    finally:
        context.close()


def test_old_single_key_ratings_are_migrated(study: Study, new_page: Any, tmp_path: Path) -> None:
    first, third = study.sidecar(FILES[0]), study.sidecar(FILES[4])
    old = {
        first["video"]["sha256"]: {"rating": "fail", "tags": ["motion"], "note": "old note",
                                   "rater": "Old", "timestamp": "2024-05-01T10:00:00.000Z",
                                   "file": FILES[0]},
        "f" * 64: {"rating": "pass", "tags": [], "note": "", "rater": "Old",
                   "timestamp": "2024-05-01T10:01:00.000Z", "file": FILES[2]},
        third["video"]["sha256"]: {"rating": "doubtful", "tags": [], "note": "", "rater": "",
                                   "timestamp": "2024-05-01T10:02:00.000Z", "file": FILES[4]},
    }  # fmt: skip
    page, rec = new_page(study.url)
    page.evaluate("(v) => localStorage.setItem('neurovid.ratings.v1', v)", json.dumps(old))
    page.reload()
    page.wait_for_selector("#rater-dialog:not([hidden])")  # one old rating has no rater
    assert "1 rating from an earlier version of this page has no rater name" in text(
        page, "#rater-dialog"
    )
    page.fill("#rater-dialog-name", "Old")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('sum-rated').textContent === '3'")
    assert card(page, TITLES[0]).locator(".tagline").inner_text() == "Motion"
    marked = card_of(page, FILES[2]).locator(".mark.earlier")
    assert marked.inner_text() == "earlier rendering, input not verified"
    assert page.evaluate("() => localStorage.getItem('neurovid.ratings.v1')") is not None  # kept

    export = download(page, "#export-json", tmp_path)
    images = R.images_from_sidecars(sorted(study.out.glob("sub-*/**/anat/*.json")))
    result = merge_ratings([export], images)
    assert [(p.kind, p.file) for p in result.problems] == [("unverified", FILES[2])]
    merged = {row.file: row.rating for row in result.rows if row.rating}
    assert merged == {FILES[0]: "fail", FILES[4]: "doubtful"}
    assert rec.errors == []


# --------------------------------------------------------------------------------------------
# Import and export: prototype keys, spreadsheets
# --------------------------------------------------------------------------------------------


def test_import_refuses_prototype_keys(study: Study, new_page: Any, tmp_path: Path) -> None:
    page, rec = new_page(study.url)
    set_rater(page, "Eve")
    sidecar = study.sidecar(FILES[0])
    row = {"file": FILES[0], "input_sha256": sidecar["input"]["sha256"], "rating": "fail",
           "rater": "Eve", "timestamp": "2030-01-01T00:00:00Z"}  # fmt: skip
    evil_json = tmp_path / "evil.json"
    evil_json.write_text(
        '{"neurovid_ratings_version": 2, "ratings": ['
        + json.dumps(row)[:-1]
        + ', "__proto__": {"polluted": "yes"}}]}'
    )
    evil_tsv = tmp_path / "evil.tsv"
    evil_tsv.write_text(
        f"file\tinput_sha256\trating\tconstructor\n{FILES[0]}\t{row['input_sha256']}\tfail\tx\n"
    )
    for path, key in ((evil_json, "__proto__"), (evil_tsv, "constructor")):
        page.set_input_files("#import-file", str(path))
        page.wait_for_function(
            "() => /Import failed/.test(document.getElementById('toast').textContent)"
        )
        why = "file contains the key" if key == "__proto__" else "TSV has the column"
        assert f'refused: the {why} "{key}"' in text(page, "#toast")
        assert text(page, "#sum-rated") == "0"
    assert page.evaluate(
        "() => ({}).polluted === undefined && Object.prototype.polluted === undefined"
    )
    assert rec.errors == []


def test_exports_are_safe_in_spreadsheets(study: Study, new_page: Any, tmp_path: Path) -> None:
    page, rec = new_page(study.url)
    set_rater(page, "=Dr. Formula")
    select_and_rate(page, 0, "doubtful")
    page.keyboard.press("Enter")
    page.wait_for_selector("#player:not([hidden])")
    page.fill("#p-note", '=HYPERLINK("http://evil","click") and +1 -2 @3')
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    path = download(page, "#export-tsv", tmp_path)
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    row = next(dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]
               if "doubtful" in line)  # fmt: skip
    assert row["note"] == '\'=HYPERLINK("http://evil","click") and +1 -2 @3'
    assert row["rater"] == "'=Dr. Formula"
    for line in lines:
        for cell in line.split("\t"):
            assert not cell.startswith(("=", "+", "-", "@")), cell
    back = R.RaterExport.read(path)  # the merge reads what the page wrote
    (record,) = [r for r in back.ratings if r.rating]
    assert record.note == '=HYPERLINK("http://evil","click") and +1 -2 @3'
    assert record.rater == "=Dr. Formula" and back.row_errors == []
    assert rec.errors == []


# --------------------------------------------------------------------------------------------
# Blinded review and catch trials
# --------------------------------------------------------------------------------------------


def test_page_queue_is_the_python_queue(study: Study, new_page: Any) -> None:
    page, _ = new_page(study.url)
    names = [f"sub-{i:02d}/anat/sub-{i:02d}_T1w.nii.gz" for i in range(30)]
    names += ["sub-ünï/anat/x.nii.gz", "sub-\U0001f9e0/anat/y.nii.gz", "sub-\uffef/anat/z.nii.gz"]
    for seed, share in (("1", 0.1), ("s-42", 0.34), ("ünïcødé \U0001f9e0", 0.5), ("", 0.0)):
        got = page.evaluate("(a) => neurovidReviewQueue(a[0], a[1], a[2])", [names, seed, share])
        assert [tuple(x) for x in got] == R.review_queue(names, seed, share)


def test_blinded_review_with_catch_trials(study: Study, new_page: Any, tmp_path: Path) -> None:
    page, rec = new_page(study.url)
    set_rater(page, "Bea")
    page.click("#blind-btn")
    page.wait_for_selector("#blind-dialog:not([hidden])")
    page.check("#blind-on")
    page.fill("#blind-seed", "s-42")
    page.fill("#blind-share", "34")
    page.click("#blind-ok")
    page.wait_for_selector("#mode-bar:not([hidden])")

    queue = R.review_queue(FILES, "s-42", 0.34)
    assert len(queue) == 8 and sum(p == 2 for _, p in queue) == 2  # floor(0.34·6 + .5) = 2
    expected = [f"case {R.blind_code(study.dataset_id(), f, p)}" for f, p in queue]
    assert titles(page) == expected
    assert len(set(expected)) == 8  # a repeat has its own code
    body = page.inner_text("body")
    assert "sub-0" not in body and "ses-" not in body and "T1w.nii" not in body
    assert page.locator("#search").is_disabled() and page.locator("#sort").is_disabled()
    assert page.locator(".card .links:not([hidden])").count() == 0
    view_box = page.evaluate(
        "() => getComputedStyle(document.querySelector('.card .thumb img')).objectViewBox"
    )
    assert view_box == "inset(44px 0px 0px)"  # the frame's header (entities) is not shown

    page.reload()  # seeded: the same order after a reload
    page.wait_for_selector("html[data-ready='1']")
    assert titles(page) == expected

    # rate every showing; the first repeat like the first showing, the second not
    first_rating = {f: ("pass", "fail", "doubtful")[i % 3] for i, f in enumerate(FILES)}
    repeats_seen = 0
    for position, (file, presentation) in enumerate(queue):
        rating = first_rating[file]
        if presentation == 2:
            repeats_seen += 1
            if repeats_seen == 2:
                rating = "pass" if rating != "pass" else "fail"
        select_and_rate(page, position, rating)
    assert text(page, "#sum-rated") == "6"  # repeats are not extra images

    page.keyboard.press("Enter")
    page.wait_for_selector("#player:not([hidden])")
    assert re.fullmatch(r"case [A-Z2-7]{6}\s*(T1w)?", text(page, "#p-title"))
    meta = text(page, "#p-meta")
    assert "File" not in meta and "SHA-256" not in meta and "sub-" not in meta
    assert page.locator("#p-links").is_hidden() and page.locator("#p-raters").is_hidden()
    assert "44px" in page.evaluate(
        "() => getComputedStyle(document.getElementById('p-video')).objectViewBox"
    )
    page.keyboard.press("Escape")

    export = download(page, "#export-json", tmp_path)
    doc = json.loads(export.read_text())
    assert doc["review"] == {"blinded": True, "seed": "s-42", "catch_share": 0.34}
    rated = [r for r in doc["ratings"] if r["rating"]]
    assert len(rated) == 8 and all(r["blinded"] and r["review_seed"] == "s-42" for r in rated)
    assert sorted((r["file"], r["presentation"]) for r in rated) == sorted(queue)
    assert {r["blind_code"] for r in rated} == {t[5:] for t in expected}

    images = R.images_from_sidecars(sorted(study.out.glob("sub-*/**/anat/*.json")))
    result = merge_ratings([export], images)
    bea = result.intra_rater["Bea"]
    assert (bea["n_repeats"], bea["n_same"]) == (2, 1) and len(bea["inconsistent"]) == 1
    assert {row.file: row.rating for row in result.rows} == first_rating

    page.click("#mode-off")  # leaving blinded review shows subjects again
    page.wait_for_selector("#mode-bar", state="hidden")
    assert titles(page)[0] == TITLES[0]
    assert rec.errors == []


# --------------------------------------------------------------------------------------------
# Two raters, the real rule, the page after the merge, a re-render
# --------------------------------------------------------------------------------------------

ANN = ["pass", "pass", "fail", "doubtful", "pass", "fail"]
BOB = ["pass", "fail", "fail", "pass", "pass", "fail"]
# Cohen's κ, Ann (rows) × Bob (columns), labels pass/doubtful/fail:
#   pass     [2, 0, 1]      p_o = (2 + 0 + 2)/6 = 2/3
#   doubtful [1, 0, 0]      p_e = (3·3 + 1·0 + 2·3)/36 = 5/12
#   fail     [0, 0, 2]      κ = (2/3 − 5/12)/(1 − 5/12) = 3/7
# Consensus (majority, fail wins ties): pass, fail, fail, doubtful, pass, fail.
CONSENSUS = ["pass", "fail", "fail", "doubtful", "pass", "fail"]


def test_two_raters_merged_by_the_rule_and_shown_on_the_page(
    new_page: Any, browser: Any, tmp_path: Path
) -> None:
    study = new_study(tmp_path)
    # the rule ran with no ratings/ folder: valid, empty results
    rows = R.read_qc_ratings(study.out / "qc_ratings.tsv")
    assert [r.file for r in rows] == FILES and not any(r.rating for r in rows)
    ratings_dir = study.out / "ratings"

    # Ann, unblinded, in her own browser profile
    ann, rec_ann = new_page(study.url)
    set_rater(ann, "Ann")
    for position, rating in enumerate(ANN):
        select_and_rate(ann, position, rating)
    download(ann, "#export-tsv", ratings_dir, "ann.tsv")

    # Bob, blinded with catch trials, in another profile
    bob, rec_bob = new_page(study.url)
    set_rater(bob, "Bob")
    bob.click("#blind-btn")
    bob.check("#blind-on")
    bob.fill("#blind-seed", "7")
    bob.fill("#blind-share", "34")
    bob.click("#blind-ok")
    bob.wait_for_selector("#mode-bar:not([hidden])")
    code_to_file = {}
    for file in FILES:
        for presentation in (1, 2):
            code_to_file[R.blind_code(study.dataset_id(), file, presentation)] = file
    for position, title in enumerate(titles(bob)):
        select_and_rate(bob, position, BOB[FILES.index(code_to_file[title[5:]])])
    assert "Ann" not in bob.inner_text("body")
    download(bob, "#export-json", ratings_dir, "bob.json")

    videos = {f: (study.out / f.replace(".nii.gz", ".mp4")).stat().st_mtime_ns for f in FILES}
    result = run_workflow(study)  # the next run merges, renders nothing
    assert "render_video" not in result.stdout + result.stderr
    assert "merge_ratings" in result.stdout + result.stderr
    assert videos == {
        f: (study.out / f.replace(".nii.gz", ".mp4")).stat().st_mtime_ns for f in FILES
    }

    rows = R.read_qc_ratings(study.out / "qc_ratings.tsv")
    assert [r.rating for r in rows] == CONSENSUS
    assert [r.ratings for r in rows] == [
        (("Ann", a), ("Bob", b)) for a, b in zip(ANN, BOB, strict=True)
    ]
    assert [r.n_raters for r in rows] == [2] * 6
    doc = json.loads((study.out / "qc_ratings.json").read_text())
    overall = doc["Agreement"]["overall"]
    assert overall["method"] == "cohen" and overall["kappa"]["exact"] == "3/7"
    assert overall["confusion"]["counts"] == [[2, 0, 1], [1, 0, 0], [0, 0, 2]]
    assert doc["Agreement"]["disagreements"] == [FILES[1], FILES[3]]
    assert doc["IntraRater"]["Bob"]["n_repeats"] == 2 and doc["IntraRater"]["Bob"]["n_same"] == 2
    assert [p["kind"] for p in doc["Problems"]] == []
    exclude = json.loads((study.out / "exclude.json").read_text())
    assert exclude["files"] == [FILES[1], FILES[2], FILES[5]]

    # the page built after the merge: both raters on every card, κ, the disagreements
    ann.reload()
    ann.wait_for_selector("html[data-ready='1']")
    assert "Cohen’s κ = 0.429" in text(ann, "#agreement")
    line = card(ann, TITLES[1]).locator(".raters-line").inner_text()
    assert "Ann: Pass" in line and "Bob: Fail" in line and "raters disagree" in line
    ann.click("#show-disagreements")
    ann.wait_for_function("() => document.querySelectorAll('.card').length === 2")
    assert titles(ann) == [TITLES[1], TITLES[3]]

    # one image is rendered again (another CRF: another video of the same input)
    from neurovid.render import RenderOptions, render_image
    from neurovid.report import build_review_page, collect_sidecars

    sidecar = study.sidecar(FILES[0])
    old_video = sidecar["video"]["sha256"]
    new = render_image(
        study.bids / FILES[0],
        study.out / FILES[0].replace(".nii.gz", ".mp4"),
        options=RenderOptions.from_mapping({**sidecar["render"], "crf": 40}),
        source=FILES[0],
        entities=sidecar["entities"],
        log_path=sidecar["log"],
    )
    assert new["status"] == "rendered" and new["video"]["sha256"] != old_video
    assert new["input"]["sha256"] == sidecar["input"]["sha256"]
    subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts/merge_ratings.py"), str(study.out)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    build_review_page(study.out, collect_sidecars(study.out), study.html, dataset_name="bids")
    ann.reload()
    ann.wait_for_selector("html[data-ready='1']")
    ann.select_option("#f-rating", "*")  # the browser may restore the filter on reload
    assert text(ann, "#sum-rated") == "6"  # the rating survived ...
    first = card(ann, TITLES[0])
    assert first.locator(".badge.rating").inner_text() == "Pass"
    assert first.locator(".mark.earlier").inner_text() == "rated on an earlier rendering"  # marked
    assert "Bob: Pass" in first.locator(".raters-line").inner_text()
    rows = R.read_qc_ratings(study.out / "qc_ratings.tsv")
    assert rows[0].rating == "pass" and rows[0].n_raters == 2 and rows[0].n_earlier_rendering >= 2
    assert rec_ann.errors == [] and rec_bob.errors == []
