"""Discovery: exactly the images BIDS defines (entities, filters, ignored folders, the
fingerprint cache), and everything else that looks like an image reported, never a job."""

from __future__ import annotations

import os

import pytest

from conftest import make_bids
from neurovid.discovery import (
    BidsIgnore,
    dataset_fingerprint,
    discover,
    discover_images,
    filter_messages,
    layout_problem,
    printable,
    strip_prefix,
)

ALL_T1W = [
    "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz",
    "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz",
    "sub-02/anat/sub-02_run-1_T1w.nii.gz",
    "sub-02/anat/sub-02_run-2_T1w.nii",
    "sub-03/anat/sub-03_acq-fast_T1w.nii.gz",
]


def relpaths(records):
    return [record.relpath for record in records]


def test_finds_every_raw_t1w_and_nothing_else(tiny_bids):
    records = discover_images(tiny_bids)
    assert relpaths(records) == ALL_T1W
    by_path = {r.relpath: r for r in records}
    assert by_path[ALL_T1W[0]].entities == {"subject": "01", "session": "1", "suffix": "T1w"}
    assert by_path[ALL_T1W[3]].entities["run"] == "2"
    assert by_path[ALL_T1W[4]].entities["acquisition"] == "fast"
    assert by_path[ALL_T1W[3]].key == "sub-02/anat/sub-02_run-2_T1w"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"participant_label": ["01"]}, ALL_T1W[:2]),
        ({"participant_label": ["sub-01", "03"]}, [*ALL_T1W[:2], ALL_T1W[4]]),
        ({"exclude_participant_label": ["sub-02"]}, [*ALL_T1W[:2], ALL_T1W[4]]),
        ({"session_label": ["ses-2"]}, [ALL_T1W[1]]),
        ({"suffixes": ["T2w"]}, ["sub-03/anat/sub-03_T2w.nii.gz"]),
        (
            {"suffixes": ["T1w", "T2w"], "participant_label": ["3"]},
            [],
        ),
    ],
)
def test_filters(tiny_bids, filters, expected):
    assert relpaths(discover_images(tiny_bids, **filters)) == expected


def test_strip_prefix():
    assert strip_prefix(["sub-01", "02", 3], "sub-") == ["01", "02", "3"]


def test_cache_is_reused_and_invalidated_by_changes(tiny_bids, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "discovery.json"
    first = discover_images(tiny_bids, cache_file=cache)
    assert cache.is_file()

    import neurovid.discovery as discovery

    def no_classify(*args, **kwargs):
        raise AssertionError("names must not be checked again while the dataset is unchanged")

    monkeypatch.setattr(discovery, "_classify", no_classify)
    assert discover_images(tiny_bids, cache_file=cache) == first
    # the filters apply after the cache: another filter is answered from it too
    assert (
        relpaths(discover_images(tiny_bids, cache_file=cache, participant_label=["01"]))
        == (ALL_T1W[:2])
    )
    monkeypatch.undo()

    added = tiny_bids / "sub-04" / "anat" / "sub-04_T1w.nii.gz"
    added.parent.mkdir(parents=True)
    added.write_bytes((tiny_bids / ALL_T1W[0]).read_bytes())
    assert "sub-04/anat/sub-04_T1w.nii.gz" in relpaths(
        discover_images(tiny_bids, cache_file=cache)
    )


def test_fingerprint_sees_names_kinds_and_bidsignore_not_content(tiny_bids):
    before = dataset_fingerprint(tiny_bids)
    assert dataset_fingerprint(tiny_bids) == before
    # content and mtimes are the render's business (tests/workflow/test_rerun.py)
    target = tiny_bids / ALL_T1W[2]
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert dataset_fingerprint(tiny_bids) == before
    link = tiny_bids / "sub-05" / "anat" / "sub-05_T1w.nii.gz"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../.git/annex/objects/XX/sub-05_T1w.nii.gz")  # broken, like DataLad's
    broken = dataset_fingerprint(tiny_bids)
    assert broken != before
    assert "sub-05/anat/sub-05_T1w.nii.gz" in relpaths(discover_images(tiny_bids))
    # the content arrives (datalad get): the symlink is another kind now
    annexed = tiny_bids / ".git/annex/objects/XX/sub-05_T1w.nii.gz"
    annexed.parent.mkdir(parents=True)
    annexed.write_bytes(target.read_bytes())
    fetched = dataset_fingerprint(tiny_bids)
    assert fetched != broken
    (tiny_bids / ".bidsignore").write_text("sub-05/\n")
    assert dataset_fingerprint(tiny_bids) != fetched
    assert "sub-05/anat/sub-05_T1w.nii.gz" not in relpaths(discover_images(tiny_bids))


# --------------------------------------------------------------------------------------------
# Messy layouts: each is reported once with its reason, and never becomes a job
# --------------------------------------------------------------------------------------------

GOOD = ["sub-01/anat/sub-01_T1w.nii.gz", "sub-02/ses-a/anat/sub-02_ses-a_T1w.nii.gz"]


def reasons(found) -> dict[str, str]:
    return {note.path: note.reason for note in found.not_rendered}


@pytest.mark.parametrize(
    ("make", "path", "reason"),
    [
        (lambda r: copy(r, GOOD[0], "sub-01/anat/old/sub-01_T1w.nii.gz"),
         "sub-01/anat/old/sub-01_T1w.nii.gz", "in a folder inside anat/"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/old/older/sub-01_T1w.nii"),
         "sub-01/anat/old/older/sub-01_T1w.nii", "in a folder inside anat/"),
        (lambda r: (r / "sub-01/anat/again").symlink_to("."),
         "sub-01/anat/again/", "symlinked folder inside anat/"),
        (lambda r: copy(r, GOOD[0], "backup/sub-01/anat/sub-01_T1w.nii.gz"),
         "backup/", "holds sub-01/"),
        (lambda r: copy(r, GOOD[0], "sub-01_T1w.nii.gz"),
         "sub-01_T1w.nii.gz", "at the top of the dataset"),
        (lambda r: copy(r, GOOD[0], "sub-01/sub-01_T1w.nii.gz"),
         "sub-01/sub-01_T1w.nii.gz", "directly in the subject folder"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/sub-01_T1w.NII.GZ"),
         "sub-01/anat/sub-01_T1w.NII.GZ", "upper-case extension"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/sub-01_T1w (1).nii.gz"),
         "sub-01/anat/sub-01_T1w (1).nii.gz", "not a BIDS name"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/sub-02_T1w.nii.gz"),
         "sub-01/anat/sub-02_T1w.nii.gz", "must start with 'sub-01_'"),
        (lambda r: copy(r, GOOD[1], "sub-02/ses-a/anat/sub-02_ses-b_T1w.nii.gz"),
         "sub-02/ses-a/anat/sub-02_ses-b_T1w.nii.gz", "must start with 'sub-02_ses-a_'"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/sub-01_T1w.nii"),
         "sub-01/anat/sub-01_T1w.nii", "a .nii beside sub-01_T1w.nii.gz"),
        (lambda r: (r / "sub-01/anat/sub-01_acq-dir_T1w.nii.gz").mkdir(),
         "sub-01/anat/sub-01_acq-dir_T1w.nii.gz/", "a folder, not an image file"),
        (lambda r: os.mkfifo(r / "sub-01/anat/sub-01_acq-fifo_T1w.nii.gz"),
         "sub-01/anat/sub-01_acq-fifo_T1w.nii.gz", "not a regular file but a FIFO"),
        (lambda r: (r / "sub-01/anat/sub-01_acq-zero_T1w.nii.gz").symlink_to("/dev/zero"),
         "sub-01/anat/sub-01_acq-zero_T1w.nii.gz", "character device (a symlink to one)"),
        (lambda r: (r / "sub-01/anat/sub-01_acq-loop_T1w.nii.gz").symlink_to(
            "sub-01_acq-loop_T1w.nii.gz"),
         "sub-01/anat/sub-01_acq-loop_T1w.nii.gz", "a symlink loop"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/sub-01_acq-{x}_T1w.nii.gz"),
         "sub-01/anat/sub-01_acq-{x}_T1w.nii.gz", "only letters, digits"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/sub-01_acq-a\tb\nc_T1w.nii.gz"),
         "sub-01/anat/sub-01_acq-a\\tb\\nc_T1w.nii.gz", "only letters, digits"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat/sub-01_rec-x_acq-y_T1w.nii.gz"),
         "sub-01/anat/sub-01_rec-x_acq-y_T1w.nii.gz", "entities, their order"),
        (lambda r: copy(r, GOOD[0], "sub-1.5/anat/sub-1.5_T1w.nii.gz"),
         "sub-1.5/", "label must be letters and digits"),
        (lambda r: copy(r, GOOD[0], "sub-01/anat_old/sub-01_T1w.nii.gz"),
         "sub-01/anat_old/sub-01_T1w.nii.gz", "not in an anat folder"),
    ],
)  # fmt: skip
def test_messy_layout_is_reported_once_and_never_a_job(tmp_path, make, path, reason):
    root = make_bids(tmp_path / "bids", GOOD)
    make(root)
    found = discover(root)
    assert [r.relpath for r in found.images] == GOOD
    notes = reasons(found)
    assert list(notes) == [path], notes
    assert reason in notes[path]
    line = found.not_rendered[0].line()
    assert line.startswith(f"not rendered: {path}, ") and "\n" not in line


def copy(root, source, target):
    destination = root / target
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes((root / source).read_bytes())


def test_symlinked_subject_session_and_anat_folders_are_followed(tmp_path):
    elsewhere = make_bids(tmp_path / "elsewhere", GOOD)
    root = make_bids(tmp_path / "bids", [])
    (root / "sub-01").symlink_to(elsewhere / "sub-01")
    (root / "sub-02").mkdir()
    (root / "sub-02" / "ses-a").symlink_to(elsewhere / "sub-02" / "ses-a")
    found = discover(root)
    assert relpaths(found.images) == GOOD and found.not_rendered == []


def test_the_output_folder_inside_the_dataset_is_not_a_stray_copy(tmp_path):
    root = make_bids(tmp_path / "bids", GOOD)
    copy(root, GOOD[0], "qc/sub-01/anat/sub-01_T1w.nii.gz")  # e.g. a render's output
    assert [n.path for n in discover(root).not_rendered] == ["qc/"]
    assert discover(root, skip=[root / "qc"]).not_rendered == []


def test_derivatives_sourcedata_code_and_other_datatypes_are_silent(tiny_bids):
    # tiny_bids has images in derivatives/, sourcedata/, code/ and func/: none is a job
    # and none is worth a warning (BIDS puts them there on purpose)
    found = discover(tiny_bids)
    assert relpaths(found.images) == ALL_T1W
    assert found.not_rendered == []


def test_bidsignore_is_honoured_with_gitignore_semantics(tmp_path):
    root = make_bids(tmp_path / "bids", [*GOOD, "sub-03/anat/sub-03_T1w.nii.gz",
                                         "sub-04/anat/sub-04_acq-x_T1w.nii.gz"])  # fmt: skip
    copy(root, GOOD[0], "sub-01/anat/old/sub-01_T1w.nii.gz")
    copy(root, GOOD[0], "extra/sub-01/anat/sub-01_T1w.nii.gz")
    (root / ".bidsignore").write_text(
        "# comment\n\nsub-*/anat/old/\n/extra\nsub-03/\n*_acq-x_*\n!sub-04/anat/keep\n"
    )
    found = discover(root)
    assert relpaths(found.images) == GOOD
    assert found.not_rendered == []


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "ignored"),
    [
        ("*.nii", "sub-01/anat/a.nii", False, True),
        ("*.nii", "a.nii.gz", False, False),
        ("old/", "sub-01/anat/old", True, True),
        ("old/", "sub-01/anat/old", False, False),
        ("/old", "sub-01/old", True, False),
        ("/old", "old", True, True),
        ("sub-01/anat/*.gz", "sub-01/anat/x.gz", False, True),
        ("sub-01/anat/*.gz", "sub-01/anat/deeper/x.gz", False, False),
        ("**/tmp", "a/b/tmp", True, True),
        ("a/**/z", "a/z", True, True),
        ("a/**/z", "a/b/c/z", False, True),
        ("sub-0[12]", "sub-02", True, True),
        ("sub-0[!12]", "sub-02", True, False),
        ("sub-0?", "sub-07", True, True),
        ("\\#hash", "#hash", False, True),
    ],
)
def test_bidsignore_patterns(pattern, path, is_dir, ignored):
    assert BidsIgnore([pattern]).ignored(path, is_dir) is ignored


def test_bidsignore_negation_last_match_wins():
    rules = BidsIgnore(["*.nii.gz", "!keep.nii.gz"])
    assert rules.ignored("x/drop.nii.gz") and not rules.ignored("x/keep.nii.gz")


def test_printable_escapes_what_would_break_a_line():
    assert printable("a\tb\nc") == "a\\tb\\nc"
    assert printable("é 字") == "é 字"
    assert printable("bad\udcffbyte") == "bad\\xffbyte"


def test_subject_or_anat_folder_as_bids_dir_says_what_to_pass(tiny_bids):
    problem = layout_problem(tiny_bids / "sub-02")
    assert problem.startswith("config error: bids_dir") and f"bids_dir={tiny_bids}" in problem
    problem = layout_problem(tiny_bids / "sub-02" / "anat")
    assert f"bids_dir={tiny_bids}" in problem and "\n" not in problem
    assert layout_problem(tiny_bids) is None


def test_folder_of_several_datasets_says_to_pass_one(tmp_path):
    make_bids(tmp_path / "studies" / "ds001", GOOD)
    make_bids(tmp_path / "studies" / "ds002", GOOD)
    problem = layout_problem(tmp_path / "studies")
    assert "holds 2 datasets (ds001, ds002)" in problem
    assert f"bids_dir={tmp_path / 'studies' / 'ds001'}" in problem


def test_labels_that_match_nothing_are_named(tiny_bids):
    found = discover(tiny_bids, participant_label=["01", "99"])
    warnings, error = filter_messages(found, participant_label=["01", "99"])
    assert error is None and warnings == ["warning: participant_label '99' matches no "
                                          "participant with T1w images"]  # fmt: skip
    found = discover(tiny_bids, participant_label=["98", "sub-99"])
    warnings, error = filter_messages(found, participant_label=["98", "sub-99"])
    assert error == (
        "config error: participant_label '98', '99' match no participant with T1w images "
        "(the participants with T1w images: 01, 02, 03)"
    )
    found = discover(tiny_bids, session_label=["3"], exclude_participant_label=["07"])
    warnings, error = filter_messages(found, session_label=["3"],
                                      exclude_participant_label=["07"])  # fmt: skip
    assert "exclude_participant_label '07' matches no participant" in warnings[0]
    assert "session_label '3' matches no session with T1w images (the sessions with T1w " \
        "images: 1, 2)" in error  # fmt: skip


def test_discovery_writes_nothing_until_asked(tiny_bids, tmp_path):
    cache = tmp_path / "out" / ".neurovid" / "discovery.json"
    found = discover(tiny_bids, cache_file=cache)
    assert not (tmp_path / "out").exists()
    assert found.save_cache(cache) and cache.is_file()
    again = discover(tiny_bids, cache_file=cache)
    assert again.from_cache and again.images == found.images
    assert not again.save_cache(cache)
