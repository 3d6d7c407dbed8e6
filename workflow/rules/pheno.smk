# Endpoints, covariates and landmark omics features per biobank, for its QC'd samples.

ENDPOINTS = [e["name"] for e in RESOLVED["pheno"]["endpoints"]]


def phenotype_files(biobank):
    ph = BIOBANKS[biobank].get("phenotypes")  # none: a scores-only biobank
    if ph is None:
        return []
    if ph["source"] == "omop":
        url = ph["omop_url"]
        return [] if url.startswith(("postgresql://", "postgres://")) else [url]
    return [ph[k] for k in ("clinical", "diagnoses", "omics", "medications") if k in ph]


rule pheno_build:
    input:
        records=lambda wc: phenotype_files(wc.biobank),
        fam=P.qc(RESULTS, "{biobank}", "genotypes.fam"),
        options=options("pheno"),
    output:
        endpoints=expand(P.endpoint_table(RESULTS, "{{biobank}}", "{endpoint}"), endpoint=ENDPOINTS),
        covariates=P.features(RESULTS, "{biobank}", "covariates.parquet"),
        omics=P.features(RESULTS, "{biobank}", "omics_landmark.parquet"),
        summary=P.pheno(RESULTS, "{biobank}", "summary.json"),
    log:
        f"{LOGS}/{{biobank}}/pheno/build.log",
    params:
        out_dir=lambda wc: P.biobank(RESULTS, wc.biobank),
    threads: rule_threads("pheno_build")
    resources:
        mem_mb=rule_mem_mb("pheno_build"),
        runtime=rule_runtime("pheno_build"),
    shell:
        "igs pheno build --options {input.options:q} --genotype-samples {input.fam:q} "
        "--out-dir {params.out_dir:q} 2> {log:q}"
