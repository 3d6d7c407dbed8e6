from igs.simulate.imputed import imputed_files
from igs.simulate.universe import DEFAULT_SCORES

# Demo inputs: the shared variant universe's scoring files, and one cohort per simulated biobank.
SIM = RESOLVED.get("simulation", {})  # defaults filled in from the schema
# simulated biobanks written as imputed dosages (per chromosome) plus an array fileset
IMPUTED = [b for b in SIMULATED if BIOBANKS[b]["simulate"]["imputed"]]
SIMULATED_SCORES = [s.pgs_id for s in DEFAULT_SCORES] if SIM else []
UNIVERSE_ARGS = "--seed {params.seed:q} --n-variants {params.n_variants:q} --chromosomes {params.chromosomes:q}"
UNIVERSE_PARAMS = (
    dict(seed=SIM["seed"], n_variants=SIM["n_variants"], chromosomes=",".join(SIM["chromosomes"])) if SIM else {}
)


def simulated_input_mb(wc):
    """A simulated cohort's genotype size: what simulate_cohort's memory and run time grow with."""
    return igs.resources.simulated_genotypes_mb(BIOBANKS[wc.biobank]["simulate"]["n_samples"], SIM["n_variants"])


rule simulate_scores:
    output:
        scores=expand(f"{SIMULATED_DIR}/scoring_files/{{pgs}}.txt.gz", pgs=SIMULATED_SCORES),
        truth=expand(f"{SIMULATED_DIR}/scoring_files/{{pgs}}.truth.tsv.gz", pgs=SIMULATED_SCORES),
    log:
        f"{LOGS}/simulate/scoring_files.log",
    params:
        out_dir=f"{SIMULATED_DIR}/scoring_files",
        **UNIVERSE_PARAMS,
    threads: rule_threads("simulate_scores")
    resources:
        mem_mb=rule_mem_mb("simulate_scores"),
        runtime=rule_runtime("simulate_scores"),
    shell:
        "igs simulate scores --out-dir {params.out_dir:q} " + UNIVERSE_ARGS + " 2> {log:q}"


rule simulate_cohort:
    output:
        bed=f"{SIMULATED_DIR}/{{biobank}}/genotypes.bed",
        bim=f"{SIMULATED_DIR}/{{biobank}}/genotypes.bim",
        fam=f"{SIMULATED_DIR}/{{biobank}}/genotypes.fam",
        pgen=f"{SIMULATED_DIR}/{{biobank}}/genotypes.pgen",
        pvar=f"{SIMULATED_DIR}/{{biobank}}/genotypes.pvar",
        psam=f"{SIMULATED_DIR}/{{biobank}}/genotypes.psam",
        clinical=f"{SIMULATED_DIR}/{{biobank}}/clinical.tsv",
        diagnoses=f"{SIMULATED_DIR}/{{biobank}}/diagnoses.tsv",
        medications=f"{SIMULATED_DIR}/{{biobank}}/medications.tsv",
        omics=f"{SIMULATED_DIR}/{{biobank}}/omics.tsv.gz",
        truth=f"{SIMULATED_DIR}/{{biobank}}/truth.json",
        truth_samples=f"{SIMULATED_DIR}/{{biobank}}/truth_samples.tsv.gz",
    log:
        f"{LOGS}/{{biobank}}/simulate/cohort.log",
    wildcard_constraints:
        biobank="|".join(b for b in SIMULATED if b not in IMPUTED) or "^$",
    params:
        out_dir=lambda wc: f"{SIMULATED_DIR}/{wc.biobank}",
        n_samples=lambda wc: BIOBANKS[wc.biobank]["simulate"]["n_samples"],
        cohort_seed=lambda wc: BIOBANKS[wc.biobank]["simulate"]["seed"],
        proportions=lambda wc: ",".join(map(str, BIOBANKS[wc.biobank]["simulate"]["ancestry_proportions"])),
        **UNIVERSE_PARAMS,
    threads: rule_threads("simulate_cohort")
    resources:
        mem_mb=rule_mem_mb("simulate_cohort", simulated_input_mb),
        runtime=rule_runtime("simulate_cohort", simulated_input_mb),
    shell:
        "igs simulate cohort --out-dir {params.out_dir:q} --name {wildcards.biobank:q} "
        "--n-samples {params.n_samples:q} --cohort-seed {params.cohort_seed:q} "
        "--ancestry-proportions {params.proportions:q} " + UNIVERSE_ARGS + " 2> {log:q}"


rule simulate_imputed:
    """A simulated biobank with simulate.imputed: also its imputed dosages and array fileset."""
    output:
        bed=f"{SIMULATED_DIR}/{{biobank}}/genotypes.bed",
        bim=f"{SIMULATED_DIR}/{{biobank}}/genotypes.bim",
        fam=f"{SIMULATED_DIR}/{{biobank}}/genotypes.fam",
        pgen=f"{SIMULATED_DIR}/{{biobank}}/genotypes.pgen",
        pvar=f"{SIMULATED_DIR}/{{biobank}}/genotypes.pvar",
        psam=f"{SIMULATED_DIR}/{{biobank}}/genotypes.psam",
        clinical=f"{SIMULATED_DIR}/{{biobank}}/clinical.tsv",
        diagnoses=f"{SIMULATED_DIR}/{{biobank}}/diagnoses.tsv",
        medications=f"{SIMULATED_DIR}/{{biobank}}/medications.tsv",
        omics=f"{SIMULATED_DIR}/{{biobank}}/omics.tsv.gz",
        truth=f"{SIMULATED_DIR}/{{biobank}}/truth.json",
        truth_samples=f"{SIMULATED_DIR}/{{biobank}}/truth_samples.tsv.gz",
        array=[f"{SIMULATED_DIR}/{{biobank}}/array{s}" for s in (".bed", ".bim", ".fam")],
        imputation_truth=f"{SIMULATED_DIR}/{{biobank}}/truth_imputation.tsv.gz",
        imputed=[f"{SIMULATED_DIR}/{{biobank}}/{f}" for f in imputed_files([*SIM.get("chromosomes", []), "X"])],
    log:
        f"{LOGS}/{{biobank}}/simulate/cohort.log",
    wildcard_constraints:
        biobank="|".join(IMPUTED) or "^$",
    params:
        out_dir=lambda wc: f"{SIMULATED_DIR}/{wc.biobank}",
        n_samples=lambda wc: BIOBANKS[wc.biobank]["simulate"]["n_samples"],
        cohort_seed=lambda wc: BIOBANKS[wc.biobank]["simulate"]["seed"],
        proportions=lambda wc: ",".join(map(str, BIOBANKS[wc.biobank]["simulate"]["ancestry_proportions"])),
        **UNIVERSE_PARAMS,
    threads: rule_threads("simulate_imputed")
    resources:
        mem_mb=rule_mem_mb("simulate_imputed", simulated_input_mb),
        runtime=rule_runtime("simulate_imputed", simulated_input_mb),
    shell:
        "igs simulate cohort --out-dir {params.out_dir:q} --name {wildcards.biobank:q} "
        "--n-samples {params.n_samples:q} --cohort-seed {params.cohort_seed:q} "
        "--ancestry-proportions {params.proportions:q} --imputed " + UNIVERSE_ARGS + " 2> {log:q}"


rule simulate_omop:
    input:
        clinical=f"{SIMULATED_DIR}/{{biobank}}/clinical.tsv",
        diagnoses=f"{SIMULATED_DIR}/{{biobank}}/diagnoses.tsv",
        medications=f"{SIMULATED_DIR}/{{biobank}}/medications.tsv",
        omics=f"{SIMULATED_DIR}/{{biobank}}/omics.tsv.gz",
    output:
        f"{SIMULATED_DIR}/{{biobank}}/omop.duckdb",
    log:
        f"{LOGS}/{{biobank}}/simulate/omop.log",
    wildcard_constraints:
        biobank="|".join(SIMULATED) or "^$",
    params:
        cohort_dir=lambda wc: f"{SIMULATED_DIR}/{wc.biobank}",
    threads: rule_threads("simulate_omop")
    resources:
        mem_mb=rule_mem_mb("simulate_omop"),
        runtime=rule_runtime("simulate_omop"),
    shell:
        "igs simulate omop --cohort-dir {params.cohort_dir:q} --out {output:q} 2> {log:q}"
