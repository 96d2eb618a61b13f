"""The merge of rater exports into ``qc_ratings.tsv``/``.json`` and ``exclude.json``.

:func:`merge_ratings` reads every export dropped into ``OUTPUT_DIR/ratings/`` (records defined
in :mod:`neurovid.ratings`), matches each rating to the image it was made on, reports what it
does not merge as it is (:class:`Problem`), applies the consensus rule and computes agreement
between raters (:mod:`neurovid.agreement`) and within each rater (catch-trial repeats).
:func:`write_merge_outputs` writes the three files; the rule ``merge_ratings``
(``workflow/rules/ratings.smk``) calls both.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from itertools import combinations
from pathlib import Path
from typing import Any

from . import __version__
from .agreement import (
    cohen_json,
    cohen_kappa,
    fleiss_json,
    fleiss_kappa,
    fraction_json,
    interpret,
    kappa_json,
    label_counts,
)
from .atomic import write_text_atomic
from .ratings import (
    CONSENSUS_RULES,
    DEFAULT_CONSENSUS,
    QC_COLUMNS,
    RATING_LABELS,
    TAG_IDS,
    ImageInfo,
    QCRatingRow,
    RaterExport,
    RatingRecord,
    RatingsFileError,
    consensus,
    entity_column_name,
    entity_columns,
    natural_key,
    tsv_cell,
)

__all__ = [
    "MergeResult",
    "Problem",
    "agreement_summary",
    "exclusion_list",
    "intra_rater_summary",
    "merge_ratings",
    "qc_ratings_json",
    "write_merge_outputs",
]


@dataclass(frozen=True)
class Problem:
    """A rating (or a file) the merge did not take as it is, and why.

    Attributes
    ----------
    kind : str
        ``rejected_file``, ``bad_row``, ``ignored_file``, ``no_rater``, ``unknown_image``,
        ``renamed``, ``stale``, ``unverified``, ``conflict``, ``other_dataset``.
    source : str
        The export file (relative to OUTPUT_DIR when inside it).
    message : str
        One line for people.
    file : str
        The image concerned ("" for a whole file).
    rater : str
        The rater concerned ("" if unknown).
    merged : bool
        Whether a rating was still merged (``renamed``, a resolved ``conflict``, ``no_rater``).
    """

    kind: str
    source: str
    message: str
    file: str = ""
    rater: str = ""
    merged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "file": self.file,
            "rater": self.rater,
            "merged": self.merged,
            "message": self.message,
        }


@dataclass
class MergeResult:
    """Everything :func:`merge_ratings` found (written by :func:`write_merge_outputs`).

    Attributes
    ----------
    rows : list of QCRatingRow
        One per image of the derivative, in file order.
    records : list of RatingRecord
        Every merged rating (after matching and de-duplication), with its image's current
        file and input checksum.
    problems : list of Problem
        What was not merged as it is.
    raters : list of str
        Raters with at least one merged rating.
    agreement : dict
        Between raters (see :func:`agreement_summary`).
    intra_rater : dict
        Per rater, from catch-trial repeats.
    sources : list of dict
        One per export file read: path, SHA-256, rater, records, review settings.
    columns : list of str
        The TSV's columns.
    consensus_rule : str
        The rule used.
    dataset_id : str
        The derivative's id.
    images : list of ImageInfo
        The images of the derivative.
    """

    rows: list[QCRatingRow]
    records: list[RatingRecord]
    problems: list[Problem]
    raters: list[str]
    agreement: dict[str, Any]
    intra_rater: dict[str, Any]
    sources: list[dict[str, Any]]
    columns: list[str]
    consensus_rule: str
    dataset_id: str = ""
    images: list[ImageInfo] = field(default_factory=list)


def _display(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def merge_ratings(
    export_paths: Iterable[str | os.PathLike[str]],
    images: Sequence[ImageInfo],
    *,
    consensus_rule: str = DEFAULT_CONSENSUS,
    dataset_id: str = "",
    base_dir: str | os.PathLike[str] | None = None,
) -> MergeResult:
    """Merge rater exports into one consensus per image, with agreement and problems.

    Parameters
    ----------
    export_paths : iterable of path
        Rater exports (TSV or JSON from the review page). Files that cannot be read are
        listed as problems; the others are merged.
    images : sequence of ImageInfo
        The derivative's images (:func:`neurovid.ratings.images_from_sidecars`).
    consensus_rule : str
        A key of :data:`neurovid.ratings.CONSENSUS_RULES`.
    dataset_id : str
        The derivative's id; exports from another id are merged but noted.
    base_dir : path, optional
        Folder that problem and source paths are shown relative to (OUTPUT_DIR).

    Returns
    -------
    MergeResult

    Notes
    -----
    A rating belongs to an image by its ``file`` and its ``input_sha256``:

    - same file, same input checksum: merged (a different video checksum is counted in
      ``n_earlier_rendering``: the video was re-rendered, the image is the same);
    - same file, other input checksum: *stale* (the file was replaced), not merged;
    - no input checksum (version-1 export): merged only if its video checksum is the current
      video's, else *unverified*, not merged;
    - unknown file whose input checksum is exactly one image's: merged, noted *renamed*;
    - otherwise *unknown_image*, not merged.

    Several records of one rater for one image and presentation: identical ones are one;
    different ones are a *conflict*: the newest (by timestamp) is merged and the conflict
    listed; if the newest are tied, none is merged.
    Consensus and agreement use first presentations; catch-trial repeats only feed
    ``intra_rater``.
    """
    if consensus_rule not in CONSENSUS_RULES:
        raise ValueError(f"unknown consensus rule {consensus_rule!r}")
    base = Path(base_dir) if base_dir is not None else None
    matcher = _Matcher(images)
    problems: list[Problem] = []
    sources: list[dict[str, Any]] = []
    candidates: dict[tuple[str, str, int], list[tuple[RatingRecord, str]]] = defaultdict(list)

    for path in sorted((Path(p) for p in export_paths), key=lambda p: p.as_posix()):
        shown = _display(path, base)

        def report(kind, message, file="", rater="", merged=False, shown=shown) -> None:
            problems.append(Problem(kind, shown, f"{shown}: {message}", file, rater, merged))

        try:
            export = RaterExport.read(path)
            raw = path.read_bytes()
        except (RatingsFileError, OSError) as exc:
            report("rejected_file", str(exc))
            continue
        for error in export.row_errors:
            report("bad_row", error)
        if dataset_id and export.dataset_id and export.dataset_id != dataset_id:
            report(
                "other_dataset",
                f"exported from another copy of the review page (dataset id "
                f"{export.dataset_id}, here {dataset_id}); matched by input checksum",
                merged=True,
            )
        counted = 0
        for record in export.ratings:
            if not record.has_content():
                continue
            counted += 1
            rater = record.rater or export.rater
            if not rater:
                rater = f"unnamed ({path.name})"
                if not any(p.kind == "no_rater" and p.source == shown for p in problems):
                    report("no_rater", f"ratings without a rater name are merged as {rater!r}",
                           rater=rater, merged=True)  # fmt: skip
            image = matcher.match(record, rater, report)
            if image is not None:
                record = replace(
                    record, rater=rater, file=image.file, input_sha256=image.input_sha256
                )
                candidates[(image.file, rater, record.presentation)].append((record, shown))
        sources.append(
            {
                "file": shown,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "version": export.version,
                "rater": export.rater,
                "ratings": counted,
                "review": export.review.to_dict(),
                "dataset_id": export.dataset_id,
                "exported_at": export.exported_at,
            }
        )

    records: list[RatingRecord] = []
    for (file, rater, presentation), found in sorted(candidates.items()):
        chosen = _resolve(file, rater, presentation, found, problems)
        if chosen is not None:
            records.append(chosen)
    primary: dict[str, dict[str, RatingRecord]] = defaultdict(dict)
    repeats: dict[str, dict[str, RatingRecord]] = defaultdict(dict)
    for record in records:
        (primary if record.presentation == 1 else repeats)[record.file][record.rater] = record
    rows = [
        _qc_row(
            image,
            primary.get(image.file, {}),
            repeats.get(image.file, {}),
            matcher.stale[image.file],
            consensus_rule,
        )
        for image in images
    ]
    table = {
        file: {rater: rec.rating for rater, rec in by_rater.items() if rec.rating}
        for file, by_rater in primary.items()
    }
    raters = sorted({rater for by_rater in table.values() for rater in by_rater})
    return MergeResult(
        rows=rows,
        records=records,
        problems=problems,
        raters=raters,
        agreement=agreement_summary(table, raters),
        intra_rater=intra_rater_summary(primary, repeats),
        sources=sources,
        columns=[entity_column_name(n) for n in entity_columns(images)] + list(QC_COLUMNS),
        consensus_rule=consensus_rule,
        dataset_id=dataset_id,
        images=list(images),
    )


class _Matcher:
    """Finds the image a rating was made on, and says why when there is none."""

    def __init__(self, images: Sequence[ImageInfo]) -> None:
        self.by_file = {image.file: image for image in images}
        self.by_input: dict[str, list[ImageInfo]] = defaultdict(list)
        for image in images:
            if image.input_sha256:
                self.by_input[image.input_sha256].append(image)
        self.stale: dict[str, int] = defaultdict(int)

    def match(self, record: RatingRecord, rater: str, report: Any) -> ImageInfo | None:
        image = self.by_file.get(record.file)
        if image is None:
            found = self.by_input.get(record.input_sha256, []) if record.input_sha256 else []
            if len(found) != 1:
                why = "several images have its checksum" if found else "not in this derivative"
                report("unknown_image", f"{rater} rated {record.file}, which is {why}; "
                       "not merged", record.file, rater)  # fmt: skip
                return None
            image = found[0]
            report("renamed", f"{rater} rated {record.file}; the same content is now "
                   f"{image.file} (merged there)", image.file, rater, merged=True)  # fmt: skip
        if record.input_sha256 and record.input_sha256 != image.input_sha256:
            self.stale[image.file] += 1
            report("stale", f"{rater} rated an earlier version of {image.file} (input "
                   f"{record.input_sha256[:12]}…, now {image.input_sha256[:12] or '?'}…); "
                   "not merged: rate it again", image.file, rater)  # fmt: skip
            return None
        if not record.input_sha256 and not (
            record.video_sha256 and record.video_sha256 == image.video_sha256
        ):
            report("unverified", f"{rater}'s rating of {image.file} has no input checksum "
                   "and was made on another video (an export of an older page); not merged: "
                   "import it into the page and export again, or rate again",
                   image.file, rater)  # fmt: skip
            return None
        return image


def _qc_row(
    image: ImageInfo,
    first: Mapping[str, RatingRecord],
    again: Mapping[str, RatingRecord],
    n_stale: int,
    rule: str,
) -> QCRatingRow:
    """The qc_ratings row of one image from its merged first presentations and repeats."""
    rated = {rater: rec.rating for rater, rec in sorted(first.items()) if rec.rating}
    everything = [*first.values(), *again.values()]
    notes = [(r, rec.note) for r, rec in sorted(first.items()) if rec.note]
    notes += [(f"{r} (repeat)", rec.note) for r, rec in sorted(again.items()) if rec.note]
    votes = list(rated.values())
    return QCRatingRow(
        entities=dict(image.entities),
        file=image.file,
        rating=consensus(votes, rule),
        n_raters=len(votes),
        n_pass=votes.count("pass"),
        n_doubtful=votes.count("doubtful"),
        n_fail=votes.count("fail"),
        ratings=tuple(rated.items()),
        tags=tuple(sorted({t for rec in everything for t in rec.tags}, key=TAG_IDS.index)),
        notes=tuple(notes),
        status=image.status,
        input_sha256=image.input_sha256,
        n_stale=n_stale,
        n_earlier_rendering=sum(
            1
            for rec in everything
            if rec.video_sha256 and image.video_sha256 and rec.video_sha256 != image.video_sha256
        ),
        n_repeats=len(again),
    )


def _resolve(
    file: str,
    rater: str,
    presentation: int,
    found: list[tuple[RatingRecord, str]],
    problems: list[Problem],
) -> RatingRecord | None:
    """One record from several of one rater for one image (see :func:`merge_ratings`)."""
    contents = {rec.content() for rec, _ in found}
    newest = max(rec.timestamp for rec, _ in found)
    latest = [(rec, src) for rec, src in found if rec.timestamp == newest]
    if len(contents) == 1:
        return latest[0][0]
    what = "the catch-trial repeat of " if presentation == 2 else ""
    listed = "; ".join(
        f"{rec.rating or 'no rating'} at {rec.timestamp or '?'} in {src}"
        for rec, src in sorted(found, key=lambda f: f[0].timestamp)
    )
    if len({rec.content() for rec, _ in latest}) > 1:
        problems.append(
            Problem(
                "conflict",
                ", ".join(sorted({src for _, src in found})),
                f"{rater} rated {what}{file} differently with the same timestamp ({listed}); "
                "not merged",
                file,
                rater,
            )
        )
        return None
    problems.append(
        Problem(
            "conflict",
            ", ".join(sorted({src for _, src in found})),
            f"{rater} rated {what}{file} differently ({listed}); the newest is merged",
            file,
            rater,
            merged=True,
        )
    )
    return latest[0][0]


def agreement_summary(
    table: Mapping[str, Mapping[str, str]], raters: Sequence[str]
) -> dict[str, Any]:
    """Agreement between raters on first presentations.

    Parameters
    ----------
    table : mapping of file to (mapping of rater to label)
        Every merged rating (first presentations).
    raters : sequence of str
        All raters, sorted.

    Returns
    -------
    dict
        ``n_raters``; ``overall``: Cohen's κ (2 raters) or Fleiss' κ (3+, on the images every
        rater rated) with per-label κ and, for Cohen, the confusion table; ``pairwise``: Cohen's
        κ with a confusion table for every pair of raters; ``disagreements``: the images rated
        by two or more raters who differ; ``n_images_multi``: images rated by two or more.
    """
    multi = {file: r for file, r in table.items() if len(r) >= 2}
    disagreements = sorted(
        (f for f, r in multi.items() if len(set(r.values())) > 1), key=natural_key
    )
    summary: dict[str, Any] = {
        "n_raters": len(raters),
        "labels": list(RATING_LABELS),
        "n_images_multi": len(multi),
        "disagreements": disagreements,
        "overall": None,
        "pairwise": [],
    }
    pairwise = []
    for first, second in combinations(raters, 2):
        pairs = [(r[first], r[second]) for r in table.values() if first in r and second in r]
        pairwise.append(cohen_json(cohen_kappa(pairs, RATING_LABELS), first, second))
    summary["pairwise"] = pairwise
    if len(raters) < 2:
        summary["reason"] = "agreement needs two or more raters"
    elif len(raters) == 2:
        summary["overall"] = pairwise[0]
    else:
        complete = [r for r in table.values() if all(rater in r for rater in raters)]
        counts = [label_counts(r, RATING_LABELS) for r in complete]
        overall = fleiss_json(fleiss_kappa(counts, RATING_LABELS), raters)
        if not complete:
            overall["reason"] = "no image was rated by every rater"
        overall["n_images_incomplete"] = sum(1 for r in multi.values() if len(r) < len(raters))
        summary["overall"] = overall
    return summary


def intra_rater_summary(
    primary: Mapping[str, Mapping[str, RatingRecord]],
    repeats: Mapping[str, Mapping[str, RatingRecord]],
) -> dict[str, Any]:
    """Each rater's consistency with themself on catch-trial repeats.

    Returns
    -------
    dict
        rater → ``{"n_repeats", "n_same", "proportion_same", "kappa", "inconsistent":
        [{"file", "first", "repeat"}]}`` (κ: Cohen's, first presentation against repeat).
    """
    out: dict[str, Any] = {}
    by_rater: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for file, by in repeats.items():
        for rater, again in by.items():
            first = primary.get(file, {}).get(rater)
            if first is not None and first.rating and again.rating:
                by_rater[rater].append((file, first.rating, again.rating))
    for rater in sorted(by_rater):
        found = sorted(by_rater[rater], key=lambda t: natural_key(t[0]))
        result = cohen_kappa([(a, b) for _, a, b in found], RATING_LABELS)
        same = sum(1 for _, a, b in found if a == b)
        out[rater] = {
            "n_repeats": len(found),
            "n_same": same,
            "proportion_same": fraction_json(Fraction(same, len(found))),
            "kappa": kappa_json(result.kappa),
            "interpretation": interpret(result.kappa),
            "inconsistent": [{"file": f, "first": a, "repeat": b} for f, a, b in found if a != b],
        }
    return out


# --------------------------------------------------------------------------------------------
# Writing the outputs
# --------------------------------------------------------------------------------------------


def _extension(file: str) -> str:
    return ".nii.gz" if file.endswith(".nii.gz") else Path(file).suffix


def exclusion_list(
    result: MergeResult, exclude_ratings: Sequence[str] = ("fail",)
) -> dict[str, Any]:
    """The pybids-ready exclusion list (``exclude.json``).

    Parameters
    ----------
    result : MergeResult
        From :func:`merge_ratings`.
    exclude_ratings : sequence of str
        Consensus labels to exclude (``ratings.exclude`` in the config).

    Returns
    -------
    dict
        ``exclude``: one filter per excluded image with *every* entity used in the
        derivative (``None`` where the image has none, which pybids reads as "must not be
        defined"), plus ``datatype`` and ``extension``, so that ``layout.get(**f)`` returns
        exactly that image; ``files``: their BIDS paths; ``participants_with_exclusions`` and
        ``participants_without_exclusions``: labels for a BIDS App's ``--participant-label``.
    """
    names = [n for n in entity_columns(result.images)]
    filters, files = [], []
    excluded_subjects, all_subjects = set(), set()
    for row in result.rows:
        subject = row.entities.get("subject", "")
        all_subjects.add(subject)
        if row.rating not in exclude_ratings:
            continue
        entry: dict[str, Any] = {n: row.entities.get(n) for n in names}
        if entry.get("run") is not None and entry["run"].isdigit():
            entry["run"] = int(entry["run"])  # pybids stores run as a number
        entry["datatype"] = "anat"
        entry["extension"] = _extension(row.file)
        filters.append(entry)
        files.append(row.file)
        excluded_subjects.add(subject)
    return {
        "Description": "Images to leave out of analysis: their consensus QC rating "
        f"(qc_ratings.tsv) is one of {', '.join(exclude_ratings)}. Each entry of 'exclude' "
        "is a pybids filter that matches exactly that image: BIDSLayout.get(**entry).",
        "GeneratedBy": [{"Name": "neurovid", "Version": __version__}],
        "ConsensusRule": result.consensus_rule,
        "ExcludeRatings": list(exclude_ratings),
        "exclude": filters,
        "files": files,
        "participants_with_exclusions": sorted(excluded_subjects, key=natural_key),
        "participants_without_exclusions": sorted(
            all_subjects - excluded_subjects, key=natural_key
        ),
    }


def _column_descriptions(columns: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in columns:
        if column in QC_COLUMNS:
            out[column] = QC_COLUMNS[column]
        elif column == "participant_id":
            out[column] = {"Description": "Participant (BIDS subject), e.g. sub-01."}
        elif column == "session_id":
            out[column] = {"Description": "Session, e.g. ses-1; n/a: no session."}
        else:
            out[column] = {"Description": f"BIDS entity '{column}' of the image; n/a: none."}
    return out


def qc_ratings_json(result: MergeResult) -> dict[str, Any]:
    """The content of ``qc_ratings.json``: column descriptions (BIDS style), then the merge."""
    doc = _column_descriptions(result.columns)
    doc.update(
        {
            "GeneratedBy": [{"Name": "neurovid", "Version": __version__}],
            "DatasetId": result.dataset_id,
            "ConsensusRule": {
                "Name": result.consensus_rule,
                "Description": CONSENSUS_RULES[result.consensus_rule],
            },
            "Raters": result.raters,
            "Agreement": result.agreement,
            "IntraRater": result.intra_rater,
            "Problems": [p.to_dict() for p in result.problems],
            "Sources": result.sources,
            "Ratings": [r.to_dict() for r in result.records],
        }
    )
    return doc


def write_merge_outputs(
    result: MergeResult,
    tsv_path: str | os.PathLike[str],
    json_path: str | os.PathLike[str],
    exclude_path: str | os.PathLike[str],
    exclude_ratings: Sequence[str] = ("fail",),
) -> None:
    """Write ``qc_ratings.tsv``, ``qc_ratings.json`` and ``exclude.json`` (each atomically).

    With no export, the TSV still has one row per image (all ``n/a``), the JSON says there are
    no raters and ``exclude`` is empty: valid, empty results rather than missing files.
    """
    lines = ["\t".join(result.columns)]
    for row in result.rows:
        lines.append("\t".join(tsv_cell(c) for c in row.cells(result.columns)))
    write_text_atomic(tsv_path, "\n".join(lines) + "\n")
    write_text_atomic(
        json_path, json.dumps(qc_ratings_json(result), indent=2, ensure_ascii=False) + "\n"
    )
    write_text_atomic(
        exclude_path,
        json.dumps(exclusion_list(result, exclude_ratings), indent=2, ensure_ascii=False) + "\n",
    )
