# Config validation, wildcard constraints and the list of final targets.
# Each stage keeps its own input functions in its own .smk file.
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


wildcard_constraints:
    biobank="|".join(BIOBANKS),


def genotype_prefix(biobank):
    return BIOBANKS[biobank]["genotypes"]["path"]


def genotype_files(biobank):
    bb = BIOBANKS[biobank]["genotypes"]
    return [bb["path"] + s for s in igs.config.GENOTYPE_SUFFIXES[bb["format"]]]


def all_targets():
    targets = expand(f"{RESULTS}/{{biobank}}/inputs/genotype_summary.json", biobank=BIOBANKS)
    if RESOLVED["scores"]["scoring_files"]:
        targets += expand(f"{RESULTS}/{{biobank}}/scores/scores.tsv.gz", biobank=BIOBANKS)
    return targets
