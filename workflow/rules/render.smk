# One video per image. The job re-runs when Snakemake finds its sidecar missing or any
# compared param changed (rerun trigger "params", on by default): the input's signature
# (replaced file, even with an older mtime), the render fingerprint (code, ffmpeg and
# library versions, options), the options, the BIDS path or entities. The job's own
# argument (paths included) is a "derived" param (render_job) and is not compared. The
# sidecar is flagged update(): Snakemake keeps it while the job runs, so a job that finds
# the same bytes, code and options as its sidecar records keeps the video instead of
# encoding it again (README "What triggers a re-render").
rule render_video:
    input:
        prepare_run,
    output:
        sidecar=update(f"{OUT}/{{image}}.json"),
    log:
        f"{OUT}/logs/render/{{image}}.log",
    # no group: here: a cluster profile groups the renders (workflow/profiles/slurm), and a
    # rule grouped in the Snakefile could not run its renders side by side inside the
    # cluster job (neurovid.cluster)
    threads: 1
    resources:
        mem_mb=image_mem_mb,
        runtime=image_runtime_min,
    params:
        source=image_source,
        entities=image_entities,
        input_signature=image_signature,
        fingerprint=RENDER_FINGERPRINT,
        options=RENDER_OPTIONS,
        job=render_job,
        python=render_python,
    # a shell command, not script: (Snakemake reads a script: rule's script for every job
    # it plans; neurovid.render_job says what that cost at 20,000 images)
    shell:
        "{params.python:q} -m neurovid.render_job {params.job:q} {output.sidecar:q} {log:q}"
