"""The study level of triage (neurovid.group): group file columns, round trip and ranking.

Fixtures are built through the records' own definitions: sidecars with
``neurovid.testing.make_sidecar`` and ``quality`` with ``QualityReport`` — never by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neurovid.group import (
    FLAG_WEIGHT,
    SMALL_STUDY,
    GroupTable,
    ImageQuality,
    attention_scores,
    build_group_tables,
    card_quality,
    image_quality_from_sidecar,
    page_quality,
)
from neurovid.quality import MEASURE_NAMES, MEASURES_BY_NAME, Flag, QualityReport
from neurovid.sidecar import write_sidecar
from neurovid.testing import make_sidecar

REPO = Path(__file__).resolve().parents[2]

#: An unremarkable image: every measure at a plausible clean value.
BASE = {
    "fov_contact_pct": 0.0,
    "wrap_pct": 0.0,
    "orientation_fit": 0.8,
    "orientation_gap": -0.04,
    "snr": 30.0,
    "cnr": 12.0,
    "ghost_pct": 0.1,
    "background_pct": 3.0,
    "spike_ratio": 8.0,
    "efc": 0.45,
    "sharpness": 0.4,
    "inu_pct": 10.0,
    "tissue_contrast": 0.3,
}


def report(flags: tuple[str, ...] = (), **metrics: float | None) -> QualityReport:
    values = {**BASE, **metrics}
    return QualityReport(
        {n: values.get(n) for n in MEASURE_NAMES}, [Flag(f, f"{f}!") for f in flags]
    )


def image(label: str, quality: QualityReport | None, **entities: str) -> ImageQuality:
    ents = {"subject": label, "suffix": "T1w", "datatype": "anat", **entities}
    parts = [f"sub-{label}"] + [f"{k[:3]}-{v}" for k, v in entities.items() if k != "session"]
    ses = entities.get("session")
    folder = f"sub-{label}/ses-{ses}/anat" if ses else f"sub-{label}/anat"
    name = "_".join([f"sub-{label}", *([f"ses-{ses}"] if ses else []), *parts[1:], "T1w"])
    return ImageQuality(ents, f"{folder}/{name}.nii.gz", quality)


def test_columns_participant_first_then_entities_file_measures_attention_flags():
    tables = build_group_tables(
        [
            image("02", report(), session="1", run="2"),
            image("01", report(), session="2", acquisition="mprage"),
            image("03", None, session="1"),  # failed: no measures
        ]
    )
    table = tables["T1w"]
    assert table.columns() == [
        "participant_id",
        "session_id",
        "acquisition",
        "run",
        "file",
        *MEASURE_NAMES,
        "attention",
        "flags",
    ]
    header, *rows = table.to_tsv().splitlines()
    assert header.split("\t") == table.columns()
    cells = dict(zip(table.columns(), rows[0].split("\t"), strict=True))
    assert cells["participant_id"].startswith("sub-") and cells["session_id"].startswith("ses-")
    failed = dict(zip(table.columns(), rows[-1].split("\t"), strict=True))
    assert failed["participant_id"] == "sub-03"  # unmeasured images come last
    assert failed["attention"] == "n/a" and failed["snr"] == "n/a" and failed["flags"] == "n/a"


def test_no_session_column_without_sessions_and_one_table_per_suffix():
    t2 = ImageQuality(
        {"subject": "01", "suffix": "T2w"}, "sub-01/anat/sub-01_T2w.nii.gz", report()
    )
    tables = build_group_tables([image("01", report()), t2])
    assert sorted(tables) == ["T1w", "T2w"]
    assert tables["T1w"].columns()[:2] == ["participant_id", "file"]


def test_tsv_round_trip_keeps_every_value():
    images = [
        image(f"{i:02d}", report(snr=10.0 + i, flags=("ghosting",) * (i % 2))) for i in range(4)
    ]
    images.append(image("09", report(efc=None), run="1"))
    table = build_group_tables(images)["T1w"]
    again = GroupTable.from_tsv(table.to_tsv(), "T1w")
    assert again.columns() == table.columns()
    assert again.rows == table.rows
    assert again.small_study and table.small_study


def test_json_sidecar_describes_every_column():
    table = build_group_tables([image("01", report(), session="1", run="1")])["T1w"]
    sidecar = table.sidecar()
    for column in table.columns():
        assert sidecar[column]["Description"], column
    assert sidecar["fov_contact_pct"]["Units"] == "%"
    assert "Units" not in sidecar["snr"]  # a pure number
    assert sidecar["snr"]["Description"] == MEASURES_BY_NAME["snr"].definition
    assert "head_cut_superior" in sidecar["flags"]["Levels"]
    assert "absolute levels only" in sidecar["GeneratedBy"]["Description"]


def test_flags_weigh_most_then_how_far_out():
    study = [report() for _ in range(12)]
    study[3] = report(ghost_pct=5.0)  # far out, unflagged
    study[5] = report(flags=("low_snr",))  # one flag, measures typical
    study[7] = report(flags=("low_snr", "ghosting"))  # two flags
    scores = [s.attention for s in attention_scores(study)]
    order = sorted(range(12), key=lambda i: -scores[i])
    assert order[:3] == [7, 5, 3]
    assert scores[7] == pytest.approx(2 * FLAG_WEIGHT)
    assert scores[5] == pytest.approx(FLAG_WEIGHT)
    assert 0 < scores[3] < FLAG_WEIGHT
    assert all(scores[i] == 0 for i in range(12) if i not in (3, 5, 7))


def test_attention_by_hand_in_a_study():
    # 11 identical images and one whose ghosting is 0.9 % above them: the MAD is 0, so the
    # spread is ghost_pct's minimum (0.2): z = 4.5, D = 4.5, attention = 10 * 4.5 / 7.5 = 6
    study = [report() for _ in range(11)] + [report(ghost_pct=1.0)]
    score = attention_scores(study)[-1]
    assert score.z["ghost_pct"] == pytest.approx(4.5)
    assert score.attention == pytest.approx(6.0)
    # the same excess on the side that is not worse counts for nothing
    better = attention_scores([report() for _ in range(11)] + [report(snr=300.0)])[-1]
    assert better.attention == 0


def test_small_study_uses_absolute_levels_only():
    assert SMALL_STUDY == 10
    study = [report() for _ in range(3)] + [report(snr=8.0)]  # snr at its bad level
    scores = attention_scores(study)
    assert all(s.z["snr"] is None for s in scores)  # no z-scores in a small study
    # d = 3 * (8 - 20) / (8 - 20) = 3 for snr; BASE is below every typical level otherwise
    assert scores[-1].attention == pytest.approx(10 * 3 / 6)
    assert scores[0].attention == 0


def test_rows_are_ordered_by_attention_and_ties_by_file():
    images = [image("03", report()), image("01", report()), image("02", report(flags=("spike",)))]
    rows = build_group_tables(images)["T1w"].rows
    assert [r.participant_id for r in rows] == ["sub-02", "sub-01", "sub-03"]
    assert rows[0].flags == ["spike"]


def test_sidecars_to_group_file_with_the_workflow_script(tmp_path):
    out = tmp_path / "out"
    sources = [f"sub-{i:02d}/anat/sub-{i:02d}_T1w.nii.gz" for i in range(1, 4)]
    qualities = [report(), report(flags=("head_cut_right",), fov_contact_pct=80.0), None]
    for source, quality in zip(sources, qualities, strict=True):
        record = make_sidecar(source, quality=quality.to_json() if quality else None)
        path = out / source.replace(".nii.gz", ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sidecar(record, path)
    failed = make_sidecar("sub-04/anat/sub-04_T1w.nii.gz", status="failed")
    write_sidecar(failed, out / "sub-04/anat/sub-04_T1w.json")
    (out / "sub-05/anat").mkdir(parents=True)
    (out / "sub-05/anat/sub-05_T1w.json").write_text("{broken")
    script = REPO / "workflow" / "scripts" / "group_table.py"
    done = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "left out" in done.stderr and "sub-05_T1w.json" in done.stderr
    table = GroupTable.from_tsv((out / "group_T1w.tsv").read_text(), "T1w")
    assert [r.participant_id for r in table.rows] == ["sub-02", "sub-01", "sub-03", "sub-04"]
    assert table.rows[0].flags == ["head_cut_right"]
    assert table.rows[2].attention is None and table.rows[3].attention is None
    described = json.loads((out / "group_T1w.json").read_text())
    assert list(described)[: len(table.columns())] == table.columns()


def test_sidecar_quality_reaches_cards_and_page_data():
    record = make_sidecar(quality=report(flags=("wrap_around",)).to_json()).to_dict()
    assert image_quality_from_sidecar(record).quality.flags[0].id == "wrap_around"
    card = {
        "entities": [["subject", "01"], ["suffix", "T1w"]],
        "quality": card_quality(record["quality"]),
    }
    assert card["quality"]["flags"] == [
        {"id": "wrap_around", "label": "wrap-around", "reason": "wrap_around!"}
    ]
    cards, page = page_quality([card])
    assert "attention" not in card  # the input is not changed
    assert cards[0]["attention"] == pytest.approx(FLAG_WEIGHT)
    assert page["studies"] == {"T1w": {"images": 1, "small": True}}
    assert [m["name"] for m in page["measures"]] == list(MEASURE_NAMES)
    assert card_quality(None) is None and card_quality({"metrics": "x"}) is None
