# Ratings become data: the rater exports dropped into OUTPUT_DIR/ratings/ (TSV or JSON from
# the review page, any number of raters) are merged into OUTPUT_DIR/qc_ratings.tsv + .json
# (consensus, agreement, problems) and exclude.json (pybids filters). See docs/ratings.md.
# Nothing is re-rendered: the merge reads the sidecars and the exports. The exports are
# listed once per run, so adding, changing or removing one reruns the merge; with no
# ratings/ folder the merge still writes valid files with every image unrated.
from neurovid.ratings import rating_exports


localrules:
    merge_ratings,


rule merge_ratings:
    input:
        sidecars=all_sidecars,
        exports=lambda wildcards: rating_exports(OUT),
    output:
        tsv=f"{OUT}/qc_ratings.tsv",
        json=f"{OUT}/qc_ratings.json",
        exclude=f"{OUT}/exclude.json",
    log:
        f"{OUT}/logs/merge_ratings.log",
    params:
        output_dir=lambda wildcards, output: os.path.dirname(output.tsv),
        consensus=config["ratings"]["consensus"],
        exclude=config["ratings"]["exclude"],
    script:
        "../scripts/merge_ratings.py"
