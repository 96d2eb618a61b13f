"""Build the review page ``OUTPUT_DIR/index.html`` from the per-image sidecars.

The page is one self-contained HTML file (all CSS and JavaScript inline, no network) that
links the MP4s, posters, sidecars and logs by paths relative to the page. It is rebuilt from
the sidecars alone: nothing is rendered or decoded here, so rebuilding the page for a study of
thousands of images takes a fraction of a second.

The image metadata is embedded as JSON in ``<script type="application/json">`` with ``<``,
``>`` and ``&`` escaped as ``\\u003c`` etc., so no label can close the script element; the
page's JavaScript only ever inserts metadata with ``textContent`` and other safe DOM APIs.
A Content-Security-Policy with the hashes of the page's own script and style blocks any other
script, and any network access, as a second line of defence.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import html
import json
import math
import os
import posixpath
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .atomic import write_text_atomic
from .columns import pack_records
from .group import card_quality, page_quality

__all__ = [
    "ENTITY_ORDER",
    "build_review_page",
    "card_from_sidecar",
    "collect_sidecars",
    "embed_json",
    "read_sidecar",
    "render_review_html",
    "summarize_cards",
]

#: BIDS entity order (long names as pybids reports them); unknown entities sort after these.
ENTITY_ORDER: tuple[str, ...] = (
    "subject",
    "session",
    "sample",
    "task",
    "tracksys",
    "acquisition",
    "nucleus",
    "volume",
    "ceagent",
    "tracer",
    "stain",
    "reconstruction",
    "direction",
    "run",
    "modality",
    "echo",
    "flip",
    "inversion",
    "mtransfer",
    "part",
    "processing",
    "hemisphere",
    "space",
    "split",
    "recording",
    "chunk",
    "segmentation",
    "resolution",
    "density",
    "label",
    "description",
    "suffix",
    "datatype",
    "extension",
)

_ENTITY_RANK = {name: rank for rank, name in enumerate(ENTITY_ORDER)}
_TEMPLATE = "templates/review.html"
_PLACEHOLDER = re.compile(r"__NEUROVID_([A-Z_]+)__")
_MAX_TEXT = 2000  # longest metadata string kept on the page (a pathological sidecar stays small)


# --------------------------------------------------------------------------------------------
# Finding and reading sidecars
# --------------------------------------------------------------------------------------------


def collect_sidecars(output_dir: Path) -> list[Path]:
    """Find the per-image sidecars of an output folder.

    Parameters
    ----------
    output_dir : Path
        The workflow's OUTPUT_DIR.

    Returns
    -------
    list of Path
        ``sub-*/anat/*.json`` and ``sub-*/ses-*/anat/*.json``, sorted by path.
    """
    output_dir = Path(output_dir)
    found = [
        *output_dir.glob("sub-*/anat/*.json"),
        *output_dir.glob("sub-*/ses-*/anat/*.json"),
    ]
    return sorted({p for p in found if p.is_file()}, key=lambda p: p.as_posix())


def read_sidecar(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Read one sidecar without ever raising.

    Parameters
    ----------
    path : Path
        The sidecar JSON file.

    Returns
    -------
    data : dict or None
        The parsed sidecar, or None if it could not be read.
    error : str or None
        One line saying why the sidecar could not be read, or None.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return None, f"sidecar could not be read: {exc.strerror or exc}"
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"sidecar is not valid JSON: {_one_line(str(exc))}"
    if not isinstance(data, dict):
        return None, "sidecar is not a JSON object"
    return data, None


# --------------------------------------------------------------------------------------------
# Turning a sidecar into a card record
# --------------------------------------------------------------------------------------------


def _one_line(text: Any, limit: int = _MAX_TEXT) -> str:
    """Collapse whitespace so that any text is one line, and cap its length."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _text(value: Any) -> str | None:
    """A non-empty one-line string, or None."""
    if value is None or isinstance(value, dict | list):
        return None
    line = _one_line(value)
    return line or None


def _number(value: Any) -> float | int | None:
    """A finite int or float (bools and non-finite values become None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _numbers(value: Any, length: int | None = None) -> list[float | int] | None:
    """A list of finite numbers (optionally of a given length), or None."""
    if not isinstance(value, list | tuple) or not value:
        return None
    out = [_number(v) for v in value]
    if any(v is None for v in out) or (length is not None and len(out) < length):
        return None
    return out[:length] if length else out  # type: ignore[return-value]


def _planes(value: Any) -> list[dict[str, Any]] | None:
    """The sidecar's ``video.planes`` (one per panel) checked for the player, or None.

    The player computes each panel's slice and mm position at every frame from these
    (:class:`neurovid.sidecar.PlaneRecord`); anything malformed gives None and the page
    shows frame numbers only.
    """
    if not isinstance(value, list) or len(value) != 3:
        return None
    planes = []
    for item in value:
        if not isinstance(item, Mapping) or item.get("axis") not in ("x", "y", "z"):
            return None
        numbers = {k: _number(item.get(k)) for k in ("slices", "first", "count")}
        mm = {k: _number(item.get(k)) for k in ("start_mm", "step_mm")}
        if any(not isinstance(v, int) for v in numbers.values()) or None in mm.values():
            return None
        if numbers["count"] < 1 or numbers["first"] < 0 or numbers["slices"] < 1:
            return None
        planes.append({"plane": _text(item.get("plane")), "axis": item["axis"], **numbers, **mm})
    return planes if sorted(p["axis"] for p in planes) == ["x", "y", "z"] else None


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A sub-object of the sidecar, or an empty mapping if missing or of the wrong type."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


@functools.lru_cache(maxsize=4096)
def _rel_dir(folder: str, page_dir: str) -> str:
    """The folder as a POSIX path relative to the page's folder (both made absolute)."""
    rel = os.path.relpath(os.path.abspath(folder), os.path.abspath(page_dir))
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _link(base_rel: str, name: Any, page_dir: str) -> str | None:
    """A percent-encoded link to ``name`` (relative to a folder ``base_rel`` from the page).

    ``name`` comes from a sidecar; absolute names are linked relative to the page too. The
    result never carries a URL scheme (``:`` is percent-encoded) and never starts with ``/``.
    Every character of the name is kept (tabs, line breaks, runs of spaces are legal in file
    names and are percent-encoded, never collapsed), so the link names the file on disk.
    """
    if not isinstance(name, str) or not name or len(name) > 4 * _MAX_TEXT:
        return None
    text = name
    if text.startswith("/"):
        target = _rel_dir(text, page_dir)
    else:
        target = posixpath.normpath(f"{base_rel}/{text}")
    encoded = quote(target, safe="/")  # ':' is encoded, so the link can't carry a scheme
    return encoded if not encoded.startswith("/") else "." + encoded


def _entities(data: Mapping[str, Any]) -> list[list[str]]:
    """The sidecar's entities as ``[name, value]`` pairs in BIDS order."""
    raw = _section(data, "entities")
    pairs = []
    for key, value in raw.items():
        name, text = _text(key), _text(value)
        if name and text is not None:
            pairs.append([name, text])
    pairs.sort(key=lambda kv: (_ENTITY_RANK.get(kv[0], len(ENTITY_ORDER) - 3), kv[0]))
    return pairs


def _entities_from_path(path: Path) -> list[list[str]]:
    """Subject and session guessed from a sidecar's folders (for unreadable sidecars)."""
    pairs = []
    for part in path.parts:
        if part.startswith("sub-") and not pairs:
            pairs.append(["subject", part[4:]])
        elif part.startswith("ses-") and pairs and len(pairs) == 1:
            pairs.append(["session", part[4:]])
    return pairs


def card_from_sidecar(
    data: Mapping[str, Any] | None,
    sidecar_path: Path,
    output_dir: Path,
    page_dir: Path | None = None,
    *,
    read_error: str | None = None,
) -> dict[str, Any]:
    """Turn one sidecar into the record the page shows as a card.

    Parameters
    ----------
    data : Mapping or None
        The parsed sidecar, or None if it could not be read.
    sidecar_path : Path
        Where the sidecar is; ``video.file`` and ``video.poster`` are relative to its folder.
    output_dir : Path
        OUTPUT_DIR; the sidecar's ``log`` is relative to it.
    page_dir : Path, optional
        The folder of the page; links are relative to it (default: ``output_dir``).
    read_error : str, optional
        Why the sidecar could not be read; the card is then a failed card saying so.

    Returns
    -------
    dict
        A JSON-serialisable card: status, error, entities, image metadata, video details and
        relative links (``video``, ``poster``, ``sidecar``, ``log``). Links are None when absent.
    """
    sidecar_path = Path(sidecar_path)
    page = os.fspath(page_dir if page_dir is not None else output_dir)
    folder_rel = _rel_dir(os.path.dirname(os.fspath(sidecar_path)), page)
    output_rel = _rel_dir(os.fspath(output_dir), page)
    card: dict[str, Any] = {
        "status": "failed",
        "error": None,
        "warnings": [],
        "source": None,
        "entities": [],
        "sidecar": _link(folder_rel, sidecar_path.name, page),
        "sidecarName": sidecar_path.name,
        "log": None,
        "logName": None,
        "shape": None,
        "volumes": None,
        "voxelMm": None,
        "axcodes": None,
        "datatype": None,
        "obliquityDeg": None,
        "nonfinite": None,
        "window": None,
        "video": None,
        "poster": None,
        "sha256": None,
        "inputSha256": None,  # ratings are keyed by the input's checksum (neurovid.ratings)
        "fps": None,
        "frames": None,
        "durationS": None,
        "width": None,
        "height": None,
        "sweep": None,  # player (issue 12): with planes, the slice and mm of every frame
        "planes": None,
        "quality": None,  # triage (issue 10): measures and flags (neurovid.group.card_quality)
    }
    if data is None:
        card["error"] = _one_line(read_error or "sidecar could not be read")
        inside = _relative_to(sidecar_path, Path(output_dir))
        card["entities"] = _entities_from_path(inside)
        card["source"] = inside.as_posix()
        return card

    card["source"] = _text(data.get("source"))
    card["entities"] = _entities(data)
    warnings = data.get("warnings")
    if isinstance(warnings, list):
        card["warnings"] = [w for w in (_text(x) for x in warnings[:50]) if w]
    card["log"] = _link(output_rel, data.get("log"), page)
    card["logName"] = _text(data.get("log")) if card["log"] else None

    image = _section(data, "image")
    card["shape"] = _numbers(image.get("shape"))
    card["volumes"] = _number(image.get("n_volumes"))
    card["voxelMm"] = _numbers(image.get("voxel_sizes_mm"))
    card["axcodes"] = _text(image.get("axis_codes"))
    card["datatype"] = _text(image.get("datatype"))
    card["obliquityDeg"] = _number(image.get("obliquity_deg"))
    card["nonfinite"] = _number(image.get("nonfinite_voxels"))
    window = _section(data, "window")
    low, high = _number(window.get("low")), _number(window.get("high"))
    card["window"] = [low, high] if low is not None and high is not None else None

    video = _section(data, "video")
    card["video"] = _link(folder_rel, video.get("file"), page)
    card["poster"] = _link(folder_rel, video.get("poster"), page)
    card["sha256"] = _text(video.get("sha256"))
    card["inputSha256"] = _text(_section(data, "input").get("sha256"))
    card["fps"] = _number(video.get("fps"))
    card["frames"] = _number(video.get("frame_count"))
    card["durationS"] = _number(video.get("duration_s"))
    card["width"] = _number(video.get("width"))
    card["height"] = _number(video.get("height"))
    sweep = video.get("sweep")
    card["sweep"] = sweep if sweep in ("together", "sequential") else None
    card["planes"] = _planes(video.get("planes"))
    card["quality"] = card_quality(data.get("quality"))

    status = data.get("status")
    error = _text(data.get("error"))
    if status == "rendered" and card["video"]:
        card["status"] = "rendered"
    elif status == "rendered":
        card["error"] = "the sidecar says rendered but names no video"
    elif status == "failed":
        card["error"] = error or "rendering failed (no reason recorded)"
    else:
        card["error"] = f"unknown status in sidecar: {_one_line(status, 80)!r}"
    if card["fps"] is not None and card["fps"] <= 0:
        card["fps"] = None
    return card


def _relative_to(path: Path, base: Path) -> Path:
    """``path`` relative to ``base`` if it is inside, else ``path`` itself."""
    try:
        return Path(path).resolve().relative_to(Path(base).resolve())
    except ValueError:
        return Path(path)


# --------------------------------------------------------------------------------------------
# Summary and page
# --------------------------------------------------------------------------------------------


def _entity(card: Mapping[str, Any], name: str) -> str | None:
    """The value of one entity of a card, or None."""
    for key, value in card.get("entities", ()):
        if key == name:
            return value
    return None


def summarize_cards(cards: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Count images, rendered and failed ones, overall and per session.

    Parameters
    ----------
    cards : iterable of Mapping
        Records from :func:`card_from_sidecar`.

    Returns
    -------
    dict
        ``{"images", "rendered", "failed", "unreadable", "sessions": {label: {"images",
        "rendered", "failed"}}}``; images without a session are counted under ``""``.
        Ratings live in the reviewer's browser, so the page computes "rated" itself.
    """
    summary: dict[str, Any] = {"images": 0, "rendered": 0, "failed": 0, "unreadable": 0}
    sessions: dict[str, dict[str, int]] = {}
    for card in cards:
        rendered = card.get("status") == "rendered"
        summary["images"] += 1
        summary["rendered" if rendered else "failed"] += 1
        if card.get("unreadable"):
            summary["unreadable"] += 1
        label = _entity(card, "session") or ""
        counts = sessions.setdefault(label, {"images": 0, "rendered": 0, "failed": 0})
        counts["images"] += 1
        counts["rendered" if rendered else "failed"] += 1
    summary["sessions"] = dict(sorted(sessions.items(), key=lambda kv: _natural_key(kv[0])))
    return summary


def _natural_key(text: str) -> list[tuple[int, int | str]]:
    """Sort key that orders ``2`` before ``10``."""
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text) if t]


def embed_json(data: Any) -> str:
    """Serialise data for a ``<script type="application/json">`` element.

    Parameters
    ----------
    data : Any
        JSON-serialisable data; non-finite floats are not allowed.

    Returns
    -------
    str
        JSON in which ``<``, ``>``, ``&`` and the line separators U+2028/U+2029 are written as
        ``\\u`` escapes, so the text can never close the script element or open a comment.
        ``json.loads`` of the result gives the data back unchanged.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@functools.lru_cache(maxsize=1)
def _template() -> tuple[str, str]:
    """The page template and its Content-Security-Policy (hashes of its script and style)."""
    text = resources.files("neurovid").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, attrs, body in re.findall(r"<(script|style)([^>]*)>(.*?)</\1>", text, re.S):
        if tag == "script" and "application/json" in attrs:
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes[tag].append(f"'sha256-{digest}'")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(hashes['script'])}",
            f"style-src {' '.join(hashes['style'])}",
            "img-src 'self' file: data: blob:",
            "media-src 'self' file: blob:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return text, csp


def render_review_html(
    cards: Sequence[Mapping[str, Any]],
    *,
    dataset_name: str = "",
    summary: Mapping[str, Any] | None = None,
    generated: str | None = None,
    ratings: Mapping[str, Any] | None = None,
    run_record: Mapping[str, Any] | None = None,
) -> str:
    """Fill the page template with the cards.

    Parameters
    ----------
    cards : sequence of Mapping
        Records from :func:`card_from_sidecar`.
    dataset_name : str, optional
        Shown in the title; escaped.
    summary : Mapping, optional
        From :func:`summarize_cards` (computed if not given).
    generated : str, optional
        Timestamp shown on the page (default: now, UTC, ISO 8601).
    ratings : Mapping, optional
        From :func:`neurovid.ratings.review_page_ratings`: the dataset id that names the
        page's rating storage, case codes, merged ratings and agreement.
    run_record : Mapping, optional
        The last workflow run's ``selection`` (its filters) and ``not_rendered`` (files
        that look like images but are not BIDS images: ``[{"path", "reason"}]``), shown in
        the page's "Not rendered" section (:func:`read_run_record`).

    Returns
    -------
    str
        The complete HTML page.
    """
    summary = summary if summary is not None else summarize_cards(cards)
    generated = generated or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    entity_columns = sorted(
        {
            k
            for card in cards
            for k, _ in card.get("entities", ())
            if k not in ("subject", "session")
        },
        key=lambda k: (_ENTITY_RANK.get(k, len(ENTITY_ORDER) - 3), k),
    )
    cards, quality = page_quality(cards)  # triage (issue 10): attention, z-scores, outliers
    payload = {
        "neurovid_review_version": 1,
        "dataset": dataset_name,
        "generated": generated,
        "entityColumns": entity_columns,
        "summary": summary,
        # column by column (issue 14): ~4x smaller at 20,000 images; the page unpacks it
        "images": pack_records(cards),
        "ratings": dict(ratings) if ratings else None,
        "run": _run_payload(run_record),
        "quality": quality,
    }
    title = f"neurovid review · {dataset_name}" if dataset_name else "neurovid review"
    template, csp = _template()
    values = {
        "CSP": html.escape(csp, quote=False).replace('"', "&quot;"),
        "TITLE": html.escape(title),
        "DATASET": html.escape(dataset_name or "unnamed dataset"),
        "GENERATED": html.escape(generated),
        "IMAGES": str(int(summary["images"])),
        "RENDERED": str(int(summary["rendered"])),
        "FAILED": str(int(summary["failed"])),
        "DATA": embed_json(payload),
    }
    # one pass, so text substituted in can never be substituted again
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def build_review_page(
    output_dir: Path,
    sidecar_paths: Sequence[Path],
    out_html: Path,
    *,
    dataset_name: str = "",
    ratings_json: Path | None = None,
    run_record: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the review page from the sidecars and write it atomically.

    Parameters
    ----------
    output_dir : Path
        OUTPUT_DIR (sidecar ``log`` paths are relative to it).
    sidecar_paths : sequence of Path
        The sidecars to show, one card each (e.g. from :func:`collect_sidecars`). A sidecar
        that cannot be read or parsed becomes a failed card saying so.
    out_html : Path
        The page to write, normally ``OUTPUT_DIR/index.html``; links are relative to its folder.
    dataset_name : str, optional
        Shown in the page title.
    ratings_json : Path, optional
        ``qc_ratings.json`` of the last merge (default: ``OUTPUT_DIR/qc_ratings.json`` if it
        exists): every rater's rating is shown on the cards. The derivative's dataset id is
        created in ``OUTPUT_DIR/.neurovid/`` if missing (it names the page's rating storage).
    run_record : Mapping, optional
        The filters and "not rendered" list of the last run (default: what
        ``OUTPUT_DIR/.neurovid/last_run.json`` says, see :func:`read_run_record`).

    Returns
    -------
    dict
        Summary counts, as :func:`summarize_cards` returns them.
    """
    output_dir = Path(output_dir)
    out_html = Path(out_html)
    page_dir = out_html.parent
    cards = []
    for sidecar in sorted({Path(p) for p in sidecar_paths}, key=lambda p: p.as_posix()):
        data, error = read_sidecar(sidecar)
        card = card_from_sidecar(data, sidecar, output_dir, page_dir, read_error=error)
        if data is None:
            card["unreadable"] = True
        cards.append(card)
    cards.sort(key=_card_sort_key)
    summary = summarize_cards(cards)
    from .ratings import review_page_ratings  # ratings (issue 11)

    if ratings_json is None and (output_dir / "qc_ratings.json").is_file():
        ratings_json = output_dir / "qc_ratings.json"
    files = [c["source"] for c in cards if c["source"]]
    ratings = review_page_ratings(output_dir, files, ratings_json)
    write_text_atomic(
        out_html,
        render_review_html(
            cards,
            dataset_name=dataset_name,
            summary=summary,
            ratings=ratings,
            run_record=run_record if run_record is not None else read_run_record(output_dir),
        ),
    )
    return summary


#: where the workflow records its last run for the page (filters, files not rendered)
RUN_RECORD = ".neurovid/last_run.json"


def read_run_record(output_dir: Path) -> dict[str, Any] | None:
    """``OUTPUT_DIR/.neurovid/last_run.json`` as written by the workflow, or None."""
    try:
        data = json.loads((Path(output_dir) / RUN_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _run_payload(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The run record as the page reads it: every value a short one-line string."""
    if not isinstance(record, Mapping):
        return None
    selection = {}
    raw_selection = record.get("selection")
    if isinstance(raw_selection, Mapping):
        for key, values in raw_selection.items():
            if isinstance(values, list):
                selection[_one_line(key, 80)] = [_one_line(v, 200) for v in values[:1000]]
    not_rendered = []
    raw_list = record.get("not_rendered")
    if isinstance(raw_list, list):
        for entry in raw_list[:20000]:
            if isinstance(entry, Mapping) and _text(entry.get("path")):
                # the path is shown as discovery wrote it (printable, one line): every
                # character counts, runs of spaces included
                path = str(entry["path"])[:_MAX_TEXT]
                not_rendered.append({"path": path, "reason": _one_line(entry.get("reason"))})
    return {"selection": selection, "notRendered": not_rendered,
            "finished": _text(record.get("finished"))}  # fmt: skip


def _card_sort_key(card: Mapping[str, Any]) -> tuple[Any, ...]:
    """Subject, session, then source path, in natural order."""
    return (
        _natural_key(_entity(card, "subject") or ""),
        _natural_key(_entity(card, "session") or ""),
        _natural_key(card.get("source") or card.get("sidecar") or ""),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m neurovid.report OUTPUT_DIR [--dataset-name NAME]``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0).
    """
    parser = argparse.ArgumentParser(description="Rebuild OUTPUT_DIR/index.html from sidecars.")
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--dataset-name", default="")
    parser.add_argument("--out", type=Path, help="page to write (default OUTPUT_DIR/index.html)")
    args = parser.parse_args(argv)
    out = args.out or args.output_dir / "index.html"
    start = time.perf_counter()
    summary = build_review_page(
        args.output_dir, collect_sidecars(args.output_dir), out, dataset_name=args.dataset_name
    )
    print(
        f"{out}: {summary['images']} images, {summary['rendered']} rendered, "
        f"{summary['failed']} failed ({time.perf_counter() - start:.2f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
