# Aggregate-only share bundles per biobank, and the meta-analysis across them.


rule share_bundle:
    input:
        summary=f"{RESULTS}/{{biobank}}/pheno/summary.json",
        match=f"{RESULTS}/{{biobank}}/scores/match_summary.tsv",
        evaluations=expand(f"{RESULTS}/{{{{biobank}}}}/evaluate/{{endpoint}}/metrics.json", endpoint=MODELLED),
        provenance=f"{RESULTS}/{{biobank}}/provenance.json",
    output:
        [f"{RESULTS}/{{biobank}}/share/{name}" for name in ("counts.tsv", "models.tsv", "prs_effects.tsv", "calibration.tsv", "match.tsv", "manifest.json")],
    log:
        f"{LOGS}/{{biobank}}/share/bundle.log",
    params:
        config_file=CONFIG_FILE,
        results_dir=lambda wc: f"{RESULTS}/{wc.biobank}",
        out_dir=lambda wc: f"{RESULTS}/{wc.biobank}/share",
        min_cell=RESOLVED["share"]["min_cell"],
    shell:
        "igs share bundle --config {params.config_file} --biobank {wildcards.biobank} "
        "--results-dir {params.results_dir} --out-dir {params.out_dir} 2> {log}"


rule meta_analysis:
    input:
        bundles=expand(f"{RESULTS}/{{biobank}}/share/manifest.json", biobank=BIOBANKS),
        extra=RESOLVED["share"]["extra_bundles"],
    output:
        pooled=f"{RESULTS}/meta/pooled.tsv",
        estimates=f"{RESULTS}/meta/estimates.tsv",
        loo=f"{RESULTS}/meta/leave_one_out.tsv",
        forest=report(
            expand(f"{RESULTS}/meta/forest_{{endpoint}}.png", endpoint=MODELLED), category="meta-analysis"
        ),
    log:
        f"{LOGS}/meta/meta.log",
    params:
        bundles=lambda wc, input: " ".join(str(Path(b).parent) for b in input.bundles) + " " + " ".join(input.extra),
        out_dir=f"{RESULTS}/meta",
    shell:
        "igs meta {params.bundles} --out-dir {params.out_dir} 2> {log}"


rule export_clinician:
    input:
        model=f"{RESULTS}/{{biobank}}/evaluate/{{endpoint}}/model.json",
        scores=f"{RESULTS}/{{biobank}}/scores/scores_adjusted.tsv.gz",
        endpoint=f"{RESULTS}/{{biobank}}/pheno/{{endpoint}}.parquet",
        provenance=f"{RESULTS}/{{biobank}}/provenance.json",
    output:
        csv=f"{RESULTS}/{{biobank}}/export/{{endpoint}}_risk.csv",
        provenance=f"{RESULTS}/{{biobank}}/export/{{endpoint}}_provenance.json",
        fhir=directory(f"{RESULTS}/{{biobank}}/export/fhir/{{endpoint}}"),
    log:
        f"{LOGS}/{{biobank}}/export/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    params:
        config_file=CONFIG_FILE,
        results_dir=lambda wc: f"{RESULTS}/{wc.biobank}",
        out_dir=lambda wc: f"{RESULTS}/{wc.biobank}/export",
        settings=RESOLVED["export"],
    shell:
        "igs export clinician --config {params.config_file} --endpoint {wildcards.endpoint} "
        "--results-dir {params.results_dir} --out-dir {params.out_dir} 2> {log}"


rule report:
    input:
        meta=f"{RESULTS}/meta/pooled.tsv",
        exports=expand(f"{RESULTS}/{{biobank}}/export/{{endpoint}}_risk.csv", biobank=BIOBANKS, endpoint=MODELLED),
    output:
        report(f"{RESULTS}/report.html", category="run report"),
    log:
        f"{LOGS}/report.log",
    params:
        config_file=CONFIG_FILE,
    shell:
        "igs report --config {params.config_file} --out {output} 2> {log}"


rule provenance:
    input:
        genotypes=lambda wc: genotype_files(wc.biobank),
        scoring_files=RESOLVED["scores"]["scoring_files"],
        records=lambda wc: phenotype_files(wc.biobank),
    output:
        f"{RESULTS}/{{biobank}}/provenance.json",
    log:
        f"{LOGS}/{{biobank}}/provenance.log",
    params:
        config_file=CONFIG_FILE,
        settings=RESOLVED,  # any config change rewrites the record
    shell:
        "igs provenance --config {params.config_file} --biobank {wildcards.biobank} --out {output} 2> {log}"
