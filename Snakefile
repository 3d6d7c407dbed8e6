# igs workflow entry point: config, stage rules, and the final targets. Nothing else.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


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
