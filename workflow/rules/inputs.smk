# Validate each biobank's genotypes (every chromosome file, VCF/BGEN included) before any analysis uses them.
import shlex


def inputs_args(wc):
    """--sample (a BGEN's, may hold {chrom}) and --chromosomes (the parts scored), quoted."""
    g, parts = BIOBANKS[wc.biobank]["genotypes"], list(PARTS[wc.biobank])
    args = f"--sample {shlex.quote(g['sample'])}" if g.get("sample") else ""
    if parts != [igs.config.ALL_PART]:
        args += f" --chromosomes {shlex.quote(','.join(parts))}"
    return args


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
        args=inputs_args,
    threads: rule_threads("inputs_check")
    resources:
        mem_mb=rule_mem_mb("inputs_check"),
        runtime=rule_runtime("inputs_check"),
    shell:
        "igs inputs check --genotypes {params.prefix:q} --format {params.fmt:q} {params.args} "
        "--out {output:q} 2> {log:q}"
