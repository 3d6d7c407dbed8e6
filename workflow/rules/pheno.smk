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
        fam=f"{RESULTS}/{{biobank}}/qc/genotypes.fam",
    output:
        endpoints=expand(f"{RESULTS}/{{{{biobank}}}}/pheno/{{endpoint}}.parquet", endpoint=ENDPOINTS),
        covariates=f"{RESULTS}/{{biobank}}/features/covariates.parquet",
        omics=f"{RESULTS}/{{biobank}}/features/omics_landmark.parquet",
        summary=f"{RESULTS}/{{biobank}}/pheno/summary.json",
    log:
        f"{LOGS}/{{biobank}}/pheno/build.log",
    params:
        config_file=CONFIG_FILE,
        out_dir=lambda wc: f"{RESULTS}/{wc.biobank}",
        settings=RESOLVED["pheno"],  # a changed endpoint definition re-runs this rule
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "igs pheno build --config {params.config_file} --biobank {wildcards.biobank} "
        "--genotype-samples {input.fam} --out-dir {params.out_dir} 2> {log}"
