# One video per image. The job re-runs when Snakemake finds its sidecar missing or any
# compared param changed (rerun trigger "params", on by default): the input's signature
# (replaced file, even with an older mtime), the render fingerprint (code, ffmpeg and
# library versions, options), the options, the BIDS path or entities. The job's command
# (paths included) is a "derived" param (render_command) and is not compared. The
# sidecar is flagged update(): Snakemake keeps it while the job runs, so a job that finds
# the same bytes, code and options as its sidecar records keeps the video instead of
# encoding it again (README "What triggers a re-render").
rule render_video:
    input:
        prepare_run,
    output:
        sidecar=update(f"{OUT}/{{image}}.json"),
    log:
        f"{OUT}/{RENDER_LOG}",
    # no group: here: a cluster profile groups the renders (workflow/profiles/slurm), and a
    # rule grouped in the Snakefile could not run its renders side by side inside the
    # cluster job (neurovid.cluster)
    threads: 1
    resources:
        mem_mb=image_mem_mb,
        runtime=image_runtime_min,
    params:
        # compared between runs (a change re-renders the image): its BIDS path, entities
        # and stat signature; the render fingerprint; the options
        image=image_identity,
        fingerprint=RENDER_FINGERPRINT,
        options=RENDER_OPTIONS,
        # derived, not compared: the job's whole command (neurovid.render_job), quoted
        command=render_command,
    # a shell command, not script: (Snakemake reads a script: rule's script for every job
    # it plans; neurovid.render_job says what that cost at 20,000 images). Few params, and
    # few functions among them: Snakemake inspects each function several times per job.
    shell:
        "{params.command}"
