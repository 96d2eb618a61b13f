"""Agreement between raters: Cohen's κ (two raters), Fleiss' κ (three or more), exactly.

Every statistic is computed with :class:`fractions.Fraction`, so a hand-computed example can be
checked to the last digit (``kappa == Fraction(16, 31)``) and two runs never differ in a
rounding. scikit-learn's ``cohen_kappa_score`` and statsmodels' ``fleiss_kappa`` compute the
same quantities in floating point; we keep our own (a few lines each) because neurovid must not
depend on them, because the per-label (one label against the rest) variants and the
"undefined" cases need to be reported explicitly, and because exact fractions make the tests
exact.

Definitions (Cohen 1960; Fleiss 1971, eq. 2–9):

- Cohen's κ for two raters over N items: ``κ = (p_o − p_e) / (1 − p_e)`` with ``p_o`` the
  share of items both rate the same and ``p_e = Σ_k p_A(k) p_B(k)`` the agreement expected from
  each rater's own label shares.
- Fleiss' κ for n raters per item: ``P_i = (Σ_k n_ik² − n) / (n (n − 1))``,
  ``P̄ = mean_i P_i``, ``p_k = Σ_i n_ik / (N n)``, ``P̄_e = Σ_k p_k²``,
  ``κ = (P̄ − P̄_e) / (1 − P̄_e)``; per label
  ``κ_k = 1 − Σ_i n_ik (n − n_ik) / (N n (n − 1) p_k (1 − p_k))``.
- Per-label Cohen's κ: the two raters' labels reduced to "k" against "not k".

κ is undefined (reported as ``None`` with the reason) when chance agreement is total
(``p_e = 1``: every rating in one label), or, per label, when a label was never or always used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

__all__ = [
    "CohenResult",
    "FleissResult",
    "cohen_kappa",
    "fleiss_kappa",
    "interpret",
    "kappa_json",
]


@dataclass(frozen=True)
class CohenResult:
    """Cohen's κ of two raters.

    Attributes
    ----------
    n_items : int
        Items both raters rated.
    labels : tuple of str
        Row and column order of ``confusion``.
    confusion : tuple of tuple of int
        ``confusion[i][j]``: items the first rater put in ``labels[i]`` and the second in
        ``labels[j]``.
    observed, expected : Fraction or None
        ``p_o`` and ``p_e`` (None when there are no items).
    kappa : Fraction or None
        κ, or None when undefined (see ``reason``).
    per_label : dict of str to Fraction or None
        κ of "this label" against "any other label".
    reason : str
        Why κ is undefined ("" when it is defined).
    """

    n_items: int
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    observed: Fraction | None
    expected: Fraction | None
    kappa: Fraction | None
    per_label: dict[str, Fraction | None] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class FleissResult:
    """Fleiss' κ of n raters per item.

    Attributes
    ----------
    n_items : int
        Items in the table.
    n_raters : int
        Ratings per item (the same for every item).
    labels : tuple of str
        Column order of ``counts``.
    label_totals : tuple of int
        Ratings given to each label over all items.
    observed, expected : Fraction or None
        ``P̄`` and ``P̄_e``.
    kappa : Fraction or None
        κ, or None when undefined (see ``reason``).
    per_label : dict of str to Fraction or None
        κ of each label (Fleiss 1971, eq. 9).
    reason : str
        Why κ is undefined ("" when it is defined).
    """

    n_items: int
    n_raters: int
    labels: tuple[str, ...]
    label_totals: tuple[int, ...]
    observed: Fraction | None
    expected: Fraction | None
    kappa: Fraction | None
    per_label: dict[str, Fraction | None] = field(default_factory=dict)
    reason: str = ""


def _kappa(observed: Fraction, expected: Fraction) -> Fraction | None:
    return None if expected == 1 else (observed - expected) / (1 - expected)


def cohen_kappa(pairs: Sequence[tuple[str, str]], labels: Sequence[str]) -> CohenResult:
    """Cohen's κ, overall and per label, with the confusion table.

    Parameters
    ----------
    pairs : sequence of (str, str)
        One ``(first rater's label, second rater's label)`` per item rated by both.
    labels : sequence of str
        All labels, in the order of the confusion table's rows and columns.

    Returns
    -------
    CohenResult

    Raises
    ------
    ValueError
        If a pair holds a label that is not in ``labels``.
    """
    labels = tuple(labels)
    index = {label: i for i, label in enumerate(labels)}
    table = [[0] * len(labels) for _ in labels]
    for first, second in pairs:
        if first not in index or second not in index:
            raise ValueError(f"unknown label in {(first, second)!r} (labels: {labels})")
        table[index[first]][index[second]] += 1
    n = len(pairs)
    confusion = tuple(tuple(row) for row in table)
    if n == 0:
        return CohenResult(0, labels, confusion, None, None, None, {}, "no item rated by both")
    rows = [sum(row) for row in table]
    cols = [sum(table[i][j] for i in range(len(labels))) for j in range(len(labels))]
    observed = Fraction(sum(table[i][i] for i in range(len(labels))), n)
    expected = sum((Fraction(rows[k] * cols[k], n * n) for k in range(len(labels))), Fraction(0))
    kappa = _kappa(observed, expected)
    per_label: dict[str, Fraction | None] = {}
    for k, label in enumerate(labels):
        both = table[k][k]
        first_only, second_only = rows[k] - both, cols[k] - both
        neither = n - both - first_only - second_only
        p_o = Fraction(both + neither, n)
        p_first, p_second = Fraction(rows[k], n), Fraction(cols[k], n)
        p_e = p_first * p_second + (1 - p_first) * (1 - p_second)
        per_label[label] = _kappa(p_o, p_e)
    reason = "" if kappa is not None else "undefined: every rating is the same label"
    return CohenResult(n, labels, confusion, observed, expected, kappa, per_label, reason)


def fleiss_kappa(counts: Sequence[Sequence[int]], labels: Sequence[str]) -> FleissResult:
    """Fleiss' κ, overall and per label, from an items × labels table of counts.

    Parameters
    ----------
    counts : sequence of sequence of int
        ``counts[i][k]``: raters who put item ``i`` in ``labels[k]``. Every row must sum to the
        same number of raters n ≥ 2.
    labels : sequence of str
        Column names of ``counts``.

    Returns
    -------
    FleissResult

    Raises
    ------
    ValueError
        If rows have different sums, fewer than two raters, or the wrong length.
    """
    labels = tuple(labels)
    rows = [tuple(int(c) for c in row) for row in counts]
    if any(len(row) != len(labels) for row in rows):
        raise ValueError("every row needs one count per label")
    totals = tuple(sum(row[k] for row in rows) for k in range(len(labels)))
    if not rows:
        return FleissResult(0, 0, labels, totals, None, None, None, {}, "no item")
    n = sum(rows[0])
    if n < 2 or any(sum(row) != n for row in rows):
        raise ValueError("every item needs the same number (≥ 2) of ratings")
    n_items = len(rows)
    observed = (
        sum((Fraction(sum(c * c for c in row) - n, n * (n - 1)) for row in rows), Fraction(0))
        / n_items
    )
    shares = [Fraction(totals[k], n_items * n) for k in range(len(labels))]
    expected = sum((p * p for p in shares), Fraction(0))
    kappa = _kappa(observed, expected)
    per_label: dict[str, Fraction | None] = {}
    for k, label in enumerate(labels):
        p = shares[k]
        if p in (0, 1):
            per_label[label] = None
            continue
        spread = sum(row[k] * (n - row[k]) for row in rows)
        per_label[label] = 1 - Fraction(spread) / (n_items * n * (n - 1) * p * (1 - p))
    reason = "" if kappa is not None else "undefined: every rating is the same label"
    return FleissResult(n_items, n, labels, totals, observed, expected, kappa, per_label, reason)


#: Landis & Koch (1977): the word for κ up to each bound (κ < 0 is "poor").
_BANDS = (
    (Fraction(1, 5), "slight"),
    (Fraction(2, 5), "fair"),
    (Fraction(3, 5), "moderate"),
    (Fraction(4, 5), "substantial"),
)


def interpret(kappa: Fraction | float | None) -> str:
    """Landis & Koch's word for a κ: poor (< 0), slight (≤ 0.2), fair (≤ 0.4), moderate
    (≤ 0.6), substantial (≤ 0.8), almost perfect; "undefined" for None."""
    if kappa is None:
        return "undefined"
    if kappa < 0:
        return "poor"
    for upper, word in _BANDS:
        if kappa <= upper:
            return word
    return "almost perfect"


def kappa_json(value: Fraction | None) -> dict[str, Any] | None:
    """A κ (or any fraction) for JSON: ``{"value": float, "exact": "16/31"}`` or None."""
    if value is None:
        return None
    return {"value": float(value), "exact": f"{value.numerator}/{value.denominator}"}


def fraction_json(value: Fraction | None) -> float | None:
    """A fraction as a float for JSON (None stays None)."""
    return None if value is None else float(value)


def cohen_json(result: CohenResult, first: str, second: str) -> dict[str, Any]:
    """A :class:`CohenResult` as JSON, naming the two raters (rows and columns)."""
    return {
        "method": "cohen",
        "raters": [first, second],
        "n_images": result.n_items,
        "kappa": kappa_json(result.kappa),
        "interpretation": interpret(result.kappa),
        "observed_agreement": fraction_json(result.observed),
        "expected_agreement": fraction_json(result.expected),
        "per_label": {k: kappa_json(v) for k, v in result.per_label.items()},
        "confusion": {
            "rows": first,
            "columns": second,
            "labels": list(result.labels),
            "counts": [list(row) for row in result.confusion],
        },
        "reason": result.reason,
    }


def fleiss_json(result: FleissResult, raters: Sequence[str]) -> dict[str, Any]:
    """A :class:`FleissResult` as JSON."""
    return {
        "method": "fleiss",
        "raters": list(raters),
        "n_images": result.n_items,
        "kappa": kappa_json(result.kappa),
        "interpretation": interpret(result.kappa),
        "observed_agreement": fraction_json(result.observed),
        "expected_agreement": fraction_json(result.expected),
        "per_label": {k: kappa_json(v) for k, v in result.per_label.items()},
        "label_totals": dict(zip(result.labels, result.label_totals, strict=True)),
        "reason": result.reason,
    }


def label_counts(ratings: Mapping[str, str], labels: Sequence[str]) -> list[int]:
    """How many of ``ratings`` (rater → label) fall in each of ``labels``."""
    return [sum(1 for value in ratings.values() if value == label) for label in labels]
