# Endpoints, covariates and landmark omics features per biobank, for its QC'd samples.

ENDPOINTS = [e["name"] for e in RESOLVED["pheno"]["endpoints"]]


def phenotype_files(biobank):
    ph = BIOBANKS[biobank]["phenotypes"]
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
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "igs pheno build --options {input.options:q} --genotype-samples {input.fam:q} "
        "--out-dir {params.out_dir:q} 2> {log:q}"
