localrules:
    dataset_description,
    review_page,
    strict_check,


rule dataset_description:
    output:
        f"{OUT}/dataset_description.json",
    log:
        f"{OUT}/logs/dataset_description.log",
    params:
        bids_dir=str(BIDS_DIR),
    script:
        "../scripts/dataset_description.py"


rule review_page:
    input:
        sidecars=sidecars(),
        ratings=f"{OUT}/qc_ratings.json",
    output:
        html=f"{OUT}/index.html",
        summary=f"{OUT}/logs/summary.json",
    log:
        f"{OUT}/logs/review_page.log",
    params:
        output_dir=lambda wildcards, output: os.path.dirname(output.html),
        dataset_name=BIDS_DIR.resolve().name,
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
    from neurovid.summary import summary_line

    print(summary_line(f"{OUT}/logs/summary.json"), file=sys.stderr)
