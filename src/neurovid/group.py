"""The study level of triage: one row per image, robust z-scores and an attention score.

One definition of the group file ``OUTPUT_DIR/group_<suffix>.tsv`` (MRIQC's group-file
convention): :class:`GroupRow` is a row, :class:`GroupTable` the file with its JSON sidecar
(every column described, BIDS-TSV style). The workflow's aggregation rule writes it, the
review page builder orders and marks the cards with the same numbers
(:func:`page_quality`), ``docs/quality.md`` describes it and the tests build their fixtures
through it. Nothing is re-rendered: everything comes from the sidecars' ``quality`` records.

The attention score
-------------------
For each image, ``attention = 10 x (number of flags) + 10 x D / (D + 3)``, where ``D`` is
the root sum of squares of each measure's distance on its *worse* side:

* in a study of at least :data:`SMALL_STUDY` images of the suffix with the measure: the
  robust z-score ``(x - median) / max(1.4826 x MAD, min_spread)`` (log values for ratio
  measures such as SNR), counted only when it points the worse way;
* in a smaller study (robust statistics of a handful of images mean little): the absolute
  distance ``3 x (x - typical) / (bad - typical)`` from the measure's typical level towards
  its bad level, for the measures that have them (:data:`neurovid.quality.MEASURES`).

So every flag outweighs any distance (the second term stays below 10), images with more
flags come first, and among equals the one furthest out comes first. Each distance is
capped at 10 so that one absurd value cannot hide all the others.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bidsname import ENTITY_ORDER
from .quality import FLAGS, FLAGS_BY_ID, MEASURE_NAMES, MEASURES, MEASURES_BY_NAME, QualityReport

__all__ = [
    "FLAG_WEIGHT",
    "GROUP_VERSION",
    "SMALL_STUDY",
    "GroupRow",
    "GroupTable",
    "ImageQuality",
    "attention_scores",
    "build_group_tables",
    "column_descriptions",
    "page_quality",
]

GROUP_VERSION = 1
#: Studies with fewer images of a suffix than this use flags and absolute levels only.
SMALL_STUDY = 10
#: What one flag adds to the attention score (the distance term stays below it).
FLAG_WEIGHT = 10.0
_DISTANCE_HALF = 3.0  # D at which the distance term is half of FLAG_WEIGHT
_DISTANCE_CAP = 10.0
_MAD_TO_SD = 1.4826
#: Entities that never get a column (the file is per suffix; the rest is in ``file``).
_NO_COLUMN = frozenset({"subject", "session", "suffix", "datatype", "extension"})


# --------------------------------------------------------------------------------------------
# Inputs and scores
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageQuality:
    """What the study level needs of one image (from its sidecar).

    Attributes
    ----------
    entities : mapping of str to str
        pybids entities (``subject``, ``session``, ``run``, ``acquisition``, ``suffix``…).
    file : str
        BIDS-relative path of the image.
    quality : QualityReport or None
        The sidecar's ``quality`` record; None if the image was not rendered or not measured.
    """

    entities: Mapping[str, str]
    file: str
    quality: QualityReport | None

    @property
    def suffix(self) -> str:
        return str(self.entities.get("suffix") or "unknown")


@dataclass(frozen=True)
class Score:
    """Attention and the per-measure distances of one image within its study."""

    attention: float | None
    distances: dict[str, float]  # measure name -> distance on the worse side (0 if none)
    z: dict[str, float | None]  # robust z-scores (None: small study or no value)


def _compared(name: str, value: float | None) -> float | None:
    """The value on the scale measures are compared on (log for ratio measures)."""
    if value is None or not math.isfinite(value):
        return None
    if MEASURES_BY_NAME[name].log:
        return math.log(value) if value > 0 else None
    return value


def attention_scores(reports: Sequence[QualityReport | None]) -> list[Score]:
    """Attention of each image among `reports` (one study, one suffix).

    Parameters
    ----------
    reports : sequence of QualityReport or None
        None for an image without measures (failed or not measured): its attention is None.

    Returns
    -------
    list of Score
        In the order of `reports`.
    """
    measured = [r for r in reports if r is not None]
    references: dict[str, tuple[float, float] | None] = {}
    for measure in MEASURES:
        values = [_compared(measure.name, r.metrics.get(measure.name)) for r in measured]
        values = [v for v in values if v is not None]
        if len(values) < SMALL_STUDY:
            references[measure.name] = None
            continue
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values)
        references[measure.name] = (median, max(_MAD_TO_SD * mad, measure.min_spread))
    scores = []
    for report in reports:
        if report is None:
            scores.append(Score(None, {}, dict.fromkeys(MEASURE_NAMES)))
            continue
        distances, zs = {}, {}
        for measure in MEASURES:
            value = report.metrics.get(measure.name)
            reference = references[measure.name]
            compared = _compared(measure.name, value)
            distance, z = 0.0, None
            if reference is not None and compared is not None:
                z = (compared - reference[0]) / reference[1]
                distance = z if measure.worse == "high" else -z
            elif reference is None and value is not None and measure.bad is not None:
                typical, bad = measure.typical, measure.bad
                assert typical is not None
                distance = 3.0 * (value - typical) / (bad - typical)
            distances[measure.name] = min(max(distance, 0.0), _DISTANCE_CAP)
            zs[measure.name] = None if z is None else round(z, 3)
        total = math.sqrt(sum(d * d for d in distances.values()))
        attention = FLAG_WEIGHT * len(report.flags) + FLAG_WEIGHT * total / (
            total + _DISTANCE_HALF
        )
        scores.append(Score(round(attention, 3), distances, zs))
    return scores


# --------------------------------------------------------------------------------------------
# The group file
# --------------------------------------------------------------------------------------------


def _entity_sort_key(name: str) -> tuple[int, str]:
    return (ENTITY_ORDER.index(name) if name in ENTITY_ORDER else len(ENTITY_ORDER), name)


@dataclass
class GroupRow:
    """One image: a row of ``group_<suffix>.tsv``.

    Attributes
    ----------
    participant_id : str
        ``sub-<label>``.
    session_id : str
        ``ses-<label>``, or "" without sessions.
    entities : dict of str to str
        The other BIDS entities with a column (long pybids names: ``acquisition``, ``run``…).
    file : str
        BIDS-relative path of the image.
    metrics : dict of str to float or None
        One value per measure (:data:`neurovid.quality.MEASURE_NAMES`); None is ``n/a``.
    attention : float or None
        :func:`attention_scores`; None (``n/a``) for an image without measures.
    flags : list of str
        Raised flag ids, in the order of :data:`neurovid.quality.FLAGS`.
    """

    participant_id: str
    session_id: str
    entities: dict[str, str]
    file: str
    metrics: dict[str, float | None]
    attention: float | None
    flags: list[str] = field(default_factory=list)

    def cells(self, entity_columns: Sequence[str]) -> list[str]:
        """The row's TSV cells for a table with these entity columns."""
        values: list[Any] = [self.participant_id]
        if "session_id" in entity_columns:
            values.append(self.session_id)
        values += [self.entities.get(c, "") for c in entity_columns if c != "session_id"]
        values.append(self.file)
        values += [self.metrics.get(name) for name in MEASURE_NAMES]
        values += [self.attention, ",".join(self.flags)]
        return [_cell(v) for v in values]

    @classmethod
    def from_cells(cls, header: Sequence[str], cells: Sequence[str]) -> GroupRow:
        """A row from a header and its cells (as :meth:`cells` writes them)."""
        if len(cells) != len(header):
            raise ValueError(f"{len(cells)} cells for {len(header)} columns")
        text = {h: _value(c) for h, c in zip(header, cells, strict=True)}
        fixed = {"participant_id", "session_id", "file", "attention", "flags", *MEASURE_NAMES}
        return cls(
            participant_id=text["participant_id"],
            session_id=text.get("session_id", ""),
            entities={h: v for h, v in text.items() if h not in fixed and v},
            file=text["file"],
            metrics={name: _number(text.get(name, "")) for name in MEASURE_NAMES},
            attention=_number(text["attention"]),
            flags=[f for f in text["flags"].split(",") if f],
        )


def _cell(value: Any) -> str:
    """A BIDS TSV cell: ``n/a`` for missing, numbers as Python writes them, text one line."""
    if value is None or value == "":
        return "n/a"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return (
        text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    )


def _value(cell: str) -> str:
    if cell == "n/a":
        return ""
    out, i = [], 0
    while i < len(cell):
        if cell[i] == "\\" and i + 1 < len(cell):
            out.append({"t": "\t", "r": "\r", "n": "\n"}.get(cell[i + 1], cell[i + 1]))
            i += 2
        else:
            out.append(cell[i])
            i += 1
    return "".join(out)


def _number(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class GroupTable:
    """``group_<suffix>.tsv``: the rows of one suffix, ordered by attention (highest first).

    Attributes
    ----------
    suffix : str
        The BIDS suffix (``T1w``…).
    entity_columns : list of str
        Columns between ``participant_id`` and ``file``: ``session_id`` if any image has a
        session, then the other entities in BIDS order.
    rows : list of GroupRow
    small_study : bool
        Fewer than :data:`SMALL_STUDY` measured images: attention from flags and absolute
        levels only.
    """

    suffix: str
    entity_columns: list[str]
    rows: list[GroupRow]
    small_study: bool

    def columns(self) -> list[str]:
        """The TSV header."""
        return [
            "participant_id",
            *self.entity_columns,
            "file",
            *MEASURE_NAMES,
            "attention",
            "flags",
        ]

    def to_tsv(self) -> str:
        """The file's text (tab-separated, ``n/a`` for missing, trailing newline)."""
        lines = ["\t".join(self.columns())]
        lines += ["\t".join(row.cells(self.entity_columns)) for row in self.rows]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_tsv(cls, text: str, suffix: str = "") -> GroupTable:
        """Read a group file back (``small_study`` is recomputed from the row count)."""
        reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
        lines = [line for line in reader if line]
        if not lines or lines[0][:1] != ["participant_id"]:
            raise ValueError("not a neurovid group file (first column must be participant_id)")
        header = lines[0]
        rows = [GroupRow.from_cells(header, cells) for cells in lines[1:]]
        entity_columns = header[1 : header.index("file")]
        measured = sum(1 for r in rows if r.attention is not None)
        return cls(suffix, entity_columns, rows, measured < SMALL_STUDY)

    def sidecar(self) -> dict[str, Any]:
        """The JSON sidecar: every column described (BIDS TSV sidecar style)."""
        return column_descriptions(self.entity_columns, self.suffix, self.small_study)

    def write(self, tsv: str | Path, json_path: str | Path | None = None) -> None:
        """Write the TSV and its JSON sidecar atomically (JSON beside it by default)."""
        from .atomic import write_text_atomic

        tsv = Path(tsv)
        json_path = Path(json_path) if json_path else tsv.with_suffix(".json")
        write_text_atomic(tsv, self.to_tsv())
        write_text_atomic(
            json_path, json.dumps(self.sidecar(), indent=2, ensure_ascii=False) + "\n"
        )


def column_descriptions(
    entity_columns: Sequence[str], suffix: str = "", small_study: bool = False
) -> dict[str, Any]:
    """BIDS-style descriptions of every column of a group file (its JSON sidecar)."""
    flag_levels = {f.id: f.rule for f in FLAGS}
    attention_text = (
        "How much this image needs a look, highest first: 10 per flag, plus up to 10 for how "
        "far its measures are out on their worse side (robust z-scores against the study "
        f"when it has at least {SMALL_STUDY} measured images of the suffix, else the "
        "measures' absolute typical and bad levels); see docs/quality.md. n/a: not measured."
    )
    descriptions: dict[str, Any] = {
        "participant_id": {"Description": "Participant (sub-<label>)."},
        "session_id": {"Description": "Session (ses-<label>); n/a without sessions."},
    }
    for name in entity_columns:
        if name != "session_id":
            descriptions[name] = {"Description": f"BIDS entity '{name}' of the image."}
    descriptions["file"] = {"Description": "Path of the image in the BIDS dataset."}
    for measure in MEASURES:
        entry: dict[str, Any] = {"Description": measure.definition, "LongName": measure.label}
        if measure.unit != "1":
            entry["Units"] = measure.unit
        descriptions[measure.name] = entry
    descriptions["attention"] = {"Description": attention_text}
    descriptions["flags"] = {
        "Description": "Comma-separated ids of the raised flags (their reasons are in each "
        "image's sidecar under quality.flags).",
        "Levels": flag_levels,
    }
    columns = ["participant_id", *entity_columns, "file", *MEASURE_NAMES, "attention", "flags"]
    out = {name: descriptions[name] for name in columns}
    out["GeneratedBy"] = {
        "Name": "neurovid",
        "Description": f"group file version {GROUP_VERSION}"
        + (f", suffix {suffix}" if suffix else "")
        + (
            f"; fewer than {SMALL_STUDY} measured images, so attention uses flags and "
            "absolute levels only"
            if small_study
            else ""
        ),
    }
    return out


# --------------------------------------------------------------------------------------------
# From sidecars
# --------------------------------------------------------------------------------------------


def image_quality_from_sidecar(data: Mapping[str, Any] | None) -> ImageQuality | None:
    """The :class:`ImageQuality` of a parsed sidecar (None if it has no source)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("source"), str):
        return None
    raw_entities = data.get("entities")
    entities = (
        {str(k): str(v) for k, v in raw_entities.items() if v is not None}
        if isinstance(raw_entities, Mapping)
        else {}
    )
    quality = (
        QualityReport.from_json(data.get("quality")) if data.get("status") == "rendered" else None
    )
    return ImageQuality(entities, data["source"], quality)


def build_group_tables(images: Iterable[ImageQuality]) -> dict[str, GroupTable]:
    """One :class:`GroupTable` per suffix, rows ordered by attention (highest first).

    Rows without measures (failed renders, sidecars from before quality was measured) are
    kept, with ``n/a``, after the measured ones. Ties are broken by the file path.
    """
    by_suffix: dict[str, list[ImageQuality]] = {}
    for image in images:
        by_suffix.setdefault(image.suffix, []).append(image)
    tables = {}
    for suffix, members in sorted(by_suffix.items()):
        members.sort(key=lambda m: m.file)
        scores = attention_scores([m.quality for m in members])
        has_session = any(m.entities.get("session") for m in members)
        others = sorted(
            {k for m in members for k in m.entities if k not in _NO_COLUMN}, key=_entity_sort_key
        )
        entity_columns = (["session_id"] if has_session else []) + others
        rows = []
        for member, score in zip(members, scores, strict=True):
            subject = member.entities.get("subject", "")
            session = member.entities.get("session", "")
            quality = member.quality
            rows.append(
                GroupRow(
                    participant_id=f"sub-{subject}" if subject else "",
                    session_id=f"ses-{session}" if session else "",
                    entities={k: v for k, v in member.entities.items() if k in others},
                    file=member.file,
                    metrics=dict(quality.metrics) if quality else dict.fromkeys(MEASURE_NAMES),
                    attention=score.attention,
                    flags=[f.id for f in quality.flags] if quality else [],
                )
            )
        rows.sort(key=lambda r: (r.attention is None, -(r.attention or 0.0), r.file))
        measured = sum(1 for s in scores if s.attention is not None)
        tables[suffix] = GroupTable(suffix, entity_columns, rows, measured < SMALL_STUDY)
    return tables


# --------------------------------------------------------------------------------------------
# For the review page
# --------------------------------------------------------------------------------------------


def card_quality(data: Any) -> dict[str, Any] | None:
    """What a review-page card carries of a sidecar's ``quality`` (None if unmeasured)."""
    report = QualityReport.from_json(data)
    if report is None:
        return None
    return {
        "metrics": {k: v for k, v in report.metrics.items()},
        "flags": [
            {
                "id": f.id,
                "label": FLAGS_BY_ID[f.id].label if f.id in FLAGS_BY_ID else f.id,
                "reason": f.reason,
            }
            for f in report.flags
        ],
    }


def page_quality(
    cards: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Cards with ``attention``, ``z`` and ``outliers`` added, and the page's triage data.

    Parameters
    ----------
    cards : sequence of mapping
        Review-page cards (``neurovid.report.card_from_sidecar``) with ``quality`` from
        :func:`card_quality` and ``entities`` as ``[name, value]`` pairs.

    Returns
    -------
    (list of dict, dict)
        New card dicts (the input is not changed), and ``{"measures": [...], "flags":
        {...}, "studies": {suffix: {"images", "small"}}, "smallStudy", "flagWeight"}`` for
        the page: what each measure is, and which studies are too small for z-scores.
    """
    out = [dict(card) for card in cards]
    by_suffix: dict[str, list[int]] = {}
    for index, card in enumerate(out):
        suffix = next((v for k, v in card.get("entities", ()) if k == "suffix"), "") or "unknown"
        by_suffix.setdefault(suffix, []).append(index)
    studies = {}
    for suffix, indices in sorted(by_suffix.items()):
        reports = [QualityReport.from_json(out[i].get("quality")) for i in indices]
        scores = attention_scores(reports)
        for i, score in zip(indices, scores, strict=True):
            out[i]["attention"] = score.attention
            out[i]["z"] = score.z
            out[i]["outliers"] = [name for name, d in score.distances.items() if d >= 3.0]
        measured = sum(1 for s in scores if s.attention is not None)
        studies[suffix] = {"images": measured, "small": measured < SMALL_STUDY}
    page = {
        "measures": [
            {
                "name": m.name,
                "label": m.label,
                "unit": m.unit,
                "worse": m.worse,
                "log": m.log,
                "minSpread": m.min_spread,
                "definition": m.definition,
            }  # fmt: skip
            for m in MEASURES
        ],
        "flags": {f.id: {"label": f.label, "rule": f.rule} for f in FLAGS},
        "studies": studies,
        "smallStudy": SMALL_STUDY,
        "flagWeight": FLAG_WEIGHT,
    }
    return out, page
