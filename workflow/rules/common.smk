# Config validation, wildcard constraints and the list of final targets.
# Each stage keeps its own input functions in its own .smk file.
from pathlib import Path

import yaml

import igs.config
from igs.errors import IGSError


try:
    RESOLVED = igs.config.resolve_config(config, source="config")
except IGSError as exc:
    raise WorkflowError(str(exc)) from None

RESULTS = RESOLVED["results_dir"]
LOGS = RESOLVED["logs_dir"]
BIOBANKS = {bb["name"]: bb for bb in RESOLVED["biobanks"]}
SIMULATED = [name for name, bb in BIOBANKS.items() if "simulate" in bb]
SIMULATED_DIR = f"{RESULTS}/{igs.config.SIMULATED_DIR}"

# The merged config (config file plus any --config overrides) as the igs CLI reads it.
# Rewritten only when it changes, so that its timestamp does not trigger reruns.
CONFIG_FILE = f"{RESULTS}/.igs/config.yaml"
_config_text = yaml.safe_dump(dict(config), sort_keys=True)
if not Path(CONFIG_FILE).is_file() or Path(CONFIG_FILE).read_text() != _config_text:
    Path(CONFIG_FILE).parent.mkdir(parents=True, exist_ok=True)
    Path(CONFIG_FILE).write_text(_config_text)


wildcard_constraints:
    biobank="|".join(BIOBANKS),


def genotype_prefix(biobank):
    return BIOBANKS[biobank]["genotypes"]["path"]


def genotype_files(biobank):
    bb = BIOBANKS[biobank]["genotypes"]
    return [bb["path"] + s for s in igs.config.GENOTYPE_SUFFIXES[bb["format"]]]


def all_targets():
    targets = expand(f"{RESULTS}/{{biobank}}/inputs/genotype_summary.json", biobank=BIOBANKS)
    targets += expand(f"{RESULTS}/{{biobank}}/qc/summary.json", biobank=BIOBANKS)
    targets += expand(f"{RESULTS}/{{biobank}}/provenance.json", biobank=BIOBANKS)
    if RESOLVED["scores"]["scoring_files"]:
        targets += expand(f"{RESULTS}/{{biobank}}/scores/scores_adjusted.tsv.gz", biobank=BIOBANKS)
    if RESOLVED["pheno"]["endpoints"]:
        targets += expand(f"{RESULTS}/{{biobank}}/pheno/summary.json", biobank=BIOBANKS)
    modelled = [e["name"] for e in RESOLVED["pheno"]["endpoints"] if "score" in e]
    targets += expand(
        f"{RESULTS}/{{biobank}}/evaluate/{{endpoint}}/metrics.json", biobank=BIOBANKS, endpoint=modelled
    )
    if modelled:
        targets += expand(f"{RESULTS}/{{biobank}}/share/manifest.json", biobank=BIOBANKS)
        targets.append(f"{RESULTS}/meta/pooled.tsv")
        targets += expand(f"{RESULTS}/{{biobank}}/export/{{endpoint}}_risk.csv", biobank=BIOBANKS, endpoint=modelled)
        targets.append(f"{RESULTS}/report.html")
    return targets


def _unknown_biobank(wildcards):
    known = ", ".join(BIOBANKS)
    raise WorkflowError(f"unknown biobank {wildcards.other!r}; the config defines: {known}.")


rule unknown_biobank:
    """Answers a target under a biobank the config does not define: an error, no job."""
    output:
        f"{RESULTS}/{{other}}/{{anything}}",
    wildcard_constraints:
        other="(?!(?:" + "|".join([*BIOBANKS, igs.config.SIMULATED_DIR, "meta", r"\.igs"]) + ")/)[^/]+",
        anything=".+",
    input:
        _unknown_biobank,
