"""The review page in real headless Chromium, opened from disk (file://), no mocks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.browser

EVIL = "<script>alert(1)</script>"  # the subject label of one image (see conftest.build_site)
ReviewSite = Any  # conftest.ReviewSite (not imported: conftest modules are not importable)

TIMEOUT_MS = 15_000


def text(page: Any, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def card(page: Any, title: str) -> Any:
    """The card whose title is exactly ``title`` (e.g. ``sub-01 · ses-1``)."""
    return page.locator(".card").filter(
        has=page.locator(".title", has_text=re.compile(rf"^{re.escape(title)}$"))
    )


def open_with_keys(page: Any, query: str) -> None:
    """Search, leave the field with Esc, select the first match with j and open it."""
    page.keyboard.press("/")
    page.keyboard.type(query)
    page.keyboard.press("Escape")
    page.wait_for_function(
        "q => document.querySelectorAll('.card').length >= 1 && "
        "[...document.querySelectorAll('.card')].every(c => c.textContent.includes(q))",
        arg=query,
    )
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#player:not([hidden])")


def wait_playing(page: Any, seconds: float = 0.5) -> None:
    page.wait_for_function(
        "s => { const v = document.getElementById('p-video'); return v.currentTime > s; }",
        arg=seconds,
        timeout=TIMEOUT_MS,
    )


def stored_ratings(page: Any) -> dict[str, Any]:
    """The current rater's ratings in the page's storage (one key each), by video checksum."""
    return page.evaluate(
        """() => {
        const out = {}, who = encodeURIComponent(document.getElementById('rater').value);
        for (const k of Object.keys(localStorage)) {
          if (k.startsWith('neurovid2|') && k.includes('|r|' + who + '|')) {
            const r = JSON.parse(localStorage.getItem(k)); out[r.video_sha256] = r; } }
        return out; }"""
    )


def name_rater(page: Any, name: str = "Tester") -> None:
    """Give the rater's name (the page asks for it before the first rating otherwise)."""
    page.fill("#rater", name)
    page.keyboard.press("Escape")


def file_requests_only(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.startswith("file://")]


# --------------------------------------------------------------------------------------------


def test_page_loads_offline_without_errors(site: ReviewSite, new_page: Any) -> None:
    page, rec = new_page(site.url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # let lazy posters in the viewport load

    assert page.locator(".card").count() == 6
    assert text(page, "#sum-images") == "6"
    assert text(page, "#sum-rendered") == "4"
    assert text(page, "#sum-failed") == "2"
    assert text(page, "#sum-rated") == "0"
    assert text(page, "#sum-rateable") == "4"
    sessions = page.locator("#sessions-body tr").all_inner_texts()
    assert any(row.split()[:2] == ["ses-1", "3"] for row in sessions), sessions

    # posters are lazy thumbnails; no grid video exists and the player's loads nothing
    assert page.locator("#grid video").count() == 0
    assert page.locator("#grid img[loading='lazy']").count() == 4
    assert page.get_attribute("#p-video", "preload") == "none"
    assert page.get_attribute("#p-video", "src") is None
    assert page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth).length")

    assert rec.errors == []
    assert rec.requests, "no request recorded"
    assert file_requests_only(rec.requests) == []
    assert not any(u.endswith(".mp4") for u in rec.requests), "a video loaded before opening"


def test_links_are_relative_and_resolve(site: ReviewSite, new_page: Any) -> None:
    page, _ = new_page(site.url)
    hrefs = page.eval_on_selector_all(
        "#grid a[href]", "els => els.map(a => a.getAttribute('href'))"
    )
    assert hrefs
    for href in hrefs:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I) and not href.startswith("/")
        assert (site.root / unquote(href)).is_file(), href
    kinds = {Path(unquote(h)).suffix for h in hrefs}
    assert {".mp4", ".json", ".log"} <= kinds


def test_video_plays_and_frame_controls(site: ReviewSite, new_page: Any) -> None:
    page, rec = new_page(site.url)
    name_rater(page)
    card(page, "sub-01 · ses-1").locator(".thumb").click()
    page.wait_for_selector("#player:not([hidden])")
    assert page.get_attribute("#p-video", "src").endswith("sub-01_ses-1_run-1_T1w.mp4")
    wait_playing(page, 0.5)  # Chromium decoded the H.264 and time advances

    page.keyboard.press(" ")  # pause
    page.wait_for_function("() => document.getElementById('p-video').paused")
    page.keyboard.press(",")
    page.wait_for_function("() => !document.getElementById('p-video').seeking")
    t0 = page.evaluate("document.getElementById('p-video').currentTime")
    page.keyboard.press(".")
    page.wait_for_function("() => !document.getElementById('p-video').seeking")
    t1 = page.evaluate("document.getElementById('p-video').currentTime")
    assert t1 - t0 == pytest.approx(0.1, abs=0.02)  # one frame at 10 fps
    page.keyboard.press(",")
    page.keyboard.press(",")
    page.wait_for_function("() => !document.getElementById('p-video').seeking")
    t2 = page.evaluate("document.getElementById('p-video').currentTime")
    assert t1 - t2 == pytest.approx(0.2, abs=0.02)
    assert re.match(r"frame \d+ / 30", text(page, "#p-frame"))

    page.keyboard.press("]")
    assert page.evaluate("document.getElementById('p-video').playbackRate") == 1.5
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert page.evaluate("document.getElementById('p-video').playbackRate") == 0.75
    assert text(page, "#p-speed") == "0.75×"
    page.keyboard.press("]")

    page.click(".rate.doubtful")  # rate with the mouse: the button keeps the focus ...
    page.click(".rate.doubtful")  # ... (and clear again)
    page.keyboard.press(" ")  # ... but space plays, it does not press the button again
    wait_playing(page, t2 + 0.3)
    assert page.get_attribute(".rate.doubtful", "aria-pressed") == "false"
    page.keyboard.press("Escape")
    page.wait_for_selector("#player", state="hidden")
    assert page.get_attribute("#p-video", "src") is None  # unloaded when closed
    assert rec.errors == []
    assert file_requests_only(rec.requests) == []


def test_keyboard_review_survives_reload(site: ReviewSite, new_page: Any) -> None:
    page, rec = new_page(site.url)
    name_rater(page)
    open_with_keys(page, "sub-01")
    assert text(page, "#p-title").startswith("sub-01 · ses-1")
    assert text(page, "#p-pos") == "1 / 2"

    page.keyboard.press("1")  # pass
    page.keyboard.press("m")  # motion
    page.keyboard.press("n")  # focus the note: the digits and letters below are text
    page.keyboard.type("slight motion, 2 3 j k ? m")
    page.keyboard.press("Escape")
    assert page.get_attribute(".rate.pass", "aria-pressed") == "true"
    assert page.get_attribute(".tagbtn[data-tag='motion']", "aria-pressed") == "true"
    assert page.get_attribute(".tagbtn[data-tag='ringing']", "aria-pressed") == "false"
    assert page.locator("#help").is_hidden()

    page.keyboard.press("j")  # next image
    assert text(page, "#p-title").startswith("sub-01 · ses-2")
    assert text(page, "#p-pos") == "2 / 2"
    assert page.input_value("#p-note") == ""
    page.keyboard.press("3")  # fail
    page.keyboard.press("f")  # field-of-view cut-off
    page.keyboard.press("o")  # other
    page.keyboard.press("o")  # ... and off again
    page.keyboard.press("k")  # previous
    assert text(page, "#p-title").startswith("sub-01 · ses-1")
    assert page.input_value("#p-note") == "slight motion, 2 3 j k ? m"
    page.keyboard.press("Escape")
    page.wait_for_selector("#player", state="hidden")
    assert text(page, "#sum-rated") == "2"

    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    assert text(page, "#sum-rated") == "2"
    assert card(page, "sub-01 · ses-1").locator(".badge.rating").inner_text() == "Pass"
    assert card(page, "sub-01 · ses-2").locator(".badge.rating").inner_text() == "Fail"
    assert "Motion" in card(page, "sub-01 · ses-1").locator(".tagline").inner_text()
    stored = stored_ratings(page)
    one = stored[site.sha["sub-01_ses-1_run-1_T1w"]]
    two = stored[site.sha["sub-01_ses-2_run-1_T1w"]]
    assert (one["rating"], one["tags"], one["note"]) == (
        "pass",
        ["motion"],
        "slight motion, 2 3 j k ? m",
    )
    assert (two["rating"], two["tags"]) == ("fail", ["fov_cutoff"])
    assert rec.errors == []

    # the same key again clears a rating; failed images cannot be rated
    open_with_keys(page, "ses-2")
    page.keyboard.press("3")
    assert page.get_attribute(".rate.fail", "aria-pressed") == "false"
    page.keyboard.press("Escape")
    assert text(page, "#sum-rated") == "1"


def test_grid_keys_rate_the_selected_card(site: ReviewSite, new_page: Any) -> None:
    page, _ = new_page(site.url)
    name_rater(page)
    page.select_option("#f-status", "rendered")
    page.keyboard.press("j")
    page.keyboard.press("j")
    selected = page.locator(".card.selected")
    assert selected.count() == 1
    page.keyboard.press("2")
    assert selected.locator(".badge.rating").inner_text() == "Doubtful"
    page.keyboard.press("k")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("0")
    assert selected.locator(".badge.rating").inner_text() == "unrated"


def test_typing_in_fields_does_not_trigger_shortcuts(site: ReviewSite, new_page: Any) -> None:
    page, rec = new_page(site.url)
    page.click("#rater")
    page.keyboard.type("Dr j/k 1?")
    page.keyboard.press("Escape")
    assert page.input_value("#rater") == "Dr j/k 1?"
    page.click("#search")
    page.keyboard.type("j1?")
    assert page.locator("#help").is_hidden()
    assert page.locator("#player").is_hidden()
    assert page.locator(".card.selected").count() == 0
    assert stored_ratings(page) == {}
    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    assert page.input_value("#rater") == "Dr j/k 1?"  # the rater name is remembered
    assert rec.errors == []


def test_help_overlay(site: ReviewSite, new_page: Any) -> None:
    page, _ = new_page(site.url)
    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    help_text = text(page, "#help")
    for words in ("Next image", "Play / pause", "One frame forward", "Slower", "Pass", "Fail",
                  "Motion", "Wrap-around", "Low SNR", "Intensity inhomogeneity",
                  "Defacing damage", "Field-of-view cut-off", "Write a note"):  # fmt: skip
        assert words in help_text
    page.keyboard.press("Escape")
    page.wait_for_selector("#help", state="hidden")


def test_export_tsv_json_and_import_in_fresh_profile(
    site: ReviewSite, new_page: Any, tmp_path: Path
) -> None:
    page, rec = new_page(site.url)
    page.fill("#rater", "Dr. Tester")
    page.keyboard.press("Escape")  # leave the rater field, so that keys are shortcuts again
    open_with_keys(page, "sub-02")
    page.keyboard.press("2")
    page.keyboard.press("w")
    page.keyboard.press("s")
    page.fill("#p-note", "tab\there\nnew line \\ backslash")
    page.keyboard.press("Escape")  # leaves the note (saved) ...
    page.keyboard.press("Escape")  # ... and closes the player
    page.wait_for_selector("#player", state="hidden")
    sha = site.sha["sub-02_ses-1_acq-mprage_T1w"]
    assert stored_ratings(page)[sha]["note"] == "tab\there\nnew line \\ backslash"

    with page.expect_download() as dl:
        page.click("#export-tsv")
    tsv_path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(tsv_path)
    assert tsv_path.suffix == ".tsv"
    lines = tsv_path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert header == [
        "participant_id", "session_id", "acquisition", "run", "suffix", "file", "rating",
        "tags", "note", "rater", "timestamp", "status", "input_sha256", "video_sha256",
        "presentation", "blinded", "blind_code", "review_seed", "catch_share", "dataset",
        "dataset_id",
    ]  # fmt: skip
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert len(rows) == 6
    row = next(r for r in rows if r["video_sha256"] == sha)
    assert row["participant_id"] == "sub-02" and row["session_id"] == "ses-1"
    assert row["acquisition"] == "mprage" and row["run"] == "n/a" and row["suffix"] == "T1w"
    assert row["file"] == "sub-02/ses-1/anat/sub-02_ses-1_acq-mprage_T1w.nii.gz"
    assert (row["rating"], row["tags"], row["rater"]) == (
        "doubtful",
        "wrap_around,low_snr",
        "Dr. Tester",
    )
    assert row["note"] == "tab\\there\\nnew line \\\\ backslash"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", row["timestamp"])
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all(r["rating"] == "n/a" for r in failed)
    evil = next(r for r in rows if r["participant_id"] == f"sub-{EVIL}")
    assert evil["rating"] == "n/a"

    with page.expect_download() as dl:
        page.click("#export-json")
    json_path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(json_path)
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    assert doc["neurovid_ratings_version"] == 2 and doc["rater"] == "Dr. Tester"
    jrow = next(r for r in doc["ratings"] if r["video_sha256"] == sha)
    assert jrow["rating"] == "doubtful" and jrow["tags"] == ["wrap_around", "low_snr"]
    assert jrow["note"] == "tab\there\nnew line \\ backslash"
    assert jrow["entities"] == {"acquisition": "mprage", "run": "", "suffix": "T1w"}
    assert rec.errors == []
    assert [u for u in rec.requests if not u.startswith(("file://", "blob:"))] == []

    # a fresh profile (new browser context: empty localStorage) has nothing ...
    for export in (json_path, tsv_path):
        fresh, fresh_rec = new_page(site.url)
        assert text(fresh, "#sum-rated") == "0" and stored_ratings(fresh) == {}
        fresh.set_input_files("#import-file", str(export))  # ... until the export is imported
        fresh.wait_for_function("() => document.getElementById('sum-rated').textContent === '1'")
        assert "Imported 1 rating from" in text(fresh, "#toast")
        assert card(fresh, "sub-02 · ses-1").locator(".badge.rating").inner_text() == "Doubtful"
        got = stored_ratings(fresh)[sha]
        assert got["rating"] == "doubtful" and got["tags"] == ["wrap_around", "low_snr"]
        assert got["note"] == "tab\there\nnew line \\ backslash" and got["rater"] == "Dr. Tester"
        fresh.reload()
        fresh.wait_for_selector("html[data-ready='1']")
        assert text(fresh, "#sum-rated") == "1"
        assert fresh_rec.errors == []


def test_import_rejects_garbage(site: ReviewSite, new_page: Any, tmp_path: Path) -> None:
    page, rec = new_page(site.url)
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    page.set_input_files("#import-file", str(bad))
    page.wait_for_selector("#toast.bad:not([hidden])")
    assert "no file and input_sha256 columns" in text(page, "#toast")
    assert text(page, "#sum-rated") == "0"
    assert [e for e in rec.errors if "Import" in e] == []


def test_filter_search_sort_and_failed_cards(site: ReviewSite, new_page: Any) -> None:
    page, rec = new_page(site.url)
    page.select_option("#f-status", "failed")
    cards = page.locator(".card")
    assert cards.count() == 2
    assert text(page, "#count") == "2 of 6 images match"
    two_d = card(page, "sub-03 · ses-1")
    assert "image is 2D (shape 256x256)" in two_d.locator(".error").inner_text()
    assert "logs/render/sub-03/ses-1/anat/sub-03_ses-1_T1w.log" in two_d.inner_text()
    log_href = two_d.locator("a", has_text="Log").get_attribute("href")
    assert (site.root / unquote(log_href)).read_text().startswith("InputError")
    unreadable = card(page, "sub-04")
    assert "sidecar is not valid JSON" in unreadable.locator(".error").inner_text()

    page.select_option("#f-status", "*")
    page.fill("#search", "ses-2")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    assert page.locator(".card .title").first.inner_text() == "sub-01 · ses-2"
    page.fill("#search", "mprage")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    page.fill("#search", "no-such-thing")
    page.wait_for_selector(".empty")
    page.fill("#search", "")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 6")

    page.select_option("#f-session", "s:1")
    assert cards.count() == 3
    page.select_option("#f-session", "*")
    page.select_option("#sort", "status")
    assert "failed" in cards.first.get_attribute("class")
    page.select_option("#sort", "obliquity")
    assert "sub-02" in cards.first.locator(".title").inner_text()

    cards.nth(0).locator(".thumb").focus()
    page.keyboard.press("1")  # nothing selected yet: a hint, not a crash
    assert "Select an image first" in text(page, "#toast")
    page.select_option("#sort", "subject")
    page.select_option("#f-rating", "unrated")
    assert cards.count() == 4
    assert rec.errors == []


def test_failed_image_in_player(site: ReviewSite, new_page: Any) -> None:
    page, rec = new_page(site.url)
    open_with_keys(page, "sub-03")
    assert "image is 2D" in text(page, "#p-msg")
    assert page.locator("#p-video").is_hidden()
    page.keyboard.press("1")
    assert "no video to rate" in text(page, "#toast")
    assert stored_ratings(page) == {}
    assert rec.errors == []


def test_injected_script_label_is_plain_text(site: ReviewSite, new_page: Any) -> None:
    assert "<script>alert(1)" not in site.html.read_text(encoding="utf-8")
    page, rec = new_page(site.url)
    evil = card(page, f"sub-{EVIL}")
    assert evil.count() == 1
    assert evil.locator(".title").is_visible()
    assert evil.locator(".warn").inner_text().endswith(EVIL)
    assert text(page, "#dataset-name") == "tiny <demo>"
    assert page.title() == "neurovid review · tiny <demo>"
    assert page.locator("script").count() == 2  # the data block and the page's own script
    evil.locator(".thumb").click()
    page.wait_for_selector("#player:not([hidden])")
    assert text(page, "#p-title").startswith(f"sub-{EVIL}")
    wait_playing(page, 0.2)
    page.wait_for_timeout(200)
    assert rec.dialogs == []
    assert rec.errors == []


# --------------------------------------------------------------------------------------------
# Many images: paging keeps the DOM small


def fake_site(root: Path, n: int, poster_from: Path) -> Path:
    """``n`` rendered sidecars that all share one poster (the videos don't exist)."""
    from neurovid.report import build_review_page, collect_sidecars

    root.mkdir(parents=True)
    shutil.copy(poster_from, root / "poster.png")
    for i in range(n):
        sub = f"{i:04d}"
        folder = root / f"sub-{sub}" / "anat"
        folder.mkdir(parents=True)
        sidecar = {
            "neurovid_sidecar_version": 1,
            "status": "rendered",
            "error": None,
            "warnings": [],
            "source": f"sub-{sub}/anat/sub-{sub}_T1w.nii.gz",
            "entities": {"subject": sub, "suffix": "T1w"},
            "log": f"logs/render/sub-{sub}/anat/sub-{sub}_T1w.log",
            "input": {"sha256": f"{i + 1:064x}", "size_bytes": 1000},
            "image": {"shape": [176, 256, 256], "voxel_sizes_mm": [1, 1, 1], "axis_codes": "RAS"},
            "video": {"file": f"sub-{sub}_T1w.mp4", "poster": "../../poster.png",
                      "sha256": f"{i:064x}", "fps": 15, "frame_count": 256,
                      "width": 320, "height": 240, "duration_s": 17.07},
        }  # fmt: skip
        (folder / f"sub-{sub}_T1w.json").write_text(json.dumps(sidecar))
    build_review_page(root, collect_sidecars(root), root / "index.html")
    return root / "index.html"


def test_many_images_are_paged(site: ReviewSite, new_page: Any, tmp_path: Path) -> None:
    poster = site.root / "sub-01/ses-1/anat/sub-01_ses-1_run-1_T1w.png"
    html = fake_site(tmp_path / "many", 250, poster)
    page, rec = new_page(html.as_uri())
    assert page.locator(".card").count() == 100
    assert "Page 1 of 3" in text(page, "#pager-top")
    assert text(page, "#count") == "250 images"
    page.locator("#pager-top .pager-next").click()
    assert page.locator(".card .title").first.inner_text() == "sub-0100"
    assert page.locator(".card").count() == 100
    page.keyboard.press("j")
    assert "sub-0100" in page.locator(".card.selected .title").inner_text()
    page.keyboard.press("k")  # back across the page boundary
    assert "Page 1 of 3" in text(page, "#pager-top")
    assert "sub-0099" in page.locator(".card.selected .title").inner_text()
    page.fill("#search", "sub-0249")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    assert rec.errors == []
    assert file_requests_only(rec.requests) == []
    assert len({urlparse(u).path for u in rec.requests if u.endswith(".png")}) == 1


def test_rerendered_video_keeps_its_rating_marked(
    site: ReviewSite, new_page: Any, tmp_path: Path
) -> None:
    """Ratings belong to the input image: a new video of the same input keeps them, marked;
    a new input (the file was replaced) does not (tests/browser/test_ratings_page.py has more)."""
    from neurovid.report import build_review_page, collect_sidecars

    poster = site.root / "sub-01/ses-1/anat/sub-01_ses-1_run-1_T1w.png"
    html = fake_site(tmp_path / "rerender", 3, poster)
    page, rec = new_page(html.as_uri())
    name_rater(page)
    page.keyboard.press("j")
    page.keyboard.press("3")
    assert text(page, "#sum-rated") == "1"

    # the first image is rendered again: a new video with a new checksum
    sidecar = tmp_path / "rerender/sub-0000/anat/sub-0000_T1w.json"
    data = json.loads(sidecar.read_text())
    data["video"]["sha256"] = "f" * 64
    sidecar.write_text(json.dumps(data))
    build_review_page(html.parent, collect_sidecars(html.parent), html)
    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    assert text(page, "#sum-rated") == "1"
    assert card(page, "sub-0000").locator(".badge.rating").inner_text() == "Fail"
    assert card(page, "sub-0000").locator(".mark.earlier").inner_text() == (
        "rated on an earlier rendering"
    )

    # the input itself is replaced: the old rating does not apply to the new image
    data["input"]["sha256"] = "e" * 64
    sidecar.write_text(json.dumps(data))
    build_review_page(html.parent, collect_sidecars(html.parent), html)
    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    assert text(page, "#sum-rated") == "0"
    assert card(page, "sub-0000").locator(".badge.rating").inner_text() == "unrated"
    assert rec.errors == []


def test_player_is_modal(site: ReviewSite, new_page: Any) -> None:
    page, _ = new_page(site.url)
    open_with_keys(page, "sub-02")
    for _ in range(40):  # Tab never leaves the player
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "() => document.getElementById('player').contains(document.activeElement)"
        )
        assert inside, page.evaluate("() => document.activeElement.outerHTML.slice(0, 80)")
    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    page.keyboard.press("Escape")
    page.wait_for_selector("#help", state="hidden")
    page.keyboard.press("Escape")
    page.wait_for_selector("#player", state="hidden")
    assert page.evaluate("() => document.getElementById('grid').inert") is False
    assert "selected" in card(page, "sub-02 · ses-1").get_attribute("class")
