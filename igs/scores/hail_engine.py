"""Scoring with Hail (``igs[hail]``): the same scores as the local engine, for VCF/BGEN input and
data that lives on a Spark cluster.

Variants are numbered in the MatrixTable's row order (``target_index``), which for PLINK input is
the ``.bim`` order, so a match report made from the ``.bim`` (or from
:func:`hail_target_variants` for VCF/BGEN) applies directly. The weights travel to Hail as a
table keyed by ``target_index``; each sample's totals are one ``array_sum`` aggregation per
column, and the output table is built by the same code as the local engine's.

VCF/BGEN are scored on dosages, as the local engine reads them: VCF ``FORMAT/DS``, else ``GP``
(P(het) + 2 P(hom alt)), else ``GT``; a haploid call counts twice, as plink2 stores it; BGEN
expected ALT counts. Loci are on the biobank's ``genome_build``; a BGEN's samples come from its
``.sample`` file. Multi-allelic sites are split (``split_multi_hts``): each ALT is then a
biallelic variant counted from its ALT allele in ``GT``. PLINK filesets are hard calls; on chrX,
males (known from a ``.fam``) count as one allele for mean imputation, as in plink2.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io.dosage import AUTOSOMES
from igs.io.hail import init_hail, read_matrix_table
from igs.io.plink import X_CHROMS
from igs.scores.engine import ScoreWeights, Totals, score_table

log = logging.getLogger(__name__)


def read_scoring_matrix(
    path: str,
    fmt: str,
    hl: Any,
    *,
    genome_build: str | None = None,
    sample: str | os.PathLike[str] | None = None,
    hail_config: dict[str, Any] | None = None,
) -> Any:
    """Genotypes with biallelic rows numbered ``target_index`` in row order and an entry
    ``a1_dosage`` (float64 counted-allele dosage, missing when not called)."""
    tmp = (hail_config or {}).get("tmp_dir") or "tmp/hail"
    fields = ("dosage",) if fmt == "bgen" else ("GT",)  # Hail reads no phased BGEN GT
    mt = read_matrix_table(path, fmt, hl, genome_build=genome_build, sample=sample,
                           entry_fields=fields, tmp_dir=tmp)  # fmt: skip
    if fmt == "bed":
        mt = mt.annotate_entries(a1_dosage=hl.float64(mt.GT.n_alt_alleles()))
        return mt.add_row_index("target_index")
    if fmt == "bgen":  # Hail's dosage is of biallelic variants (the local reader refuses others)
        mt = mt.filter_rows(hl.len(mt.alleles) == 2)
        mt = mt.select_entries(a1_dosage=hl.float64(mt.dosage))
        return mt.add_row_index("target_index")
    gt = {"GT": mt.GT} if "GT" in mt.entry else {"GT": hl.missing(hl.tcall)}
    mt = mt.select_entries(**gt, a1_dosage=_dosage_expr(mt, fmt, hl, path))
    mt = hl.split_multi_hts(mt)
    mt = mt.annotate_entries(  # a split site's ALT is counted from GT
        a1_dosage=hl.if_else(mt.was_split, _gt_dosage(mt.GT, hl), mt.a1_dosage)
    )
    return mt.add_row_index("target_index")


def _dosage_expr(mt: Any, fmt: str, hl: Any, path: str) -> Any:
    """The ALT dosage of a biallelic VCF entry, as :mod:`igs.io.dosage` reads it."""
    fields = mt.entry.dtype.fields
    haploid = hl.is_defined(mt.GT) & (mt.GT.ploidy == 1) if "GT" in fields else hl.bool(False)
    if "DS" in fields:
        ds = mt.DS[0] if isinstance(mt.DS.dtype, hl.tarray) else mt.DS
        off_autosomes = ~hl.literal(set(AUTOSOMES)).contains(mt.locus.contig)
        return hl.float64(ds) * hl.if_else(haploid & off_autosomes, 2.0, 1.0)
    if "GP" in fields:
        gp = mt.GP.map(hl.float64)
        return hl.if_else(hl.len(gp) == 2, 2.0 * gp[1], gp[1] + 2.0 * gp[2])
    if "GT" in fields:
        return _gt_dosage(mt.GT, hl)
    raise InputFormatError(
        f"{path}: no FORMAT/DS, FORMAT/GP or FORMAT/GT declared in the header; cannot read dosages."
    )


def _gt_dosage(gt: Any, hl: Any) -> Any:
    """ALT count of a hard call; a haploid ALT counts twice (plink2 stores it homozygous)."""
    return hl.float64(gt.n_alt_alleles()) * hl.if_else(gt.ploidy == 1, 2.0, 1.0)


def hail_target_variants(
    path: str,
    fmt: str,
    hail_config: dict[str, Any] | None = None,
    *,
    genome_build: str | None = None,
    sample: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The target variants (chrom, id, cm, pos, a1 = counted/ALT, a2 = REF) in ``target_index`` order."""
    hl = init_hail(hail_config)
    mt = read_scoring_matrix(path, fmt, hl, genome_build=genome_build, sample=sample,
                             hail_config=hail_config)  # fmt: skip
    rows = mt.rows()
    rows = rows.select(
        "target_index",
        chrom=rows.locus.contig,
        pos=rows.locus.position,
        a1=rows.alleles[1],
        a2=rows.alleles[0],
        rsid=rows.rsid if "rsid" in rows.row else hl.missing(hl.tstr),
    )
    df = rows.to_pandas().sort_values("target_index")
    fallback = df["chrom"] + ":" + df["pos"].astype(str) + ":" + df["a2"] + ":" + df["a1"]
    ids = df["rsid"].where(df["rsid"].notna() & (df["rsid"] != "."), fallback)
    return pd.DataFrame(
        {
            "chrom": df["chrom"].to_numpy(),
            "id": ids.to_numpy(),
            "cm": 0.0,
            "pos": df["pos"].to_numpy(dtype=np.int64),
            "a1": df["a1"].to_numpy(),
            "a2": df["a2"].to_numpy(),
        }
    )


def compute_scores_hail(
    path: str,
    fmt: str,
    weights: ScoreWeights,
    *,
    mean_impute: bool = True,
    dosage_sums: bool = False,
    hail_config: dict[str, Any] | None = None,
    genome_build: str | None = None,
    sample: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Scores for every sample (``SCORE_COLUMNS``), computed by Hail; ``genome_build`` and
    ``sample`` (a BGEN's .sample) as in :func:`read_scoring_matrix`."""
    hl = init_hail(hail_config)
    mt = read_scoring_matrix(path, fmt, hl, genome_build=genome_build, sample=sample,
                             hail_config=hail_config)  # fmt: skip
    s = len(weights.pgs_ids)
    with tempfile.TemporaryDirectory(
        dir=Path("tmp").resolve() if Path("tmp").is_dir() else None
    ) as tmp:
        table = _weights_table(weights, Path(tmp) / "weights.tsv", hl)
        mt = mt.annotate_rows(w=table[mt.target_index])
        mt = mt.filter_rows(hl.is_defined(mt.w))
        mt = mt.annotate_rows(is_x=hl.literal(set(X_CHROMS)).contains(mt.locus.contig))
        haploid = mt.is_x & hl.coalesce(mt.is_male, False)
        d = mt.a1_dosage
        # mean A1 dosage for imputation; a chrX male is one allele carrying half his count
        mt = mt.annotate_rows(
            a1_mean=2.0
            * hl.agg.sum(hl.if_else(haploid, d / 2, d))
            / hl.agg.sum(hl.if_else(hl.is_defined(d), hl.if_else(haploid, 1.0, 2.0), 0.0))
        )
        d = mt.a1_dosage  # the same expression on the annotated table
        called = hl.is_defined(d)
        a1 = hl.if_else(called, d, mt.a1_mean if mean_impute else 0.0)

        def effect_dosage(j: int) -> Any:
            w = mt.w
            x = hl.if_else(w.swapped[j], 2.0 - a1, a1)
            x = (
                hl.case()
                .when(w.model[j] == 1, hl.float64(x >= 1))
                .when(w.model[j] == 2, hl.float64(x >= 2))
                .default(x)
            )
            return x if mean_impute else hl.if_else(called, x, 0.0)

        dosages = [effect_dosage(j) for j in range(s)]
        present = [mt.w.present[j] for j in range(s)]
        mt = mt.annotate_cols(
            sums=hl.agg.array_sum(
                [hl.if_else(present[j], mt.w.weight[j] * dosages[j], 0.0) for j in range(s)]
            ),
            dosage=hl.agg.array_sum(
                [hl.if_else(present[j] & called, dosages[j], 0.0) for j in range(s)]
            ),
            missing=hl.agg.array_sum([hl.int64(present[j] & ~called) for j in range(s)]),
        )
        cols = mt.add_col_index("col").cols().select("col", "sums", "dosage", "missing").to_pandas()
    cols = cols.sort_values("col")
    totals = Totals(
        np.array(cols["sums"].tolist(), dtype=float).reshape(-1, s),
        np.array(cols["dosage"].tolist(), dtype=float).reshape(-1, s),
        np.array(cols["missing"].tolist(), dtype=np.int64).reshape(-1, s),
    )
    log.info("Hail scored %d samples for %d scores", len(cols), s)
    return score_table(
        cols["s"].to_numpy(), weights, totals, mean_impute=mean_impute, dosage_sums=dosage_sums
    )


def _weights_table(weights: ScoreWeights, path: Path, hl: Any) -> Any:
    """The weights as a Hail table keyed by target_index, with arrays over the scores."""
    s = len(weights.pgs_ids)
    df = pd.DataFrame({"target_index": weights.variant_index})
    for j in range(s):
        df[f"w{j}"] = weights.weight[:, j]
        df[f"s{j}"] = weights.swapped[:, j].astype(np.int8)
        df[f"p{j}"] = weights.present[:, j].astype(np.int8)
        df[f"m{j}"] = weights.model[:, j]
    df.to_csv(path, sep="\t", index=False, float_format="%.17g")
    types = {"target_index": hl.tint64}
    types |= {f"w{j}": hl.tfloat64 for j in range(s)} | {f"m{j}": hl.tint32 for j in range(s)}
    types |= {f"s{j}": hl.tint32 for j in range(s)} | {f"p{j}": hl.tint32 for j in range(s)}
    t = hl.import_table(str(path), types=types).key_by("target_index")
    return t.select(
        weight=[t[f"w{j}"] for j in range(s)],
        swapped=[t[f"s{j}"] == 1 for j in range(s)],
        present=[t[f"p{j}"] == 1 for j in range(s)],
        model=[t[f"m{j}"] for j in range(s)],
    ).cache()
