# Aggregate-only share bundles per biobank, the meta-analysis across them, clinician exports,
# the run report and each biobank's provenance record.
import igs.share.bundle

BUNDLE_EVALUATION_FILES = ("comparison.tsv", "hr_per_sd.tsv", "prs_modifiers.tsv", "fairness.tsv", "percentile_hr.tsv", "calibration.tsv",
                           "recalibrated_incidence.tsv", "threshold_ages.tsv")


rule share_bundle:
    input:
        summary=P.pheno(RESULTS, "{biobank}", "summary.json"),
        match=P.scores(RESULTS, "{biobank}", "match_summary.tsv"),
        evaluations=expand(P.evaluation(RESULTS, "{{biobank}}", "{endpoint}", "{name}"), endpoint=MODELLED, name=BUNDLE_EVALUATION_FILES),
        provenance=P.provenance(RESULTS, "{biobank}"),
        options=options("share"),
    output:
        [P.share(RESULTS, "{biobank}", name) for name in (*igs.share.bundle.BUNDLE_FILES, "manifest.json")],
    log:
        f"{LOGS}/{{biobank}}/share/bundle.log",
    params:
        evaluations=lambda wc: [P.evaluation(RESULTS, wc.biobank, ep) for ep in MODELLED],
        out_dir=lambda wc: P.share(RESULTS, wc.biobank),
    threads: rule_threads("share_bundle")
    resources:
        mem_mb=rule_mem_mb("share_bundle"),
        runtime=rule_runtime("share_bundle"),
    shell:
        "igs share bundle --options {input.options:q} --biobank {wildcards.biobank:q} "
        "--pheno-summary {input.summary:q} --match-summary {input.match:q} --provenance {input.provenance:q} "
        "--out-dir {params.out_dir:q} {params.evaluations:q} 2> {log:q}"


rule share_meta:
    input:
        bundles=expand(P.share(RESULTS, "{biobank}", "manifest.json"), biobank=PHENOTYPED),
        extra=RESOLVED["share"]["extra_bundles"],
    output:
        pooled=P.meta(RESULTS, "pooled.tsv"),
        estimates=P.meta(RESULTS, "estimates.tsv"),
        loo=P.meta(RESULTS, "leave_one_out.tsv"),
        forest=report(expand(P.meta(RESULTS, "forest_{endpoint}.png"), endpoint=MODELLED), category="meta-analysis"),
    log:
        f"{LOGS}/meta/meta.log",
    params:
        bundles=lambda wc, input: [str(Path(b).parent) for b in input.bundles] + list(input.extra),
        out_dir=P.meta(RESULTS),
    threads: rule_threads("share_meta")
    resources:
        mem_mb=rule_mem_mb("share_meta"),
        runtime=rule_runtime("share_meta"),
    shell:
        "igs share meta {params.bundles:q} --out-dir {params.out_dir:q} 2> {log:q}"


rule export_clinician:
    input:
        **survival_inputs(),
        model=P.evaluation(RESULTS, "{biobank}", "{endpoint}", "model.json"),
        # read beside model.json: the score effects of the recalibrated risks, and the table;
        # fairness.tsv: the reference populations the model was validated in (and the model card)
        effects=[P.evaluation(RESULTS, "{biobank}", "{endpoint}", n) for n in ("hr_per_sd.tsv", "prs_modifiers.tsv", "fairness.tsv")],
        recalibration=lambda wc: recalibration_tables(wc.biobank),
        match=P.scores(RESULTS, "{biobank}", "match_summary.tsv"),
        provenance=P.provenance(RESULTS, "{biobank}"),
        options=options("export"),
        scoring_files=RESOLVED["scores"]["scoring_files"],
    output:
        csv=P.export(RESULTS, "{biobank}", "{endpoint}_risk.csv"),
        card=P.export(RESULTS, "{biobank}", "{endpoint}_model_card.json"),
        provenance=P.export(RESULTS, "{biobank}", "{endpoint}_provenance.json"),
        fhir=directory(P.fhir(RESULTS, "{biobank}", "{endpoint}")),
    log:
        f"{LOGS}/{{biobank}}/export/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    params:
        out_dir=lambda wc, output: Path(output.csv).parent,  # the folder of every output
        scoring_args=lambda wc, input: [a for f in input.scoring_files for a in ("--scoring-file", f)],
    threads: rule_threads("export_clinician")
    resources:
        mem_mb=rule_mem_mb("export_clinician"),
        runtime=rule_runtime("export_clinician"),
    shell:
        "igs export clinician --options {input.options:q} --endpoint {wildcards.endpoint:q} --model {input.model:q} "
        + SURVIVAL_ARGS
        + " --match-summary {input.match:q} --provenance {input.provenance:q} --out-dir {params.out_dir:q}"
        + " {params.scoring_args:q} 2> {log:q}"


rule report:
    input:
        options=P.run_options(RESULTS, "report"),
        meta=P.meta(RESULTS, "pooled.tsv"),
        exports=expand(P.export(RESULTS, "{biobank}", "{endpoint}_risk.csv"), biobank=PHENOTYPED, endpoint=MODELLED),
        evaluations=expand(P.evaluation(RESULTS, "{biobank}", "{endpoint}", "{name}"), biobank=PHENOTYPED, endpoint=MODELLED, name=EVALUATION_FILES),
        qc=expand(P.qc(RESULTS, "{biobank}", "summary.json"), biobank=BIOBANKS),
        scores=expand(P.scores(RESULTS, "{biobank}", "{name}"), biobank=BIOBANKS, name=("match_summary.tsv", "scores_adjusted.tsv.gz")),
        pheno=expand(P.pheno(RESULTS, "{biobank}", "summary.json"), biobank=PHENOTYPED),
        federated=expand(P.federated(RESULTS, "{endpoint}", "td_auc.tsv"), endpoint=MODELLED) if RESOLVED["federated"]["enabled"] else [],
    output:
        report(P.report(RESULTS), category="run report"),
    log:
        f"{LOGS}/report.log",
    threads: rule_threads("report")
    resources:
        mem_mb=rule_mem_mb("report"),
        runtime=rule_runtime("report"),
    shell:
        "igs report --options {input.options:q} --out {output:q} 2> {log:q}"


rule provenance:
    input:
        genotypes=lambda wc: genotype_files(wc.biobank),
        scoring_files=lambda wc: SCORING_FILES[wc.biobank],
        records=lambda wc: phenotype_files(wc.biobank),
        options=options("provenance"),
    output:
        P.provenance(RESULTS, "{biobank}"),
    log:
        f"{LOGS}/{{biobank}}/provenance.log",
    threads: rule_threads("provenance")
    resources:
        mem_mb=rule_mem_mb("provenance"),
        runtime=rule_runtime("provenance"),
    shell:
        "igs provenance --options {input.options:q} --out {output:q} 2> {log:q}"
