# Federated Cox model over the demo's biobanks (issue #20): each biobank writes its analysis table
# (what its Vantage6 node would serve), then the central part runs over Vantage6's mock client,
# one organisation per biobank. Not yet included in the Snakefile (wired after the CLI refactor);
# it needs MODELLED from models.smk and the `igs[federated]` extra.


rule federated_node:
    input:
        endpoint=f"{RESULTS}/{{biobank}}/pheno/{{endpoint}}.parquet",
        covariates=f"{RESULTS}/{{biobank}}/features/covariates.parquet",
        omics=f"{RESULTS}/{{biobank}}/features/omics_landmark.parquet",
        scores=f"{RESULTS}/{{biobank}}/scores/scores_adjusted.tsv.gz",
        pcs=f"{RESULTS}/{{biobank}}/qc/pcs.tsv",
    output:
        f"{RESULTS}/{{biobank}}/federated/{{endpoint}}.csv",
    log:
        f"{LOGS}/{{biobank}}/federated/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    params:
        config_file=CONFIG_FILE,
        results_dir=lambda wc: f"{RESULTS}/{wc.biobank}",
        settings=RESOLVED["federated"],
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "igs federated node --config {params.config_file} --endpoint {wildcards.endpoint} "
        "--results-dir {params.results_dir} --site {wildcards.biobank} --out {output} 2> {log}"


rule federated_central:
    input:
        lambda wc: [f"{RESULTS}/{bb}/federated/{wc.endpoint}.csv" for bb in BIOBANKS],
    output:
        [
            f"{RESULTS}/federated/{{endpoint}}/{name}"
            for name in ("model.json", "coefficients.tsv", "comparison.tsv", "curves.tsv",
                         "concordance.tsv", "calibration.tsv")
        ],  # fmt: skip
    log:
        f"{LOGS}/federated/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    params:
        config_file=CONFIG_FILE,
        tables=lambda wc: " ".join(
            f"--table {bb}={RESULTS}/{bb}/federated/{wc.endpoint}.csv" for bb in BIOBANKS
        ),
        out_dir=lambda wc: f"{RESULTS}/federated/{wc.endpoint}",
        settings=RESOLVED["federated"],
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "igs federated central --config {params.config_file} {params.tables} "
        "--out-dir {params.out_dir} 2> {log}"
