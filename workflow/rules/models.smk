# Integrative survival models per biobank and endpoint (endpoints that name a `score`).

import shlex

EVALUATION_FILES = (
    "comparison.tsv", "contributions.tsv", "calibration.tsv", "net_benefit.tsv", "hr_per_sd.tsv", "prs_modifiers.tsv", "fairness.tsv", "percentile_hr.tsv",
    "recalibrated_incidence.tsv", "threshold_ages.tsv",
    "cumulative_incidence.tsv", "metrics.json", "model.json", "cumulative_incidence.png",
    "calibration.png", "td_auc.png", "percentile_hr.png",
)  # fmt: skip


def survival_inputs():
    """The stage outputs an endpoint's analysis table is joined from (igs.models.load.SurvivalFiles)."""
    return dict(
        endpoint_table=P.endpoint_table(RESULTS, "{biobank}", "{endpoint}"),
        covariates=P.features(RESULTS, "{biobank}", "covariates.parquet"),
        omics=P.features(RESULTS, "{biobank}", "omics_landmark.parquet"),
        scores=P.scores(RESULTS, "{biobank}", "scores_adjusted.tsv.gz"),
        pcs=P.qc(RESULTS, "{biobank}", "pcs.tsv"),
    )


def recalibration_tables(biobank=None):
    """The population tables of models.recalibration (all, or the biobank's recalibration.country
    only): rule inputs, so a changed table reruns what reads it."""
    tables = RESOLVED["models"]["recalibration"]["tables"]
    if biobank is None:
        return sorted(set(tables.values()))
    country = BIOBANKS[biobank].get("recalibration", {}).get("country")
    return [tables[country]] if country else []


SURVIVAL_ARGS = (
    "--endpoint-table {input.endpoint_table:q} --covariates {input.covariates:q} --omics {input.omics:q} "
    "--scores {input.scores:q} --pcs {input.pcs:q}"
)


def simulation_truth(wc):
    """A simulated biobank's truth_samples.tsv.gz (true hazards: the oracle C); none for real data."""
    return [f"{SIMULATED_DIR}/{wc.biobank}/truth_samples.tsv.gz"] if "simulate" in BIOBANKS[wc.biobank] else []


rule models_evaluate:
    input:
        **survival_inputs(),
        options=options("models"),
        recalibration=recalibration_tables(),
        truth=simulation_truth,
    output:
        [
            report(P.evaluation(RESULTS, "{biobank}", "{endpoint}", name), category="{biobank}", subcategory="{endpoint}")
            if name.endswith(".png")
            else P.evaluation(RESULTS, "{biobank}", "{endpoint}", name)
            for name in EVALUATION_FILES
        ],
    log:
        f"{LOGS}/{{biobank}}/evaluate/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    params:
        out_dir=lambda wc: P.evaluation(RESULTS, wc.biobank, wc.endpoint),
        truth=lambda wc, input: " ".join(f"--truth {shlex.quote(f)}" for f in ([input.truth] if isinstance(input.truth, str) else input.truth)),
    threads: rule_threads("models_evaluate")
    resources:
        mem_mb=rule_mem_mb("models_evaluate"),
        runtime=rule_runtime("models_evaluate"),
    shell:
        "igs models evaluate --options {input.options:q} --endpoint {wildcards.endpoint:q} "
        + SURVIVAL_ARGS
        + " {params.truth} --out-dir {params.out_dir:q} --threads {threads} 2> {log:q}"
