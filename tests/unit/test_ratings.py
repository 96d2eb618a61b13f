"""Ratings as data: exports, the merge, consensus, agreement (exact κ), exclusion, the queue.

Every export below is built through :class:`neurovid.ratings.RaterExport` and
:class:`~neurovid.ratings.RatingRecord` (the one definition the page follows too) and written
to disk as TSV or JSON, then merged by :func:`neurovid.ratings.merge_ratings`.

The hand-computed example (10 images, labels P = pass, D = doubtful, F = fail)::

    image  1  2  3  4  5  6  7  8  9  10
    Ann    P  P  P  P  P  D  D  F  F  F
    Bob    P  P  P  P  D  D  F  F  F  P
    Cat    P  P  P  D  D  D  F  F  P  P

Cohen's κ, Ann (rows) against Bob (columns)::

              P  D  F   | Ann
          P   4  1  0   |  5
          D   0  1  1   |  2
          F   1  0  2   |  3
    Bob       5  2  3   | 10

    p_o = (4 + 1 + 2) / 10 = 7/10
    p_e = (5·5 + 2·2 + 3·3) / 100 = 38/100 = 19/50
    κ   = (7/10 − 19/50) / (1 − 19/50) = (16/50) / (31/50) = 16/31

Per label (that label against the rest), e.g. fail: both F on images 8, 9; Ann only on 10;
Bob only on 7; neither on 6 images → p_o = 8/10, p_e = 0.3·0.3 + 0.7·0.7 = 29/50,
κ_F = (40/50 − 29/50) / (21/50) = 11/21. Likewise κ_P = (4/5 − 1/2) / (1/2) = 3/5 and
κ_D = (4/5 − 17/25) / (8/25) = 3/8.

Fleiss' κ, all three (n = 3 raters, N = 10 images), counts n_ij (P, D, F) per image::

    1–3: (3,0,0)  4: (2,1,0)  5: (1,2,0)  6: (0,3,0)  7: (0,1,2)  8: (0,0,3)
    9: (1,0,2)  10: (2,0,1)            column totals P 15, D 7, F 8 (of 30)

    P_i = (Σ_j n_ij² − 3) / 6: 1 for images 1, 2, 3, 6, 8; 1/3 for the other five
    P̄   = (5 + 5/3) / 10 = 2/3
    P̄_e = (15/30)² + (7/30)² + (8/30)² = (225 + 49 + 64) / 900 = 169/450
    κ   = (2/3 − 169/450) / (1 − 169/450) = (131/450) / (281/450) = 131/281

    per label κ_j = 1 − Σ_i n_ij (3 − n_ij) / (N·3·2·p_j(1 − p_j)):
    P: Σ = 8, denominator 60·(1/2)(1/2) = 15          → κ_P = 1 − 8/15  = 7/15
    D: Σ = 6, denominator 60·(7/30)(23/30) = 161/15   → κ_D = 1 − 90/161 = 71/161
    F: Σ = 6, denominator 60·(8/30)(22/30) = 176/15   → κ_F = 1 − 90/176 = 43/88

Consensus "majority, fail wins ties": with Ann and Bob, image 5 (P, D) → doubtful, 7 (D, F)
→ fail, 10 (F, P) → fail; with all three, 4 → pass, 5 → doubtful, 7 → fail, 9 → fail,
10 → pass.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from neurovid import ratings as R
from neurovid import ratings_merge as M
from neurovid.agreement import cohen_kappa, fleiss_kappa, interpret

ANN = "P P P P P D D F F F".split()
BOB = "P P P P D D F F F P".split()
CAT = "P P P D D D F F P P".split()
LABEL = {"P": "pass", "D": "doubtful", "F": "fail"}


def sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def make_images(n: int = 10) -> list[R.ImageInfo]:
    """Ten images: sub-01…sub-05, each with ses-1 and ses-2 (so files and entities vary)."""
    images = []
    for i in range(n):
        sub, ses = f"{i // 2 + 1:02d}", str(i % 2 + 1)
        file = f"sub-{sub}/ses-{ses}/anat/sub-{sub}_ses-{ses}_T1w.nii.gz"
        images.append(
            R.ImageInfo(
                file=file,
                entities={"subject": sub, "session": ses, "suffix": "T1w"},
                input_sha256=sha("input " + file),
                video_sha256=sha("video " + file),
            )
        )
    return images


def record(image: R.ImageInfo, rater: str, rating: str, **kw) -> R.RatingRecord:
    fields = dict(
        file=image.file,
        input_sha256=image.input_sha256,
        video_sha256=image.video_sha256,
        rater=rater,
        rating=rating,
        timestamp="2025-01-01T10:00:00.000Z",
        participant_id="sub-" + image.entities["subject"],
        session_id="ses-" + image.entities["session"] if "session" in image.entities else "",
        entities={k: v for k, v in image.entities.items() if k not in ("subject", "session")},
    )
    fields.update(kw)
    return R.RatingRecord(**fields)


def export(rater: str, records: list[R.RatingRecord], **kw) -> R.RaterExport:
    return R.RaterExport(rater=rater, ratings=records, entity_columns=["suffix"], **kw)


def write(folder: Path, name: str, doc: R.RaterExport) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(doc.to_json() if name.endswith(".json") else doc.to_tsv(), encoding="utf-8")
    return path


def example_exports(folder: Path, images: list[R.ImageInfo], raters: str = "ABC") -> list[Path]:
    """The hand-computed example: Ann as TSV, Bob and Cat as JSON."""
    paths = []
    for key, name, labels, fmt in (("A", "Ann", ANN, "tsv"), ("B", "Bob", BOB, "json"),
                                   ("C", "Cat", CAT, "json")):  # fmt: skip
        if key in raters:
            records = [record(img, name, LABEL[x]) for img, x in zip(images, labels, strict=True)]
            paths.append(write(folder, f"{name.lower()}.{fmt}", export(name, records)))
    return paths


# --------------------------------------------------------------------------------------------
# κ on the hand-computed example
# --------------------------------------------------------------------------------------------


def test_cohen_kappa_matches_hand_computation() -> None:
    result = cohen_kappa(list(zip(ANN, BOB, strict=True)), "PDF")
    assert result.confusion == ((4, 1, 0), (0, 1, 1), (1, 0, 2))
    assert result.observed == Fraction(7, 10) and result.expected == Fraction(19, 50)
    assert result.kappa == Fraction(16, 31)
    assert result.per_label == {"P": Fraction(3, 5), "D": Fraction(3, 8), "F": Fraction(11, 21)}


def test_fleiss_kappa_matches_hand_computation() -> None:
    counts = [[[a, b, c].count(x) for x in "PDF"] for a, b, c in zip(ANN, BOB, CAT, strict=True)]
    result = fleiss_kappa(counts, "PDF")
    assert result.label_totals == (15, 7, 8)
    assert result.observed == Fraction(2, 3) and result.expected == Fraction(169, 450)
    assert result.kappa == Fraction(131, 281)
    assert result.per_label == {
        "P": Fraction(7, 15),
        "D": Fraction(71, 161),
        "F": Fraction(43, 88),
    }


def test_kappa_undefined_cases_say_why() -> None:
    same = cohen_kappa([("P", "P")] * 4, "PDF")
    assert same.kappa is None and "same label" in same.reason
    assert same.per_label["P"] is None and same.per_label["F"] is None
    assert cohen_kappa([], "PDF").reason == "no item rated by both"
    perfect = cohen_kappa([("P", "P"), ("F", "F")], "PDF")
    assert perfect.kappa == 1 and perfect.per_label["D"] is None
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[2, 0, 0], [1, 1, 1]], "PDF")
    assert [interpret(Fraction(k, 100)) for k in (-5, 10, 30, 50, 70, 90)] == [
        "poor", "slight", "fair", "moderate", "substantial", "almost perfect",
    ]  # fmt: skip


def test_merge_two_raters(tmp_path: Path) -> None:
    images = make_images()
    paths = example_exports(tmp_path / "ratings", images, "AB")
    result = M.merge_ratings(paths, images, base_dir=tmp_path)
    assert result.raters == ["Ann", "Bob"] and result.problems == []
    overall = result.agreement["overall"]
    assert overall["method"] == "cohen" and overall["n_images"] == 10
    assert overall["kappa"] == {"value": 16 / 31, "exact": "16/31"}
    assert {k: v["exact"] for k, v in overall["per_label"].items()} == {
        "pass": "3/5",
        "doubtful": "3/8",
        "fail": "11/21",
    }
    assert overall["confusion"] == {
        "rows": "Ann",
        "columns": "Bob",
        "labels": ["pass", "doubtful", "fail"],
        "counts": [[4, 1, 0], [0, 1, 1], [1, 0, 2]],
    }
    # the disagreements are exactly the images where Ann and Bob differ (5, 7, 10)
    assert result.agreement["disagreements"] == [images[i].file for i in (4, 6, 9)]
    consensus = [row.rating for row in result.rows]
    assert consensus == ["pass"] * 4 + ["doubtful", "doubtful", "fail", "fail", "fail", "fail"]
    assert [row.agreement for row in result.rows][4:7] == ["split", "unanimous", "split"]
    assert result.rows[9].ratings == (("Ann", "fail"), ("Bob", "pass"))


def test_merge_three_raters(tmp_path: Path) -> None:
    images = make_images()
    paths = example_exports(tmp_path / "ratings", images, "ABC")
    result = M.merge_ratings(paths, images)
    overall = result.agreement["overall"]
    assert overall["method"] == "fleiss" and overall["raters"] == ["Ann", "Bob", "Cat"]
    assert overall["kappa"]["exact"] == "131/281"
    assert {k: v["exact"] for k, v in overall["per_label"].items()} == {
        "pass": "7/15",
        "doubtful": "71/161",
        "fail": "43/88",
    }
    assert overall["label_totals"] == {"pass": 15, "doubtful": 7, "fail": 8}
    pairs = {tuple(p["raters"]): p["kappa"]["exact"] for p in result.agreement["pairwise"]}
    assert pairs[("Ann", "Bob")] == "16/31" and set(pairs) == {
        ("Ann", "Bob"),
        ("Ann", "Cat"),
        ("Bob", "Cat"),
    }
    assert [row.rating for row in result.rows] == [
        "pass", "pass", "pass", "pass", "doubtful", "doubtful", "fail", "fail", "fail", "pass",
    ]  # fmt: skip
    assert (result.rows[3].n_pass, result.rows[3].n_doubtful, result.rows[3].n_fail) == (2, 1, 0)
    assert all(row.n_raters == 3 for row in result.rows)


def test_merge_one_rater(tmp_path: Path) -> None:
    images = make_images()
    paths = example_exports(tmp_path, images, "A")
    result = M.merge_ratings(paths, images)
    assert [row.rating for row in result.rows] == [LABEL[x] for x in ANN]
    assert all(row.agreement == "single" for row in result.rows)
    assert result.agreement["overall"] is None
    assert result.agreement["reason"] == "agreement needs two or more raters"
    assert result.agreement["disagreements"] == []


@pytest.mark.parametrize(
    ("votes", "rule", "expected"),
    [
        (["pass", "fail"], "majority_fail_wins_ties", "fail"),
        (["pass", "doubtful"], "majority_fail_wins_ties", "doubtful"),
        (["pass", "pass", "fail"], "majority_fail_wins_ties", "pass"),
        (["pass", "fail"], "majority_doubtful_wins_ties", "doubtful"),
        (["fail", "fail", "pass"], "majority_doubtful_wins_ties", "fail"),
        (["pass", "pass", "pass", "doubtful"], "worst", "doubtful"),
        (["pass", "pass", "fail"], "worst", "fail"),
        (["pass", "pass", "fail"], "mean", "pass"),  # mean 1/3
        (["pass", "fail"], "mean", "doubtful"),  # mean 0
        (["doubtful", "fail"], "mean", "fail"),  # mean -1/2
        ([], "worst", ""),
        (["", "pass"], "majority_fail_wins_ties", "pass"),
    ],
)
def test_consensus_rules(votes: list[str], rule: str, expected: str) -> None:
    assert R.consensus(votes, rule) == expected


def test_unknown_consensus_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown consensus rule 'vote'"):
        R.consensus(["pass"], "vote")


# --------------------------------------------------------------------------------------------
# What is not merged silently
# --------------------------------------------------------------------------------------------


def kinds(result: M.MergeResult) -> list[tuple[str, str, str, bool]]:
    return sorted((p.kind, p.file, p.rater, p.merged) for p in result.problems)


def test_stale_rating_is_reported_not_merged(tmp_path: Path) -> None:
    images = make_images(2)
    old = record(images[0], "Ann", "fail", input_sha256=sha("the file before it was replaced"))
    path = write(tmp_path / "ratings", "ann.json", export("Ann", [old]))
    result = M.merge_ratings([path], images, base_dir=tmp_path)
    assert kinds(result) == [("stale", images[0].file, "Ann", False)]
    assert "ratings/ann.json: Ann rated an earlier version of" in result.problems[0].message
    assert result.rows[0].rating == "" and result.rows[0].n_stale == 1


def test_rerendered_video_keeps_its_rating_counted(tmp_path: Path) -> None:
    images = make_images(2)
    earlier = record(images[0], "Ann", "pass", video_sha256=sha("an earlier rendering"))
    path = write(tmp_path, "ann.tsv", export("Ann", [earlier]))
    result = M.merge_ratings([path], images)
    assert result.problems == []
    assert result.rows[0].rating == "pass" and result.rows[0].n_earlier_rendering == 1


def test_conflicting_ratings_of_one_rater(tmp_path: Path) -> None:
    images = make_images(3)
    monday = [record(images[0], "Ann", "pass", timestamp="2025-01-06T09:00:00Z"),
              record(images[1], "Ann", "pass", timestamp="2025-01-06T09:00:00Z"),
              record(images[2], "Ann", "fail", timestamp="2025-01-06T09:00:00Z")]  # fmt: skip
    tuesday = [record(images[0], "Ann", "fail", timestamp="2025-01-07T09:00:00Z"),
               record(images[1], "Ann", "doubtful", timestamp="2025-01-06T09:00:00Z"),
               record(images[2], "Ann", "fail", timestamp="2025-01-07T09:00:00Z")]  # fmt: skip
    paths = [write(tmp_path, "ann-mon.json", export("Ann", monday)),
             write(tmp_path, "ann-tue.tsv", export("Ann", tuesday))]  # fmt: skip
    result = M.merge_ratings(paths, images)
    # image 1: changed on Tuesday → newest merged, conflict listed; image 2: same timestamp,
    # different ratings → nothing merged; image 3: the same rating twice is one rating
    assert kinds(result) == sorted(
        [("conflict", images[0].file, "Ann", True), ("conflict", images[1].file, "Ann", False)]
    )
    assert [row.rating for row in result.rows] == ["fail", "", "fail"]
    assert [row.n_raters for row in result.rows] == [1, 0, 1]
    assert "pass at 2025-01-06T09:00:00Z in ann-mon.json" in result.problems[0].message


def test_unknown_renamed_and_unverified_ratings(tmp_path: Path) -> None:
    images = make_images(3)
    renamed = record(images[1], "Ann", "fail", file="sub-99/anat/sub-99_T1w.nii.gz")
    unknown = record(images[0], "Ann", "pass", file="sub-77/anat/sub-77_T1w.nii.gz",
                     input_sha256=sha("nothing here"))  # fmt: skip
    # a version-1 export: no input checksum; the video it names is not the current one
    old_page = record(images[2], "Ann", "doubtful", input_sha256="", video_sha256=sha("old"))
    same_video = record(images[0], "Bob", "pass", input_sha256="")
    paths = [write(tmp_path, "ann.json", export("Ann", [renamed, unknown, old_page])),
             write(tmp_path, "bob.json", export("Bob", [same_video]))]  # fmt: skip
    result = M.merge_ratings(paths, images)
    assert kinds(result) == sorted([
        ("renamed", images[1].file, "Ann", True),
        ("unknown_image", "sub-77/anat/sub-77_T1w.nii.gz", "Ann", False),
        ("unverified", images[2].file, "Ann", False),
    ])  # fmt: skip
    assert [row.rating for row in result.rows] == ["pass", "fail", ""]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("proto.json", '{"neurovid_ratings_version": 2, "ratings": [{"__proto__": {"x": 1}}]}',
         "refused: the JSON contains the prototype key '__proto__'"),
        ("ctor.json", '{"neurovid_ratings_version": 2, "constructor": 1, "ratings": []}',
         "prototype key 'constructor'"),
        ("proto.tsv", "file\tinput_sha256\tprototype\nx\ty\tz\n",
         "refused: the TSV has the column 'prototype'"),
        ("other.json", '{"name": "a package.json"}', "not a neurovid ratings export"),
        ("other.tsv", "a\tb\n1\t2\n", "not a neurovid ratings export"),
        ("empty.tsv", "", "the file is empty"),
        ("nan.json", '{"neurovid_ratings_version": NaN}', "NaN is not a number"),
        ("cut.json", '{"neurovid_ratings_version": 2, "ratings": [', "invalid JSON"),
        ("future.json", '{"neurovid_ratings_version": 9, "ratings": []}', "unsupported"),
    ],
)  # fmt: skip
def test_bad_files_are_rejected_with_one_line(
    tmp_path: Path, name: str, content: str, reason: str
) -> None:
    images = make_images(1)
    good = write(tmp_path, "good.json", export("Ann", [record(images[0], "Ann", "pass")]))
    bad = tmp_path / name
    bad.write_text(content)
    result = M.merge_ratings([bad, good], images, base_dir=tmp_path)
    assert [p.kind for p in result.problems] == ["rejected_file"]
    message = result.problems[0].message
    assert message.startswith(f"{name}: ") and reason in message and "\n" not in message
    assert result.rows[0].rating == "pass"  # one bad file never stops the others


def test_bad_rows_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    images = make_images(2)
    good = export("Ann", [record(images[0], "Ann", "pass")]).to_tsv()
    lines = good.splitlines()
    bad_rating = lines[1].replace("\tpass\t", "\texcellent\t")
    path = tmp_path / "ann.tsv"
    path.write_text("\n".join([lines[0], lines[1], bad_rating, "too\tfew"]) + "\n")
    result = M.merge_ratings([path], images)
    assert [p.message for p in result.problems if p.kind == "bad_row"] == [
        "ann.tsv: line 3: unknown rating 'excellent' (expected pass, doubtful, fail)",
        "ann.tsv: line 4: 2 cells for 19 columns",
    ]
    assert result.rows[0].rating == "pass"


def test_ratings_without_rater_are_merged_under_the_file_name(tmp_path: Path) -> None:
    images = make_images(1)
    path = write(tmp_path, "lab-pc.json", export("", [record(images[0], "", "doubtful")]))
    result = M.merge_ratings([path], images)
    assert kinds(result) == [("no_rater", "", "unnamed (lab-pc.json)", True)]
    assert result.rows[0].ratings == (("unnamed (lab-pc.json)", "doubtful"),)


# --------------------------------------------------------------------------------------------
# Files: TSV cells, round trips, outputs
# --------------------------------------------------------------------------------------------

HOSTILE = [
    "=HYPERLINK(\"http://x\",\"click\")", "+1", "-2+3", "@SUM(A1)", "'=already quoted",
    "''=two", "tab\there", "line\nbreak", "cr\rhere", "back\\slash", "\\t literal", "n/a?",
    "ünïcødé ✓", "'plain apostrophe", "=", "",
]  # fmt: skip


@pytest.mark.parametrize("text", HOSTILE)
def test_tsv_cells_round_trip_and_are_spreadsheet_safe(text: str) -> None:
    cell = R.tsv_cell(text)
    assert "\t" not in cell and "\n" not in cell and "\r" not in cell
    assert not cell.startswith(("=", "+", "-", "@"))
    assert R.tsv_value(cell) == text


def test_numbers_are_not_escaped() -> None:
    assert R.tsv_cell(-1) == "-1" and R.tsv_cell(0.25) == "0.25" and R.tsv_cell(True) == "true"
    assert R.tsv_cell(None) == "n/a"


def test_export_round_trips_through_tsv_and_json(tmp_path: Path) -> None:
    images = make_images(2)
    records = [
        record(images[0], "Ann", "fail", tags=("motion", "fov_cutoff"), note="=cmd|' /C calc'!A0",
               blinded=True, blind_code="K7Q2XM", review_seed="123", catch_share=0.2),
        record(images[1], "Ann", "", note="tab\there\nnew line \\ backslash", presentation=2),
    ]  # fmt: skip
    ids = {"dataset": "ds", "dataset_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
    doc = export("Ann", [r for r in records], **ids)
    records = [replace(r, **ids) for r in records]  # a reader fills them in from the document
    for name in ("a.tsv", "a.json"):
        back = R.RaterExport.read(write(tmp_path, name, doc))
        assert back.ratings == records and back.row_errors == []
        assert back.rater == "Ann" and back.dataset == "ds"
    tsv = (tmp_path / "a.tsv").read_text()
    assert "\t'=cmd|' /C calc'!A0\t" in tsv  # escaped for spreadsheets


def test_merge_outputs_and_read_back(tmp_path: Path) -> None:
    images = make_images()
    paths = example_exports(tmp_path / "ratings", images, "AB")
    result = M.merge_ratings(paths, images, dataset_id="id")
    out = [tmp_path / n for n in ("qc_ratings.tsv", "qc_ratings.json", "exclude.json")]
    M.write_merge_outputs(result, *out)
    lines = out[0].read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:4] == ["participant_id", "session_id", "suffix", "file"]
    assert header[4:] == list(R.QC_COLUMNS)[1:]
    row = dict(zip(header, lines[10].split("\t"), strict=True))  # image 10: Ann F, Bob P
    assert row == {
        "participant_id": "sub-05", "session_id": "ses-2", "suffix": "T1w",
        "file": images[9].file, "rating": "fail", "rating_numeric": "-1", "n_raters": "2",
        "n_pass": "1", "n_doubtful": "0", "n_fail": "1", "agreement": "split",
        "ratings": "Ann: fail | Bob: pass", "tags": "n/a", "notes": "n/a",
        "status": "rendered", "input_sha256": images[9].input_sha256, "n_stale": "0",
        "n_earlier_rendering": "0", "n_repeats": "0",
    }  # fmt: skip
    assert R.read_qc_ratings(out[0]) == result.rows
    doc = json.loads(out[1].read_text())
    for column in header:
        assert doc[column]["Description"]
    assert doc["Agreement"]["overall"]["kappa"]["exact"] == "16/31"
    assert doc["ConsensusRule"]["Name"] == "majority_fail_wins_ties"
    assert len(doc["Ratings"]) == 20 and doc["Raters"] == ["Ann", "Bob"]
    assert [s["file"] for s in doc["Sources"]] == ["ann.tsv", "bob.json"]


def test_no_exports_gives_valid_empty_outputs(tmp_path: Path) -> None:
    images = make_images(3)
    result = M.merge_ratings([], images)
    out = [tmp_path / n for n in ("qc_ratings.tsv", "qc_ratings.json", "exclude.json")]
    M.write_merge_outputs(result, *out)
    rows = R.read_qc_ratings(out[0])
    assert [r.file for r in rows] == [i.file for i in images]
    assert all(r.rating == "" and r.n_raters == 0 for r in rows)
    assert json.loads(out[1].read_text())["Raters"] == []
    assert json.loads(out[2].read_text())["exclude"] == []


def test_notes_and_tags_union_with_raters(tmp_path: Path) -> None:
    images = make_images(1)
    paths = [
        write(tmp_path, "a.json", export("Ann", [record(images[0], "Ann", "fail",
              tags=("motion",), note="=ghosting; see slice 40")])),
        write(tmp_path, "b.tsv", export("Bob", [record(images[0], "Bob | PI", "doubtful",
              tags=("ringing", "motion"), note="ok-ish")])),
    ]  # fmt: skip
    result = M.merge_ratings(paths, images)
    row = result.rows[0]
    assert row.tags == ("motion", "ringing")
    assert row.notes == (("Ann", "=ghosting; see slice 40"), ("Bob | PI", "ok-ish"))
    cells = dict(zip(result.columns, row.cells(result.columns), strict=True))
    assert cells["notes"] == "Ann: =ghosting; see slice 40 | Bob / PI: ok-ish"
    assert R.tsv_cell(cells["notes"]).startswith("Ann")


# --------------------------------------------------------------------------------------------
# Catch trials and the blinded queue
# --------------------------------------------------------------------------------------------


def test_intra_rater_consistency_from_repeats(tmp_path: Path) -> None:
    images = make_images(4)
    first = [record(img, "Ann", r) for img, r in zip(images, ["pass", "fail", "pass", "fail"],
                                                        strict=True)]  # fmt: skip
    again = [record(images[0], "Ann", "pass", presentation=2),
             record(images[1], "Ann", "doubtful", presentation=2),
             record(images[2], "Ann", "pass", presentation=2)]  # fmt: skip
    path = write(tmp_path, "ann.json", export("Ann", first + again))
    result = M.merge_ratings([path], images)
    ann = result.intra_rater["Ann"]
    # pairs (first, repeat): (P,P) (F,D) (P,P) → 2 of 3 the same;
    # p_o = 2/3, first P 2/3 F 1/3, repeat P 2/3 D 1/3 → p_e = 4/9, κ = (2/3 − 4/9)/(5/9) = 2/5
    assert (ann["n_repeats"], ann["n_same"]) == (3, 2)
    assert ann["kappa"]["exact"] == "2/5"
    assert ann["inconsistent"] == [{"file": images[1].file, "first": "fail", "repeat": "doubtful"}]
    # repeats never count as a second rater
    assert [row.rating for row in result.rows] == ["pass", "fail", "pass", "fail"]
    assert [row.n_repeats for row in result.rows] == [1, 1, 1, 0]


def test_review_queue_is_seeded_and_repeats_come_later() -> None:
    files = [f"sub-{i:03d}/anat/sub-{i:03d}_T1w.nii.gz" for i in range(40)]
    queue = R.review_queue(files, "seed-1", 0.1)
    assert queue == R.review_queue(list(reversed(files)), "seed-1", 0.1)
    assert queue != R.review_queue(files, "seed-2", 0.1)
    firsts = [f for f, p in queue if p == 1]
    assert sorted(firsts) == files and firsts != files
    repeats = [(i, f) for i, (f, p) in enumerate(queue) if p == 2]
    assert len(repeats) == 4  # floor(0.1 · 40 + 0.5)
    for position, file in repeats:
        first = queue.index((file, 1))
        assert position - first > 40 // 3  # at least a third of the queue later
    assert R.review_queue(files, "seed-1", 0.0) == [(f, 1) for f in firsts]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7])
def test_review_queue_small(n: int) -> None:
    files = [f"f{i}" for i in range(n)]
    queue = R.review_queue(files, "x", 0.5)
    assert sorted(f for f, p in queue if p == 1) == files
    for file in {f for f, p in queue if p == 2}:
        assert queue.index((file, 2)) > queue.index((file, 1)) + 1 or n < 3


def test_review_queue_hash_is_fnv1a() -> None:
    # the seed's hash (the page's JavaScript must agree; the browser test compares whole queues)
    assert R._fnv1a32("") == 0x811C9DC5 and R._fnv1a32("a") == 0xE40C292C
    assert R._fnv1a32("foobar") == 0xBF9CF968


def test_blind_codes_are_stable_and_distinct() -> None:
    code = R.blind_code("id-1", "sub-01/anat/sub-01_T1w.nii.gz")
    assert code == R.blind_code("id-1", "sub-01/anat/sub-01_T1w.nii.gz")
    assert re.fullmatch(r"[A-Z2-7]{6}", code)
    assert code != R.blind_code("id-1", "sub-01/anat/sub-01_T1w.nii.gz", 2)
    assert code != R.blind_code("id-2", "sub-01/anat/sub-01_T1w.nii.gz")
    codes = {R.blind_code("id-1", f"sub-{i:04d}/anat/sub-{i:04d}_T1w.nii.gz") for i in range(2000)}
    assert len(codes) == 2000


# --------------------------------------------------------------------------------------------
# The dataset id
# --------------------------------------------------------------------------------------------


def test_dataset_id_is_created_once(tmp_path: Path) -> None:
    assert R.read_dataset_id(tmp_path) == ""
    found: list[str] = []
    threads = [threading.Thread(target=lambda: found.append(R.ensure_dataset_id(tmp_path)))
               for _ in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1 and len(found[0]) == 36
    assert R.ensure_dataset_id(tmp_path) == found[0] == R.read_dataset_id(tmp_path)
    assert [p.name for p in (tmp_path / ".neurovid").iterdir()] == ["dataset_id.json"]


# --------------------------------------------------------------------------------------------
# exclude.json through pybids
# --------------------------------------------------------------------------------------------


def test_exclude_json_through_pybids(tmp_path: Path) -> None:
    """A real BIDSLayout: every filter in exclude.json matches exactly its failed image."""
    from bids import BIDSLayout

    from conftest import make_bids

    relpaths = [
        "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz",
        "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz",
        "sub-02/anat/sub-02_run-1_T1w.nii.gz",
        "sub-02/anat/sub-02_run-2_T1w.nii",
        "sub-03/anat/sub-03_acq-fast_T1w.nii.gz",
        "sub-03/anat/sub-03_T1w.nii.gz",
        "sub-04/anat/sub-04_T1w.nii.gz",
    ]
    bids = make_bids(tmp_path / "bids", relpaths, shape=(6, 7, 5))
    layout = BIDSLayout(bids, validate=False)
    images = []
    for f in layout.get(suffix="T1w", extension=[".nii", ".nii.gz"]):
        entities = {k: str(v) for k, v in f.get_entities().items()
                    if k not in ("extension", "datatype")}  # fmt: skip
        images.append(R.ImageInfo(f.relpath, entities, sha(f.relpath), sha("v" + f.relpath)))
    by_file = {i.file: i for i in images}
    failed = [relpaths[1], relpaths[3], relpaths[5]]  # ses-2 only, run-2 only, sub-03 w/o acq
    records = [record(by_file[p], "Ann", "fail" if p in failed else "pass") for p in relpaths]
    path = write(tmp_path, "ann.json", export("Ann", records))
    result = M.merge_ratings([path], images)
    M.write_merge_outputs(result, tmp_path / "q.tsv", tmp_path / "q.json", tmp_path / "ex.json")
    exclude = json.loads((tmp_path / "ex.json").read_text())
    assert exclude["files"] == sorted(failed, key=R.natural_key)
    matched = []
    for entry in exclude["exclude"]:
        found = layout.get(return_type="filename", **entry)
        assert len(found) == 1, (entry, found)
        matched.append(os.path.relpath(found[0], bids))
    assert sorted(matched) == sorted(failed)
    keep = [f.relpath for f in layout.get(suffix="T1w", extension=[".nii", ".nii.gz"])
            if f.relpath not in set(matched)]  # fmt: skip
    assert sorted(keep) == sorted(set(relpaths) - set(failed))
    assert exclude["participants_with_exclusions"] == ["01", "02", "03"]
    assert exclude["participants_without_exclusions"] == ["04"]


# --------------------------------------------------------------------------------------------
# One definition: the docs and the page follow neurovid.ratings
# --------------------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ratings.md"
PAGE = Path(R.__file__).parent / "templates" / "review.html"


def test_docs_describe_every_column_rule_and_problem() -> None:
    text = DOCS.read_text(encoding="utf-8")
    names = [*R.QC_COLUMNS, *R.EXPORT_HEAD, *R.EXPORT_TAIL, *R.CONSENSUS_RULES, *R.TAG_IDS]
    names += ["rejected_file", "bad_row", "no_rater", "unknown_image", "renamed", "stale",
              "unverified", "conflict", "other_dataset"]  # fmt: skip
    assert [n for n in names if f"`{n}`" not in text and f" {n}," not in text] == []


def test_page_labels_and_tags_are_the_library_ones() -> None:
    page = PAGE.read_text(encoding="utf-8")
    tags = re.findall(r"\{ id: '(\w+)', label: '([^']+)', key: '(\w)' \}", page)
    assert [t for t in tags if t[0] in R.TAG_IDS] == list(R.TAGS)
    assert [t[0] for t in tags if t[0] not in R.TAG_IDS] == list(R.RATING_LABELS)


def test_dataset_id_damaged_or_unwritable(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    (damaged / ".neurovid").mkdir(parents=True)
    (damaged / R.DATASET_ID_FILE).write_text("{not json")
    assert len(R.ensure_dataset_id(damaged)) == 36  # replaced by a valid id
    blocked = tmp_path / "blocked"  # .neurovid cannot be made (as on a read-only disk)
    blocked.mkdir()
    (blocked / ".neurovid").write_text("a file, not a folder")
    assert R.ensure_dataset_id(blocked) == ""  # no crash: the page is still built


def test_oversized_export_is_rejected_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.tsv"
    with open(big, "wb") as stream:
        stream.truncate(R.MAX_EXPORT_BYTES + 1)  # sparse: nothing is written or read
    result = M.merge_ratings([big], make_images(1))
    assert [p.message for p in result.problems] == [
        "big.tsv: larger than 200 MB: not a ratings export"
    ]
