"""The review page's compact card data (neurovid.columns): any list of JSON objects packs
into columns and unpacks into exactly the same records, and a study's cards get smaller."""

from __future__ import annotations

import json
import random

import pytest

from neurovid.columns import pack_records, unpack_records


def roundtrip(records: list) -> dict:
    packed = json.loads(json.dumps(pack_records(records)))  # through JSON, as on the page
    assert unpack_records(packed) == records
    # key order too (the page shows objects such as the z-scores in their order)
    assert json.dumps(unpack_records(packed)) == json.dumps(records)
    return packed


def card(i: int) -> dict:
    stem = f"sub-{i // 2:05d}/ses-{i % 2 + 1}/anat/sub-{i // 2:05d}_ses-{i % 2 + 1}_T1w"
    failed = i % 50 == 7
    return {
        "status": "failed" if failed else "rendered",
        "error": "broken" if failed else None,
        "source": f"{stem}.nii.gz",
        "entities": [["subject", f"{i // 2:05d}"], ["session", str(i % 2 + 1)]],
        "sidecar": f"{stem}.json",
        "sidecarName": stem.rsplit("/", 1)[1] + ".json",
        "log": f"logs/render/{stem}.log",
        "video": None if failed else f"{stem}.mp4",
        "shape": [176, 256, 256],
        "window": None if failed else [0.0, 100.0 + i % 3],
        "sha256": f"{i:064x}",
        "fps": 15,
        "quality": None if failed else {"metrics": {"snr": i / 7, "efc": 0.5}, "flags": []},
    }


def test_a_study_of_cards_roundtrips_and_shrinks():
    records = [card(i) for i in range(3000)]
    packed = roundtrip(records)
    assert len(json.dumps(packed)) < 0.4 * len(json.dumps(records))
    columns = dict(packed["o"])
    # paths made from the sidecar's link; a constant; a few distinct values; objects
    for key in ("source", "sidecarName", "log", "video"):
        assert columns[key]["t"] == "sidecar", (key, columns[key])
    assert columns["fps"] == {"c": 15}
    assert "d" in columns["status"] and "o" in columns["quality"]


@pytest.mark.parametrize(
    "records",
    [
        [],
        [{}],
        [{"a": 1}, {}, {"a": 1}],  # absent keys
        [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": "1"}, {"a": None}],  # JSON types differ
        [{"a": {"x": 1}}, {"a": None}, {"a": {"y": 2}}, {"a": [1]}],  # objects, other rows
        [{"a": [1, 2]}, {"a": [3, 4]}, {"a": [5]}, {"a": None}],  # arrays of two lengths
        [{"__proto__": {"x": 1}, "constructor": 2}] * 3,  # names that are JS built-ins
        [{"k": {"b": 1, "a": 2}}, {"k": {"a": 2, "b": 1}}],  # key order is kept
        [{"p": f"dir/é😀{i}.json", "q": f"dir/é😀{i}.mp4"} for i in range(20)],  # non-ASCII
        [{"p": f"a{i}.😀", "q": f"a{i}"} for i in range(20)],  # a non-ASCII cut is not used
    ],
)
def test_odd_records_roundtrip(records):
    roundtrip(records)


def test_random_records_roundtrip():
    rng = random.Random(14)
    values = [None, True, False, 0, 1, -2.5, 1e300, "", "x", "a/b.c", "é", [], {}, [1, "a"]]

    def value(depth: int):
        kind = rng.random()
        if depth < 3 and kind < 0.15:
            return {rng.choice("abc"): value(depth + 1) for _ in range(rng.randint(0, 3))}
        if depth < 3 and kind < 0.3:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if kind < 0.5:
            return f"f/{rng.randint(0, 30)}.{rng.choice(['json', 'mp4', 'nii.gz'])}"
        return rng.choice(values)

    for _ in range(30):
        records = [
            {key: value(0) for key in rng.sample("pqrstu", rng.randint(0, 6))}
            for _ in range(rng.randint(1, 60))
        ]
        roundtrip(records)


def test_a_list_is_taken_as_it_is():
    assert unpack_records([{"a": 1}]) == [{"a": 1}]
