# Score the biobank's original genotypes (dosages, not the QC'd hard calls), per genotype part
# (one job per chromosome file when genotypes.path has {chrom}, else one part "all"): one
# scores_match job per biobank matches each scoring file once against every part's variants
# (the combined report, the summary and a weights file naming each matched row's part), one
# scores_compute job per part scores its rows of the weights, scores_sum sums the parts: the
# same scores as one merged file. QC never filters the variants.
import shlex


def part_args(wc):
    """--format, and --sample for a BGEN part, of one genotype part (quoted)."""
    g = BIOBANKS[wc.biobank]["genotypes"]
    sample = igs.config.part_file(g.get("sample"), wc.chrom)
    return f"--format {shlex.quote(g['format'])}" + (f" --sample {shlex.quote(sample)}" if sample else "")


def match_parts_args(wc):
    """--format, then --genotypes and --part (and --sample, --info-file) for every part (quoted)."""
    g = BIOBANKS[wc.biobank]["genotypes"]
    args = [f"--format {shlex.quote(g['format'])}"]
    for part, path in PARTS[wc.biobank].items():
        args.append(f"--genotypes {shlex.quote(path)} --part {shlex.quote(part)}")
        for option, key in (("--sample", "sample"), ("--info-file", "info_file")):
            f = igs.config.part_file(g.get(key), part)
            args += [f"{option} {shlex.quote(f)}"] if f else []
    return " ".join(args)


def match_input_mb(wc):
    """What scores_match reads: the parts' variant tables (.bim/.pvar; a VCF/BGEN whole) and the
    scoring files, not the genotypes (its memory and time follow these)."""
    g = BIOBANKS[wc.biobank]["genotypes"]
    table = {"bed": ".bim", "pgen": ".pvar"}.get(g["format"])
    files = [p + table for p in PARTS[wc.biobank].values()] if table else genotype_files(wc.biobank)
    files = [Path(f) for f in [*files, *SCORING_FILES[wc.biobank]]]
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def liftover_chain(wc):
    """scores.liftover_chain, when set: scoring files on another build are lifted over with it."""
    chain = RESOLVED["scores"].get("liftover_chain")
    return [chain] if chain else []


def info_files(wc):
    """Every part's imputation info file (genotypes.info_file), when set."""
    template = BIOBANKS[wc.biobank]["genotypes"].get("info_file")
    return [igs.config.part_file(template, c) for c in PARTS[wc.biobank]] if template else []


# scores.ancestry_reference: only variants the shared reference panel also has are scored; its
# PCA on the variants it shares with the biobank, the biobank projected onto it, the reference
# scored on the same matched rows; the adjustment is then fitted on the reference (README
# "Ancestry against a reference panel").
REFERENCE = RESOLVED["scores"].get("ancestry_reference")


def reference_outputs(biobank):
    names = {"pcs": "pcs.tsv", "loadings": "pca_loadings.tsv.gz", "scores": "scores.tsv.gz",
             "projected": "projected_pcs.tsv", "summary": "summary.json"}  # fmt: skip
    return {k: P.scores_reference(RESULTS, biobank, f) for k, f in names.items()}


def reference_inputs(wc):
    """The reference panel's files (none without scores.ancestry_reference: no job asks then)."""
    if not REFERENCE:
        return {}
    g = REFERENCE["genotypes"]
    files = [g["path"] + s for s in igs.config.GENOTYPE_SUFFIXES[g["format"]]]
    return {"reference": files + ([g["sample"]] if "sample" in g else []),
            "populations": REFERENCE["populations"]}  # fmt: skip


def reference_args(wc):
    g = REFERENCE["genotypes"]
    sample = f" --reference-sample {shlex.quote(g['sample'])}" if "sample" in g else ""
    return f"--reference {shlex.quote(g['path'])} --reference-format {g['format']}" + sample


def target_args(wc):
    """--target (and --target-sample) for every genotype part, and their format (quoted)."""
    g = BIOBANKS[wc.biobank]["genotypes"]
    args = [f"--target-format {shlex.quote(g['format'])}"]
    for part, path in PARTS[wc.biobank].items():
        args.append(f"--target {shlex.quote(path)}")
        sample = igs.config.part_file(g.get("sample"), part)
        args += [f"--target-sample {shlex.quote(sample)}"] if sample else []
    return " ".join(args)


rule scores_match:
    input:
        genotypes=lambda wc: genotype_files(wc.biobank),
        info=info_files,
        chain=liftover_chain,
        scoring_files=lambda wc: SCORING_FILES[wc.biobank],
        options=options("scores"),
        reference=lambda wc: reference_inputs(wc).get("reference", []),
    output:
        report=P.scores(RESULTS, "{biobank}", "match_report.tsv.gz"),
        summary=P.scores(RESULTS, "{biobank}", "match_summary.tsv"),
        weights=P.scores(RESULTS, "{biobank}", "match_weights.parquet"),
    log:
        f"{LOGS}/{{biobank}}/scores/match.log",
    params:
        parts=match_parts_args,
        chain=lambda wc, input: f"--liftover-chain {shlex.quote(input.chain[0])}" if input.chain else "",
        build=lambda wc: BIOBANKS[wc.biobank]["genome_build"],
        engine=lambda wc: BIOBANKS[wc.biobank]["engine"],
        reference=lambda wc: reference_args(wc) if REFERENCE else "",
    threads: rule_threads("scores_match")
    resources:
        mem_mb=rule_mem_mb("scores_match", match_input_mb),
        runtime=rule_runtime("scores_match", match_input_mb),
    shell:
        "igs scores match {params.parts} {params.chain} --engine {params.engine:q} "
        "--genome-build {params.build:q} --options {input.options:q} {params.reference} "
        "--report {output.report:q} --summary {output.summary:q} --weights {output.weights:q} "
        "{input.scoring_files:q} 2> {log:q}"


rule scores_compute:
    input:
        genotypes=lambda wc: genotype_files(wc.biobank, wc.chrom),
        weights=P.scores(RESULTS, "{biobank}", "match_weights.parquet"),
        options=options("scores"),
    output:
        P.scores_part(RESULTS, "{biobank}", "{chrom}", "scores.tsv.gz"),
    log:
        f"{LOGS}/{{biobank}}/scores/compute_{{chrom}}.log",
    params:
        path=lambda wc: PARTS[wc.biobank][wc.chrom],
        args=part_args,
        engine=lambda wc: BIOBANKS[wc.biobank]["engine"],
        build=lambda wc: BIOBANKS[wc.biobank]["genome_build"],
    threads: rule_threads("scores_compute")
    resources:
        mem_mb=rule_mem_mb("scores_compute"),
        runtime=rule_runtime("scores_compute"),
    shell:
        "igs scores compute --genotypes {params.path:q} {params.args} --engine {params.engine:q} "
        "--genome-build {params.build:q} --options {input.options:q} --weights {input.weights:q} "
        "--part {wildcards.chrom:q} --threads {threads} --out {output:q} 2> {log:q}"


def part_outputs(file):
    return lambda wc: [P.scores_part(RESULTS, wc.biobank, c, file) for c in PARTS[wc.biobank]]


rule scores_sum:
    input:
        scores=part_outputs("scores.tsv.gz"),
    output:
        scores=P.scores(RESULTS, "{biobank}", "scores.tsv.gz"),
    log:
        f"{LOGS}/{{biobank}}/scores/sum.log",
    params:
        parts=lambda wc: " ".join(f"--part {shlex.quote(c)}" for c in PARTS[wc.biobank]),
        scores=lambda wc, input: " ".join(f"--part-scores {shlex.quote(f)}" for f in input.scores),
    threads: rule_threads("scores_sum")
    resources:
        mem_mb=rule_mem_mb("scores_sum"),
        runtime=rule_runtime("scores_sum"),
    shell:
        "igs scores sum {params.parts} {params.scores} --out {output.scores:q} 2> {log:q}"


rule scores_reference:
    input:
        unpack(reference_inputs),
        genotypes=lambda wc: genotype_files(wc.biobank),
        report=P.scores(RESULTS, "{biobank}", "match_report.tsv.gz"),
        scoring_files=lambda wc: SCORING_FILES[wc.biobank],
        options=options("scores"),
    output:
        **reference_outputs("{biobank}"),
    log:
        f"{LOGS}/{{biobank}}/scores/reference.log",
    params:
        reference=reference_args,
        targets=target_args,
        build=lambda wc: BIOBANKS[wc.biobank]["genome_build"],
    threads: rule_threads("scores_reference")
    resources:
        mem_mb=rule_mem_mb("scores_reference"),
        runtime=rule_runtime("scores_reference"),
    shell:
        "igs scores reference {params.reference} --populations {input.populations:q} {params.targets} "
        "--report {input.report:q} --genome-build {params.build:q} --options {input.options:q} "
        "--out-pcs {output.pcs:q} --out-loadings {output.loadings:q} --out-scores {output.scores:q} "
        "--out-projected {output.projected:q} --out-summary {output.summary:q} "
        "{input.scoring_files:q} 2> {log:q}"


def adjust_inputs(wc):
    """The scores, the PCs (the biobank's own, or projected onto the reference panel's), QC
    status, options and, with scores.ancestry_reference, the reference's PCs and scores."""
    files = {
        "scores": P.scores(RESULTS, wc.biobank, "scores.tsv.gz"),
        "pcs": P.qc(RESULTS, wc.biobank, "pcs.tsv"),
        "sample_qc": P.qc(RESULTS, wc.biobank, "sample_qc.tsv.gz"),
        "options": P.stage_options(RESULTS, wc.biobank, "scores"),
    }
    if REFERENCE:
        ref = reference_outputs(wc.biobank)
        files.update(pcs=ref["projected"], reference_pcs=ref["pcs"], reference_scores=ref["scores"])
    return files


def reference_adjust_args(wc, input):
    if not REFERENCE:
        return ""
    return (f"--reference-pcs {shlex.quote(input.reference_pcs)} "
            f"--reference-scores {shlex.quote(input.reference_scores)}")  # fmt: skip


rule scores_adjust:
    input:
        unpack(adjust_inputs),
    output:
        adjusted=P.scores(RESULTS, "{biobank}", "scores_adjusted.tsv.gz"),
        models=P.scores(RESULTS, "{biobank}", "ancestry_models.json"),
    log:
        f"{LOGS}/{{biobank}}/scores/adjust.log",
    params:
        reference=reference_adjust_args,
    threads: rule_threads("scores_adjust")
    resources:
        mem_mb=rule_mem_mb("scores_adjust"),
        runtime=rule_runtime("scores_adjust"),
    shell:
        "igs scores adjust --scores {input.scores:q} --pcs {input.pcs:q} --sample-qc {input.sample_qc:q} "
        "{params.reference} --options {input.options:q} --out {output.adjusted:q} --models {output.models:q} 2> {log:q}"
