"""QC ratings as data: the rater export, the merged ``qc_ratings`` table, consensus and queue.

One definition of every ratings record neurovid exchanges (docs/ratings.md describes them):

- :class:`RatingRecord` — one rater's rating of one image in one presentation; a row of a
  rater export. The review page writes exports (TSV or JSON, :class:`RaterExport`); the
  page's own column list and labels come from :func:`page_format`, so the page and this
  module cannot drift apart.
- :class:`QCRatingRow` — one row of ``OUTPUT_DIR/qc_ratings.tsv``: the consensus of all raters
  for one image, described column by column in ``qc_ratings.json`` (:data:`QC_COLUMNS`).
- :func:`consensus` — how several raters' labels become one (:data:`CONSENSUS_RULES`). The
  merge itself (matching ratings to images by the *input's* SHA-256, reporting what it does not
  merge, agreement) is :mod:`neurovid.ratings_merge`.
- :func:`review_queue` and :func:`blind_code` — the blinded review's seeded order with catch
  trials and its stable case codes; the page runs the same algorithm in JavaScript (a browser
  test checks that both give the same queue).

TSV files follow BIDS (tab-separated, ``n/a`` for empty) and are safe to open in a spreadsheet:
a text cell that starts with ``=``, ``+``, ``-`` or ``@`` is written with a leading apostrophe
(:func:`tsv_cell`), which :func:`tsv_value` removes again. JSON is read with a hook that
rejects the keys ``__proto__``, ``constructor`` and ``prototype``, as the page's import does.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .bidsname import ENTITY_ORDER

__all__ = [
    "CONSENSUS_RULES",
    "DEFAULT_CONSENSUS",
    "EXPORT_VERSION",
    "PROTOTYPE_KEYS",
    "QC_COLUMNS",
    "RATING_LABELS",
    "RATING_NUMERIC",
    "TAGS",
    "ImageInfo",
    "QCRatingRow",
    "RaterExport",
    "RatingRecord",
    "RatingsFileError",
    "ReviewSettings",
    "blind_code",
    "consensus",
    "entity_column_name",
    "entity_columns",
    "ensure_dataset_id",
    "images_from_sidecars",
    "load_json_strict",
    "natural_key",
    "page_format",
    "read_dataset_id",
    "rating_exports",
    "read_qc_ratings",
    "review_page_ratings",
    "review_queue",
    "tsv_cell",
    "tsv_value",
]

#: Ratings, best first, and their numeric form (as mriqc-learn's labels: 1 / 0 / -1).
RATING_LABELS: tuple[str, ...] = ("pass", "doubtful", "fail")
RATING_NUMERIC: dict[str, int] = {"pass": 1, "doubtful": 0, "fail": -1}
#: Artefact tags: (id, label shown on the page, key that toggles it on the page).
TAGS: tuple[tuple[str, str, str], ...] = (
    ("motion", "Motion", "m"),
    ("ringing", "Ringing", "r"),
    ("wrap_around", "Wrap-around", "w"),
    ("low_snr", "Low SNR", "s"),
    ("intensity_inhomogeneity", "Intensity inhomogeneity", "i"),
    ("defacing_damage", "Defacing damage", "d"),
    ("fov_cutoff", "Field-of-view cut-off", "f"),
    ("other", "Other", "o"),
)
TAG_IDS: tuple[str, ...] = tuple(tag for tag, _, _ in TAGS)
#: Version of the rater export this module writes (1: the page before ratings were data).
EXPORT_VERSION = 2
#: Keys an import refuses anywhere in a JSON document or as a TSV column: they would reach an
#: object's prototype in the page's JavaScript.
PROTOTYPE_KEYS: frozenset[str] = frozenset({"__proto__", "constructor", "prototype"})
#: How the ratings of several raters become one; ``ratings.consensus`` in the config.
CONSENSUS_RULES: dict[str, str] = {
    "majority_fail_wins_ties": (
        "the label most raters gave; on a tie the worse of the tied labels (fail before "
        "doubtful before pass)"
    ),
    "majority_doubtful_wins_ties": (
        "the label most raters gave; on a tie between different labels, doubtful"
    ),
    "worst": "the worst label any rater gave (one fail makes the image fail)",
    "mean": (
        "the mean of the numeric ratings (pass 1, doubtful 0, fail -1): ≥ 1/3 pass, "
        "≤ -1/3 fail, otherwise doubtful"
    ),
}
DEFAULT_CONSENSUS = "majority_fail_wins_ties"
#: Limits on what an import keeps (the page applies the same ones).
MAX_NOTE = 10_000
MAX_RATER = 120
MAX_TEXT = 4_096
MAX_EXPORT_BYTES = 200 * 1024 * 1024  # 40,000 images × 5 raters fit in a tenth of this
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ENTITY_NAME = re.compile(r"^[a-z][a-zA-Z0-9]*$")
_SPREADSHEET_TRIGGER = re.compile(r"^'*[=+\-@]")
_UINT32 = 0xFFFFFFFF


class RatingsFileError(ValueError):
    """A ratings file that cannot be read; the message is one line naming the reason."""


# --------------------------------------------------------------------------------------------
# Cells and JSON
# --------------------------------------------------------------------------------------------


def tsv_cell(value: Any) -> str:
    """One TSV cell: ``n/a`` for empty, escapes for control characters, spreadsheet-safe.

    Parameters
    ----------
    value : Any
        ``None``/``""`` → ``n/a``; bool → ``true``/``false``; int/float → the number;
        anything else → text with ``\\``, tab, CR and LF written as ``\\\\``, ``\\t``, ``\\r``,
        ``\\n``, and with one apostrophe in front if it starts with ``=``, ``+``, ``-``, ``@``
        (optionally after apostrophes), so that no spreadsheet reads it as a formula.

    Returns
    -------
    str
        The cell text (never contains a tab or a line break).
    """
    if value is None or value == "":
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer():
            return str(int(value))  # 0.0 → "0", as the page (JavaScript) writes it
        return repr(value) if isinstance(value, float) else str(value)
    text = (
        str(value)
        .replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
    )
    return "'" + text if _SPREADSHEET_TRIGGER.match(text) else text


def tsv_value(cell: str) -> str:
    """The text of a cell written by :func:`tsv_cell` (the page writes the same way)."""
    if cell == "n/a":
        return ""
    if _SPREADSHEET_TRIGGER.match(cell) and cell.startswith("'"):
        cell = cell[1:]
    return re.sub(
        r"\\(\\|t|r|n)", lambda m: {"t": "\t", "r": "\r", "n": "\n"}.get(m[1], "\\"), cell
    )


def _refuse_prototype_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    for key, _ in pairs:
        if key in PROTOTYPE_KEYS:
            raise RatingsFileError(f"refused: the JSON contains the prototype key {key!r}")
    return dict(pairs)


def load_json_strict(text: str) -> Any:
    """``json.loads`` that refuses prototype keys anywhere and non-finite numbers.

    Raises
    ------
    RatingsFileError
        One line: invalid JSON (with position) or a refused key.
    """

    def no_constant(name: str) -> Any:
        raise RatingsFileError(f"invalid JSON: {name} is not a number")

    try:
        return json.loads(
            text, object_pairs_hook=_refuse_prototype_keys, parse_constant=no_constant
        )
    except json.JSONDecodeError as exc:
        raise RatingsFileError(f"invalid JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise RatingsFileError("invalid JSON: nested too deeply") from None


def _clean(value: Any, limit: int = MAX_TEXT) -> str:
    """A string value from an import, capped; non-strings (numbers) become their text."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:limit]


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


# --------------------------------------------------------------------------------------------
# The rater export
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewSettings:
    """How a rater's review was run (a page option, recorded in the export).

    Attributes
    ----------
    blinded : bool
        Subject and session were hidden behind case codes and the order was shuffled.
    seed : str
        Seed of the shuffled order (:func:`review_queue`); "" when not blinded.
    catch_share : float
        Share of images shown a second time later in the queue (0 to 0.5).
    """

    blinded: bool = False
    seed: str = ""
    catch_share: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"blinded": self.blinded, "seed": self.seed, "catch_share": self.catch_share}

    @classmethod
    def from_dict(cls, data: Any) -> ReviewSettings:
        if not isinstance(data, Mapping):
            return cls()
        share = data.get("catch_share", 0)
        share = float(share) if _is_number(share) and 0 <= float(share) <= 0.5 else 0.0
        return cls(_flag(data.get("blinded", False)), _clean(data.get("seed"), 200), share)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@dataclass(frozen=True)
class RatingRecord:
    """One rater's rating of one image in one presentation: one row of a rater export.

    Attributes
    ----------
    file : str
        The image's path in the BIDS dataset (the sidecar's ``source``), POSIX separators.
    input_sha256 : str
        SHA-256 of the input image when it was rated (the sidecar's ``input.sha256``): what a
        rating belongs to. "" only in exports of version 1.
    rater : str
        Who rated (the page asks before the first rating).
    rating : str
        ``pass``, ``doubtful``, ``fail`` or "" (only tags or a note).
    tags : tuple of str
        Artefact tags (:data:`TAGS` ids).
    note : str
        Free text.
    timestamp : str
        When the rating was last changed (ISO 8601, UTC).
    participant_id, session_id : str
        ``sub-<label>``, ``ses-<label>`` or "".
    entities : dict of str to str
        The other BIDS entities of the image (pybids names), e.g. ``{"run": "1"}``.
    video_sha256 : str
        SHA-256 of the video the rater watched; differs from the current video's after a
        re-render ("rated on an earlier rendering").
    status : str
        The image's render status on the rater's page (``rendered`` or ``failed``).
    presentation : int
        1, or 2 for the catch-trial repeat of an image later in a blinded queue.
    blinded : bool
        Rated in blinded mode.
    blind_code : str
        The case code shown instead of subject and session (blinded mode).
    review_seed : str
        Seed of the blinded queue the rating was made in ("" if not blinded).
    catch_share : float
        Share of catch trials in that queue.
    dataset, dataset_id : str
        The dataset name and the derivative's id (:func:`read_dataset_id`) of the page.
    """

    file: str
    input_sha256: str
    rater: str
    rating: str = ""
    tags: tuple[str, ...] = ()
    note: str = ""
    timestamp: str = ""
    participant_id: str = ""
    session_id: str = ""
    entities: dict[str, str] = field(default_factory=dict)
    video_sha256: str = ""
    status: str = "rendered"
    presentation: int = 1
    blinded: bool = False
    blind_code: str = ""
    review_seed: str = ""
    catch_share: float = 0.0
    dataset: str = ""
    dataset_id: str = ""

    def has_content(self) -> bool:
        """True if the record says anything (a rating, a tag or a note)."""
        return bool(self.rating or self.tags or self.note)

    def content(self) -> tuple[str, tuple[str, ...], str]:
        """What the rater decided (rating, tags, note), for comparing two records."""
        return (self.rating, tuple(sorted(self.tags)), self.note)

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON export writes it."""
        return {
            "participant_id": self.participant_id,
            "session_id": self.session_id,
            "entities": dict(self.entities),
            "file": self.file,
            "rating": self.rating,
            "tags": list(self.tags),
            "note": self.note,
            "rater": self.rater,
            "timestamp": self.timestamp,
            "status": self.status,
            "input_sha256": self.input_sha256,
            "video_sha256": self.video_sha256,
            "presentation": self.presentation,
            "blinded": self.blinded,
            "blind_code": self.blind_code,
            "review_seed": self.review_seed,
            "catch_share": self.catch_share,
            "dataset": self.dataset,
            "dataset_id": self.dataset_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], defaults: Mapping[str, Any] = ()) -> RatingRecord:
        """A record from an export row (JSON object or TSV row as a dict of text).

        Parameters
        ----------
        data : Mapping
            The row; missing fields take ``defaults`` (document-level values such as the
            rater of a version-1 JSON export), then the field's default.
        defaults : Mapping, optional
            Fallback values.

        Raises
        ------
        ValueError
            One line saying what is wrong with the row (unknown rating, bad checksum, …).
        """
        merged = {**dict(defaults), **{k: v for k, v in data.items() if v not in (None, "")}}
        rating = _clean(merged.get("rating"), 20).strip().lower()
        if rating not in ("", *RATING_LABELS):
            raise ValueError(f"unknown rating {rating!r} (expected {', '.join(RATING_LABELS)})")
        raw_tags = merged.get("tags", ())
        if isinstance(raw_tags, str):
            raw_tags = [t for t in re.split(r"[,;]", raw_tags)]
        if not isinstance(raw_tags, list | tuple):
            raise ValueError("tags must be a list")
        tags = []
        for tag in raw_tags:
            tag = _clean(tag, 60).strip()
            if not tag:
                continue
            if tag not in TAG_IDS:
                raise ValueError(f"unknown tag {tag!r}")
            if tag not in tags:
                tags.append(tag)
        checksums = {}
        for name in ("input_sha256", "video_sha256"):
            value = _clean(merged.get(name), 100).strip().lower()
            if value and not _SHA256.match(value):
                raise ValueError(f"{name} is not a SHA-256 ({value[:20]!r})")
            checksums[name] = value
        file = _clean(merged.get("file")).strip()
        if not file:
            raise ValueError("no file")
        presentation = merged.get("presentation", 1)
        try:
            presentation = int(presentation)
        except (TypeError, ValueError):
            raise ValueError(f"presentation {presentation!r} is not 1 or 2") from None
        if presentation not in (1, 2):
            raise ValueError(f"presentation {presentation!r} is not 1 or 2")
        entities = merged.get("entities", {})
        entities = {
            str(k): _clean(v, 200)
            for k, v in (entities.items() if isinstance(entities, Mapping) else ())
            if _ENTITY_NAME.match(str(k)) and _clean(v, 200)
        }
        share = merged.get("catch_share", 0.0)
        try:
            share = float(share)
        except (TypeError, ValueError):
            share = 0.0
        return cls(
            file=file,
            input_sha256=checksums["input_sha256"],
            rater=" ".join(_clean(merged.get("rater"), MAX_RATER).split()),
            rating=rating,
            tags=tuple(sorted(tags, key=TAG_IDS.index)),
            note=_clean(merged.get("note"), MAX_NOTE),
            timestamp=_clean(merged.get("timestamp"), 40).strip(),
            participant_id=_clean(merged.get("participant_id"), 200),
            session_id=_clean(merged.get("session_id"), 200),
            entities=entities,
            video_sha256=checksums["video_sha256"],
            status=_clean(merged.get("status"), 20) or "rendered",
            presentation=presentation,
            blinded=_flag(merged.get("blinded", False)),
            blind_code=_clean(merged.get("blind_code"), 40),
            review_seed=_clean(merged.get("review_seed"), 200),
            catch_share=share if math.isfinite(share) and 0 <= share <= 0.5 else 0.0,
            dataset=_clean(merged.get("dataset"), 200),
            dataset_id=_clean(merged.get("dataset_id"), 100),
        )


#: Columns of a rater export TSV before and after the entity columns (the page writes these).
EXPORT_HEAD: tuple[str, ...] = ("participant_id", "session_id")
EXPORT_TAIL: tuple[str, ...] = (
    "file",
    "rating",
    "tags",
    "note",
    "rater",
    "timestamp",
    "status",
    "input_sha256",
    "video_sha256",
    "presentation",
    "blinded",
    "blind_code",
    "review_seed",
    "catch_share",
    "dataset",
    "dataset_id",
)


@dataclass(frozen=True)
class RaterExport:
    """One rater's export from the review page (``neurovid-ratings_….json`` or ``.tsv``).

    Attributes
    ----------
    rater : str
        Who exported (every record carries its own rater too).
    ratings : list of RatingRecord
        One record per image (unrated images have ``rating == ""``) and one per rated
        catch-trial repeat.
    dataset, dataset_id : str
        The dataset's name and the derivative's id.
    page_generated, exported_at : str
        When the page was built and when the export was made (ISO 8601).
    review : ReviewSettings
        The review options at the time of export.
    entity_columns : list of str
        BIDS entities (besides subject and session) that have a column in the TSV.
    version : int
        :data:`EXPORT_VERSION` when written; 1 for exports of the older page.
    row_errors : list of str
        Rows that could not be read (one line each); the rest of the file is kept.
    """

    rater: str
    ratings: list[RatingRecord]
    dataset: str = ""
    dataset_id: str = ""
    page_generated: str = ""
    exported_at: str = ""
    review: ReviewSettings = field(default_factory=ReviewSettings)
    entity_columns: list[str] = field(default_factory=list)
    version: int = EXPORT_VERSION
    row_errors: list[str] = field(default_factory=list)

    # ---- JSON
    def to_json(self) -> str:
        """The JSON export, as the page writes it."""
        doc = {
            "neurovid_ratings_version": self.version,
            "dataset": self.dataset,
            "dataset_id": self.dataset_id,
            "page_generated": self.page_generated,
            "exported_at": self.exported_at,
            "rater": self.rater,
            "review": self.review.to_dict(),
            "entity_columns": list(self.entity_columns),
            "ratings": [r.to_dict() for r in self.ratings],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RaterExport:
        """Read a JSON export (version 1 or 2).

        Raises
        ------
        RatingsFileError
            Not JSON, a refused key, or not a neurovid ratings export.
        """
        doc = load_json_strict(text.lstrip("\ufeff"))
        if not isinstance(doc, dict) or "neurovid_ratings_version" not in doc:
            raise RatingsFileError("not a neurovid ratings export (no neurovid_ratings_version)")
        version = doc.get("neurovid_ratings_version")
        if version not in (1, 2):
            raise RatingsFileError(f"unsupported neurovid_ratings_version {version!r}")
        rows = doc.get("ratings")
        if not isinstance(rows, list):
            raise RatingsFileError('no "ratings" list')
        rater = _clean(doc.get("rater") or doc.get("exported_by"), MAX_RATER)
        defaults = {
            "rater": rater,
            "dataset": _clean(doc.get("dataset"), 200),
            "dataset_id": _clean(doc.get("dataset_id"), 100),
        }
        records, errors = _records(rows, defaults)
        columns = doc.get("entity_columns")
        return cls(
            rater=" ".join(rater.split()),
            ratings=records,
            dataset=defaults["dataset"],
            dataset_id=defaults["dataset_id"],
            page_generated=_clean(doc.get("page_generated"), 40),
            exported_at=_clean(doc.get("exported_at"), 40),
            review=ReviewSettings.from_dict(doc.get("review")),
            entity_columns=[str(c) for c in columns if _ENTITY_NAME.match(str(c))]
            if isinstance(columns, list)
            else [],
            version=version,
            row_errors=errors,
        )

    # ---- TSV
    def columns(self) -> list[str]:
        """The TSV header: :data:`EXPORT_HEAD`, the entity columns, :data:`EXPORT_TAIL`."""
        return [*EXPORT_HEAD, *self.entity_columns, *EXPORT_TAIL]

    def to_tsv(self) -> str:
        """The TSV export, as the page writes it (one row per record)."""
        lines = ["\t".join(self.columns())]
        for record in self.ratings:
            values = record.to_dict()
            values["dataset"] = record.dataset or self.dataset
            values["dataset_id"] = record.dataset_id or self.dataset_id
            cells = [values["participant_id"], values["session_id"]]
            cells += [record.entities.get(name, "") for name in self.entity_columns]
            for name in EXPORT_TAIL:
                value = values[name]
                cells.append(",".join(value) if name == "tags" else value)
            lines.append("\t".join(tsv_cell(c) for c in cells))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_tsv(cls, text: str) -> RaterExport:
        """Read a TSV export (version 1: no ``input_sha256`` column; version 2).

        Raises
        ------
        RatingsFileError
            Empty, a refused column name, or not a neurovid export.
        """
        lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
        if not lines:
            raise RatingsFileError("the file is empty")
        header = lines[0].split("\t")
        refused = PROTOTYPE_KEYS.intersection(header)
        if refused:
            raise RatingsFileError(f"refused: the TSV has the column {sorted(refused)[0]!r}")
        if "file" not in header or not {"input_sha256", "video_sha256"} & set(header):
            raise RatingsFileError(
                "not a neurovid ratings export (needs the columns file and input_sha256)"
            )
        if len(set(header)) != len(header):
            raise RatingsFileError("the TSV has a repeated column name")
        version = 2 if "input_sha256" in header else 1
        known = {*EXPORT_HEAD, *EXPORT_TAIL}
        entity_columns = [h for h in header if h not in known and _ENTITY_NAME.match(h)]
        records = []
        errors = []
        for number, line in enumerate(lines[1:], start=2):
            cells = line.split("\t")
            if len(cells) != len(header):
                errors.append(f"line {number}: {len(cells)} cells for {len(header)} columns")
                continue
            row: dict[str, Any] = {h: tsv_value(c) for h, c in zip(header, cells, strict=True)}
            row["entities"] = {h: row[h] for h in entity_columns if row[h]}
            try:
                records.append(RatingRecord.from_dict(row))
            except ValueError as exc:
                errors.append(f"line {number}: {exc}")
        raters = {r.rater for r in records if r.rater and r.has_content()}
        first = records[0] if records else None
        return cls(
            rater=sorted(raters)[0] if len(raters) == 1 else "",
            ratings=records,
            dataset=first.dataset if first else "",
            dataset_id=first.dataset_id if first else "",
            review=ReviewSettings(
                blinded=any(r.blinded for r in records),
                seed=next((r.review_seed for r in records if r.review_seed), ""),
                catch_share=max((r.catch_share for r in records), default=0.0),
            ),
            entity_columns=entity_columns,
            version=version,
            row_errors=errors,
        )

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> RaterExport:
        """Read an export file by its content (JSON if it starts with ``{``, else TSV).

        Raises
        ------
        RatingsFileError
            The file cannot be read or is not an export (one line, without the path).
        """
        try:
            if os.stat(path).st_size > MAX_EXPORT_BYTES:
                raise RatingsFileError("larger than 200 MB: not a ratings export")
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise RatingsFileError(f"cannot be read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RatingsFileError("not UTF-8 text") from None
        if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
            return cls.from_json(text)
        return cls.from_tsv(text)


def _records(
    rows: Iterable[Any], defaults: Mapping[str, Any]
) -> tuple[list[RatingRecord], list[str]]:
    records, errors = [], []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            errors.append(f"rating {number}: not an object")
            continue
        try:
            records.append(RatingRecord.from_dict(row, defaults))
        except ValueError as exc:
            errors.append(f"rating {number}: {exc}")
    return records, errors


# --------------------------------------------------------------------------------------------
# The images of the derivative
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """What the merge needs to know about one image of the derivative (from its sidecar).

    Attributes
    ----------
    file : str
        BIDS path of the input (the sidecar's ``source``).
    entities : dict of str to str
        pybids entities (``subject``, ``session``, ``run``, ``suffix``, …).
    input_sha256, video_sha256 : str
        Checksums of the input and of the current video ("" if unknown).
    status : str
        ``rendered`` or ``failed``.
    """

    file: str
    entities: dict[str, str]
    input_sha256: str
    video_sha256: str = ""
    status: str = "rendered"


def images_from_sidecars(paths: Iterable[str | os.PathLike[str]]) -> list[ImageInfo]:
    """The images of a derivative from their sidecars; unreadable sidecars are skipped.

    Parameters
    ----------
    paths : iterable of path
        Sidecar files (``OUTPUT_DIR/sub-*/[ses-*/]anat/*.json``).

    Returns
    -------
    list of ImageInfo
        Sorted by file.
    """
    images = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("source"), str):
            continue
        section = data.get("input") if isinstance(data.get("input"), dict) else {}
        video = data.get("video") if isinstance(data.get("video"), dict) else {}
        entities = data.get("entities") if isinstance(data.get("entities"), dict) else {}
        image = ImageInfo(
            file=data["source"],
            entities={str(k): str(v) for k, v in entities.items() if v is not None},
            input_sha256=str(section.get("sha256") or ""),
            video_sha256=str(video.get("sha256") or ""),
            status="rendered" if data.get("status") == "rendered" else "failed",
        )
        images[image.file] = image
    return [images[k] for k in sorted(images, key=natural_key)]


def natural_key(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text) if t]


# --------------------------------------------------------------------------------------------
# Consensus and the qc_ratings row
# --------------------------------------------------------------------------------------------

_WORSE = {label: rank for rank, label in enumerate(reversed(RATING_LABELS))}  # fail 0 … pass 2


def consensus(ratings: Sequence[str], rule: str = DEFAULT_CONSENSUS) -> str:
    """One label from several raters' labels.

    Parameters
    ----------
    ratings : sequence of str
        Labels from :data:`RATING_LABELS` (one per rater; empty strings are ignored).
    rule : str
        A key of :data:`CONSENSUS_RULES`.

    Returns
    -------
    str
        The consensus label, or "" if there is no rating.
    """
    if rule not in CONSENSUS_RULES:
        raise ValueError(f"unknown consensus rule {rule!r} (one of {', '.join(CONSENSUS_RULES)})")
    votes = [r for r in ratings if r in RATING_NUMERIC]
    if not votes:
        return ""
    if rule == "worst":
        return min(votes, key=_WORSE.__getitem__)
    if rule == "mean":
        mean = Fraction(sum(RATING_NUMERIC[v] for v in votes), len(votes))
        return (
            "pass" if mean >= Fraction(1, 3) else "fail" if mean <= Fraction(-1, 3) else "doubtful"
        )
    counts = {label: votes.count(label) for label in RATING_LABELS}
    top = max(counts.values())
    tied = [label for label in RATING_LABELS if counts[label] == top]
    if len(tied) == 1:
        return tied[0]
    if rule == "majority_doubtful_wins_ties":
        return "doubtful"
    return min(tied, key=_WORSE.__getitem__)


#: The columns of qc_ratings.tsv after the entity columns, with their BIDS-style descriptions.
QC_COLUMNS: dict[str, dict[str, Any]] = {
    "file": {"Description": "Path of the image in the BIDS dataset."},
    "rating": {
        "Description": "Consensus QC rating of the image (see ConsensusRule); n/a: not rated.",
        "Levels": {
            "pass": "usable",
            "doubtful": "usable with care, or unsure",
            "fail": "not usable",
        },
    },
    "rating_numeric": {
        "Description": "The consensus rating as a number (as mriqc-learn): 1 pass, 0 doubtful, "
        "-1 fail; n/a: not rated.",
        "Levels": {"1": "pass", "0": "doubtful", "-1": "fail"},
    },
    "n_raters": {"Description": "Raters whose rating of this image was merged."},
    "n_pass": {"Description": "Raters who rated the image pass."},
    "n_doubtful": {"Description": "Raters who rated the image doubtful."},
    "n_fail": {"Description": "Raters who rated the image fail."},
    "agreement": {
        "Description": "Whether the raters agree.",
        "Levels": {
            "single": "one rater",
            "unanimous": "all raters gave the same rating",
            "split": "raters gave different ratings (shown by the page's disagreements filter)",
        },
    },
    "ratings": {"Description": "Each rater's rating, 'rater: rating' separated by ' | '."},
    "tags": {
        "Description": "Union of the artefact tags of all raters, comma-separated.",
        "Levels": {tag: label for tag, label, _ in TAGS},
    },
    "notes": {"Description": "Each rater's note, 'rater: note' separated by ' | '."},
    "status": {
        "Description": "Render status of the image.",
        "Levels": {"rendered": "a video was made", "failed": "the image could not be rendered"},
    },
    "input_sha256": {"Description": "SHA-256 of the image file the ratings apply to."},
    "n_stale": {
        "Description": "Ratings of an earlier version of this file (another input checksum), "
        "listed under Problems and not merged."
    },
    "n_earlier_rendering": {
        "Description": "Merged ratings made on an earlier rendering of the video (same input)."
    },
    "n_repeats": {"Description": "Catch-trial repeats of the image among the merged ratings."},
}


def entity_column_name(name: str) -> str:
    return {"subject": "participant_id", "session": "session_id"}.get(name, name)


def _entity_sort_key(name: str) -> tuple[int, str]:
    order = (*ENTITY_ORDER, "suffix")
    return (order.index(name) if name in order else len(ENTITY_ORDER), name)


def entity_columns(images: Iterable[ImageInfo]) -> list[str]:
    """The pybids entity names that get a column, in BIDS order (subject first)."""
    names = {name for image in images for name in image.entities}
    names.add("subject")
    return sorted(names, key=lambda n: (n != "subject", n != "session", _entity_sort_key(n)))


@dataclass(frozen=True)
class QCRatingRow:
    """One row of ``qc_ratings.tsv``: all raters' verdict on one image.

    Attributes
    ----------
    entities : dict of str to str
        pybids entities of the image (written as ``participant_id``, ``session_id`` and the
        long entity names).
    file : str
        BIDS path of the image.
    rating : str
        Consensus label or "".
    n_raters, n_pass, n_doubtful, n_fail : int
        How many raters, and how they split.
    ratings : tuple of (str, str)
        ``(rater, rating)`` for every rater, sorted by rater.
    tags : tuple of str
        Union of all raters' tags.
    notes : tuple of (str, str)
        ``(rater, note)`` for every note.
    status : str
        Render status.
    input_sha256 : str
        Checksum of the input the ratings apply to.
    n_stale, n_earlier_rendering, n_repeats : int
        See :data:`QC_COLUMNS`.
    """

    entities: dict[str, str]
    file: str
    rating: str = ""
    n_raters: int = 0
    n_pass: int = 0
    n_doubtful: int = 0
    n_fail: int = 0
    ratings: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    status: str = "rendered"
    input_sha256: str = ""
    n_stale: int = 0
    n_earlier_rendering: int = 0
    n_repeats: int = 0

    @property
    def rating_numeric(self) -> int | None:
        return RATING_NUMERIC.get(self.rating)

    @property
    def agreement(self) -> str:
        if self.n_raters == 0:
            return ""
        if self.n_raters == 1:
            return "single"
        return (
            "unanimous"
            if max(self.n_pass, self.n_doubtful, self.n_fail) == self.n_raters
            else "split"
        )

    def cells(self, columns: Sequence[str]) -> list[Any]:
        """The row's values for ``columns`` (entity columns first, then :data:`QC_COLUMNS`)."""
        values: dict[str, Any] = {entity_column_name(k): v for k, v in self.entities.items()}
        if "participant_id" in values:
            values["participant_id"] = "sub-" + values["participant_id"]
        if values.get("session_id"):
            values["session_id"] = "ses-" + values["session_id"]
        values.update(
            file=self.file,
            rating=self.rating,
            rating_numeric=self.rating_numeric,
            n_raters=self.n_raters,
            n_pass=self.n_pass,
            n_doubtful=self.n_doubtful,
            n_fail=self.n_fail,
            agreement=self.agreement,
            ratings=" | ".join(f"{_name(r)}: {v}" for r, v in self.ratings),
            tags=",".join(self.tags),
            notes=" | ".join(f"{_name(r)}: {n}" for r, n in self.notes),
            status=self.status,
            input_sha256=self.input_sha256,
            n_stale=self.n_stale,
            n_earlier_rendering=self.n_earlier_rendering,
            n_repeats=self.n_repeats,
        )
        return [values.get(c) for c in columns]

    @classmethod
    def from_cells(cls, row: Mapping[str, str]) -> QCRatingRow:
        """A row from ``qc_ratings.tsv`` (a dict of raw cells, as :func:`read_qc_ratings`).

        The ``ratings`` and ``notes`` columns are for people; they are read back only as far as
        rater names without ``|`` and ``:`` allow (the JSON's ``Ratings`` list is exact).
        """
        text = {k: tsv_value(v) for k, v in row.items()}
        entities = {}
        for column, value in text.items():
            if column in QC_COLUMNS or not value:
                continue
            name = {"participant_id": "subject", "session_id": "session"}.get(column, column)
            entities[name] = (
                re.sub(r"^(sub|ses)-", "", value) if name in ("subject", "session") else value
            )

        def pairs(cell: str) -> tuple[tuple[str, str], ...]:
            out = []
            for part in cell.split(" | ") if cell else ():
                rater, _, value = part.partition(": ")
                out.append((rater, value))
            return tuple(out)

        def number(name: str) -> int:
            return int(text.get(name) or 0)

        return cls(
            entities=entities,
            file=text["file"],
            rating=text.get("rating", ""),
            n_raters=number("n_raters"),
            n_pass=number("n_pass"),
            n_doubtful=number("n_doubtful"),
            n_fail=number("n_fail"),
            ratings=pairs(text.get("ratings", "")),
            tags=tuple(t for t in text.get("tags", "").split(",") if t),
            notes=pairs(text.get("notes", "")),
            status=text.get("status", "rendered"),
            input_sha256=text.get("input_sha256", ""),
            n_stale=number("n_stale"),
            n_earlier_rendering=number("n_earlier_rendering"),
            n_repeats=number("n_repeats"),
        )


def _name(rater: str) -> str:
    """A rater's name for the ``ratings``/``notes`` cells (no separator inside)."""
    return rater.replace("|", "/").replace(": ", " ")


def read_qc_ratings(path: str | os.PathLike[str]) -> list[QCRatingRow]:
    """Read ``qc_ratings.tsv`` back into rows."""
    text = Path(path).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    return [QCRatingRow.from_cells(row) for row in reader]


# --------------------------------------------------------------------------------------------
# The derivative's id, the blinded queue and what the page needs
# --------------------------------------------------------------------------------------------

DATASET_ID_FILE = ".neurovid/dataset_id.json"
#: Where raters' exports are dropped, relative to OUTPUT_DIR, and which files there are exports.
RATINGS_FOLDER = "ratings"
EXPORT_SUFFIXES = (".tsv", ".json")


def rating_exports(output_dir: str | os.PathLike[str]) -> list[str]:
    """The rater exports in ``OUTPUT_DIR/ratings/``: visible ``.tsv``/``.json`` regular files.

    The merge rule lists them once per run (cheap: one folder), so a new, changed or removed
    export reruns the merge. Other files there (a README, ``.DS_Store``) are left alone.
    """
    folder = Path(output_dir) / RATINGS_FOLDER
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return sorted(
        os.path.join(folder, e.name)
        for e in entries
        if not e.name.startswith(".")
        and os.path.splitext(e.name)[1].lower() in EXPORT_SUFFIXES
        and e.is_file()
    )


def read_dataset_id(output_dir: str | os.PathLike[str]) -> str:
    """The derivative's id, or "" if it has none yet."""
    try:
        data = json.loads((Path(output_dir) / DATASET_ID_FILE).read_text(encoding="utf-8"))
        value = str(data.get("dataset_id", ""))
        return value if re.fullmatch(r"[0-9a-f-]{36}", value) else ""
    except (OSError, ValueError, AttributeError):
        return ""


def ensure_dataset_id(output_dir: str | os.PathLike[str]) -> str:
    """The derivative's id, a random UUID created once in ``OUTPUT_DIR/.neurovid/``.

    The review page keeps its ratings under the dataset's name plus this id, so two studies
    opened from disk (which share the browser's storage) never see each other's ratings.
    Two processes creating it at once agree on one id (the file is created exclusively).
    """
    existing = read_dataset_id(output_dir)
    if existing:
        return existing
    path = Path(output_dir) / DATASET_ID_FILE
    text = json.dumps({"dataset_id": str(uuid.uuid4())}) + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        try:
            os.link(temporary, path)  # fails if another process made it first: use theirs
        except FileExistsError:
            if not read_dataset_id(output_dir):  # there, but not an id (damaged): replace it
                os.replace(temporary, path)
        except OSError:  # file systems without hard links
            if not path.exists():
                os.replace(temporary, path)
    except OSError:
        return ""  # a read-only derivative: the page keeps ratings under the dataset's name only
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
    return read_dataset_id(output_dir)


def blind_code(dataset_id: str, file: str, presentation: int = 1) -> str:
    """The case code that stands for an image in blinded review, e.g. ``K7Q2XM``.

    Stable for a derivative (same id, same file, same code for every rater and every build
    of the page); a catch-trial repeat gets its own code so it cannot be recognised.
    """
    digest = hashlib.sha256(f"{dataset_id}\n{file}\n{presentation}".encode()).digest()
    return base64.b32encode(digest).decode()[:6]


def _fnv1a32(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & _UINT32
    return value


class _Mulberry32:
    """The mulberry32 generator, bit for bit as the page's JavaScript runs it."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _UINT32

    def next(self) -> int:
        self.state = (self.state + 0x6D2B79F5) & _UINT32
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & _UINT32
        t = (((t + (((t ^ (t >> 7)) * (t | 61)) & _UINT32)) & _UINT32) ^ t) & _UINT32
        return (t ^ (t >> 14)) & _UINT32


def review_queue(
    files: Iterable[str], seed: str, catch_share: float = 0.0
) -> list[tuple[str, int]]:
    """The blinded review's order: shuffled with a seed, some images shown again later.

    Parameters
    ----------
    files : iterable of str
        The images to review (BIDS paths); their order does not matter.
    seed : str
        Any text; the same seed and images give the same queue (on the page too).
    catch_share : float
        Share of images (0 to 0.5) shown a second time, each at least a third of the queue
        after its first showing (fewer if the queue is too short).

    Returns
    -------
    list of (str, int)
        ``(file, presentation)`` in review order; presentation 2 is the repeat.

    Notes
    -----
    Files are sorted by UTF-16 code units (as JavaScript sorts), shuffled by Fisher–Yates with
    mulberry32 seeded by the FNV-1a hash of the seed's UTF-8 bytes (index ``next() % (i + 1)``);
    ``k = floor(share · n + 0.5)`` repeats are drawn by a partial Fisher–Yates from the
    positions ``0 … n − gap − 1`` (``gap = max(1, n // 3)``), and the repeat of position ``p``
    follows position ``p + gap + next() % (n − p − gap)``.
    """
    order = sorted(set(files), key=lambda f: f.encode("utf-16-be"))
    n = len(order)
    rng = _Mulberry32(_fnv1a32(seed))
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        order[i], order[j] = order[j], order[i]
    gap = max(1, n // 3)
    eligible = max(0, n - gap)
    k = max(0, min(int(math.floor(catch_share * n + 0.5)), eligible))
    positions = list(range(eligible))
    for i in range(k):
        j = i + rng.next() % (eligible - i)
        positions[i], positions[j] = positions[j], positions[i]
    after: dict[int, list[str]] = defaultdict(list)
    for p in sorted(positions[:k]):
        after[p + gap + rng.next() % (n - p - gap)].append(order[p])
    queue: list[tuple[str, int]] = []
    for i, file in enumerate(order):
        queue.append((file, 1))
        queue.extend((again, 2) for again in after.get(i, ()))
    return queue


def page_format() -> dict[str, Any]:
    """What the review page must know to write and read exports: this module's definitions."""
    return {
        "version": EXPORT_VERSION,
        "labels": list(RATING_LABELS),
        "numeric": dict(RATING_NUMERIC),
        "tags": [{"id": t, "label": label, "key": key} for t, label, key in TAGS],
        "exportHead": list(EXPORT_HEAD),
        "exportTail": list(EXPORT_TAIL),
        "prototypeKeys": sorted(PROTOTYPE_KEYS),
        "maxNote": MAX_NOTE,
        "maxRater": MAX_RATER,
    }


def review_page_ratings(
    output_dir: str | os.PathLike[str],
    files: Iterable[str],
    qc_json: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The ratings part of the review page's data.

    Parameters
    ----------
    output_dir : path
        OUTPUT_DIR (its dataset id is created if missing).
    files : iterable of str
        BIDS paths of the images on the page (their case codes are computed).
    qc_json : path, optional
        ``qc_ratings.json`` of the last merge; its ratings and agreement are shown on the
        page. Missing or unreadable: the page shows only the browser's own ratings.

    Returns
    -------
    dict
        ``format`` (:func:`page_format`), ``datasetId``, ``blindCodes`` (file → [code of the
        first showing, code of the repeat]), ``videoHeaderPx`` (rows of the video frame that
        name the image, hidden in blinded review) and ``merged`` (or None).
    """
    from .frames import HEADER_PX, PROGRESS_PX  # the frame layout the page must mask

    dataset_id = ensure_dataset_id(output_dir)
    merged = None
    if qc_json is not None:
        try:
            doc = json.loads(Path(qc_json).read_text(encoding="utf-8"))
            merged = {
                "consensusRule": doc.get("ConsensusRule"),
                "raters": doc.get("Raters", []),
                "agreement": doc.get("Agreement"),
                "intraRater": doc.get("IntraRater", {}),
                "problems": [
                    {"kind": p.get("kind"), "message": p.get("message")}
                    for p in doc.get("Problems", [])[:500]
                    if isinstance(p, dict)
                ],
                "records": [
                    {
                        k: r.get(k)
                        for k in (
                            "file",
                            "input_sha256",
                            "video_sha256",
                            "rater",
                            "rating",
                            "tags",
                            "note",
                            "presentation",
                            "timestamp",
                        )
                    }
                    for r in doc.get("Ratings", [])
                    if isinstance(r, dict)
                ],
            }
        except (OSError, ValueError, AttributeError):
            merged = None
    return {
        "format": page_format(),
        "datasetId": dataset_id,
        "blindCodes": {
            f: [blind_code(dataset_id, f, 1), blind_code(dataset_id, f, 2)] for f in files
        },
        "videoHeaderPx": HEADER_PX + PROGRESS_PX,
        "merged": merged,
    }
