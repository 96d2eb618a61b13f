# neurovid: discover every anatomical image of a BIDS dataset -> render one QC video each
# -> gather them in one review page.
#   snakemake --cores 8 --config bids_dir=/data/study output_dir=/data/study/derivatives/neurovid
from snakemake.utils import min_version

min_version("9.0")


# found next to this Snakefile, from any working folder (snakemake -s /path/to/Snakefile)
configfile: f"{workflow.basedir}/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/ratings.smk"
include: "workflow/rules/triage.smk"


rule all:
    default_target: True
    input:
        prepare_run,
        final_targets,
