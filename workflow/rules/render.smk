rule render_video:
    input:
        image=image_input,
    output:
        sidecar=f"{OUT}/{{image}}.json",
    log:
        f"{OUT}/logs/render/{{image}}.log",
    group:
        "render"
    threads: 1
    resources:
        mem_mb=image_mem_mb,
        runtime=20,
    params:
        image=image_path,
        video=lambda wildcards: f"{OUT}/{wildcards.image}.mp4",
        source=lambda wildcards: IMAGES[wildcards.image].relpath,
        entities=lambda wildcards: IMAGES[wildcards.image].entities,
        log_relative=lambda wildcards: f"logs/render/{wildcards.image}.log",
        options=RENDER_OPTIONS,
    script:
        "../scripts/render_video.py"
