# igs workflow entry point: stage rules and the final targets. Nothing else.
# The config is the user's alone: snakemake --configfile FILE (the demo: --configfile config/config.yaml).
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/scores.smk"
include: "workflow/rules/pheno.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/share.smk"


rule all:
    input:
        all_targets(),
    default_target: True
