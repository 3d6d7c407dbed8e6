"""Match scoring-file rows to target variants, the way users expect.

Each row is looked up by (chromosome, position), or by rsID when the file has no
positions, and its alleles are compared with the target's counted allele (a1) and
other allele (a2):

* ``exact``: effect = a1 (and other = a2 or not given): dosage = a1 count
* ``swapped``: effect = a2: dosage = 2 - a1 count
* ``flipped`` / ``flipped_swapped``: the same after complementing both alleles
* strand-ambiguous rows (A/T, C/G) are excluded by default: their strand cannot be told
* multi-allelic sites (several target variants at one position) are resolved by the alleles
* when several rows of one score hit the same target variant, the first row is kept

Every row gets a ``match_status``: matched, excluded_ambiguous, duplicate, allele_mismatch, absent
(and filtered_info / filtered_maf from :mod:`igs.scores.filters`). :func:`match_scores` matches
many scores, dropping those below ``min_overlap`` with the reason (``strict`` raises instead).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from igs import columns as C
from igs.errors import MatchRateError
from igs.scores.scorefile import ScoringFile, normalise_chroms, upper_alleles

COMPLEMENT = str.maketrans("ACGT", "TGCA")
MATCH_PRIORITY = {"exact": 0, "swapped": 0, "flipped": 1, "flipped_swapped": 1}
STATUSES = (
    "matched",
    "excluded_ambiguous",
    "duplicate",
    "allele_mismatch",
    "absent",
    "filtered_info",
    "filtered_maf",
    "not_in_reference",
)


@dataclass(frozen=True)
class MatchOptions:
    """How to match: keep ambiguous SNPs (assume same strand), allow strand flips, the overlap required."""

    keep_ambiguous: bool = False
    allow_flips: bool = True
    min_overlap: float = 0.75
    exclude_chromosomes: tuple[str, ...] = ()  # e.g. ("X",): those target variants are not used


def prepare_target(target: pd.DataFrame, options: MatchOptions = MatchOptions()) -> pd.DataFrame:
    """The target variants in the form :func:`match_variants` joins on (do it once per target):
    sorted by ``t_key`` (chromosome code, position), ``t_chrom`` categorical.

    ``target`` has columns chrom, id, pos, a1, a2 (an igs GenotypeSet's variants).
    """
    target_chrom = normalise_chroms(target["chrom"])
    keep = ~target_chrom.isin(options.exclude_chromosomes).to_numpy()
    target, target_chrom = target[keep], target_chrom[keep]
    chrom = pd.Categorical(target_chrom.to_numpy())
    pos = target["pos"].to_numpy(dtype=np.int64)
    key = _position_keys(chrom.codes, pos)
    order = np.argsort(key, kind="stable")
    return pd.DataFrame(
        {
            "target_index": np.asarray(target.index)[order],
            "t_chrom": chrom[order],
            "t_pos": pos[order],
            "t_id": target["id"].to_numpy()[order],
            "a1": upper_alleles(target["a1"]).to_numpy()[order],
            "a2": upper_alleles(target["a2"]).to_numpy()[order],
            "t_key": key[order],
        }
    )


def match_variants(
    score: ScoringFile,
    target: pd.DataFrame,
    options: MatchOptions = MatchOptions(),
    prepared: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per scoring-file row with its match status, type and target variant index.

    ``target`` has columns chrom, id, pos, a1, a2 (an igs GenotypeSet's variants);
    ``prepared`` is ``prepare_target(target, options)`` when matching many scores.
    Raises MatchRateError when the matched share is below ``options.min_overlap``.

    Rows are joined to the target on (chromosome, position) by binary search on the sorted
    target keys (several candidates at a multi-allelic site), or on rsID without a position.
    """
    rows = score.rows
    tgt = prepare_target(target, options) if prepared is None else prepared
    pos_row, pos_t = _position_candidates(rows, tgt)
    by_id = rows[C.CHR_POSITION].isna().to_numpy()
    id_row, id_t = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if by_id.any():
        by_id &= (rows[C.RSID] != "").to_numpy()
        hits = pd.DataFrame(
            {"r": np.flatnonzero(by_id), C.RSID: rows[C.RSID].to_numpy()[by_id]}
        ).merge(tgt[["t_id"]].reset_index(), left_on=C.RSID, right_on="t_id", how="inner")
        id_row, id_t = hits["r"].to_numpy(np.int64), hits["index"].to_numpy(np.int64)
    cand_row, cand_t = np.concatenate([pos_row, id_row]), np.concatenate([pos_t, id_t])
    ea_all = rows[C.EFFECT_ALLELE].to_numpy(dtype=object)
    oa_all = rows[C.OTHER_ALLELE].to_numpy(dtype=object)
    match_type = _match_type(
        ea_all[cand_row], oa_all[cand_row], tgt["a1"].to_numpy()[cand_t],
        tgt["a2"].to_numpy()[cand_t], options.allow_flips,
    )  # fmt: skip
    ok = match_type != ""
    cand_row, cand_t, match_type = cand_row[ok], cand_t[ok], match_type[ok]
    target_index = tgt["target_index"].to_numpy()[cand_t]
    priority = np.isin(match_type, ["flipped", "flipped_swapped"]).astype(np.int8)
    order = np.lexsort((target_index, priority, cand_row))
    first = order[np.r_[True, np.diff(cand_row[order]) != 0]] if len(order) else order
    best_row = cand_row[first]

    n = len(rows)
    chosen = np.full(n, -1, dtype=np.int64)
    chosen[best_row] = first
    has = chosen >= 0
    located = np.zeros(n, dtype=bool)
    located[pos_row] = True
    located[id_row] = True
    ambiguous = _is_ambiguous(ea_all, oa_all)
    status = np.where(has, "matched", np.where(located, "allele_mismatch", "absent"))
    if not options.keep_ambiguous:
        # located but strand-ambiguous: excluded whether or not the alleles line up (as pgsc_calc counts)
        status = np.where((status != "absent") & ambiguous, "excluded_ambiguous", status)
    t_values = np.zeros(n, dtype=np.int64)
    t_values[has] = target_index[chosen[has]]
    t_index = pd.array(t_values, dtype="Int64")
    t_index[~has] = pd.NA
    dup = (status == "matched") & pd.Series(t_index).duplicated(keep="first").to_numpy() & has
    status = np.where(dup, "duplicate", status).astype(object)
    t_id = np.full(n, np.nan, dtype=object)
    t_id[has] = tgt["t_id"].to_numpy()[cand_t[chosen[has]]]
    mtype = np.full(n, None, dtype=object)
    mtype[has] = match_type[chosen[has]]
    mtype[status != "matched"] = None

    report = rows.copy()
    report.insert(0, "pgs_id", score.pgs_id)
    report["target_index"] = t_index
    report["target_id"] = t_id
    report["match_type"] = mtype
    report["match_status"] = status
    report["is_ambiguous"] = ambiguous
    check_overlap(report, score, options.min_overlap)
    return report


def _position_keys(chrom_codes: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """One int64 per (chromosome code, position); code -1 (unknown) gives a negative key."""
    return chrom_codes.astype(np.int64) * (1 << 32) + pos


def _position_candidates(rows: pd.DataFrame, tgt: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(score row, prepared-target row) for every target variant at a row's chromosome and
    position (several at a multi-allelic site); rows without a position have none."""
    has_pos = rows[C.CHR_POSITION].notna().to_numpy()
    r = np.flatnonzero(has_pos)
    codes = tgt["t_chrom"].cat.categories.get_indexer(rows[C.CHR_NAME].to_numpy()[r])
    r = r[codes >= 0]
    pos = rows[C.CHR_POSITION].to_numpy(dtype=np.int64, na_value=-1)[r]
    keys = _position_keys(codes[codes >= 0], pos)
    t_keys = tgt["t_key"].to_numpy()
    lo = np.searchsorted(t_keys, keys, side="left")
    count = np.searchsorted(t_keys, keys, side="right") - lo
    starts = np.repeat(lo - (np.cumsum(count) - count), count)
    return np.repeat(r, count), starts + np.arange(int(count.sum()))


def check_overlap(report: pd.DataFrame, score: ScoringFile, min_overlap: float) -> None:
    """Raise MatchRateError when the matched share of ``report`` is below ``min_overlap``."""
    rate = float((report["match_status"] == "matched").mean()) if len(report) else 0.0
    if rate < min_overlap:
        counts = report["match_status"].value_counts().to_dict()
        raise MatchRateError(
            f"{score.pgs_id} ({score.path}): only {rate:.1%} of {len(report)} variants matched the target "
            f"(min_overlap {min_overlap:.0%}); statuses {counts}. Check the genome build "
            f"(score: {score.genome_build or 'not stated'}) and use a harmonised scoring file."
        )


def match_scores(
    scores: list[ScoringFile],
    target: pd.DataFrame,
    options: MatchOptions = MatchOptions(),
    *,
    strict: bool = False,
) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Match many scores; those below ``min_overlap`` are dropped, not fatal (pgsc_calc's way).

    Returns the reports of the scores kept (for scoring) and the summary of all of them
    (:func:`summarise_matches` with ``scored`` and ``reason`` columns). ``strict`` raises the
    first MatchRateError instead of dropping.
    """
    prepared = prepare_target(target, options)
    lenient = replace(options, min_overlap=0.0)
    kept, reports, dropped = [], [], {}
    for score in scores:
        report = match_variants(score, target, lenient, prepared)
        reports.append(report)
        try:
            check_overlap(report, score, options.min_overlap)
        except MatchRateError as exc:
            if strict:
                raise
            dropped[score.pgs_id] = str(exc)
            continue
        kept.append(report)
    summary = summarise_matches(pd.concat(reports, ignore_index=True), dropped=dropped)
    return kept, summary


def summarise_matches(report: pd.DataFrame, dropped: dict[str, str] | None = None) -> pd.DataFrame:
    """Per score: counts of each match status and match type, and the match rate.

    With ``dropped`` (pgs_id -> reason), ``scored`` and ``reason`` columns say which scores
    were left out and why."""
    ids = pd.Index(pd.unique(report["pgs_id"]), name="pgs_id")
    status = pd.crosstab(report["pgs_id"], report["match_status"]).reindex(
        index=ids, columns=list(STATUSES), fill_value=0
    )
    types = pd.crosstab(report["pgs_id"], report["match_type"]).reindex(
        index=ids, columns=list(MATCH_PRIORITY), fill_value=0
    )
    out = pd.DataFrame(
        {"pgs_id": ids, "n_variants": report.groupby("pgs_id", sort=False).size()[ids].to_numpy()}
    )
    for col in STATUSES:
        out[col] = status[col].to_numpy(dtype=np.int64)
    for col in MATCH_PRIORITY:
        out[f"type_{col}"] = types[col].to_numpy(dtype=np.int64)
    out["match_rate"] = out["matched"] / out["n_variants"].clip(lower=1)
    if dropped is not None:
        out["scored"] = ~out["pgs_id"].isin(list(dropped))
        out["reason"] = out["pgs_id"].map(dropped).fillna("")
    return out


def check_build(score: ScoringFile, target_build: str) -> None:
    """Fail when the scoring file states a build other than the target's."""
    from igs.errors import InputFormatError

    if score.genome_build and score.genome_build != target_build:
        raise InputFormatError(
            f"{score.path}: positions are on {score.genome_build} but the target genotypes are on {target_build}. "
            f"Download the harmonised file for {target_build} (PGS Catalog hmPOS_{target_build}) or lift it over."
        )


def _allele_codes(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Integer codes for allele strings, the code of each code's complement and its length.

    Comparing small integers is much faster than comparing millions of strings: the columns
    are factorised together in one hash pass, then the few distinct alleles are complemented.
    """
    arrays = [np.asarray(c, dtype=object) for c in columns]
    codes, seen = pd.factorize(np.concatenate(arrays) if arrays else np.array([], dtype=object))
    vocab = {str(a): i for i, a in enumerate(seen)}
    for a in list(vocab):
        vocab.setdefault(a.translate(COMPLEMENT), len(vocab))
    complement = np.array([vocab[a.translate(COMPLEMENT)] for a in vocab], dtype=np.int64)
    length = np.array([len(a) for a in vocab], dtype=np.int64)
    split = np.split(codes, np.cumsum([len(a) for a in arrays])[:-1])
    return split, complement, length


def _match_type(
    ea: np.ndarray, oa: np.ndarray, a1: np.ndarray, a2: np.ndarray, allow_flips: bool
) -> np.ndarray:
    (ea, oa, a1, a2), complement, length = _allele_codes(ea, oa, a1, a2)
    no_other = length[oa] == 0
    out = np.full(len(ea), "", dtype=object)
    flip_ea, flip_oa = complement[ea], complement[oa]
    if allow_flips:
        out[(flip_ea == a2) & ((flip_oa == a1) | no_other)] = "flipped_swapped"
        out[(flip_ea == a1) & ((flip_oa == a2) | no_other)] = "flipped"
    out[(ea == a2) & ((oa == a1) | no_other)] = "swapped"
    out[(ea == a1) & ((oa == a2) | no_other)] = "exact"
    return out


def _is_ambiguous(ea: pd.Series, oa: pd.Series) -> np.ndarray:
    if not len(ea):
        return np.zeros(0, dtype=bool)
    (e, o), complement, length = _allele_codes(ea, oa)
    return (complement[e] == o) & (length[e] == 1)
