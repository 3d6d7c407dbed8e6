from igs.simulate.universe import DEFAULT_SCORES

# Demo inputs: the shared variant universe's scoring files, and one cohort per simulated biobank.
SIM = RESOLVED.get("simulation", {})  # defaults filled in from the schema
SIMULATED_SCORES = [s.pgs_id for s in DEFAULT_SCORES] if SIM else []
UNIVERSE_ARGS = "--seed {params.seed:q} --n-variants {params.n_variants:q} --chromosomes {params.chromosomes:q}"
UNIVERSE_PARAMS = (
    dict(seed=SIM["seed"], n_variants=SIM["n_variants"], chromosomes=",".join(SIM["chromosomes"])) if SIM else {}
)


rule simulate_scores:
    output:
        scores=expand(f"{SIMULATED_DIR}/scoring_files/{{pgs}}.txt.gz", pgs=SIMULATED_SCORES),
        truth=expand(f"{SIMULATED_DIR}/scoring_files/{{pgs}}.truth.tsv.gz", pgs=SIMULATED_SCORES),
    log:
        f"{LOGS}/simulate/scoring_files.log",
    params:
        out_dir=f"{SIMULATED_DIR}/scoring_files",
        **UNIVERSE_PARAMS,
    resources:
        mem_mb=2000,
        runtime=10,
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
        biobank="|".join(SIMULATED) or "^$",
    params:
        out_dir=lambda wc: f"{SIMULATED_DIR}/{wc.biobank}",
        n_samples=lambda wc: BIOBANKS[wc.biobank]["simulate"]["n_samples"],
        cohort_seed=lambda wc: BIOBANKS[wc.biobank]["simulate"]["seed"],
        proportions=lambda wc: ",".join(map(str, BIOBANKS[wc.biobank]["simulate"]["ancestry_proportions"])),
        **UNIVERSE_PARAMS,
    resources:
        mem_mb=lambda wc: 1000 + BIOBANKS[wc.biobank]["simulate"]["n_samples"] // 2,
        runtime=30,
    shell:
        "igs simulate cohort --out-dir {params.out_dir:q} --name {wildcards.biobank:q} "
        "--n-samples {params.n_samples:q} --cohort-seed {params.cohort_seed:q} "
        "--ancestry-proportions {params.proportions:q} " + UNIVERSE_ARGS + " 2> {log:q}"


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
    resources:
        mem_mb=2000,
        runtime=15,
    shell:
        "igs simulate omop --cohort-dir {params.cohort_dir:q} --out {output:q} 2> {log:q}"
