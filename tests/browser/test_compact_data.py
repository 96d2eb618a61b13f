"""The page unpacks its column-form card data into exactly the cards Python packed
(neurovid.columns, issue 14): the cards of a real page, and odd records."""

from __future__ import annotations

import json
import random
import re

import pytest

from neurovid.columns import pack_records, unpack_records

pytestmark = pytest.mark.browser

SAME = """([packed, expected]) => {
  const got = JSON.stringify(window.neurovidUnpackRecords(JSON.parse(packed)));
  return got === JSON.stringify(JSON.parse(expected)) ? 'same' : got;
}"""


def test_the_page_unpacks_its_own_cards(site, new_page):
    page, rec = new_page(site.url)
    text = re.search(
        r'<script type="application/json" id="neurovid-data">(.*?)</script>',
        site.html.read_text(),
        re.S,
    ).group(1)
    packed = json.loads(text)["images"]
    assert isinstance(packed, dict) and "o" in packed  # the column form is what is shipped
    cards = unpack_records(packed)
    assert len(cards) == site.summary["images"] and all("status" in c for c in cards)
    assert page.evaluate(SAME, [json.dumps(packed), json.dumps(cards)]) == "same"
    assert page.locator(".card").count() == len(cards) and not rec.errors, rec.errors


def odd_records() -> list[list[dict]]:
    rng = random.Random(12)
    cases = [
        [{"a": 1}, {}, {"a": 1.5}, {"a": True}, {"a": None}, {"a": "1"}],
        [{"__proto__": {"x": 1}, "constructor": [1]}, {"__proto__": 2}],
        [{"k": {"b": 1, "a": 2}}, {"k": {"a": 2, "b": 1}}, {"k": None}],
        [{"p": f"d/é😀{i}.json", "q": f"d/é😀{i}.mp4", "r": f"x{i}"} for i in range(30)],
        [{"p": f"a{i}.😀", "q": f"a{i}"} for i in range(30)],
        [{"v": [i, [i, {"z": i}]]} if i % 5 else {"v": [i]} for i in range(40)],
    ]
    for _ in range(10):
        cases.append(
            [
                {
                    key: rng.choice([None, 0, -1.25, "", f"f/{rng.randint(0, 9)}.json", [1], {}])
                    for key in rng.sample("abcdef", rng.randint(0, 6))
                }
                for _ in range(rng.randint(1, 80))
            ]
        )
    return cases


def test_odd_records_come_back_the_same(site, new_page):
    page, rec = new_page(site.url)
    for records in odd_records():
        packed = json.dumps(pack_records(records))
        assert page.evaluate(SAME, [packed, json.dumps(records)]) == "same", records
    assert not rec.errors, rec.errors
