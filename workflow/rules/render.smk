# One video per image. The job re-runs when Snakemake finds its sidecar missing or any
# compared param changed (rerun trigger "params", on by default): the input's signature
# (replaced file, even with an older mtime), the render fingerprint (code, ffmpeg and
# library versions, options), the options, the BIDS path or entities. Paths are "derived"
# params (image_path, video_path) and are not compared. The sidecar is flagged update():
# Snakemake keeps it while the job runs, so a job that finds the same bytes, code and
# options as its sidecar records keeps the video instead of encoding it again
# (README "What triggers a re-render").
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
        image=image_path,
        video=video_path,
        source=image_source,
        entities=image_entities,
        log_relative="logs/render/{image}.log",
        input_signature=image_signature,
        fingerprint=RENDER_FINGERPRINT,
        options=RENDER_OPTIONS,
    script:
        "../scripts/render_video.py"
