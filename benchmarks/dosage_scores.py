"""Imputed-dosage inputs for `score_vs_plink2 --dosages`, and the igs run it measures.

The simulated cohort's hard calls get imputation noise (dosages on plink2's 1/16384 grid) and
are written as one pgen with dosages; plink2 then splits it per chromosome and exports VCFs with
``FORMAT/DS``, so igs and plink2 read the very same files.

Run as a child process by the benchmark (so that its peak memory is measured on its own):

    python -m benchmarks.dosage_scores --format vcf --genotypes 'dir/chr{chrom}.vcf.gz' \
        --out scores.tsv.gz scoring_file...
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from igs.io import plink
from igs.io.chroms import expand_chrom_paths, has_chrom_field
from igs.io.plink import AUTOSOMES
from igs.scores import MatchOptions, compute_scores, match_variants, read_scoring_file
from igs.scores.engine import REPORT_COLUMNS_FOR_SCORING, score_weights
from igs.scores.match import prepare_target
from igs.scores.perchrom import concat_variants, report_for_part, sum_score_tables


def make_dosage_files(
    prefix: Path, out: Path, seed: int = 3, *, vcf: bool = True
) -> dict[str, Path]:
    """all.pgen (dosages), chr{N}.pgen and, with ``vcf``, all.vcf.gz and chr{N}.vcf.gz from a
    hard-call fileset (files made by an earlier call are kept)."""
    import pgenlib

    out.mkdir(parents=True, exist_ok=True)
    stamp, vcf_stamp = out / "done", out / "vcf_done"
    if stamp.is_file() and (vcf_stamp.is_file() or not vcf):
        return _dosage_paths(out)
    if stamp.is_file():
        _export_vcfs(out)
        return _dosage_paths(out)
    gset = plink.open_genotypes(prefix)
    # autosomes only (as pgsc_calc's per-chromosome samplesheets): chrX dosages of males are
    # haploid in a VCF, which this benchmark does not need
    keep = np.flatnonzero(gset.variants["chrom"].isin(AUTOSOMES).to_numpy())
    rng = np.random.default_rng(seed)
    n, m = gset.n_samples, len(keep)
    with pgenlib.PgenWriter(
        bytes(out / "all.pgen"), n, m, False, dosage_present=True
    ) as writer:  # fmt: skip
        for _, g in plink.iter_dosage_chunks(gset, keep, chunk_variants=2048):
            d = g.T.copy()  # (variants, samples) a1 counts = ALT in the pvar
            noise = rng.normal(0, 0.15, size=d.shape)
            d = np.clip(np.round((d + noise) * 16384) / 16384, 0, 2)
            d[np.isnan(g.T)] = -9
            writer.append_dosages_batch(np.ascontiguousarray(d, dtype=np.float32))
    plink.write_pvar(out / "all.pvar", gset.variants.iloc[keep])
    plink.write_psam(out / "all.psam", gset.samples)
    for c in pd.unique(gset.variants["chrom"].iloc[keep]):
        _plink2("--pfile", str(out / "all"), "--chr", str(c), "--make-pgen", "--out", str(out / f"chr{c}"))  # fmt: skip
    stamp.write_text("ok\n")
    if vcf:
        _export_vcfs(out)
    return _dosage_paths(out)


def _plink2(*args: str) -> None:
    subprocess.run(
        [shutil.which("plink2"), "--threads", "2", *args], check=True, capture_output=True
    )


def _export_vcfs(out: Path) -> None:
    """all.vcf.gz and chr{N}.vcf.gz (``FORMAT/DS``) from the pgens."""
    for pgen in [out / "all.pgen", *sorted(out.glob("chr*.pgen"))]:
        prefix = pgen.with_suffix("")
        _plink2("--pfile", str(prefix), "--export", "vcf", "vcf-dosage=DS-force", "bgz",
                "id-paste=iid", "--out", str(prefix))  # fmt: skip
    (out / "vcf_done").write_text("ok\n")


def _dosage_paths(out: Path) -> dict[str, Path]:
    return {
        "pgen": out / "all",
        "vcf": out / "all.vcf.gz",
        "pgen_per_chrom": out / "chr{chrom}",
        "vcf_per_chrom": out / "chr{chrom}.vcf.gz",
    }


def score(path: str, fmt: str, scoring_files: list[Path], out: Path) -> None:
    """Match and score (per chromosome when ``path`` has ``{chrom}``), mean imputation."""
    files = expand_chrom_paths(path, fmt) if has_chrom_field(path) else {"all": Path(path)}
    parts = {c: plink.open_genotypes(p, fmt) for c, p in files.items()}
    variants, offsets = concat_variants({c: g.variants for c, g in parts.items()})
    sizes = {c: g.n_variants for c, g in parts.items()}
    options = MatchOptions(keep_ambiguous=True)
    prepared = prepare_target(variants, options)  # once for every score, as `igs scores match`
    # only what scoring reads, its text columns categorical, as `igs scores compute` reads the
    # written report (Python strings per row would hold ~100 MB per million matched rows)
    reports = [
        r.loc[r["match_status"] == "matched", list(REPORT_COLUMNS_FOR_SCORING)]
        .astype({c: "category" for c in ("pgs_id", "match_type", "match_status")})
        .reset_index(drop=True)
        for r in (
            match_variants(read_scoring_file(p), variants, options, prepared) for p in scoring_files
        )  # one scoring file in memory at a time
    ]
    tables = []
    for c, g in parts.items():
        sub = [report_for_part(r, offsets, sizes, c) for r in reports]
        tables.append(compute_scores(g, score_weights(sub, g.n_variants), mean_impute=True))
    total = sum_score_tables(tables, mean_impute=True, names=[str(p) for p in files.values()])
    total.to_csv(out, sep="\t", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", required=True, choices=["pgen", "vcf", "bgen"])
    parser.add_argument("--genotypes", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("scoring_files", nargs="+", type=Path)
    args = parser.parse_args()
    score(args.genotypes, args.format, args.scoring_files, args.out)


if __name__ == "__main__":
    main()
