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
import pyarrow as pa

from igs import columns as C
from igs.errors import MatchRateError
from igs.scores.scorefile import ScoringFile, normalise_chroms, upper_alleles

COMPLEMENT = str.maketrans("ACGT", "TGCA")
ARROW_STRING = pd.StringDtype("pyarrow")
MISSING_ALLELE = "\0missing"  # the code of a missing allele: equal to no real allele
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
STATUS_NAMES = np.array(STATUSES, dtype=object)
MATCHED, EXCLUDED_AMBIGUOUS, DUPLICATE, ALLELE_MISMATCH, ABSENT = range(5)  # codes in STATUSES
TYPE_NAMES = np.array([None, *MATCH_PRIORITY], dtype=object)
EXACT, SWAPPED, FLIPPED, FLIPPED_SWAPPED = range(1, 5)  # codes in TYPE_NAMES


@dataclass(frozen=True)
class MatchOptions:
    """How to match: keep ambiguous SNPs (assume same strand), allow strand flips, the overlap required."""

    keep_ambiguous: bool = False
    allow_flips: bool = True
    min_overlap: float = 0.75
    exclude_chromosomes: tuple[str, ...] = ()  # e.g. ("X",): those target variants are not used


def prepare_target(target: pd.DataFrame, options: MatchOptions = MatchOptions()) -> pd.DataFrame:
    """The target variants in the form :func:`match_variants` joins on (do it once per target):
    sorted by ``t_key`` (chromosome code, position), ``t_chrom`` categorical, the upper-cased
    alleles ``a1`` and ``a2`` categoricals sharing one set of categories (each score's alleles
    are compared as integer codes), ``t_id`` in Arrow memory.

    ``target`` has columns chrom, id, pos, a1, a2 (an igs GenotypeSet's variants).
    """
    target_chrom = normalise_chroms(target["chrom"])
    keep = ~target_chrom.isin(options.exclude_chromosomes).to_numpy()
    if not keep.all():  # (a copy of a million variants otherwise)
        target, target_chrom = target[keep], target_chrom[keep]
    chrom = pd.Categorical(target_chrom.to_numpy())
    pos = target["pos"].to_numpy(dtype=np.int64)
    key = _position_keys(chrom.codes, pos)
    order = np.argsort(key, kind="stable")
    a1, a2 = (pd.Categorical(upper_alleles(target[c]).to_numpy()[order]) for c in ("a1", "a2"))
    alleles = a1.categories.append(a2.categories).unique()
    a1, a2 = a1.set_categories(alleles), a2.set_categories(alleles)
    return pd.DataFrame(
        {
            "target_index": np.asarray(target.index)[order],
            "t_chrom": chrom[order],
            "t_pos": pos[order],
            "t_id": _arrow_strings(target["id"].to_numpy()[order]),
            "a1": a1,
            "a2": a2,
            "t_key": key[order],
        }
    )


def _arrow_strings(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Text (missing values kept missing; other objects as their str) in Arrow memory."""
    try:
        array = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.Series(values, dtype=object).astype(ARROW_STRING).array
    return pd.arrays.ArrowStringArray(array)


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
        by_id &= (rows[C.RSID] != "").to_numpy(dtype=bool, na_value=False)
        hits = pd.DataFrame(
            {"r": np.flatnonzero(by_id), C.RSID: rows[C.RSID].to_numpy()[by_id]}
        ).merge(tgt[["t_id"]].reset_index(), left_on=C.RSID, right_on="t_id", how="inner")
        id_row, id_t = hits["r"].to_numpy(np.int64), hits["index"].to_numpy(np.int64)
    cand_row, cand_t = np.concatenate([pos_row, id_row]), np.concatenate([pos_t, id_t])
    alleles = AlleleCodes.of(tgt["a1"].cat.categories)
    ea_all, oa_all = alleles.encode(rows[C.EFFECT_ALLELE]), alleles.encode(rows[C.OTHER_ALLELE])
    a1_all = alleles.encode_codes(tgt["a1"].cat.codes.to_numpy())
    a2_all = alleles.encode_codes(tgt["a2"].cat.codes.to_numpy())
    match_type = _match_type(
        alleles, ea_all[cand_row], oa_all[cand_row], a1_all[cand_t], a2_all[cand_t],
        options.allow_flips,
    )  # fmt: skip
    ok = match_type > 0
    cand_row, cand_t, match_type = cand_row[ok], cand_t[ok], match_type[ok]
    target_index = tgt["target_index"].to_numpy()[cand_t]
    priority = (match_type >= FLIPPED).astype(np.int8)
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
    ambiguous = alleles.ambiguous(ea_all, oa_all)
    code = np.where(has, MATCHED, np.where(located, ALLELE_MISMATCH, ABSENT)).astype(np.int8)
    if not options.keep_ambiguous:
        # located but strand-ambiguous: excluded whether or not the alleles line up (as pgsc_calc counts)
        code[(code != ABSENT) & ambiguous] = EXCLUDED_AMBIGUOUS
    t_values = np.zeros(n, dtype=np.int64)
    t_values[has] = target_index[chosen[has]]
    t_index = pd.array(t_values, dtype="Int64")
    t_index[~has] = pd.NA
    code[(code == MATCHED) & _repeated(t_values, has)] = DUPLICATE
    t_row = np.full(n, -1, dtype=np.int64)
    t_row[has] = cand_t[chosen[has]]
    t_id = _take_strings(tgt["t_id"], t_row)
    type_code = np.zeros(n, dtype=np.int8)
    type_code[has] = match_type[chosen[has]]
    type_code[code != MATCHED] = 0

    report = rows.copy()
    report.insert(0, "pgs_id", score.pgs_id)
    report["target_index"] = t_index
    report["target_id"] = t_id
    report["match_type"] = TYPE_NAMES[type_code]
    report["match_status"] = STATUS_NAMES[code]
    report["is_ambiguous"] = ambiguous
    check_overlap(report, score, options.min_overlap)
    return report


def _repeated(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """True where ``mask`` and an earlier masked entry has the same value."""
    out = np.zeros(len(values), dtype=bool)
    where = np.flatnonzero(mask)
    _, first = np.unique(values[where], return_index=True)
    out[where] = True
    out[where[first]] = False
    return out


def _take_strings(values: pd.Series, index: np.ndarray) -> pd.Series:
    """``values`` (Arrow text) at ``index``; missing where ``index`` is -1."""
    taken = pa.array(values.array).take(pa.array(index, mask=index < 0))
    return pd.Series(pd.arrays.ArrowStringArray(taken.cast(pa.large_string())))


def _position_keys(chrom_codes: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """One int64 per (chromosome code, position); code -1 (unknown) gives a negative key."""
    return chrom_codes.astype(np.int64) * (1 << 32) + pos


def _position_candidates(rows: pd.DataFrame, tgt: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(score row, prepared-target row) for every target variant at a row's chromosome and
    position (several at a multi-allelic site); rows without a position have none."""
    has_pos = rows[C.CHR_POSITION].notna().to_numpy()
    r = np.flatnonzero(has_pos)
    row_codes, names = pd.factorize(rows[C.CHR_NAME])  # a missing name: -1, no chromosome
    lookup = np.append(tgt["t_chrom"].cat.categories.get_indexer(names), -1)
    codes = lookup[row_codes[r]]
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
    pgs_codes, ids = pd.factorize(report["pgs_id"])
    ids = pd.Index(ids, name="pgs_id")
    out = pd.DataFrame(
        {"pgs_id": ids, "n_variants": np.bincount(pgs_codes, minlength=len(ids)).astype(np.int64)}
    )
    for prefix, column, labels in (("", "match_status", STATUSES),
                                   ("type_", "match_type", tuple(MATCH_PRIORITY))):  # fmt: skip
        counts = _crosstab(pgs_codes, len(ids), report[column], labels)
        for k, label in enumerate(labels):
            out[f"{prefix}{label}"] = counts[:, k]
    out["match_rate"] = out["matched"] / out["n_variants"].clip(lower=1)
    return out if dropped is None else mark_scored(out, dropped)


def mark_scored(summary: pd.DataFrame, dropped: dict[str, str]) -> pd.DataFrame:
    """The summary with ``scored`` and ``reason`` columns (``dropped``: pgs_id -> reason)."""
    out = summary.copy()
    out["scored"] = ~out["pgs_id"].isin(list(dropped))
    out["reason"] = out["pgs_id"].map(dropped).fillna("")
    return out


def _crosstab(
    groups: np.ndarray, n_groups: int, values: pd.Series, labels: tuple[str, ...]
) -> np.ndarray:
    """(n_groups, len(labels)) counts of each label per group code; other values not counted."""
    codes = pd.Categorical(values, categories=list(labels)).codes.astype(np.int64)
    keep = codes >= 0
    flat = groups[keep] * len(labels) + codes[keep]
    counts = np.bincount(flat, minlength=n_groups * len(labels))
    return counts.reshape(n_groups, len(labels)).astype(np.int64)


def check_build(score: ScoringFile, target_build: str) -> None:
    """Fail when the scoring file states a build other than the target's."""
    from igs.errors import InputFormatError

    if score.genome_build and score.genome_build != target_build:
        raise InputFormatError(
            f"{score.path}: positions are on {score.genome_build} but the target genotypes are on {target_build}. "
            f"Download the harmonised file for {target_build} (PGS Catalog hmPOS_{target_build}) or lift it over."
        )


@dataclass
class AlleleCodes:
    """Integer codes for allele strings: the target's alleles first, then those only a scoring
    file has; ``complement`` gives each code's complement's code, ``length`` its length.

    Comparing small integers is much faster than comparing millions of strings: each column is
    factorised (in Arrow for Arrow text), then only its few distinct alleles are looked up.
    A missing allele gets its own code, equal to no allele.
    """

    vocab: dict[str, int]

    @classmethod
    def of(cls, target_alleles: pd.Index) -> AlleleCodes:
        return cls({str(a): i for i, a in enumerate(target_alleles)})

    def _code(self, allele: object) -> int:
        return self.vocab.setdefault(str(allele), len(self.vocab))

    def encode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Target categorical codes (the vocabulary's first entries; -1 missing) as codes."""
        out = codes.astype(np.int64)
        out[out < 0] = self._code(MISSING_ALLELE)
        return out

    def encode(self, alleles: pd.Series) -> np.ndarray:
        codes, names = pd.factorize(alleles)
        lookup = np.array([self._code(a) for a in names] + [self._code(MISSING_ALLELE)])
        return lookup[codes]

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(complement code, length) of every code; the vocabulary grows to hold complements."""
        for a in list(self.vocab):
            self._code(a.translate(COMPLEMENT))
        complement = np.array([self.vocab[a.translate(COMPLEMENT)] for a in self.vocab])
        length = np.array([len(a) for a in self.vocab], dtype=np.int64)
        return complement.astype(np.int64), length

    def ambiguous(self, ea: np.ndarray, oa: np.ndarray) -> np.ndarray:
        """Strand-ambiguous rows: a single-base effect allele whose complement is the other."""
        complement, length = self.tables()
        return (complement[ea] == oa) & (length[ea] == 1)


def _match_type(
    alleles: AlleleCodes,
    ea: np.ndarray,
    oa: np.ndarray,
    a1: np.ndarray,
    a2: np.ndarray,
    allow_flips: bool,
) -> np.ndarray:
    """The code in ``TYPE_NAMES`` of each candidate's match type (0: the alleles differ)."""
    complement, length = alleles.tables()
    no_other = length[oa] == 0
    out = np.zeros(len(ea), dtype=np.int8)
    flip_ea, flip_oa = complement[ea], complement[oa]
    if allow_flips:
        out[(flip_ea == a2) & ((flip_oa == a1) | no_other)] = FLIPPED_SWAPPED
        out[(flip_ea == a1) & ((flip_oa == a2) | no_other)] = FLIPPED
    out[(ea == a2) & ((oa == a1) | no_other)] = SWAPPED
    out[(ea == a1) & ((oa == a2) | no_other)] = EXACT
    return out
