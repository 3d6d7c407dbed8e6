# Config validation, the stage options files, wildcard constraints and the list of final targets.
# Each stage keeps its own input functions in its own .smk file. Paths come from igs.paths.
from pathlib import Path

import igs.config
import igs.options
import igs.paths as P
import igs.resources
from igs.errors import IGSError


if not config:
    raise WorkflowError(
        "no configuration: run with --configfile FILE (the demo: --configfile config/config.yaml, "
        "as `make demo` does)."
    )
try:
    RESOLVED = igs.config.resolve_config(config, source="config")
except IGSError as exc:
    raise WorkflowError(str(exc)) from None

RESULTS = RESOLVED["results_dir"]
LOGS = RESOLVED["logs_dir"]
BIOBANKS = {bb["name"]: bb for bb in RESOLVED["biobanks"]}
SIMULATED = [name for name, bb in BIOBANKS.items() if "simulate" in bb]
SIMULATED_DIR = f"{RESULTS}/{igs.config.SIMULATED_DIR}"
MODELLED = [e["name"] for e in RESOLVED["pheno"]["endpoints"] if "score" in e]
# biobanks with health records; the others are scores-only (inputs, QC, scores, adjustment)
PHENOTYPED = [name for name, bb in BIOBANKS.items() if "phenotypes" in bb]
# each biobank's genotype parts: {chromosome: file} when genotypes.path has {chrom}, else {"all": path}
PARTS = {
    name: igs.config.genotype_parts(bb["genotypes"], check="simulate" not in bb) for name, bb in BIOBANKS.items()
}
SCORING_FILES = {name: igs.config.scoring_files(RESOLVED, name) for name in BIOBANKS}


wildcard_constraints:
    biobank="|".join(BIOBANKS),
    chrom="[^/]+",


def options(stage):
    """The options file of a stage for the job's biobank (input of every rule that reads config)."""
    return P.stage_options(RESULTS, "{biobank}", stage)


# Nothing is written while the workflow is parsed: a stage's resolved config reaches its jobs
# through this rule's output, written only when a job runs. Its params are that config, so a
# changed value reruns it and, by file time, the stage and everything downstream.
rule config_stage:
    output:
        P.stage_options(RESULTS, "{biobank}", "{stage}"),
    wildcard_constraints:
        stage="|".join(s for s in igs.options.STAGE_BLOCKS if s != "report"),
    params:
        record=lambda wc: igs.options.stage_config(RESOLVED, wc.stage, wc.biobank),
    localrule: True
    run:
        igs.options.write_stage_config(params.record, output[0])


rule config_run:
    """The options of a stage that spans every biobank (the report, the federated model)."""
    output:
        P.run_options(RESULTS, "{stage}"),
    wildcard_constraints:
        stage="report|federated",
    params:
        record=lambda wc: igs.options.stage_config(RESOLVED, wc.stage),
    localrule: True
    run:
        igs.options.write_stage_config(params.record, output[0])


# Threads, memory and run time of every job come from the config's `resources` block (defaults
# in the schema) and grow with the job's input (igs.resources): nothing is hard-coded in a rule.
def rule_threads(rule):
    return igs.resources.job_resources(RESOLVED["resources"], rule).threads


def rule_mem_mb(rule, input_mb=None):
    """A resources callable: the rule's memory for this job's input size (or ``input_mb(wc)``)."""
    return lambda wc, input: igs.resources.job_resources(
        RESOLVED["resources"], rule, input_mb(wc) if input_mb else input.size_mb
    ).mem_mb


def rule_runtime(rule, input_mb=None):
    return lambda wc, input: igs.resources.job_resources(
        RESOLVED["resources"], rule, input_mb(wc) if input_mb else input.size_mb
    ).runtime


def genotype_prefix(biobank):
    return BIOBANKS[biobank]["genotypes"]["path"]


def genotype_files(biobank, part=None):
    """The files of a biobank's genotypes (every chromosome's), or of one part of them."""
    g = BIOBANKS[biobank]["genotypes"]
    paths = PARTS[biobank].values() if part is None else [PARTS[biobank][part]]
    files = [p + s for p in paths for s in igs.config.GENOTYPE_SUFFIXES[g["format"]]]
    sample = [igs.config.part_file(g.get("sample"), c) for c in ([part] if part else PARTS[biobank])]
    return files + [f for f in sample if f is not None]


def all_targets():
    targets = expand(P.inputs(RESULTS, "{biobank}"), biobank=BIOBANKS)
    targets += expand(P.qc(RESULTS, "{biobank}", "summary.json"), biobank=BIOBANKS)
    targets += expand(P.provenance(RESULTS, "{biobank}"), biobank=BIOBANKS)
    scored = [n for n in BIOBANKS if SCORING_FILES[n]]
    targets += expand(P.scores(RESULTS, "{biobank}", "scores_adjusted.tsv.gz"), biobank=scored)
    if RESOLVED["pheno"]["endpoints"] and PHENOTYPED:
        targets += expand(P.pheno(RESULTS, "{biobank}", "summary.json"), biobank=PHENOTYPED)
    targets += expand(P.evaluation(RESULTS, "{biobank}", "{endpoint}", "metrics.json"), biobank=PHENOTYPED, endpoint=MODELLED)
    if MODELLED and PHENOTYPED:
        targets += expand(P.share(RESULTS, "{biobank}", "manifest.json"), biobank=PHENOTYPED)
        targets.append(P.meta(RESULTS, "pooled.tsv"))
        targets += expand(P.export(RESULTS, "{biobank}", "{endpoint}_risk.csv"), biobank=PHENOTYPED, endpoint=MODELLED)
        targets.append(P.report(RESULTS))
    if RESOLVED["federated"]["enabled"]:
        targets += expand(P.federated(RESULTS, "{endpoint}", "model.json"), endpoint=MODELLED)
    return targets


def _unknown_biobank(wildcards):
    known = ", ".join(BIOBANKS)
    raise WorkflowError(f"unknown biobank {wildcards.other!r}; the config defines: {known}.")


rule unknown_biobank:
    """Answers a target under a biobank the config does not define: an error, no job."""
    output:
        f"{RESULTS}/{{other}}/{{anything}}",
    wildcard_constraints:
        other="(?!(?:" + "|".join([*BIOBANKS, igs.config.SIMULATED_DIR, "meta", "config", "federated"]) + ")/)[^/]+",
        anything=".+",
    input:
        _unknown_biobank,
