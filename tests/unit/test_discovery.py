"""Discovery with pybids: entities, filters, ignored folders, and the fingerprint cache."""

from __future__ import annotations

import os

import pytest

from neurovid.discovery import dataset_fingerprint, discover_images, strip_prefix

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

    def no_pybids(*args, **kwargs):
        raise AssertionError("pybids must not run while the dataset is unchanged")

    monkeypatch.setattr(discovery, "index_with_pybids", no_pybids)
    assert discover_images(tiny_bids, cache_file=cache) == first
    # other filters are another question: not answered from this cache
    with pytest.raises(AssertionError, match="pybids must not run"):
        discover_images(tiny_bids, cache_file=cache, participant_label=["01"])
    monkeypatch.undo()

    added = tiny_bids / "sub-04" / "anat" / "sub-04_T1w.nii.gz"
    added.parent.mkdir(parents=True)
    added.write_bytes((tiny_bids / ALL_T1W[0]).read_bytes())
    assert "sub-04/anat/sub-04_T1w.nii.gz" in relpaths(
        discover_images(tiny_bids, cache_file=cache)
    )


def test_fingerprint_sees_size_mtime_and_symlinks(tiny_bids):
    before = dataset_fingerprint(tiny_bids)
    assert dataset_fingerprint(tiny_bids) == before
    target = tiny_bids / ALL_T1W[2]
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    touched = dataset_fingerprint(tiny_bids)
    assert touched != before
    link = tiny_bids / "sub-05" / "anat" / "sub-05_T1w.nii.gz"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../.git/annex/objects/XX/missing")  # broken, like DataLad's
    assert dataset_fingerprint(tiny_bids) != touched
    assert "sub-05/anat/sub-05_T1w.nii.gz" in relpaths(discover_images(tiny_bids))
