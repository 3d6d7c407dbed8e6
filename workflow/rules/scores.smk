# Match the configured scoring files to each biobank's QC'd variants, then score every sample.


rule scores_match:
    input:
        genotypes=multiext(f"{RESULTS}/{{biobank}}/qc/genotypes", ".bed", ".bim", ".fam"),
        scoring_files=RESOLVED["scores"]["scoring_files"],
    output:
        report=f"{RESULTS}/{{biobank}}/scores/match_report.tsv.gz",
        summary=f"{RESULTS}/{{biobank}}/scores/match_summary.tsv",
    log:
        f"{LOGS}/{{biobank}}/scores/match.log",
    params:
        prefix=lambda wc: f"{RESULTS}/{wc.biobank}/qc/genotypes",
        fmt="bed",
        build=lambda wc: BIOBANKS[wc.biobank]["genome_build"],
        min_overlap=RESOLVED["scores"]["min_overlap"],
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "igs scores match --genotypes {params.prefix} --format {params.fmt} --genome-build {params.build} "
        "--min-overlap {params.min_overlap} --report {output.report} --summary {output.summary} "
        "{input.scoring_files} 2> {log}"


rule scores_compute:
    input:
        genotypes=multiext(f"{RESULTS}/{{biobank}}/qc/genotypes", ".bed", ".bim", ".fam"),
        report=f"{RESULTS}/{{biobank}}/scores/match_report.tsv.gz",
    output:
        f"{RESULTS}/{{biobank}}/scores/scores.tsv.gz",
    log:
        f"{LOGS}/{{biobank}}/scores/compute.log",
    params:
        prefix=lambda wc: f"{RESULTS}/{wc.biobank}/qc/genotypes",
        fmt="bed",
        engine=lambda wc: BIOBANKS[wc.biobank]["engine"],
        config_file=CONFIG_FILE,
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "igs scores compute --genotypes {params.prefix} --format {params.fmt} --engine {params.engine} "
        "--config {params.config_file} --report {input.report} --out {output} 2> {log}"


rule scores_adjust:
    input:
        scores=f"{RESULTS}/{{biobank}}/scores/scores.tsv.gz",
        pcs=f"{RESULTS}/{{biobank}}/qc/pcs.tsv",
        sample_qc=f"{RESULTS}/{{biobank}}/qc/sample_qc.tsv.gz",
    output:
        adjusted=f"{RESULTS}/{{biobank}}/scores/scores_adjusted.tsv.gz",
        models=f"{RESULTS}/{{biobank}}/scores/ancestry_models.json",
    log:
        f"{LOGS}/{{biobank}}/scores/adjust.log",
    params:
        n_pcs=RESOLVED["scores"]["ancestry_adjustment"]["n_pcs"],
    resources:
        mem_mb=2000,
        runtime=15,
    shell:
        "igs scores adjust --scores {input.scores} --pcs {input.pcs} --sample-qc {input.sample_qc} "
        "--n-pcs {params.n_pcs} --out {output.adjusted} --models {output.models} 2> {log}"
