"""A compact JSON form of a list of records (the review page's cards), column by column.

A study of 20,000 images made a 40 MB page when every card was a JSON object of its own:
each card repeats ~40 key names, the same video size and codec, and the same path four
times (sidecar, video, poster, log) with only the extension changed. :func:`pack_records`
stores one column per key instead and picks, per column, the shortest of a few encodings;
the page unpacks it in JavaScript into exactly the records that were packed
(``unpackRecords`` in ``templates/review.html``; :func:`unpack_records` is the same in
Python, for tests and readers of the page's data). It knows nothing of cards: any list of
JSON objects round-trips, so fields added to the cards later need no change here.

The packed form is ``{"n": number of records}`` and an ``"o"`` column of them. A column is
one of

* ``{"c": value}`` — the same value in every record;
* ``{"v": [value, ...]}`` — the values, in order;
* ``{"d": [distinct values], "i": [index, ...]}`` — few distinct values, by index;
* ``{"o": [[key, column], ...]}`` — objects, key by key in the order keys first appear (an
  object whose keys come in another order is an exception: JSON keeps key order);
* ``{"a": length, "e": [column, ...]}`` — arrays of one length, element by element;
* ``{"t": key, "p": prefix, "s": suffix, "k": cut, "b": 0 or 1}`` — strings made from
  another column of the same level (one of the other forms, never a ``"t"``): ``prefix +
  ref + suffix``, where ``ref`` is that column's string without its last ``cut``
  characters, and only its last path component when ``"b"`` is 1 (the sidecar's link
  ``sub-01/anat/sub-01_T1w.json`` gives the video ``sub-01/anat/sub-01_T1w.mp4``).

Any column may also carry ``"x": [[index, value], ...]`` (records whose value the form does
not give, e.g. a null where every other record has an object) and ``"m": [index, ...]``
(records that lack the key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["pack_records", "unpack_records"]

_MISSING = object()
#: a dictionary column when its distinct values are at most this share of the records
DICTIONARY_SHARE = 0.25
#: a derived column ("t") may have at most this share of exceptions
TEMPLATE_EXCEPTIONS = 0.02
#: arrays longer than this are kept whole
MAX_ARRAY = 16


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


_SCALARS = (str, int, float, bool, type(None))


def _key(value: Any) -> Any:
    # distinct JSON values: 1, 1.0 and True differ (as they do in JSON); objects and arrays
    # by their JSON text (key order included)
    if type(value) in _SCALARS:
        return (type(value), value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def pack_records(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The records (JSON objects) in column form (see the module's docstring)."""
    records = list(records)
    present = list(enumerate(records))
    objects = [(i, r) for i, r in present if isinstance(r, dict)]
    return {"n": len(records), **_objects(objects, present, len(records))}


def _pack_fields(records: list[dict[str, Any]], order: dict[str, int]) -> list[list[Any]]:
    """Columns of ``records``, objects whose keys all come in ``order``."""
    present: set[str] = set()
    for record in records:
        present.update(record)
    keys = dict.fromkeys(sorted(present, key=order.__getitem__))
    packed: dict[str, dict[str, Any]] = {}
    values: dict[str, list[Any]] = {}
    for key in keys:
        column = [r.get(key, _MISSING) for r in records]
        values[key] = column
        packed[key] = _pack_column(column)
    # strings derived from another column where that is shorter. Sources are chosen one at
    # a time, the column that makes the most others first (the sidecar's link makes the
    # video's, the log's, the source's, ...); a source is never derived itself (no chains)
    offers: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for key in keys:
        templates = _templates(key, values)
        size = _size(packed[key]) if templates else 0
        for template in templates:
            saving = size - _size(template)
            best = offers.get((template["t"], key))
            if saving > 0 and (best is None or saving > best[0]):
                offers[(template["t"], key)] = (saving, template)
    sources: set[str] = set()
    while offers:
        made: dict[str, list[str]] = {}
        for ref, key in offers:
            made.setdefault(ref, []).append(key)
        ref = max(made, key=lambda r: (len(made[r]), sum(offers[(r, k)][0] for k in made[r])))
        sources.add(ref)
        for key in made[ref]:
            packed[key] = offers[(ref, key)][1]
        done = set(made[ref])
        offers = {
            (r, k): offer
            for (r, k), offer in offers.items()
            if k not in done and k not in sources and r not in done
        }
    return [[key, packed[key]] for key in keys]


def _pack_column(column: list[Any]) -> dict[str, Any]:
    missing, present, objects, arrays = [], [], [], []
    lengths = set()
    for i, value in enumerate(column):  # one pass: this runs for every column of 20,000 cards
        if value is _MISSING:
            missing.append(i)
            continue
        present.append((i, value))
        kind = type(value)
        if kind is dict:
            objects.append((i, value))
        elif kind is list:
            arrays.append((i, value))
            lengths.add(len(value))
    if objects and len(objects) >= len(present) / 2:
        best = _objects(objects, present, len(column))
    elif (
        arrays
        and len(arrays) >= len(present) / 2
        and len(lengths) == 1
        and 0 < next(iter(lengths)) <= MAX_ARRAY
    ):
        best = _arrays(arrays, present, len(column), next(iter(lengths)))
    else:
        best = _plain(present, len(column))
    if missing:
        best["m"] = missing
    return best


def _plain(present: list[tuple[int, Any]], n: int) -> dict[str, Any]:
    if not present:
        return {"c": None, "x": []}
    limit = max(2, DICTIONARY_SHARE * n)
    distinct: dict[Any, int] = {}
    table: list[Any] = []
    indices = []
    for _, value in present:
        key = _key(value)
        index = distinct.get(key)
        if index is None:
            if len(table) >= limit or (len(indices) >= 1000 and len(table) > len(indices) / 2):
                # too many distinct values (or, judged from the first 1000, going to be):
                # the values themselves
                column: list[Any] = [None] * n
                for i, item in present:
                    column[i] = item
                return {"v": column}
            index = distinct[key] = len(table)
            table.append(value)
        indices.append(index)
    if len(present) < n:  # some records lack the key: index by record
        full: list[Any] = [0] * n
        for (i, _), index in zip(present, indices, strict=True):
            full[i] = index
        indices = full
    if len(table) == 1:
        return {"c": table[0]}
    return {"d": table, "i": indices}


def _objects(objects, present, n: int) -> dict[str, Any]:
    # the sub-columns hold the objects whose keys come in the common order; the others are
    # exceptions
    order: dict[str, int] = {}
    for _, value in objects:
        for key in value:
            order.setdefault(key, len(order))
    packable = {i for i, value in objects if _in_order(value, order)}
    column: dict[str, Any] = {"o": _pack_fields([v for i, v in objects if i in packable], order)}
    exceptions = [[i, v] for i, v in present if i not in packable]
    if exceptions:
        column["x"] = exceptions
    return column


def _in_order(value: dict[str, Any], order: dict[str, int]) -> bool:
    positions = [order[key] for key in value]
    return all(a < b for a, b in zip(positions, positions[1:], strict=False))


def _arrays(arrays, present, n: int, length: int) -> dict[str, Any]:
    # the element columns hold the records that are such arrays only; the others are
    # exceptions
    rows = [value for _, value in arrays]
    elements = [_pack_column([row[position] for row in rows]) for position in range(length)]
    column: dict[str, Any] = {"a": length, "e": elements}
    exceptions = [[i, v] for i, v in present if not (isinstance(v, list) and len(v) == length)]
    if exceptions:
        column["x"] = exceptions
    return column


def _templates(key: str, values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every way to make ``key``'s strings from another column (prefix + part of it +
    suffix) with few exceptions."""
    column = values[key]
    strings = [(i, v) for i, v in enumerate(column) if isinstance(v, str)]
    if len(strings) < max(2, len(column) / 2):
        return []
    allowed = int(TEMPLATE_EXCEPTIONS * len(column))
    found = []
    for ref, other in values.items():
        if ref == key:
            continue
        first = next(((i, v) for i, v in strings[:50] if isinstance(other[i], str)), None)
        if first is None:
            continue
        i0, value0 = first
        ref0 = other[i0]
        dot = ref0.rfind(".")
        for cut in sorted({0, len(ref0) - dot if dot > 0 else 0}):
            for base in (0, 1):
                core = _core(ref0, cut, base)
                if not core or core not in value0:
                    continue
                at = value0.find(core)
                template = {
                    "t": ref,
                    "p": value0[:at],
                    "s": value0[at + len(core) :],
                    "k": cut,
                    "b": base,
                }
                sample = range(0, len(column), max(1, len(column) // 200))
                misses = sum(
                    1
                    for i in sample
                    if column[i] is not _MISSING and column[i] != _apply(template, other[i])
                )
                if misses > TEMPLATE_EXCEPTIONS * len(sample) + 1:
                    continue  # a sample of 200 says no: skip the full check
                exceptions = []
                for i, v in enumerate(column):
                    if v is not _MISSING and v != _apply(template, other[i]):
                        exceptions.append([i, v])
                        if len(exceptions) > allowed:
                            break
                if len(exceptions) > allowed:
                    continue
                if exceptions:
                    template["x"] = exceptions
                missing = [i for i, v in enumerate(column) if v is _MISSING]
                if missing:
                    template["m"] = missing
                found.append(template)
    return found


def _core(ref: Any, cut: int, base: int) -> str | None:
    # the cut part must be ASCII: the page cuts UTF-16 code units, Python code points
    if not isinstance(ref, str) or len(ref) < cut or not ref[len(ref) - cut :].isascii():
        return None
    core = ref[: len(ref) - cut] if cut else ref
    return core.rsplit("/", 1)[-1] if base else core


def _apply(template: Mapping[str, Any], ref: Any) -> Any:
    core = _core(ref, template["k"], template["b"])
    return None if core is None else template["p"] + core + template["s"]


def unpack_records(packed: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
    """The records :func:`pack_records` packed (a list is returned as it is)."""
    if isinstance(packed, list):
        return packed
    return _unpack_column(packed, packed["n"])


def _unpack_fields(columns: Sequence[Sequence[Any]], n: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [{} for _ in range(n)]
    decoded: dict[str, list[Any]] = {}
    for key, column in columns:  # other columns first: "t" columns refer to them
        if "t" not in column:
            decoded[key] = _unpack_column(column, n)
    for key, column in columns:
        if "t" in column:
            ref = decoded[column["t"]]
            decoded[key] = _with_exceptions(column, [_apply(column, r) for r in ref])
    for key, _column in columns:
        for record, value in zip(records, decoded[key], strict=True):
            if value is not _MISSING:
                record[key] = value
    return records


def _with_exceptions(column: Mapping[str, Any], values: list[Any]) -> list[Any]:
    for i, value in column.get("x", ()):
        values[i] = value
    for i in column.get("m", ()):
        values[i] = _MISSING
    return values


def _rows(column: Mapping[str, Any], n: int) -> list[int]:
    """The records an "o" or "a" column's sub-columns hold: all but exceptions and missing."""
    skip = {i for i, _ in column.get("x", ())} | set(column.get("m", ()))
    return [i for i in range(n) if i not in skip]


def _unpack_column(column: Mapping[str, Any], n: int) -> list[Any]:
    if "c" in column:
        values = [column["c"]] * n
    elif "v" in column:
        values = list(column["v"])
    elif "d" in column:
        table = column["d"]
        values = [table[i] for i in column["i"]]
    elif "o" in column or "a" in column:
        rows = _rows(column, n)
        if "o" in column:
            items: list[Any] = _unpack_fields(column["o"], len(rows))
        else:
            elements = [_unpack_column(e, len(rows)) for e in column["e"]]
            items = [list(item) for item in zip(*elements, strict=True)] if elements else []
        values = [None] * n
        for i, item in zip(rows, items, strict=True):
            values[i] = item
    else:
        raise ValueError(f"unknown column form: {sorted(column)}")
    return _with_exceptions(column, values)
