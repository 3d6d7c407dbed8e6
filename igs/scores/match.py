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
from igs.scores.scorefile import ScoringFile, normalise_chroms

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
    """The target variants in the form :func:`match_variants` joins on (do it once per target).

    ``target`` has columns chrom, id, pos, a1, a2 (an igs GenotypeSet's variants).
    """
    target_chrom = normalise_chroms(target["chrom"])
    keep = ~target_chrom.isin(options.exclude_chromosomes).to_numpy()
    target, target_chrom = target[keep], target_chrom[keep]
    return pd.DataFrame(
        {
            "target_index": np.asarray(target.index),
            "t_chrom": target_chrom.to_numpy(),
            "t_pos": target["pos"].to_numpy(),
            "t_id": target["id"].to_numpy(),
            "a1": target["a1"].str.upper().to_numpy(),
            "a2": target["a2"].str.upper().to_numpy(),
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
    """
    rows = score.rows
    tgt = prepare_target(target, options) if prepared is None else prepared
    by_position = rows[C.CHR_POSITION].notna()
    cand_pos = rows[by_position].merge(
        tgt, left_on=[C.CHR_NAME, C.CHR_POSITION], right_on=["t_chrom", "t_pos"], how="inner"
    )
    cand_id = rows[~by_position & (rows[C.RSID] != "")].merge(
        tgt, left_on=C.RSID, right_on="t_id", how="inner"
    )
    cand = pd.concat([cand_pos, cand_id], ignore_index=True)
    cand["match_type"] = _match_type(cand, options.allow_flips)
    cand = cand[cand["match_type"] != ""]
    cand = cand.assign(priority=cand["match_type"].map(MATCH_PRIORITY))
    best = cand.sort_values(["row", "priority", "target_index"], kind="stable").drop_duplicates(
        "row"
    )

    report = rows.merge(best[["row", "target_index", "t_id", "match_type"]], on="row", how="left")
    located = rows["row"].isin(cand_pos["row"]) | rows["row"].isin(cand_id["row"])
    ambiguous = _is_ambiguous(report[C.EFFECT_ALLELE], report[C.OTHER_ALLELE])
    status = np.where(
        report["match_type"].notna(), "matched", np.where(located, "allele_mismatch", "absent")
    )
    if not options.keep_ambiguous:
        # located but strand-ambiguous: excluded whether or not the alleles line up (as pgsc_calc counts)
        status = np.where((status != "absent") & ambiguous, "excluded_ambiguous", status)
    report["match_status"] = status
    matched = report["match_status"] == "matched"
    dup = matched & report["target_index"].duplicated(keep="first") & report["target_index"].notna()
    report.loc[dup, "match_status"] = "duplicate"
    report["is_ambiguous"] = ambiguous
    report.insert(0, "pgs_id", score.pgs_id)
    report["target_index"] = report["target_index"].astype("Int64")
    report = report.rename(columns={"t_id": "target_id"})
    report.loc[report["match_status"] != "matched", "match_type"] = None

    check_overlap(report, score, options.min_overlap)
    return report


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

    Comparing small integers is much faster than comparing millions of strings.
    """
    seen = pd.unique(np.concatenate([np.asarray(c, dtype=object) for c in columns]))
    complements = [str(a).translate(COMPLEMENT) for a in seen]
    vocab = pd.Index(list(dict.fromkeys([*map(str, seen), *complements])))
    codes = [vocab.get_indexer(np.asarray(c, dtype=object)) for c in columns]
    complement = vocab.get_indexer([a.translate(COMPLEMENT) for a in vocab])
    return codes, complement, vocab.str.len().to_numpy()


def _match_type(cand: pd.DataFrame, allow_flips: bool) -> np.ndarray:
    (ea, oa, a1, a2), complement, _ = _allele_codes(
        cand[C.EFFECT_ALLELE], cand[C.OTHER_ALLELE], cand["a1"], cand["a2"]
    )
    no_other = cand[C.OTHER_ALLELE].to_numpy(dtype=object) == ""
    out = np.full(len(cand), "", dtype=object)
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
