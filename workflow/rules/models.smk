# Integrative survival models per biobank and endpoint (endpoints that name a `score`).

MODELLED = [e["name"] for e in RESOLVED["pheno"]["endpoints"] if "score" in e]
EVALUATION_FILES = (
    "comparison.tsv", "calibration.tsv", "net_benefit.tsv", "hr_per_sd.tsv", "prs_modifiers.tsv", "percentile_hr.tsv",
    "cumulative_incidence.tsv", "metrics.json", "model.json", "cumulative_incidence.png",
    "calibration.png", "td_auc.png", "percentile_hr.png",
)  # fmt: skip


rule models_evaluate:
    input:
        endpoint=f"{RESULTS}/{{biobank}}/pheno/{{endpoint}}.parquet",
        covariates=f"{RESULTS}/{{biobank}}/features/covariates.parquet",
        omics=f"{RESULTS}/{{biobank}}/features/omics_landmark.parquet",
        scores=f"{RESULTS}/{{biobank}}/scores/scores_adjusted.tsv.gz",
        pcs=f"{RESULTS}/{{biobank}}/qc/pcs.tsv",
    output:
        [
            report(f"{RESULTS}/{{biobank}}/evaluate/{{endpoint}}/{name}", category="{biobank}", subcategory="{endpoint}")
            if name.endswith(".png")
            else f"{RESULTS}/{{biobank}}/evaluate/{{endpoint}}/{name}"
            for name in EVALUATION_FILES
        ],
    log:
        f"{LOGS}/{{biobank}}/evaluate/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    params:
        config_file=CONFIG_FILE,
        results_dir=lambda wc: f"{RESULTS}/{wc.biobank}",
        out_dir=lambda wc: f"{RESULTS}/{wc.biobank}/evaluate/{wc.endpoint}",
        settings=RESOLVED["models"],
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "igs models evaluate --config {params.config_file} --endpoint {wildcards.endpoint} "
        "--results-dir {params.results_dir} --out-dir {params.out_dir} 2> {log}"
