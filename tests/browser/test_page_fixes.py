"""Review-page fixes of issue 12, in real Chromium: titles, links, state, keys, time, contrast,
memory."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from neurovid.report import build_review_page, collect_sidecars
from neurovid.sidecar import write_sidecar
from neurovid.testing import make_sidecar

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
CONTRAST_JS = (Path(__file__).with_name("contrast.js")).read_text()
LONG = (
    "sub-{n:04d}/ses-baseline20240131/anat/"
    "sub-{n:04d}_ses-baseline20240131_acq-mprageGrappa2iso08_rec-normalizedPrescan_run-{run}_T1w"
)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """230 images (three pages) with long BIDS names, every fifth one failed."""
    out = tmp_path_factory.mktemp("many") / "out"
    for n in range(230):
        stem = LONG.format(n=n // 2, run=n % 2 + 1)
        source = f"{stem}.nii.gz"
        sidecar = make_sidecar(source, status="failed") if n % 5 == 4 else make_sidecar(source)
        path = out / f"{stem}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sidecar(sidecar, path)
    build_review_page(out, collect_sidecars(out), out / "index.html", dataset_name="many")
    return out / "index.html"


def entities_of(source: str) -> list[str]:
    """``key-value`` words and the suffix of a BIDS file name."""
    name = source.rsplit("/", 1)[-1].split(".")[0]
    return name.split("_")


def page_errors(rec: Any) -> list[str]:
    """Errors of the page itself (the 230-image site has no posters: those 404s are expected)."""
    return [e for e in rec.errors if "ERR_FILE_NOT_FOUND" not in e]


def open_rendered(page: Any) -> None:
    """Open the player on a rendered image of the small site (whatever the card order)."""
    page.keyboard.press("/")
    page.keyboard.type("run-1")
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.hash.includes('q=run-1')")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#player:not([hidden])")


def name_rater(page: Any) -> None:
    page.evaluate("() => localStorage.setItem('neurovid.rater', 'tester')")
    page.reload()
    page.wait_for_selector("html[data-ready='1']")


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [360, 800, 1280, 1920, 2560])
def test_titles_keep_every_entity_visible(many, browser, width) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(many.as_uri())
    page.wait_for_selector("html[data-ready='1']")
    report = page.evaluate(
        """() => [...document.querySelectorAll('.card')].slice(0, 40).map(card => {
            const box = card.getBoundingClientRect();
            const parts = [...card.querySelectorAll('.title, .chip')];
            return {
              text: parts.map(p => p.textContent).join(' '),
              source: card.querySelector('.thumb').getAttribute('aria-label'),
              cut: parts.filter(p => p.scrollWidth > p.clientWidth + 1
                || p.getBoundingClientRect().right > box.right + 1
                || p.getBoundingClientRect().left < box.left - 1).map(p => p.textContent),
            };
          })"""
    )
    assert len(report) == 40
    for card in report:
        source = re.search(r"\((.*)\)$", card["source"]).group(1)
        for word in entities_of(source):
            assert word in card["text"].replace("\u00b7", " ").split(), (word, card["text"])
        assert card["cut"] == [], card
    context.close()


def test_file_links_open_in_a_new_tab_and_the_page_keeps_its_place(many, new_page) -> None:
    page, rec = new_page(many.as_uri())
    page.keyboard.press("/")
    page.keyboard.type("run-2")
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.hash.includes('q=run-2')")
    links = page.eval_on_selector_all(
        "#grid a[href]", "els => els.map(a => [a.target, a.rel, a.getAttribute('href')])"
    )
    assert links and all(t == "_blank" and "noopener" in r for t, r, _ in links)
    url = page.url
    with page.context.expect_page() as opened:
        page.locator(".card .links a", has_text="Sidecar").first.click()
    sidecar_page = opened.value
    sidecar_page.wait_for_load_state()
    assert sidecar_page.url.endswith(".json")
    assert json.loads(sidecar_page.locator("body").inner_text())["neurovid_sidecar_version"] == 1
    assert page.url == url and page.input_value("#search") == "run-2"
    assert page_errors(rec) == []


def test_page_state_survives_reload_and_back(many, new_page) -> None:
    page, rec = new_page(many.as_uri())
    page.keyboard.press("/")
    page.keyboard.type("baseline")
    page.keyboard.press("Escape")
    page.select_option("#f-status", "rendered")
    page.select_option("#sort", "file")
    page.locator("#pager-top .pager-next").click()  # page 2
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    chosen = page.locator(".card.selected .thumb").get_attribute("aria-label")
    page.keyboard.press("Enter")
    page.wait_for_selector("#player:not([hidden])")
    title = page.inner_text("#p-title")

    def same_place(player_open: bool) -> None:
        page.wait_for_selector("html[data-ready='1']")
        assert page.input_value("#search") == "baseline"
        assert page.input_value("#f-status") == "rendered"
        assert page.input_value("#sort") == "file"
        assert "Page 2 of" in page.inner_text("#pager-top")
        assert page.locator("#player").is_visible() == player_open
        if player_open:
            assert page.inner_text("#p-title") == title
        else:
            assert page.locator(".card.selected .thumb").get_attribute("aria-label") == chosen

    page.reload()
    same_place(player_open=True)
    page.keyboard.press("Escape")  # close the player; the grid keeps the place
    same_place(player_open=False)
    page.goto(many.parent.joinpath("dataset_description.json").as_uri()
              if many.parent.joinpath("dataset_description.json").exists()
              else "about:blank")  # fmt: skip
    page.go_back()
    same_place(player_open=False)
    page.reload()
    same_place(player_open=False)
    assert page_errors(rec) == []


def test_space_and_enter_act_on_a_focused_control(site, new_page) -> None:
    page, rec = new_page(site.url)
    name_rater(page)
    open_rendered(page)
    page.wait_for_function("() => document.getElementById('p-video').readyState >= 2")
    page.keyboard.press(" ")  # the stage has the focus: Space plays / pauses
    page.wait_for_timeout(200)
    playing = not page.evaluate("() => document.getElementById('p-video').paused")

    def tab_to(selector: str) -> None:
        for _ in range(60):
            if page.evaluate("s => document.activeElement.matches(s)", selector):
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#opt-loop")
    before = page.is_checked("#opt-loop")
    page.keyboard.press(" ")
    assert page.is_checked("#opt-loop") != before  # the checkbox, not the video
    assert (not page.evaluate("() => document.getElementById('p-video').paused")) == playing
    tab_to(".rate.pass")
    page.keyboard.press("Enter")
    assert page.get_attribute(".rate.pass", "aria-pressed") == "true"
    page.keyboard.press(" ")
    assert page.get_attribute(".rate.pass", "aria-pressed") == "false"
    assert (not page.evaluate("() => document.getElementById('p-video').paused")) == playing
    page.click(".rate.doubtful")  # clicked with the mouse: Space still plays / pauses
    page.keyboard.press(" ")
    page.wait_for_timeout(200)
    assert (not page.evaluate("() => document.getElementById('p-video').paused")) != playing
    assert page.get_attribute(".rate.doubtful", "aria-pressed") == "true"
    assert page_errors(rec) == []


def test_saved_time_is_local_with_its_zone(site, browser) -> None:
    context = browser.new_context(timezone_id="Asia/Kolkata")  # UTC+05:30, no summer time
    page = context.new_page()
    page.goto(site.url)
    page.wait_for_selector("html[data-ready='1']")
    name_rater(page)
    open_rendered(page)
    page.keyboard.press("1")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")  # open again: the stored rating is shown with its time
    page.wait_for_selector("#player:not([hidden])")
    shown = page.inner_text("#p-saved")
    match = re.fullmatch(r"saved (\d{4}-\d\d-\d\d \d\d:\d\d) GMT\+5:30 by tester", shown)
    assert match, shown
    stored = page.evaluate(
        """() => { for (let i = 0; i < localStorage.length; i++) {
              const v = localStorage.getItem(localStorage.key(i));
              if (v && v.includes('"rating":"pass"')) return JSON.parse(v).timestamp; } }"""
    )
    utc = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    assert match.group(1) == (utc + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M")
    context.close()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_text_contrast_is_at_least_4_5_to_1(site, many, new_page, theme) -> None:
    for url in (site.url, many.as_uri()):
        page, rec = new_page(url)
        name_rater(page)
        page.evaluate("t => { document.documentElement.dataset.theme = t; }", theme)
        assert page.evaluate(CONTRAST_JS) == [], "grid"
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_selector("#player:not([hidden])")
        page.keyboard.press("2")
        page.keyboard.press("m")
        assert page.evaluate(CONTRAST_JS) == [], "player"
        page.keyboard.press("?")
        assert page.evaluate(CONTRAST_JS) == [], "help"


def test_cards_of_pages_not_shown_are_released(many, new_page) -> None:
    page, rec = new_page(many.as_uri())
    cdp = page.context.new_cdp_session(page)

    def live_nodes() -> int:
        cdp.send("HeapProfiler.collectGarbage")
        return cdp.send("Memory.getDOMCounters")["nodes"]

    first = live_nodes()
    for _ in range(2):
        page.locator("#pager-top .pager-next").click()
        page.wait_for_timeout(100)
    page.locator("#pager-top button", has_text="«").click()
    after = live_nodes()
    # three pages of ~100 cards each were built: kept, they would be ~3× the nodes
    assert after < first * 1.25, (first, after)
    assert page_errors(rec) == []
