# Genotype QC per biobank: filters, sex check, relatedness, PCA. Its bed/bim/fam feed scoring.


rule qc_run:
    input:
        genotypes=lambda wc: genotype_files(wc.biobank),
        options=options("qc"),
    output:
        bed=P.qc(RESULTS, "{biobank}", "genotypes.bed"),
        bim=P.qc(RESULTS, "{biobank}", "genotypes.bim"),
        fam=P.qc(RESULTS, "{biobank}", "genotypes.fam"),
        variant_qc=P.qc(RESULTS, "{biobank}", "variant_qc.tsv.gz"),
        sample_qc=P.qc(RESULTS, "{biobank}", "sample_qc.tsv.gz"),
        pcs=P.qc(RESULTS, "{biobank}", "pcs.tsv"),
        loadings=P.qc(RESULTS, "{biobank}", "pca_loadings.tsv.gz"),
        king=P.qc(RESULTS, "{biobank}", "king_pairs.tsv.gz"),
        summary=P.qc(RESULTS, "{biobank}", "summary.json"),
    log:
        f"{LOGS}/{{biobank}}/qc/qc.log",
    params:
        prefix=lambda wc: genotype_prefix(wc.biobank),
        fmt=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["format"],
        engine=lambda wc: BIOBANKS[wc.biobank]["engine"],
        out_dir=lambda wc, output: Path(output.summary).parent,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "igs qc run --genotypes {params.prefix:q} --format {params.fmt:q} --engine {params.engine:q} "
        "--options {input.options:q} --out-dir {params.out_dir:q} 2> {log:q}"
