"""Triage on the review page, in real headless Chromium from file://: the needs-attention
order, flag badges and reasons on cards and in the player, the flags filter, the study view
(one plot per measure, click a dot to open its image), and a study of 2,000 images.

The study is rendered by neurovid itself: tiny synthetic heads (the template brain neurovid
ships, at 4 mm) that are clean, cut by the field of view, stored upside down, or drowned in
noise, plus one file that cannot be read; the page is built from their sidecars.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from importlib import resources
from typing import Any

import numpy as np
import pytest
from nibabel import Nifti1Image

from neurovid import quality
from neurovid.quality import MEASURE_NAMES, Flag, QualityReport
from neurovid.render import RenderOptions, render_image
from neurovid.report import build_review_page, collect_sidecars
from neurovid.sidecar import write_sidecar
from neurovid.testing import make_sidecar, nifti_bytes, write_nifti

pytestmark = pytest.mark.browser

VOXEL = (4.0, 4.0, 4.0)
#: a 1x1 grey PNG
POSTER = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c63680000008200816b0d6a8d0000000049454e44ae426082"
)
OPTIONS = RenderOptions(frame_width=480, fps=30)
TIMEOUT_MS = 20_000


def synthetic_head(noise: float, seed: int) -> np.ndarray:
    """The shipped template brain at 4 mm (core 110, rim 80), 20 mm of air, Rician noise."""
    raw = resources.files("neurovid").joinpath(quality.TEMPLATE_FILE).read_bytes()
    cells = np.asarray(Nifti1Image.from_stream(io.BytesIO(gzip.decompress(raw))).dataobj) / 255
    brain = cells.repeat(2, 0).repeat(2, 1).repeat(2, 2) > 0.5
    core = brain.copy()
    for axis in range(3):
        core &= np.roll(brain, 2, axis) & np.roll(brain, -2, axis)
    data = np.pad(np.where(core, 110.0, np.where(brain, 80.0, 0.0)), 5)
    for axis in range(3):  # soften the 8 mm steps of the cells, as anatomy is soft
        data = (np.roll(data, 1, axis) + data + np.roll(data, -1, axis)) / 3
    rng = np.random.default_rng(seed)
    real = data + rng.normal(0, noise, data.shape)
    imag = rng.normal(0, noise, data.shape)
    return np.sqrt(real * real + imag * imag).astype(np.float32)


def affine() -> np.ndarray:
    return np.diag([*VOXEL, 1.0])


@pytest.fixture(scope="module")
def triage_site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("triage")
    bids, out = root / "bids", root / "out"
    clean = synthetic_head(3.0, 0)
    top = int(np.flatnonzero((clean > 50).any(axis=(0, 1)))[-1])
    images = {
        "01": synthetic_head(3.0, 1),  # clean
        "02": np.ascontiguousarray(clean[:, :, : top - 6]),  # cut 28 mm into the head
        "03": np.ascontiguousarray(clean[:, :, ::-1]),  # stored upside down
        "04": synthetic_head(40.0, 4),  # noise
        "05": synthetic_head(3.0, 5),  # clean
    }
    for label, data in images.items():
        rel = f"sub-{label}/anat/sub-{label}_T1w.nii.gz"
        write_nifti(bids / rel, nifti_bytes(data, affine(), dtype="float32"))
        render_image(bids / rel, out / rel.replace(".nii.gz", ".mp4"), options=OPTIONS, source=rel)
    broken = "sub-00/anat/sub-00_T1w.nii.gz"
    (bids / broken).parent.mkdir(parents=True)
    (bids / broken).write_bytes(b"not an image")
    render_image(bids / broken, out / broken.replace(".nii.gz", ".mp4"), source=broken)
    html = out / "index.html"
    build_review_page(out, collect_sidecars(out), html, dataset_name="triage")
    sidecars = {p.name: json.loads(p.read_text()) for p in collect_sidecars(out)}
    return {"html": html, "sidecars": sidecars, "out": out}


def flags_of(site: dict[str, Any], label: str) -> list[dict[str, str]]:
    quality_record = site["sidecars"][f"sub-{label}_T1w.json"].get("quality") or {}
    return quality_record.get("flags", [])


def titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".card .title").all_inner_texts()]


def test_the_renders_flag_what_they_should(triage_site):
    assert [f["id"] for f in flags_of(triage_site, "01")] == []
    assert [f["id"] for f in flags_of(triage_site, "05")] == []
    assert [f["id"] for f in flags_of(triage_site, "02")] == ["head_cut_superior"]
    assert [f["id"] for f in flags_of(triage_site, "03")] == ["orientation"]
    assert [f["id"] for f in flags_of(triage_site, "04")] == ["low_snr"]
    assert triage_site["sidecars"]["sub-00_T1w.json"]["status"] == "failed"


def test_needs_attention_first_by_default_and_subject_order_one_key_away(triage_site, new_page):
    page, rec = new_page(triage_site["html"].as_uri())
    assert page.eval_on_selector("#sort", "e => e.value") == "attention"
    order = titles(page)
    assert order[0] == "sub-00"  # the failed render needs fixing first
    assert set(order[1:4]) == {"sub-02", "sub-03", "sub-04"}  # one flag each
    assert set(order[4:]) == {"sub-01", "sub-05"}
    page.keyboard.press("a")
    page.wait_for_function("() => document.getElementById('sort').value === 'subject'")
    assert titles(page) == ["sub-00", "sub-01", "sub-02", "sub-03", "sub-04", "sub-05"]
    page.keyboard.press("a")
    page.wait_for_function("() => document.getElementById('sort').value === 'attention'")
    assert titles(page)[1:4] == order[1:4]
    page.keyboard.press("?")
    help_text = page.locator("#help").inner_text()
    assert re.search(r"Order: needs attention first ↔ subject, session\s*a", help_text)
    assert "Study view" in help_text
    assert "Small study" in page.locator("#triage-note").inner_text()
    assert rec.errors == [] and [u for u in rec.requests if not u.startswith("file://")] == []


def test_flag_badges_on_cards_and_reasons_in_the_player(triage_site, new_page):
    page, rec = new_page(triage_site["html"].as_uri())
    card = page.locator(".card").filter(
        has=page.locator(".title", has_text=re.compile("^sub-02$"))
    )
    badge = card.locator(".badge.flag")
    assert badge.all_inner_texts() == ["cut superior"]
    (flag,) = flags_of(triage_site, "02")
    assert badge.get_attribute("title") == flag["reason"]
    clean = page.locator(".card").filter(
        has=page.locator(".title", has_text=re.compile("^sub-01$"))
    )
    assert clean.locator(".badge.flag").count() == 0
    card.locator(".thumb").click()
    page.wait_for_selector("#player:not([hidden])")
    assert page.locator("#p-triage").is_visible()
    assert page.locator("#p-flags li").all_inner_texts() == ["cut superior" + flag["reason"]]
    assert page.locator("#p-attn").inner_text().startswith("attention 1")
    page.keyboard.press("Escape")
    assert rec.errors == []


def test_flags_filter(triage_site, new_page):
    page, rec = new_page(triage_site["html"].as_uri())
    page.select_option("#f-flag", "flagged")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 3")
    assert sorted(titles(page)) == ["sub-02", "sub-03", "sub-04"]
    labels = page.locator("#f-flag option").all_inner_texts()
    assert "Flagged (3)" in labels and "orientation? (1)" in labels
    page.select_option("#f-flag", "flag:orientation")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    assert titles(page) == ["sub-03"]
    page.select_option("#f-flag", "unflagged")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 2")
    assert sorted(titles(page)) == ["sub-01", "sub-05"]
    page.reload()  # the filter is kept in the URL
    page.wait_for_selector("html[data-ready='1']")
    assert page.eval_on_selector("#f-flag", "e => e.value") == "unflagged"
    assert rec.errors == []


def test_study_view_plots_every_measure_and_a_dot_opens_its_image(triage_site, new_page):
    page, rec = new_page(triage_site["html"].as_uri())
    page.keyboard.press("v")
    page.wait_for_selector("#study[data-drawn='1']", timeout=TIMEOUT_MS)
    names = page.eval_on_selector_all(".plot", "ps => ps.map(p => p.dataset.measure)")
    assert names == list(MEASURE_NAMES)
    snr = page.locator(".plot[data-measure='snr'] canvas")
    assert snr.get_attribute("data-points") == "5"  # every rendered image has an SNR
    assert int(snr.get_attribute("data-highlighted")) >= 3  # the flagged ones
    assert page.locator(".plot[data-measure='snr'] .axis").inner_text().strip()
    # the dot of the noisy image: lowest SNR, drawn red
    dot = page.evaluate(
        """() => {
          const c = document.querySelector(".plot[data-measure='snr'] canvas");
          const p = c._points.reduce((a, b) => (a.v < b.v ? a : b));
          const box = c.getBoundingClientRect();
          return {x: box.left + p.x, y: box.top + p.y, kind: p.kind, file: p.img.source};
        }"""
    )
    assert dot["kind"] == "flagged" and dot["file"].startswith("sub-04/")
    page.mouse.move(dot["x"], dot["y"])
    assert "sub-04" in page.locator("#plot-tip").inner_text()
    page.mouse.click(dot["x"], dot["y"])
    page.wait_for_selector("#player:not([hidden])")
    assert page.locator("#study").is_hidden()
    assert "sub-04" in page.locator("#p-title").inner_text()
    assert page.locator("#p-flags .badge.flag").all_inner_texts() == ["low SNR"]
    page.keyboard.press("Escape")
    page.keyboard.press("v")  # again: already drawn
    assert page.locator("#study").is_visible()
    page.keyboard.press("j")  # keys do not reach the grid behind the view
    assert page.locator(".card.selected").count() <= 1
    page.keyboard.press("Escape")
    assert page.locator("#study").is_hidden()
    assert rec.errors == []


def test_study_of_2000_images_draws_every_dot(tmp_path, new_page):
    out = tmp_path / "big"
    rng = np.random.default_rng(7)
    for i in range(2000):
        source = f"sub-{i:04d}/anat/sub-{i:04d}_T1w.nii.gz"
        metrics = {name: float(rng.normal(50, 5)) for name in MEASURE_NAMES}
        metrics["snr"] = float(rng.lognormal(3, 0.2))
        flags = [Flag("ghosting", "ghosts")] if i % 97 == 0 else []
        record = make_sidecar(source, quality=QualityReport(metrics, flags).to_json())
        path = out / source.replace(".nii.gz", ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sidecar(record, path)
        path.with_suffix(".png").write_bytes(POSTER)  # the card's thumbnail
    html = out / "index.html"
    build_review_page(out, collect_sidecars(out), html)
    page, rec = new_page(html.as_uri())
    assert page.eval_on_selector("#f-flag option[value='flagged']", "o => o.textContent") == (
        "Flagged (21)"
    )
    assert "Small study" not in (page.locator("#triage-note").text_content() or "")
    first = titles(page)[:21]
    assert all(int(t[4:]) % 97 == 0 for t in first)  # the flagged ones lead
    page.keyboard.press("v")
    page.wait_for_selector("#study[data-drawn='1']", timeout=TIMEOUT_MS)
    points = page.eval_on_selector_all(".plot canvas", "cs => cs.map(c => c.dataset.points)")
    assert points == ["2000"] * len(MEASURE_NAMES)
    assert rec.errors == []
