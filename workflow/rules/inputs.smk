# Validate each biobank's genotype fileset before any analysis uses it.


rule inputs_check:
    input:
        lambda wc: genotype_files(wc.biobank),
    output:
        P.inputs(RESULTS, "{biobank}"),
    log:
        f"{LOGS}/{{biobank}}/inputs/check_genotypes.log",
    params:
        prefix=lambda wc: genotype_prefix(wc.biobank),
        fmt=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["format"],
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "igs inputs check --genotypes {params.prefix:q} --format {params.fmt:q} --out {output:q} 2> {log:q}"
