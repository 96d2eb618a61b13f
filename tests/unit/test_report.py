"""The review page builder (pure Python: no browser, no rendering)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from neurovid.atomic import write_text_atomic
from neurovid.columns import unpack_records
from neurovid.report import (
    build_review_page,
    card_from_sidecar,
    collect_sidecars,
    embed_json,
    read_sidecar,
    render_review_html,
    summarize_cards,
)

EVIL = "</script><script>alert(1)</script><!--"


def sidecar(sub: str, ses: str | None = None, **over: Any) -> dict[str, Any]:
    folder = f"sub-{sub}/ses-{ses}/anat" if ses else f"sub-{sub}/anat"
    stem = f"sub-{sub}_ses-{ses}_T1w" if ses else f"sub-{sub}_T1w"
    data: dict[str, Any] = {
        "neurovid_sidecar_version": 1,
        "status": "rendered",
        "error": None,
        "warnings": [],
        "source": f"{folder}/{stem}.nii.gz",
        "entities": {"subject": sub, **({"session": ses} if ses else {}), "suffix": "T1w"},
        "log": f"logs/render/{folder}/{stem}.log",
        "image": {
            "shape": [176, 256, 256],
            "n_volumes": 1,
            "voxel_sizes_mm": [1.0, 1.0, 1.2],
            "axis_codes": "PSR",
            "datatype": "int16",
            "obliquity_deg": 4.1,
            "nonfinite_voxels": 0,
        },
        "window": {"low": 1.0, "high": 2.0, "percentiles": [0.5, 99.5]},
        "video": {
            "file": f"{stem}.mp4",
            "poster": f"{stem}.png",
            "sha256": hashlib.sha256(stem.encode()).hexdigest(),
            "fps": 15,
            "frame_count": 256,
            "width": 1280,
            "height": 520,
            "duration_s": 17.07,
        },
    }
    data.update(over)
    return data


def write(root: Path, data: dict[str, Any] | str, name: str | None = None) -> Path:
    ents = data["entities"] if isinstance(data, dict) else {}
    sub, ses = ents.get("subject", "x"), ents.get("session")
    folder = root / (f"sub-{sub}/ses-{ses}/anat" if ses else f"sub-{sub}/anat")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or (Path(data["source"]).name.replace(".nii.gz", ".json")))
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def page_data(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="neurovid-data">(.*?)</script>', html, re.S)
    assert m, "no data block"
    data = json.loads(m.group(1))
    data["images"] = unpack_records(data["images"])  # column form (neurovid.columns)
    return data


# --------------------------------------------------------------------------------------------


def test_embed_json_escapes_markup_and_roundtrips() -> None:
    data = {"label": EVIL, "amp": "a & b > c", "ls": "x\u2028y\u2029z", "uni": "é✓"}
    text = embed_json(data)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert "\\u003c/script\\u003e" in text
    assert json.loads(text) == data


def test_embed_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        embed_json({"x": math.nan})


def test_collect_sidecars(tmp_path: Path) -> None:
    a = write(tmp_path, sidecar("01", "1"))
    b = write(tmp_path, sidecar("01"))
    c = write(tmp_path, sidecar("10", "2"))
    (tmp_path / "logs/render/sub-01/anat").mkdir(parents=True)
    (tmp_path / "logs/render/sub-01/anat/x.json").write_text("{}")
    (tmp_path / "dataset_description.json").write_text("{}")
    (tmp_path / "sub-01/anat/notes.txt").write_text("")
    (tmp_path / "sub-01/anat/nested").mkdir()
    (tmp_path / "sub-01/anat/nested/y.json").write_text("{}")
    assert collect_sidecars(tmp_path) == sorted([a, b, c], key=lambda p: p.as_posix())
    assert collect_sidecars(tmp_path / "missing") == []


def test_read_sidecar_never_raises(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"status": "rendered"}))
    assert read_sidecar(good) == ({"status": "rendered"}, None)
    for content, message in [
        ("{oops", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (b"\xff\xfe\x00", "not valid JSON"),
        ("", "not valid JSON"),
    ]:
        path = tmp_path / "bad.json"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        data, error = read_sidecar(path)
        assert data is None and message in error and "\n" not in error
    data, error = read_sidecar(tmp_path / "missing.json")
    assert data is None and "could not be read" in error


def test_card_links_are_relative_to_the_page(tmp_path: Path) -> None:
    path = write(tmp_path, sidecar("01", "1"))
    card = card_from_sidecar(json.loads(path.read_text()), path, tmp_path)
    assert card["status"] == "rendered"
    assert card["video"] == "sub-01/ses-1/anat/sub-01_ses-1_T1w.mp4"
    assert card["poster"] == "sub-01/ses-1/anat/sub-01_ses-1_T1w.png"
    assert card["sidecar"] == "sub-01/ses-1/anat/sub-01_ses-1_T1w.json"
    assert card["log"] == "logs/render/sub-01/ses-1/anat/sub-01_ses-1_T1w.log"
    assert card["entities"] == [["subject", "01"], ["session", "1"], ["suffix", "T1w"]]
    assert (card["shape"], card["voxelMm"], card["axcodes"]) == (
        [176, 256, 256],
        [1.0, 1.0, 1.2],
        "PSR",
    )
    assert (card["obliquityDeg"], card["fps"], card["frames"]) == (4.1, 15, 256)

    # a page elsewhere links back into OUTPUT_DIR
    card = card_from_sidecar(json.loads(path.read_text()), path, tmp_path, tmp_path / "qc")
    assert card["video"] == "../sub-01/ses-1/anat/sub-01_ses-1_T1w.mp4"
    assert card["log"] == "../logs/render/sub-01/ses-1/anat/sub-01_ses-1_T1w.log"


def test_card_links_are_percent_encoded_and_never_a_scheme(tmp_path: Path) -> None:
    data = sidecar("01")
    data["video"]["file"] = "we#ird name?.mp4"
    data["video"]["poster"] = "javascript:alert(1)"
    data["log"] = "https://example.org/x.log"
    path = write(tmp_path, data)
    card = card_from_sidecar(data, path, tmp_path)
    assert card["video"] == "sub-01/anat/we%23ird%20name%3F.mp4"
    assert card["poster"] == "sub-01/anat/javascript%3Aalert%281%29"
    assert not re.match(r"^[a-z][a-z0-9+.-]*:", card["log"], re.I)
    assert card["log"].startswith("https%3A")


@pytest.mark.parametrize("odd", ["tab\there", "new\nline", "two  spaces", " lead", "trail "])
def test_card_links_keep_every_character_of_the_name(tmp_path: Path, odd: str) -> None:
    # a link must name the file on disk: whitespace is percent-encoded, never collapsed
    data = sidecar("01")
    data["video"]["file"] = f"sub-01_{odd}.mp4"
    data["log"] = f"logs/render/{odd}.log"
    path = write(tmp_path, data)
    card = card_from_sidecar(data, path, tmp_path)
    assert card["video"] == "sub-01/anat/" + quote(f"sub-01_{odd}.mp4")
    assert card["log"] == "logs/render/" + quote(f"{odd}.log")


def test_failed_and_partial_sidecars(tmp_path: Path) -> None:
    data = {
        "status": "failed",
        "error": "sub-02/anat/sub-02_T1w.nii.gz: image is 2D\n(shape 256x256)",
        "source": "sub-02/anat/sub-02_T1w.nii.gz",
        "entities": {"subject": "02"},
        "log": "logs/render/sub-02/anat/sub-02_T1w.log",
        "image": {"shape": [256, 256], "obliquity_deg": None},
        "video": None,
        "window": None,
    }
    path = write(tmp_path, data, "sub-02_T1w.json")
    card = card_from_sidecar(data, path, tmp_path)
    assert card["status"] == "failed"
    assert card["error"] == "sub-02/anat/sub-02_T1w.nii.gz: image is 2D (shape 256x256)"
    assert card["video"] is None and card["poster"] is None and card["sha256"] is None
    assert card["log"] == "logs/render/sub-02/anat/sub-02_T1w.log"
    assert card["obliquityDeg"] is None

    weird = sidecar("03", image={"obliquity_deg": math.inf, "shape": "big"}, warnings="x")
    card = card_from_sidecar(weird, write(tmp_path, weird), tmp_path)
    assert card["obliquityDeg"] is None and card["shape"] is None and card["warnings"] == []

    no_video = sidecar("04", video={"sha256": "abc"})
    card = card_from_sidecar(no_video, write(tmp_path, no_video), tmp_path)
    assert card["status"] == "failed" and "names no video" in card["error"]

    odd = sidecar("05", status="maybe")
    card = card_from_sidecar(odd, write(tmp_path, odd), tmp_path)
    assert card["status"] == "failed" and "unknown status" in card["error"]


def test_summary_counts(tmp_path: Path) -> None:
    paths = [
        write(tmp_path, sidecar("01", "1")),
        write(tmp_path, sidecar("01", "2")),
        write(tmp_path, sidecar("02", "1", status="failed", error="broken")),
        write(tmp_path, sidecar("03")),
    ]
    bad = tmp_path / "sub-04/ses-10/anat/sub-04_ses-10_T1w.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    paths.append(bad)
    out = tmp_path / "index.html"
    summary = build_review_page(tmp_path, paths, out, dataset_name="ds")
    assert summary == {
        "images": 5,
        "rendered": 3,
        "failed": 2,
        "unreadable": 1,
        "sessions": {
            "": {"images": 1, "rendered": 1, "failed": 0},
            "1": {"images": 2, "rendered": 1, "failed": 1},
            "2": {"images": 1, "rendered": 1, "failed": 0},
            "10": {"images": 1, "rendered": 0, "failed": 1},
        },
    }
    data = page_data(out.read_text())
    assert data["summary"] == summary
    unreadable = [c for c in data["images"] if c.get("unreadable")]
    assert len(unreadable) == 1
    assert unreadable[0]["status"] == "failed"
    assert "not valid JSON" in unreadable[0]["error"]
    assert unreadable[0]["entities"] == [["subject", "04"], ["session", "10"]]
    assert unreadable[0]["sidecar"] == "sub-04/ses-10/anat/sub-04_ses-10_T1w.json"
    assert summarize_cards([]) == {
        "images": 0,
        "rendered": 0,
        "failed": 0,
        "unreadable": 0,
        "sessions": {},
    }


def test_cards_are_in_natural_order(tmp_path: Path) -> None:
    paths = [write(tmp_path, sidecar(s, t)) for s, t in [("10", "1"), ("2", "10"), ("2", "9")]]
    build_review_page(tmp_path, paths, tmp_path / "index.html")
    images = page_data((tmp_path / "index.html").read_text())["images"]
    assert [c["source"].split("/")[0:2] for c in images] == [
        ["sub-2", "ses-9"],
        ["sub-2", "ses-10"],
        ["sub-10", "ses-1"],
    ]


def test_markup_in_metadata_cannot_break_out(tmp_path: Path) -> None:
    data = sidecar("01", warnings=[EVIL], error=None)
    data["entities"]["subject"] = EVIL
    data["entities"]["acquisition"] = "a&b"
    path = write(tmp_path, sidecar("01"))
    path.write_text(json.dumps(data))
    out = tmp_path / "index.html"
    build_review_page(tmp_path, [path], out, dataset_name=f"ds {EVIL}")
    html = out.read_text()
    assert "<script>alert(1)" not in html
    assert html.count("</script>") == 2  # the data block and the page script
    assert html.count("<!--") == 0
    assert "<title>neurovid review · ds &lt;/script&gt;&lt;script&gt;" in html
    data_out = page_data(html)
    card = data_out["images"][0]
    assert card["entities"][0] == ["subject", EVIL] and card["warnings"] == [EVIL]
    assert data_out["dataset"] == f"ds {EVIL}"
    assert data_out["entityColumns"] == ["acquisition", "suffix"]


def test_page_is_self_contained_with_a_strict_csp(tmp_path: Path) -> None:
    path = write(tmp_path, sidecar("01"))
    html = render_review_html(
        [card_from_sidecar(json.loads(path.read_text()), path, tmp_path)], dataset_name="x"
    )
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "<link" not in html
    assert "__NEUROVID_" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for tag in ("script", "style"):
        bodies = [
            body
            for attrs, body in re.findall(rf"<{tag}([^>]*)>(.*?)</{tag}>", html, re.S)
            if "application/json" not in attrs
        ]
        assert len(bodies) == 1
        digest = base64.b64encode(hashlib.sha256(bodies[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    # the page's script never writes data as markup
    script = re.findall(r"<script>(.*?)</script>", html, re.S)[0]
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script and "eval(" not in script
    video = re.search(r"<video[^>]*>", html).group(0)
    assert 'preload="none"' in video and "autoplay" not in video


def test_write_is_atomic_and_world_readable(tmp_path: Path) -> None:
    out = tmp_path / "site" / "index.html"
    write_text_atomic(out, "one")
    inode = out.stat().st_ino
    write_text_atomic(out, "two ✓")
    assert out.read_text(encoding="utf-8") == "two ✓"
    assert out.stat().st_ino != inode  # replaced, not rewritten in place
    assert sorted(p.name for p in out.parent.iterdir()) == ["index.html"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_failed_write_leaves_the_old_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "index.html"
    out.write_text("old")

    def boom(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(out, "new")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


def test_rebuild_reflects_new_sidecars(tmp_path: Path) -> None:
    out = tmp_path / "index.html"
    first = [write(tmp_path, sidecar("01"))]
    assert build_review_page(tmp_path, first, out)["images"] == 1
    second = [*first, write(tmp_path, sidecar("02"))]
    assert build_review_page(tmp_path, collect_sidecars(tmp_path), out)["images"] == 2
    assert len(page_data(out.read_text())["images"]) == len(second)
