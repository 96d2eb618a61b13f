"""Write OUTPUT_DIR/group_<suffix>.tsv and its JSON sidecar from the sidecars of one suffix.

Run by the rule ``group_table`` (workflow/rules/triage.smk); by hand::

    python workflow/scripts/group_table.py OUTPUT_DIR [--suffix T1w]

(every suffix found among OUTPUT_DIR's sidecars when ``--suffix`` is not given). A sidecar
that cannot be read is left out and named in the log; it never stops the table.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from neurovid.group import build_group_tables, image_quality_from_sidecar
from neurovid.report import collect_sidecars, read_sidecar

if TYPE_CHECKING:
    from snakemake.script import snakemake


def write_tables(
    sidecars: Sequence[Path], out_dir: Path, suffixes: Sequence[str] | None, log
) -> list[Path]:
    """Build the group tables of `sidecars` and write those of `suffixes` (all if None)."""
    images = []
    for path in sidecars:
        data, error = read_sidecar(Path(path))
        image = image_quality_from_sidecar(data)
        if image is None:
            print(f"left out {path}: {error or 'no source in the sidecar'}", file=log)
            continue
        images.append(image)
    tables = build_group_tables(images)
    written = []
    for suffix in suffixes if suffixes is not None else sorted(tables):
        table = tables.get(suffix)
        if table is None:  # no readable sidecar of this suffix: an empty, valid table
            from neurovid.group import GroupTable

            table = GroupTable(suffix, [], [], True)
        tsv = out_dir / f"group_{suffix}.tsv"
        table.write(tsv)
        flagged = sum(1 for row in table.rows if row.flags)
        mode = "flags and absolute levels only" if table.small_study else "robust z-scores"
        print(f"{tsv}: {len(table.rows)} images, {flagged} flagged ({mode})", file=log)
        written.append(tsv)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--suffix", action="append", help="only this suffix (repeatable)")
    args = parser.parse_args(argv)
    write_tables(collect_sidecars(args.output_dir), args.output_dir, args.suffix, sys.stderr)
    return 0


if "snakemake" in globals():
    job = snakemake  # noqa: F821 (injected by Snakemake)
    with open(job.log[0], "w") as log:
        write_tables(
            [Path(p) for p in job.input.sidecars],
            Path(job.output.tsv).parent,
            [job.wildcards.suffix],
            log,
        )
elif __name__ == "__main__":
    sys.exit(main())
