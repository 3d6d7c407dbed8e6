# Config validation, the stage options files, wildcard constraints and the list of final targets.
# Each stage keeps its own input functions in its own .smk file. Paths come from igs.paths.
from pathlib import Path

import igs.config
import igs.options
import igs.paths as P
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


wildcard_constraints:
    biobank="|".join(BIOBANKS),


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


rule config_report:
    output:
        P.run_options(RESULTS, "report"),
    params:
        record=igs.options.stage_config(RESOLVED, "report"),
    localrule: True
    run:
        igs.options.write_stage_config(params.record, output[0])


def genotype_prefix(biobank):
    return BIOBANKS[biobank]["genotypes"]["path"]


def genotype_files(biobank):
    bb = BIOBANKS[biobank]["genotypes"]
    return [bb["path"] + s for s in igs.config.GENOTYPE_SUFFIXES[bb["format"]]]


def all_targets():
    targets = expand(P.inputs(RESULTS, "{biobank}"), biobank=BIOBANKS)
    targets += expand(P.qc(RESULTS, "{biobank}", "summary.json"), biobank=BIOBANKS)
    targets += expand(P.provenance(RESULTS, "{biobank}"), biobank=BIOBANKS)
    if RESOLVED["scores"]["scoring_files"]:
        targets += expand(P.scores(RESULTS, "{biobank}", "scores_adjusted.tsv.gz"), biobank=BIOBANKS)
    if RESOLVED["pheno"]["endpoints"]:
        targets += expand(P.pheno(RESULTS, "{biobank}", "summary.json"), biobank=BIOBANKS)
    targets += expand(P.evaluation(RESULTS, "{biobank}", "{endpoint}", "metrics.json"), biobank=BIOBANKS, endpoint=MODELLED)
    if MODELLED:
        targets += expand(P.share(RESULTS, "{biobank}", "manifest.json"), biobank=BIOBANKS)
        targets.append(P.meta(RESULTS, "pooled.tsv"))
        targets += expand(P.export(RESULTS, "{biobank}", "{endpoint}_risk.csv"), biobank=BIOBANKS, endpoint=MODELLED)
        targets.append(P.report(RESULTS))
    return targets


def _unknown_biobank(wildcards):
    known = ", ".join(BIOBANKS)
    raise WorkflowError(f"unknown biobank {wildcards.other!r}; the config defines: {known}.")


rule unknown_biobank:
    """Answers a target under a biobank the config does not define: an error, no job."""
    output:
        f"{RESULTS}/{{other}}/{{anything}}",
    wildcard_constraints:
        other="(?!(?:" + "|".join([*BIOBANKS, igs.config.SIMULATED_DIR, "meta", "config"]) + ")/)[^/]+",
        anything=".+",
    input:
        _unknown_biobank,
