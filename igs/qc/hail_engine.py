"""The Hail QC engine: the same steps and thresholds as the local engine, on Spark.

Hail runs in Spark local mode unless ``hail.master`` is set (e.g. ``spark://host:7077``
or ``yarn``); it reads PLINK bed, VCF and BGEN. The statistics come from Hail's own
methods (``hl.sample_qc``, ``hl.variant_qc``, ``hl.agg.inbreeding``, ``hl.ld_prune``,
``hl.hwe_normalized_pca``, ``hl.impute_sex``, ``hl.king``); only the decisions (group
bounds, which relatives to drop; ``igs.qc.decisions``) are shared with the local engine, so the two engines
are compared on the statistics each computes. Install with ``pip install 'igs[hail]'``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io.atomic import atomic_paths
from igs.io.hail import init_hail, read_matrix_table
from igs.io.plink import AUTOSOMES, open_genotypes
from igs.qc.decisions import (
    heterozygosity_bounds,
    require_enough_pruned,
    sex_check_problem,
    thin_evenly,
    variant_failures,
)
from igs.qc.groups import assign_ancestry_groups
from igs.qc.options import QCOptions
from igs.qc.relatedness import samples_to_remove
from igs.qc.result import GENOTYPE_FILES, QCResult, summary_dict

log = logging.getLogger(__name__)


def run_hail_qc(
    path: str,
    fmt: str,
    opts: QCOptions,
    out_dir: str | os.PathLike[str],
    *,
    hail_config: dict[str, Any] | None = None,
) -> QCResult:
    """Run QC with Hail and write the QC'd genotypes; returns the same record as the local engine."""
    hl = init_hail(hail_config)
    mt = read_matrix_table(path, fmt, hl)
    mt = mt.add_row_index("vidx").add_col_index("sidx")
    contig = mt.locus.contig
    mt = mt.annotate_rows(
        is_x=hl.literal({"X", "23", "chrX"}).contains(contig),
        is_auto=hl.literal(set(AUTOSOMES)).contains(contig),
    )
    cols = mt.cols().select("fam_id", "is_male", "sidx").to_pandas().sort_values("sidx")
    iids = cols["s"].to_numpy()
    rows = mt.rows().select("rsid", "vidx", "is_x", "is_auto").to_pandas().sort_values("vidx")
    n, m = len(cols), len(rows)

    # 1. sample call rate; an all-missing variant is an input error, as in the local engine
    t = hl.sample_qc(mt).cols()
    call_rate = t.select("sidx", cr=t.sample_qc.call_rate).to_pandas().sort_values("sidx")["cr"]
    call_rate = call_rate.to_numpy(dtype=float)
    n_empty = _count_empty(mt, hl)
    if n_empty:
        raise InputFormatError(
            f"{path}: {n_empty} variant(s) have no called genotype in any sample."
        )
    fail = np.where(call_rate < opts.sample_call_rate, "call_rate", "").astype(object)
    ok_idx = np.flatnonzero(fail == "")
    mt1 = hl.variant_qc(_keep_cols(mt, ok_idx, hl))

    # 2. preliminary variant filters
    maf = hl.min(mt1.variant_qc.AF)
    mt1 = mt1.annotate_rows(
        usable=(mt1.variant_qc.call_rate >= opts.variant_call_rate)
        & (maf >= opts.maf)
        & (maf > 0)
        & (mt1.is_auto | mt1.is_x)
    )

    # 3. heterozygosity F on usable autosomal variants; LD pruning of common ones
    auto = mt1.filter_rows(mt1.usable & mt1.is_auto)
    ib = auto.annotate_cols(ib=hl.agg.inbreeding(auto.GT, auto.variant_qc.AF[1])).cols()
    het = (
        ib.select(
            "sidx", f=ib.ib.f_stat, o=ib.ib.observed_homs, e=ib.ib.expected_homs, n=ib.ib.n_called
        )
        .to_pandas()
        .sort_values("sidx")
    )
    common = auto.filter_rows(hl.min(auto.variant_qc.AF) >= opts.prune_min_maf)
    kept = hl.ld_prune(common.GT, r2=opts.prune_r2, bp_window_size=opts.prune_window_kb * 1000)
    pruned = common.filter_rows(hl.is_defined(kept[common.row_key])).rows()
    pruned = np.sort(pruned.select("vidx").to_pandas()["vidx"].to_numpy())
    pruned = thin_evenly(pruned, opts.max_pca_variants)
    require_enough_pruned(len(pruned), opts, path)
    mt_pruned = _keep_rows(mt1, pruned, hl)

    # 4. ancestry groups from a first PCA
    _, scores, _ = hl.hwe_normalized_pca(mt_pruned.GT, k=opts.n_pcs)
    groups = assign_ancestry_groups(
        _scores(scores, iids[ok_idx]), opts.ancestry_groups, seed=opts.seed
    )

    # 5. heterozygosity within each group
    het_f = het["f"].to_numpy(dtype=float)
    low, high = heterozygosity_bounds(het_f, groups, opts.heterozygosity_sd)
    fail[ok_idx[(het_f < low) | (het_f > high)]] = "heterozygosity"

    # 6. sex check: hl.impute_sex within each ancestry group
    x_f = np.full(len(ok_idx), np.nan)
    genetic_sex = np.zeros(len(ok_idx), dtype=np.int64)
    mtx = mt1.filter_rows(mt1.usable & mt1.is_x)
    if mtx.count_rows() > 0:
        for k in np.unique(groups):
            sub = _keep_cols(mtx, ok_idx[groups == k], hl)
            sex = hl.impute_sex(
                sub.GT,
                aaf_threshold=0.0,
                include_par=False,
                female_threshold=opts.sex_f_female_max,
                male_threshold=opts.sex_f_male_min,
            ).to_pandas()
            pos = _positions(iids[ok_idx], sex["s"])
            x_f[pos] = sex["f_stat"].to_numpy(dtype=float)
            female = sex["is_female"]
            genetic_sex[pos] = np.where(female.isna(), 0, np.where(female.fillna(False), 2, 1))
        reported = _reported_sex(cols)[ok_idx]
        sel = ok_idx[sex_check_problem(genetic_sex, reported)]
        fail[sel[fail[sel] == ""]] = "sex_check"

    # 7. relatedness: hl.king on the pruned variants
    still = ok_idx[fail[ok_idx] == ""]
    mk = _keep_cols(mt_pruned, still, hl)
    kin = hl.king(mk.GT)
    kin = kin.filter_entries((kin.s_1 < kin.s) & (kin.phi > opts.kinship / 2)).entries()
    pairs = (
        kin.select(IID1=kin.s_1, IID2=kin.s, KINSHIP=kin.phi).key_by().drop("s_1", "s").to_pandas()
    )
    king = pairs[["IID1", "IID2", "KINSHIP"]].sort_values(["IID1", "IID2"]).reset_index(drop=True)
    related = king[king["KINSHIP"] > opts.kinship]
    drop = samples_to_remove(related, priority=pd.Series(call_rate, index=iids))
    fail[np.isin(iids, drop)] = "relatedness"
    final = np.flatnonzero(fail == "")

    # 8. variant QC on the final samples; mid-p HWE in the largest group (chrX: its females)
    largest = np.intersect1d(ok_idx[groups == 0], final)
    mtf = hl.variant_qc(_keep_cols(mt, final, hl))
    in_hwe = hl.literal(set(largest.tolist())).contains(hl.int32(mtf.sidx))
    in_hwe = in_hwe & (~mtf.is_x | ~hl.coalesce(mtf.is_male, False))
    mtf = mtf.annotate_rows(
        hwe=hl.agg.filter(in_hwe, hl.agg.hardy_weinberg_test(mtf.GT)),
        n_hom_a1=hl.agg.filter(in_hwe, hl.agg.count_where(mtf.GT.is_hom_var())),
        n_het=hl.agg.filter(in_hwe, hl.agg.count_where(mtf.GT.is_het())),
        n_hom_a2=hl.agg.filter(in_hwe, hl.agg.count_where(mtf.GT.is_hom_ref())),
    )
    vq = mtf.rows()
    vq = vq.select(
        "vidx", "n_hom_a1", "n_het", "n_hom_a2",
        call_rate=vq.variant_qc.call_rate, a1_freq=vq.variant_qc.AF[1], hwe_p=vq.hwe.p_value,
    ).to_pandas().sort_values("vidx")  # fmt: skip
    vq["maf"] = np.minimum(vq["a1_freq"], 1 - vq["a1_freq"])
    vq.loc[~(rows["is_auto"].to_numpy() | rows["is_x"].to_numpy()), "hwe_p"] = np.nan
    vfail = variant_failures(
        vq["call_rate"].to_numpy(), vq["maf"].to_numpy(), vq["hwe_p"].to_numpy(dtype=float), opts
    )

    # 9. final PCA with loadings, then the QC'd genotypes
    pca_idx = pruned[vfail[pruned] == ""]
    mpf = _keep_rows(mtf, pca_idx, hl)
    eigenvalues, scores, loadings = hl.hwe_normalized_pca(
        mpf.GT, k=opts.n_pcs, compute_loadings=True
    )
    final_scores = _scores(scores, iids[final])
    load = loadings.annotate(
        vidx=mpf.rows()[loadings.key].vidx, af=mpf.rows()[loadings.key].variant_qc.AF[1]
    )
    load = load.to_pandas().sort_values("vidx")
    _export_bed(mt, final, np.flatnonzero(vfail == ""), out_dir, hl)

    samples = cols.rename(columns={"s": "IID", "fam_id": "FID"})[["FID", "IID"]].reset_index(
        drop=True
    )
    samples["reported_sex"] = _reported_sex(cols)
    samples["call_rate"] = call_rate
    for name, values in (
        ("het_obs_hom", het["o"]), ("het_exp_hom", het["e"]), ("het_n_called", het["n"]),
        ("het_f", het_f), ("het_f_low", low), ("het_f_high", high), ("x_f", x_f),
    ):  # fmt: skip
        full = np.full(n, np.nan)
        full[ok_idx] = np.asarray(values, dtype=float)
        samples[name] = full
    samples["ancestry_group"] = -1
    samples.loc[ok_idx, "ancestry_group"] = groups
    samples["genetic_sex"] = 0
    samples.loc[ok_idx, "genetic_sex"] = genetic_sex
    rel = pd.concat([related["IID1"], related["IID2"]]).value_counts()
    samples["n_relatives"] = samples["IID"].map(rel).fillna(0).astype(np.int64)
    samples["qc_fail"] = fail

    gvars = _variant_table(path, fmt, rows)
    for col in ("call_rate", "a1_freq", "maf"):
        gvars[col] = vq[col].to_numpy(dtype=float)
    gvars["hwe_hom_a1"] = vq["n_hom_a1"].to_numpy()
    gvars["hwe_het"] = vq["n_het"].to_numpy()
    gvars["hwe_hom_a2"] = vq["n_hom_a2"].to_numpy()
    gvars["hwe_p"] = vq["hwe_p"].to_numpy(dtype=float)
    gvars["used_for_sample_qc"] = np.isin(np.arange(m), _usable_index(mt1, hl))
    gvars["used_for_relatedness"] = np.isin(np.arange(m), pruned)
    gvars["used_for_pca"] = np.isin(np.arange(m), pca_idx)
    gvars["qc_fail"] = vfail

    pc_names = [f"PC{i + 1}" for i in range(final_scores.shape[1])]
    pcs = pd.DataFrame(final_scores, columns=pc_names)
    pcs.insert(0, "IID", iids[final])
    pcs.insert(0, "FID", cols["fam_id"].to_numpy()[final])
    ld = gvars.iloc[pca_idx][["chrom", "id", "pos", "a1", "a2"]].reset_index(drop=True)
    ld["a1_freq"] = load["af"].to_numpy(dtype=float)
    lmat = np.vstack(load["loadings"].to_numpy())
    for i, name in enumerate(pc_names):
        ld[name] = lmat[:, i]
    summary = summary_dict("hail", path, fmt, opts, samples, gvars, np.asarray(eigenvalues), len(pruned),
                           int(mtx.count_rows()))  # fmt: skip
    return QCResult(samples, gvars, pcs, ld, np.asarray(eigenvalues), king, summary)


# --------------------------------------------------------------------------- helpers


def _count_empty(mt: Any, hl: Any) -> int:
    """Variants with no called genotype in any sample."""
    rows = mt.annotate_rows(n_called=hl.agg.count_where(hl.is_defined(mt.GT))).rows()
    return int(rows.aggregate(hl.agg.count_where(rows.n_called == 0)))


def _keep_cols(mt: Any, index: np.ndarray, hl: Any) -> Any:
    return mt.filter_cols(hl.literal(set(np.asarray(index).tolist())).contains(hl.int32(mt.sidx)))


def _keep_rows(mt: Any, index: np.ndarray, hl: Any) -> Any:
    return mt.filter_rows(
        hl.literal(set(np.asarray(index).tolist()), hl.tset(hl.tint64)).contains(mt.vidx)
    )


def _positions(order: np.ndarray, iids: pd.Series) -> np.ndarray:
    where = pd.Series(np.arange(len(order)), index=order)
    return where.loc[iids.to_numpy()].to_numpy()


def _scores(scores: Any, order: np.ndarray) -> np.ndarray:
    """PC scores (Hail table keyed by s) as a matrix in the given sample order."""
    df = scores.to_pandas().set_index("s")
    return np.vstack(df.loc[order, "scores"].to_numpy()).astype(float)


def _reported_sex(cols: pd.DataFrame) -> np.ndarray:
    """1 male, 2 female, 0 unknown, from Hail's is_male column."""
    male = cols["is_male"].astype("boolean")
    return np.where(male.isna(), 0, np.where(male.fillna(False), 1, 2)).astype(np.int64)


def _usable_index(mt1: Any, hl: Any) -> np.ndarray:
    t = mt1.filter_rows(mt1.usable).rows()
    return t.select("vidx").to_pandas()["vidx"].to_numpy()


def _variant_table(path: str, fmt: str, rows: pd.DataFrame) -> pd.DataFrame:
    if fmt == "bed":
        v = open_genotypes(path, "bed").variants
        return v[["chrom", "id", "pos", "a1", "a2"]].reset_index(drop=True)
    alleles = rows["alleles"]
    return pd.DataFrame(
        {
            "chrom": rows["locus.contig"].to_numpy(),
            "id": rows["rsid"].to_numpy(),
            "pos": rows["locus.position"].to_numpy(),
            "a1": [a[1] for a in alleles],
            "a2": [a[0] for a in alleles],
        }
    )


def _export_bed(mt: Any, samples: np.ndarray, variants: np.ndarray, out_dir: Any, hl: Any) -> None:
    """hl.export_plink of the kept samples and variants, moved into place all together."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sub = _keep_rows(_keep_cols(mt, samples, hl), variants, hl)
    scratch = Path(tempfile.mkdtemp(prefix=".hail_export.", dir=out))
    try:
        hl.export_plink(
            sub,
            str(scratch / "genotypes"),
            ind_id=sub.s,
            fam_id=sub.fam_id,
            is_female=hl.if_else(hl.is_defined(sub.is_male), ~sub.is_male, hl.missing(hl.tbool)),
            varid=sub.rsid,
        )
        with atomic_paths([out / f for f in GENOTYPE_FILES]) as tmps:
            for name, tmp in zip(GENOTYPE_FILES, tmps, strict=True):
                shutil.move(scratch / name, tmp)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
