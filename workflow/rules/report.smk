localrules:
    dataset_description,
    review_page,
    strict_check,


rule dataset_description:
    input:
        prepare_run,
    output:
        # update(): Snakemake must not delete it before the job, which keeps a
        # description that is not ours (neurovid.derivative)
        update(f"{OUT}/dataset_description.json"),
    log:
        f"{OUT}/logs/dataset_description.log",
    params:
        bids_dir=lambda wildcards: BIDS_DIR,
        output_dir=lambda wildcards: OUT_DIR,
    script:
        "../scripts/dataset_description.py"


# The page shows every image rendered into the output folder (all sidecars on disk), not
# only this run's; this run's sidecars are inputs so that it is rebuilt after them, and
# the run record (filters used, what was not rendered) is a param, so a change rebuilds it.
rule review_page:
    input:
        prepare_run,
        sidecars=all_sidecars,
        ratings=f"{OUT}/qc_ratings.json",
    output:
        html=f"{OUT}/index.html",
        summary=f"{OUT}/logs/summary.json",
    log:
        f"{OUT}/logs/review_page.log",
    params:
        output_dir=lambda wildcards, output: os.path.dirname(output.html),
        dataset_name=lambda wildcards: os.path.basename(os.path.abspath(BIDS_DIR)),
        run_record=RUN_RECORD,
    script:
        "../scripts/build_index.py"


rule strict_check:
    input:
        summary=f"{OUT}/logs/summary.json",
    output:
        f"{OUT}/logs/strict_check.txt",
    log:
        f"{OUT}/logs/strict_check.log",
    script:
        "../scripts/strict_check.py"


onsuccess:
    from neurovid.summary import closing_line

    print(closing_line(OUT_DIR, since=RUN_STARTED), file=sys.stderr)
