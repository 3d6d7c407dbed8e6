# Genotype QC per biobank: filters, sex check, relatedness, PCA. Its bed/bim/fam feed scoring.


rule qc_genotypes:
    input:
        lambda wc: genotype_files(wc.biobank),
    output:
        bed=f"{RESULTS}/{{biobank}}/qc/genotypes.bed",
        bim=f"{RESULTS}/{{biobank}}/qc/genotypes.bim",
        fam=f"{RESULTS}/{{biobank}}/qc/genotypes.fam",
        variant_qc=f"{RESULTS}/{{biobank}}/qc/variant_qc.tsv.gz",
        sample_qc=f"{RESULTS}/{{biobank}}/qc/sample_qc.tsv.gz",
        pcs=f"{RESULTS}/{{biobank}}/qc/pcs.tsv",
        loadings=f"{RESULTS}/{{biobank}}/qc/pca_loadings.tsv.gz",
        king=f"{RESULTS}/{{biobank}}/qc/king_pairs.tsv.gz",
        summary=f"{RESULTS}/{{biobank}}/qc/summary.json",
    log:
        f"{LOGS}/{{biobank}}/qc/qc.log",
    params:
        prefix=lambda wc: genotype_prefix(wc.biobank),
        fmt=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["format"],
        engine=lambda wc: BIOBANKS[wc.biobank]["engine"],
        out_dir=lambda wc: f"{RESULTS}/{wc.biobank}/qc",
        config_file=CONFIG_FILE,
        thresholds=RESOLVED["qc"],  # a changed threshold re-runs QC
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "igs qc run --genotypes {params.prefix} --format {params.fmt} --engine {params.engine} "
        "--config {params.config_file} --out-dir {params.out_dir} 2> {log}"
