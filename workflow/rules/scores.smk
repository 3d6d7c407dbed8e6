# Match the configured scoring files to each biobank's QC'd variants, then score every sample.


rule scores_match:
    input:
        genotypes=multiext(P.qc_genotypes(RESULTS, "{biobank}"), ".bed", ".bim", ".fam"),
        scoring_files=RESOLVED["scores"]["scoring_files"],
        options=options("scores"),
    output:
        report=P.scores(RESULTS, "{biobank}", "match_report.tsv.gz"),
        summary=P.scores(RESULTS, "{biobank}", "match_summary.tsv"),
    log:
        f"{LOGS}/{{biobank}}/scores/match.log",
    params:
        prefix=lambda wc: P.qc_genotypes(RESULTS, wc.biobank),
        build=lambda wc: BIOBANKS[wc.biobank]["genome_build"],
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "igs scores match --genotypes {params.prefix:q} --format bed --genome-build {params.build:q} "
        "--options {input.options:q} --report {output.report:q} --summary {output.summary:q} "
        "{input.scoring_files:q} 2> {log:q}"


rule scores_compute:
    input:
        genotypes=multiext(P.qc_genotypes(RESULTS, "{biobank}"), ".bed", ".bim", ".fam"),
        report=P.scores(RESULTS, "{biobank}", "match_report.tsv.gz"),
        options=options("scores"),
    output:
        P.scores(RESULTS, "{biobank}", "scores.tsv.gz"),
    log:
        f"{LOGS}/{{biobank}}/scores/compute.log",
    params:
        prefix=lambda wc: P.qc_genotypes(RESULTS, wc.biobank),
        engine=lambda wc: BIOBANKS[wc.biobank]["engine"],
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "igs scores compute --genotypes {params.prefix:q} --format bed --engine {params.engine:q} "
        "--options {input.options:q} --report {input.report:q} --out {output:q} 2> {log:q}"


rule scores_adjust:
    input:
        scores=P.scores(RESULTS, "{biobank}", "scores.tsv.gz"),
        pcs=P.qc(RESULTS, "{biobank}", "pcs.tsv"),
        sample_qc=P.qc(RESULTS, "{biobank}", "sample_qc.tsv.gz"),
        options=options("scores"),
    output:
        adjusted=P.scores(RESULTS, "{biobank}", "scores_adjusted.tsv.gz"),
        models=P.scores(RESULTS, "{biobank}", "ancestry_models.json"),
    log:
        f"{LOGS}/{{biobank}}/scores/adjust.log",
    resources:
        mem_mb=2000,
        runtime=15,
    shell:
        "igs scores adjust --scores {input.scores:q} --pcs {input.pcs:q} --sample-qc {input.sample_qc:q} "
        "--options {input.options:q} --out {output.adjusted:q} --models {output.models:q} 2> {log:q}"
