"""Merge the rater exports in OUTPUT_DIR/ratings/ into qc_ratings.tsv/.json and exclude.json.

Run by the rule ``merge_ratings`` (workflow/rules/ratings.smk) on every run in which an export
was added, changed or removed, or an image was (re-)rendered; nothing is re-rendered. By hand::

    python workflow/scripts/merge_ratings.py OUTPUT_DIR [--consensus worst] [--exclude fail]

Problems (stale, conflicting, unknown or unreadable ratings) are listed in qc_ratings.json under
``Problems``, one line each in the log, and summed up on stderr; they never stop the merge.
"""

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from neurovid.ratings import (
    CONSENSUS_RULES,
    DEFAULT_CONSENSUS,
    RATING_LABELS,
    ensure_dataset_id,
    images_from_sidecars,
    rating_exports,
)
from neurovid.ratings_merge import merge_ratings, write_merge_outputs

if TYPE_CHECKING:
    from snakemake.script import snakemake


def run(
    output_dir: Path,
    exports: Sequence[Path],
    sidecars: Sequence[Path],
    outputs: tuple[Path, Path, Path],
    consensus_rule: str = DEFAULT_CONSENSUS,
    exclude_ratings: Sequence[str] = ("fail",),
    log: Path | None = None,
) -> int:
    """Merge, write the three outputs, write the log; return the number of problems.

    The images are every sidecar in ``output_dir`` (as on the review page: a run filtered to
    some participants still merges the whole study), plus ``sidecars``.
    """
    from neurovid.report import collect_sidecars

    images = images_from_sidecars(sorted({*map(Path, sidecars), *collect_sidecars(output_dir)}))
    result = merge_ratings(
        exports,
        images,
        consensus_rule=consensus_rule,
        dataset_id=ensure_dataset_id(output_dir),
        base_dir=output_dir,
    )
    write_merge_outputs(result, *outputs, exclude_ratings=exclude_ratings)
    rated = sum(1 for row in result.rows if row.rating)
    overall = result.agreement.get("overall") or {}
    kappa = (overall.get("kappa") or {}).get("value")
    lines = [f"problem ({p.kind}): {p.message}" for p in result.problems]
    lines.append(
        f"{len(exports)} exports, {len(result.raters)} raters, {rated} of {len(images)} images "
        f"rated; consensus rule {consensus_rule}"
        + (f"; {overall['method']} kappa {kappa:.3f}" if kappa is not None else "")
    )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"ratings: {lines[-1]}", file=sys.stderr)
    if result.problems:
        counts = Counter(p.kind for p in result.problems)
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        print(f"ratings: {summary} (see Problems in {outputs[1]})", file=sys.stderr)
    return len(result.problems)


def _get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Merge rater exports (OUTPUT_DIR/ratings/*.tsv|json) into "
        "OUTPUT_DIR/qc_ratings.tsv, qc_ratings.json and exclude.json."
    )
    parser.add_argument("output_dir", type=Path, help="the workflow's OUTPUT_DIR")
    parser.add_argument(
        "--consensus",
        choices=sorted(CONSENSUS_RULES),
        default=DEFAULT_CONSENSUS,
        help=f"how several raters' ratings become one (default {DEFAULT_CONSENSUS})",
    )
    parser.add_argument(
        "--exclude",
        nargs="+",
        choices=RATING_LABELS,
        default=["fail"],
        help="consensus ratings listed in exclude.json (default: fail)",
    )
    return parser


def main(args: Sequence[str] | None = None) -> int:
    options = _get_parser().parse_args(args)
    output_dir = options.output_dir
    if not output_dir.is_dir():
        print(f"error: {output_dir} is not a folder", file=sys.stderr)
        return 2
    run(
        output_dir,
        [Path(p) for p in rating_exports(output_dir)],
        [],
        (
            output_dir / "qc_ratings.tsv",
            output_dir / "qc_ratings.json",
            output_dir / "exclude.json",
        ),
        options.consensus,
        options.exclude,
    )
    return 0


def _run_from_snakemake(job: "snakemake") -> None:
    run(
        Path(job.params.output_dir),
        [Path(p) for p in job.input.exports],
        [Path(p) for p in job.input.sidecars],
        (Path(job.output.tsv), Path(job.output.json), Path(job.output.exclude)),
        job.params.consensus,
        job.params.exclude,
        log=Path(job.log[0]),
    )


if "snakemake" in globals():
    _run_from_snakemake(snakemake)  # noqa: F821 (injected by Snakemake)
elif __name__ == "__main__":
    raise SystemExit(main())
