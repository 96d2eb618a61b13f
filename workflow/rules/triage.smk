# Triage at the study level: each suffix's sidecars (their quality records) become
# OUTPUT_DIR/group_<suffix>.tsv + .json: one row per image, robust z-scores of the measures
# across the study, an attention score and the flags (docs/quality.md). Nothing is
# re-rendered; when any sidecar of the suffix changes, the table is rebuilt.


localrules:
    group_table,


rule group_table:
    input:
        sidecars=lambda wildcards: sidecars_of_suffix(wildcards.suffix),
    output:
        tsv=f"{OUT}/group_{{suffix}}.tsv",
        json=f"{OUT}/group_{{suffix}}.json",
    log:
        f"{OUT}/logs/group_table/{{suffix}}.log",
    wildcard_constraints:
        suffix="[a-zA-Z0-9]+",
    script:
        "../scripts/group_table.py"
