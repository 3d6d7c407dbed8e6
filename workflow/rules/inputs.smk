# Validate each biobank's genotype fileset before any analysis uses it.


rule inputs_check_genotypes:
    input:
        lambda wc: genotype_files(wc.biobank),
    output:
        f"{RESULTS}/{{biobank}}/inputs/genotype_summary.json",
    log:
        f"{LOGS}/{{biobank}}/inputs/check_genotypes.log",
    params:
        prefix=lambda wc: genotype_prefix(wc.biobank),
        fmt=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["format"],
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "igs inputs check --genotypes {params.prefix} --format {params.fmt} --out {output} 2> {log}"
