"""The local QC engine: streaming passes over PLINK bed/pgen with compiled kernels.

Order of operations (each sample/variant records the first step that removed it):

1. pass 1, all samples and variants, on the packed rows: sample call rate (on all
   variants) and every variant's genotype counts by sex.
2. preliminary variant call rate and MAF on the call-rate-passing samples: pass 1's counts
   less those of the failed samples (pass 2 counts only the words that hold them); the
   variants that pass are used for the sample checks below.
3. pass 3: autosomal heterozygosity (``plink2 --het`` F) and LD pruning of common
   autosomal variants.
4. PCA on the pruned variants; ancestry groups by k-means on the top PCs.
5. heterozygosity outside mean +/- k SD within the sample's ancestry group.
6. sex check: chrX F with allele frequencies of the sample's group, males haploid
   (``plink1.9 --check-sex``); F < 0.2 female, F > 0.8 male, else ambiguous.
7. relatedness: KING-robust kinship on the pruned variants; the fewest samples are
   removed so that no pair above the threshold remains.
8. pass 4, final samples: variant call rate, MAF and HWE (in the largest ancestry
   group; chrX in its females), as ``plink2 --missing --freq --hardy``.
9. PCA refitted on the final samples and variants; loadings kept for projection.

Every pass works on packed 2-bit rows (:mod:`igs.qc.packed`; pass 3 in :mod:`igs.qc.het_ld`,
two threads); only the sex check decodes int8 (chrX). Memory is bounded by one chunk of
``n_samples x chunk_variants`` (pass 3: one per thread, with a block of bit planes and an LD
window), pass 1's counts by sex (``n_variants x 8`` int32), the variant table (pass 4 fills
its columns chunk by chunk) and the pruned variants, kept packed (2 bits a call, at most
``max_pca_variants``); PCA and KING read samples and variants of the packed rows by index,
so no subset is ever copied. Memory freed by a step is handed back to the system before the
next (:func:`igs.io.memory.release_freed_memory`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io.atomic import atomic_paths
from igs.io.memory import release_freed_memory
from igs.io.plink import (
    AUTOSOMES,
    X_CHROMS,
    BedWriter,
    GenotypeSet,
    iter_genotype_codes,
    read_genotype_codes,
    write_bim,
    write_fam,
)
from igs.qc import kernels, packed
from igs.qc.decisions import (
    heterozygosity_bounds,
    require_enough_pruned,
    sex_check_problem,
    thin_evenly,
    variant_failures,
)
from igs.qc.groups import assign_ancestry_groups
from igs.qc.het_ld import PruneOptions, heterozygosity_and_pruning
from igs.qc.options import QCOptions
from igs.qc.pca import PCAFit, fit_pca, project_pca
from igs.qc.relatedness import king_table, samples_to_remove
from igs.qc.result import GENOTYPE_FILES, QCResult, summary_dict

log = logging.getLogger(__name__)

# A chunk of genotypes in memory is at most this large (or opts.chunk_variants variants if
# fewer): 8192 variants of 50,000 samples were 400 MB of int8; at 16 MB the buffers of a
# packed chunk (read, padded, yielded) were ~50 MB of the QC peak at 5,000 x 1M.
CHUNK_BYTES = 8 << 20


def run_local_qc(gset: GenotypeSet, opts: QCOptions) -> QCResult:
    """Run every QC step on ``gset`` and return the decisions and metrics (nothing written)."""
    n, m = gset.n_samples, gset.n_variants
    # chromosome codes, not a million Python strings (55 MB at 1M variants)
    chrom, chrom_names = pd.factorize(gset.variants["chrom"], use_na_sentinel=False)
    chrom_names = np.asarray(chrom_names, dtype=str)
    is_x = np.isin(chrom_names, X_CHROMS)[chrom]
    is_auto = np.isin(chrom_names, AUTOSOMES)[chrom]
    male = gset.samples["sex"].to_numpy() == 1
    iids = gset.samples["IID"].to_numpy()
    sample_fail = np.full(n, "", dtype=object)

    # 1. sample call rate on all variants, and every variant's counts by sex (one pass)
    sex_group = (~male).astype(np.int64)  # 0 male, 1 not male
    missing = np.zeros(n, dtype=np.int64)
    by_sex = _group_counts(gset, opts, sex_group, 2, "pass 1/4 (call rates, counts)", missing)
    _check_no_empty_variants(gset, by_sex[:, :, 3].sum(axis=1))
    sample_call_rate = 1.0 - missing / max(m, 1)
    sample_fail[sample_call_rate < opts.sample_call_rate] = "call_rate"
    s_ok = np.flatnonzero(sample_fail == "")
    if len(s_ok) < 2:
        raise InputFormatError(
            f"{gset.file(gset.format)}: only {len(s_ok)} sample(s) pass the call-rate filter "
            f"({opts.sample_call_rate}); nothing left to check."
        )

    # 2. preliminary variant filters on the call-rate-passing samples: the counts of pass 1
    # less those of the samples that failed (only the words holding them are counted)
    failed = sample_fail != ""
    if failed.any():
        by_sex = by_sex - _group_counts(
            gset, opts, np.where(failed, sex_group, -1), 2, "pass 2/4 (failed samples' counts)"
        )
    pre = _variant_metrics({"male": by_sex[:, 0], "other": by_sex[:, 1]}, is_x)
    del by_sex
    usable = (
        (pre["call_rate"] >= opts.variant_call_rate)
        & (pre["maf"] >= opts.maf)
        & (pre["maf"] > 0)
        & (is_auto | is_x)
    )

    release_freed_memory()  # what the last step freed
    # 3. heterozygosity and LD pruning on the autosomes (packed rows, two threads)
    candidates = usable & is_auto & (pre["maf"] >= opts.prune_min_maf)
    a1_freq = pre["a1_freq"]
    del pre  # but its A1 frequencies
    cand_idx = np.flatnonzero(candidates)
    het = heterozygosity_and_pruning(
        gset,
        chrom,
        usable & is_auto,
        candidates,
        a1_freq,
        s_ok,
        PruneOptions(opts.prune_window, opts.prune_step, opts.prune_r2),
        chunk_variants=_chunk(opts, 4 * _packed_bytes(gset)),  # 4 MB a thread
        threads=numba.get_num_threads(),
        what="pass 3/4 (heterozygosity, LD pruning)",
    )
    del a1_freq
    obs_hom, exp_hom, het_n, het_f = het.obs_hom, het.exp_hom, het.n_called, het.f
    pruned = thin_evenly(cand_idx[het.kept], opts.max_pca_variants)
    log.info("LD pruning kept %d of %d candidate variants", len(pruned), len(cand_idx))
    require_enough_pruned(len(pruned), opts, str(gset.file(gset.format)))
    # the pruned variants of every sample, packed (2 bits a call, a quarter of int8)
    g_pruned = packed.read_packed_rows(gset, pruned, _chunk(opts, _packed_bytes(gset)))

    release_freed_memory()  # what the last step freed
    # 4. ancestry groups from a first PCA on all call-rate-passing samples
    first = fit_pca(g_pruned, opts.n_pcs, seed=opts.seed, rows=s_ok)
    groups = assign_ancestry_groups(first.scores, opts.ancestry_groups, seed=opts.seed)

    # 5. heterozygosity within each ancestry group
    het_low, het_high = heterozygosity_bounds(het_f, groups, opts.heterozygosity_sd)
    het_out = (het_f < het_low) | (het_f > het_high)
    sample_fail[s_ok[het_out]] = "heterozygosity"

    release_freed_memory()  # what the last step freed
    # 6. sex check on chrX with group allele frequencies
    x_f = np.full(len(s_ok), np.nan)
    genetic_sex = np.zeros(len(s_ok), dtype=np.int8)
    x_usable = usable & is_x
    n_x = int(np.count_nonzero(x_usable))
    if n_x:
        x_f = _x_inbreeding(gset, opts, x_usable, s_ok, male[s_ok], groups)
        genetic_sex[x_f > opts.sex_f_male_min] = 1
        genetic_sex[x_f < opts.sex_f_female_max] = 2
        reported = gset.samples["sex"].to_numpy()[s_ok]
        problem = sex_check_problem(genetic_sex, reported)
        sample_fail[s_ok[problem & (sample_fail[s_ok] == "")]] = "sex_check"
    else:
        log.warning("no chrX variants pass the preliminary filters: sex check skipped")

    release_freed_memory()  # what the last step freed
    # 7. relatedness among the samples still in
    still = sample_fail[s_ok] == ""
    king = king_table(g_pruned, iids[s_ok][still], min_kinship=opts.kinship / 2, rows=s_ok[still])
    related = king[king["KINSHIP"] > opts.kinship]
    call_rate_by_iid = pd.Series(sample_call_rate, index=iids)
    drop = samples_to_remove(related, priority=call_rate_by_iid)
    sample_fail[np.isin(iids, drop)] = "relatedness"
    n_relatives = pd.concat([related["IID1"], related["IID2"]]).value_counts()
    final = np.flatnonzero(sample_fail == "")
    log.info("%d of %d samples pass QC", len(final), n)

    release_freed_memory()  # what the last step freed
    # 8. variant QC on the final samples (HWE in the largest ancestry group)
    group_of = np.full(n, -1)
    group_of[s_ok] = groups
    in_largest = group_of[final] == 0
    metrics, hc, hwe_p = _final_variant_stats(
        gset, opts, final, male[final], in_largest, is_x, "pass 4/4 (variant QC on final samples)"
    )
    hwe_p[~(is_auto | is_x)] = np.nan
    variant_fail = variant_failures(metrics["call_rate"], metrics["maf"], hwe_p, opts)
    pca_cols = variant_fail[pruned] == ""
    variants = _variant_table(
        gset, metrics, hc, hwe_p, usable, pruned, pruned[pca_cols], variant_fail
    )
    del metrics, hc, hwe_p, variant_fail  # now columns of the table

    release_freed_memory()  # what the last step freed
    # 9. final PCA on final samples and variants, started from the first PCA's components
    fit = fit_pca(
        g_pruned,
        opts.n_pcs,
        seed=opts.seed,
        rows=final,
        cols=np.flatnonzero(pca_cols),
        start=first.scores[np.searchsorted(s_ok, final)],  # final samples are all in s_ok
    )

    samples = _sample_table(
        gset,
        sample_call_rate,
        s_ok,
        obs_hom=obs_hom,
        exp_hom=exp_hom,
        het_n=het_n,
        het_f=het_f,
        het_bounds=(het_low, het_high),
        groups=groups,
        x_f=x_f,
        genetic_sex=genetic_sex,
        n_relatives=n_relatives,
        fail=sample_fail,
    )
    pc_names = [f"PC{i + 1}" for i in range(fit.scores.shape[1])]
    pcs = _pcs_of_everyone(gset, fit, final, pruned[pca_cols], pc_names)
    loadings = gset.variants.iloc[pruned[pca_cols]][["chrom", "id", "pos", "a1", "a2"]].copy()
    loadings["a1_freq"] = fit.a1_freq
    for i, name in enumerate(pc_names):
        loadings[name] = fit.loadings[:, i]
    summary = summary_dict(
        "local",
        str(gset.prefix),
        gset.format,
        opts,
        samples,
        variants,
        fit.eigenvalues,
        len(pruned),
        n_x,
    )
    return QCResult(
        samples, variants, pcs, loadings.reset_index(drop=True), fit.eigenvalues, king, summary
    )


def _variant_table(
    gset: GenotypeSet,
    metrics: dict[str, np.ndarray],
    hwe_counts: np.ndarray,
    hwe_p: np.ndarray,
    usable: np.ndarray,
    pruned: np.ndarray,
    pca_variants: np.ndarray,
    fail: np.ndarray,
) -> pd.DataFrame:
    """variant_qc: every variant's metrics on the final samples, the HWE counts (A1 hom, het,
    A2 hom) of the largest ancestry group, where it was used and the first filter it failed.
    The table holds the given arrays without copying them (the caller lets go of its own)."""
    m = gset.n_variants
    columns = {c: gset.variants[c].array for c in ("chrom", "id", "pos", "a1", "a2")}
    columns |= {
        "call_rate": metrics["call_rate"],
        "a1_freq": metrics["a1_freq"],
        "maf": metrics["maf"],
        "hwe_hom_a1": hwe_counts[:, 2],
        "hwe_het": hwe_counts[:, 1],
        "hwe_hom_a2": hwe_counts[:, 0],
        "hwe_p": hwe_p,
        "used_for_sample_qc": usable,
        "used_for_relatedness": np.isin(np.arange(m), pruned),
        "used_for_pca": np.isin(np.arange(m), pca_variants),
        "qc_fail": fail,
    }
    return pd.DataFrame(columns, copy=False)


def _pcs_of_everyone(
    gset: GenotypeSet, fit: PCAFit, final: np.ndarray, pca_variants: np.ndarray, names: list[str]
) -> pd.DataFrame:
    """FID, IID, PC1..PCk and ``pca_fit`` for every sample: the fitted scores of the samples
    that pass QC (``pca_fit`` true), the others projected onto the same loadings."""
    scores = np.zeros((gset.n_samples, len(names)))
    scores[final] = fit.scores
    rest = np.setdiff1d(np.arange(gset.n_samples), final)
    if len(rest):
        scores[rest] = project_pca(read_genotype_codes(gset, pca_variants, rest), fit)
    pcs = gset.samples[["FID", "IID"]].reset_index(drop=True).copy()
    pcs[names] = scores
    pcs["pca_fit"] = np.isin(np.arange(gset.n_samples), final)
    return pcs


def write_qc_genotypes(
    gset: GenotypeSet, result: QCResult, out_dir: str | Path, opts: QCOptions
) -> None:
    """Write the QC'd samples and variants as PLINK 1 bed/bim/fam (all three or none)."""
    out = Path(out_dir)
    keep_s, keep_v = result.kept_samples, result.kept_variants
    mask = np.zeros(gset.n_variants, dtype=bool)
    mask[keep_v] = True
    with atomic_paths([out / f for f in GENOTYPE_FILES]) as (bed, bim, fam):
        keep = np.asarray(keep_s, dtype=np.int64)
        n_bytes = (len(keep) + 3) // 4
        with BedWriter(bed, len(keep)) as writer:
            chunk = _chunk(opts, 4 * _packed_bytes(gset))  # 4 MB chunks: rows are copied 4x
            for _, rows in packed.iter_packed_rows(gset, mask, chunk):
                if len(keep) == gset.n_samples:
                    writer.append_packed(rows.view(np.uint8)[:, :n_bytes])
                else:
                    writer.append_packed(packed.subset_samples(rows, keep))
        release_freed_memory()
        write_bim(bim, gset.variants, rows=keep_v)
        write_fam(fam, gset.samples.iloc[keep_s])


# --------------------------------------------------------------------------- helpers


def _chunks(gset, opts, variant_mask, sample_index, what):
    total = gset.n_variants if variant_mask is None else int(np.count_nonzero(variant_mask))
    done = 0
    for idx, g in iter_genotype_codes(
        gset,
        chunk_variants=_chunk(opts, gset.n_samples),
        variant_mask=variant_mask,
        sample_index=sample_index,
    ):
        yield idx, g
        done += len(idx)
        log.info("%s: %d of %d variants", what, done, total)


def _chunk(opts: QCOptions, bytes_per_variant: int) -> int:
    """Variants per chunk: ``opts.chunk_variants``, fewer if a chunk would pass CHUNK_BYTES."""
    return max(64, min(opts.chunk_variants, CHUNK_BYTES // max(1, bytes_per_variant)))


def _packed_bytes(gset: GenotypeSet) -> int:
    """Bytes of one variant's packed row (2 bits a sample in uint64 words)."""
    return 8 * ((gset.n_samples + 31) // 32)


def _check_no_empty_variants(gset: GenotypeSet, variant_missing: np.ndarray) -> None:
    empty = np.flatnonzero(variant_missing == gset.n_samples)
    if len(empty):
        ids = ", ".join(gset.variants["id"].to_numpy()[empty[:5]])
        raise InputFormatError(
            f"{gset.file(gset.format)}: {len(empty)} variant(s) have no called genotype in any "
            f"sample, e.g. {ids}. Remove them (plink2 --geno 0.999) or check the export."
        )


def _group_counts(gset, opts, sample_group, n_groups, what, missing=None):
    """Per variant genotype counts (m, n_groups, 4) of A1 count 0, 1, 2 and missing in each
    group of samples (``sample_group`` -1: left out), on the packed rows; also adds each
    sample's missing calls to ``missing`` when given."""
    masks = packed.group_masks(np.asarray(sample_group), n_groups)
    c = np.zeros((gset.n_variants, n_groups, 4), dtype=np.int32)  # counts < 2^31 samples
    done = 0
    for idx, rows in packed.iter_packed_rows(gset, None, _chunk(opts, _packed_bytes(gset))):
        if missing is not None:
            packed.add_sample_missing(rows, missing)
        c[idx] = packed.group_counts(rows, masks)
        done += len(idx)
        log.info("%s: %d of %d variants", what, done, gset.n_variants)
    return c


def _final_variant_stats(gset, opts, sample_index, is_male, in_largest, is_x, what):
    """Call rate, A1 frequency and MAF of every variant on the final samples (chrX: males
    haploid), the genotype counts (A2 hom, het, A1 hom) of the largest ancestry group and its
    exact HWE p-value (chrX: of its females), chunk by chunk: no per-variant count table."""
    group = np.full(gset.n_samples, -1, dtype=np.int64)
    # 0 male, 1 not male; +2 in the largest ancestry group
    group[sample_index] = (~is_male).astype(np.int64)
    if in_largest is not None:
        group[sample_index] += 2 * in_largest
    masks = packed.group_masks(group, 4)
    # male, other, largest group, its females
    combine = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 1]])
    m = gset.n_variants
    metrics = {name: np.empty(m) for name in ("call_rate", "a1_freq", "maf")}
    hwe_p = np.empty(m)
    hwe_counts = np.empty((m, 3), dtype=np.int32)
    done = 0
    for idx, rows in packed.iter_packed_rows(gset, None, _chunk(opts, _packed_bytes(gset))):
        c = np.einsum("kgc,og->koc", packed.group_counts(rows, masks), combine)
        x = is_x[idx]
        part = _variant_metrics({"male": c[:, 0], "other": c[:, 1]}, x)
        for name, values in metrics.items():
            values[idx] = part[name]
        hwe_counts[idx] = c[:, 2, :3]
        tested = np.where(x[:, None], c[:, 3, :3], c[:, 2, :3])
        hwe_p[idx] = kernels.hwe_pvalues(tested, opts.hwe_midp)
        done += len(idx)
        log.info("%s: %d of %d variants", what, done, m)
    return metrics, hwe_counts, hwe_p


def _variant_metrics(counts: dict[str, np.ndarray], is_x: np.ndarray) -> dict[str, np.ndarray]:
    """Call rate and A1 frequency as plink2 reports them (chrX: males haploid)."""
    cm, co = counts["male"], counts["other"]
    total = cm + co
    n_all = total.sum(axis=1)
    call_rate = 1.0 - total[:, 3] / np.maximum(n_all, 1)
    a1_dip = 2 * total[:, 2] + total[:, 1]
    n_dip = 2 * total[:, :3].sum(axis=1)
    # chrX: a male's homozygous call is one allele; male heterozygous calls are not counted
    a1_x = 2 * co[:, 2] + co[:, 1] + cm[:, 2]
    n_x = 2 * co[:, :3].sum(axis=1) + cm[:, 0] + cm[:, 2]
    a1 = np.where(is_x, a1_x, a1_dip)
    n_alleles = np.where(is_x, n_x, n_dip)
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = a1 / n_alleles
    return {"call_rate": call_rate, "a1_freq": freq, "maf": np.minimum(freq, 1 - freq)}


def _x_inbreeding(
    gset: GenotypeSet,
    opts: QCOptions,
    x_mask: np.ndarray,
    sample_index: np.ndarray,
    is_male: np.ndarray,
    groups: np.ndarray,
) -> np.ndarray:
    """chrX F per sample, with allele frequencies of its ancestry group (males haploid).

    Two streaming passes over the chrX variants only (group frequencies, then each sample's
    observed and expected homozygosity), so memory does not grow with the variant count.
    """
    n_groups = int(groups.max()) + 1
    cell = 2 * groups.astype(np.int64) + (~is_male)  # (group, male or not)
    counts = np.zeros((int(np.count_nonzero(x_mask)), 2 * n_groups, 4), dtype=np.int64)
    done = 0
    for idx, g in _chunks(gset, opts, x_mask, sample_index, "sex check 1/2 (chrX frequencies)"):
        counts[done : done + len(idx)] = kernels.variant_genotype_counts(g, cell, 2 * n_groups)
        done += len(idx)
    everywhere = np.ones(len(counts), bool)
    het_exp, usable = [], []
    for k in range(n_groups):
        c = {"male": counts[:, 2 * k], "other": counts[:, 2 * k + 1]}
        p = _variant_metrics(c, everywhere)["a1_freq"]
        het_exp.append(np.nan_to_num(2 * p * (1 - p)))
        usable.append((p > 0) & (p < 1))
    het_exp_all, usable_all = np.stack(het_exp), np.stack(usable)
    obs = np.zeros(len(groups))
    exp = np.zeros(len(groups))
    called = np.zeros(len(groups), dtype=np.int64)
    group = groups.astype(np.int64)
    done = 0
    for idx, g in _chunks(gset, opts, x_mask, sample_index, "sex check 2/2 (chrX F)"):
        part = slice(done, done + len(idx))
        kernels.accumulate_homozygosity_by_group(
            g, group, het_exp_all[:, part], usable_all[:, part], obs, exp, called
        )
        done += len(idx)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (obs - exp) / (called - exp)


def _sample_table(
    gset,
    call_rate,
    s_ok,
    *,
    obs_hom,
    exp_hom,
    het_n,
    het_f,
    het_bounds,
    groups,
    x_f,
    genetic_sex,
    n_relatives,
    fail,
):
    n = gset.n_samples

    def full(values, fill=np.nan, dtype=float):
        out = np.full(n, fill, dtype=dtype)
        out[s_ok] = values
        return out

    table = gset.samples[["FID", "IID"]].copy()
    table["reported_sex"] = gset.samples["sex"].to_numpy()
    table["call_rate"] = call_rate
    table["het_obs_hom"] = full(obs_hom)
    table["het_exp_hom"] = full(exp_hom)
    table["het_n_called"] = full(het_n)
    table["het_f"] = full(het_f)
    table["het_f_low"] = full(het_bounds[0])
    table["het_f_high"] = full(het_bounds[1])
    table["ancestry_group"] = full(groups, -1, np.int64)
    table["x_f"] = full(x_f)
    table["genetic_sex"] = full(genetic_sex, 0, np.int64)
    table["n_relatives"] = table["IID"].map(n_relatives).fillna(0).astype(np.int64)
    table["qc_fail"] = fail
    return table
