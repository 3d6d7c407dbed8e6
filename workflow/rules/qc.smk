# Sample QC per biobank (its `qc.source`): computed by igs (filters, sex check, relatedness, PCA;
# on `qc.genotypes` when given, else on the biobank's genotypes, or for imputed {chrom}/VCF/BGEN
# genotypes on hard calls of their well-imputed common variants), or taken from the biobank's
# own tables (`provided`), or none (everyone passes).
import shlex

import igs.qc.imputed

# biobanks QC'd on hard calls of their imputed dosages (no qc.genotypes)
HARD_CALLED = [name for name, bb in BIOBANKS.items() if igs.qc.imputed.needs_hard_calls(bb)]


def qc_source(biobank):
    return BIOBANKS[biobank]["qc"]["source"]


def one_of(names):
    """A wildcard constraint matching exactly these biobank names (nothing when empty)."""
    return "|".join(names) if names else "(?!)"


def qc_genotypes(biobank):
    """The fileset QC reads: qc.genotypes if given, the hard calls of imputed genotypes, else
    the biobank's genotypes."""
    if biobank in HARD_CALLED:
        return {"path": P.qc(RESULTS, biobank, "imputed_hard_calls"), "format": "bed"}
    return BIOBANKS[biobank]["qc"].get("genotypes") or BIOBANKS[biobank]["genotypes"]


rule qc_hardcalls:
    """Imputed genotypes without an array fileset: hard calls of the well-imputed common variants."""
    input:
        genotypes=lambda wc: genotype_files(wc.biobank),
        options=options("qc"),
    output:
        bed=P.qc(RESULTS, "{biobank}", "imputed_hard_calls.bed"),
        bim=P.qc(RESULTS, "{biobank}", "imputed_hard_calls.bim"),
        fam=P.qc(RESULTS, "{biobank}", "imputed_hard_calls.fam"),
    log:
        f"{LOGS}/{{biobank}}/qc/hardcalls.log",
    wildcard_constraints:
        biobank=one_of(HARD_CALLED),
    params:
        path=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["path"],
        fmt=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["format"],
        extra=lambda wc: " ".join(
            f"--{k} {shlex.quote(v if isinstance(v, str) else ','.join(v))}"
            for k, v in BIOBANKS[wc.biobank]["genotypes"].items()
            if k in ("sample", "chromosomes")
        ),
        out=lambda wc, output: output.bed[: -len(".bed")],
    threads: rule_threads("qc_hardcalls")
    resources:
        mem_mb=rule_mem_mb("qc_hardcalls"),
        runtime=rule_runtime("qc_hardcalls"),
    shell:
        "igs qc hardcalls --genotypes {params.path:q} --format {params.fmt:q} {params.extra} "
        "--options {input.options:q} --out {params.out:q} 2> {log:q}"


def qc_genotype_files(biobank):
    g = qc_genotypes(biobank)
    return [g["path"] + s for s in igs.config.GENOTYPE_SUFFIXES[g["format"]]]


rule qc_run:
    input:
        genotypes=lambda wc: qc_genotype_files(wc.biobank),
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
    wildcard_constraints:
        biobank=one_of([b for b in BIOBANKS if qc_source(b) == "compute"]),
    params:
        prefix=lambda wc: qc_genotypes(wc.biobank)["path"],
        fmt=lambda wc: qc_genotypes(wc.biobank)["format"],
        engine=lambda wc: BIOBANKS[wc.biobank]["engine"],
        out_dir=lambda wc, output: Path(output.summary).parent,
    threads: rule_threads("qc_run")
    resources:
        mem_mb=rule_mem_mb("qc_run"),
        runtime=rule_runtime("qc_run"),
    shell:
        "igs qc run --genotypes {params.prefix:q} --format {params.fmt:q} --engine {params.engine:q} "
        "--options {input.options:q} --threads {threads} --out-dir {params.out_dir:q} 2> {log:q}"


def provided_tables(biobank):
    return BIOBANKS[biobank]["qc"].get("provided", {})


rule qc_samples:
    """qc.source provided or none: the sample QC outputs without computing QC."""
    input:
        unpack(lambda wc: provided_tables(wc.biobank)),
        options=options("qc"),
    output:
        sample_qc=P.qc(RESULTS, "{biobank}", "sample_qc.tsv.gz"),
        pcs=P.qc(RESULTS, "{biobank}", "pcs.tsv"),
        king=P.qc(RESULTS, "{biobank}", "king_pairs.tsv.gz"),
        summary=P.qc(RESULTS, "{biobank}", "summary.json"),
    log:
        f"{LOGS}/{{biobank}}/qc/samples.log",
    wildcard_constraints:
        biobank=one_of([b for b in BIOBANKS if qc_source(b) != "compute"]),
    params:
        prefix=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["path"],
        fmt=lambda wc: BIOBANKS[wc.biobank]["genotypes"]["format"],
        source=lambda wc: qc_source(wc.biobank),
        tables=lambda wc: " ".join(
            f"--{k} {shlex.quote(v)}" for k, v in sorted(provided_tables(wc.biobank).items())
        ),
        sample=lambda wc: (
            f"--sample {shlex.quote(s)}" if (s := BIOBANKS[wc.biobank]["genotypes"].get("sample")) else ""
        ),
        out_dir=lambda wc, output: Path(output.summary).parent,
    threads: rule_threads("qc_samples")
    resources:
        mem_mb=rule_mem_mb("qc_samples"),
        runtime=rule_runtime("qc_samples"),
    shell:
        "igs qc samples --genotypes {params.prefix:q} --format {params.fmt:q} --source {params.source:q} "
        "{params.tables} {params.sample} --options {input.options:q} --out-dir {params.out_dir:q} 2> {log:q}"
