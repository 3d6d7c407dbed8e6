"""The scores stage on files: match scoring files, compute the scores, adjust them for ancestry."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from igs.errors import ConfigError, InputFormatError
from igs.io.atomic import atomic_path
from igs.io.tables import TsvWriter, read_tsv, write_tsv
from igs.scores.match import MatchOptions

log = logging.getLogger(__name__)
PathLike = str | os.PathLike[str]


def target_variants(
    prefix: str, fmt: str, hail_config: dict[str, Any] | None = None
) -> pd.DataFrame:
    """The variants of a genotype fileset (VCF/BGEN listed through Hail)."""
    if fmt in ("vcf", "bgen"):
        from igs.scores.hail_engine import hail_target_variants

        return hail_target_variants(prefix, fmt, hail_config or {})
    from igs.io.plink import open_genotypes

    return open_genotypes(prefix, fmt).variants  # type: ignore[arg-type]


def match_files(
    variants: pd.DataFrame,
    scoring_files: list[str],
    genome_build: str,
    options: MatchOptions,
    report: PathLike,
    summary: PathLike,
) -> None:
    """Match each scoring file to the target; one report row per scoring-file row, and a
    per-score summary. One scoring file is in memory at a time; pgs_ids must be unique."""
    from igs.scores.match import check_build, match_variants, prepare_target, summarise_matches
    from igs.scores.scorefile import read_scoring_file

    seen: dict[str, str] = {}
    summaries = []
    prepared = prepare_target(variants, options)
    with atomic_path(Path(report)) as tmp, TsvWriter(tmp, gzipped=True) as out:
        for path in scoring_files:
            score = read_scoring_file(path)
            if score.pgs_id in seen:
                raise InputFormatError(
                    f"two scoring files share a pgs_id: {score.pgs_id!r} ({seen[score.pgs_id]} and {path})."
                )
            seen[score.pgs_id] = path
            check_build(score, genome_build)
            part = match_variants(score, variants, options, prepared)
            n_matched = int((part["match_status"] == "matched").sum())
            log.info("%s: %d of %d variants matched", score.pgs_id, n_matched, len(part))
            summaries.append(summarise_matches(part))
            out.write(part)
            del score, part  # before the next file is read
    with atomic_path(Path(summary)) as tmp:
        pd.concat(summaries, ignore_index=True).to_csv(tmp, sep="\t", index=False)


def compute_files(
    prefix: str,
    fmt: str,
    report: PathLike,
    out: PathLike,
    *,
    engine: str = "local",
    mean_impute: bool = True,
    dosage_sums: bool = False,
    chunk_variants: int = 8192,
    hail_config: dict[str, Any] | None = None,
) -> None:
    """Every matched score for every sample in one pass (plink2 --score semantics)."""
    from igs.scores.engine import REPORT_COLUMNS_FOR_SCORING, compute_scores, score_weights

    if engine == "local" and fmt not in ("bed", "pgen"):
        raise ConfigError(f"the local engine reads bed or pgen, not {fmt}; use --engine hail.")
    full = read_tsv(
        report, columns=REPORT_COLUMNS_FOR_SCORING, dtypes={"pgs_id": "string"}, categorical=True
    )
    reports = [r for _, r in full.groupby("pgs_id", sort=False, observed=True)]
    if engine == "hail":
        from igs.scores.hail_engine import compute_scores_hail

        n_target = int(full["target_index"].max()) + 1 if full["target_index"].notna().any() else 0
        result = compute_scores_hail(
            prefix, fmt, score_weights(reports, n_target), mean_impute=mean_impute,
            dosage_sums=dosage_sums, hail_config=hail_config or {},
        )  # fmt: skip
    else:
        from igs.io.plink import open_genotypes

        gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
        result = compute_scores(
            gset, score_weights(reports, gset.n_variants), mean_impute=mean_impute,
            chunk_variants=chunk_variants, dosage_sums=dosage_sums,
        )  # fmt: skip
    with atomic_path(Path(out)) as tmp:
        write_tsv(result, tmp, gzipped=True)


def adjust_files(
    scores: PathLike,
    pcs: PathLike,
    out: PathLike,
    models: PathLike,
    *,
    n_pcs: int,
    sample_qc: PathLike | None = None,
    reference_scores: PathLike | None = None,
    reference_pcs: PathLike | None = None,
) -> None:
    """Ancestry-adjusted scores (Z-scores, mean and mean+variance PC regressions, percentiles)
    and the fitted adjustment models as JSON."""
    from igs.scores.ancestry import adjust_scores

    if (reference_scores is None) != (reference_pcs is None):
        raise ConfigError("--reference-scores and --reference-pcs go together.")
    read = lambda p: read_tsv(p, dtypes={"IID": "string"}) if p else None  # noqa: E731
    groups = None
    if sample_qc is not None:
        qc = read(sample_qc)
        passed = qc[qc["qc_fail"].isna() | (qc["qc_fail"] == "")] if "qc_fail" in qc else qc
        groups = pd.Series(passed["ancestry_group"].to_numpy(), index=passed["IID"].astype(str))
    adjusted, fits = adjust_scores(
        read(scores), read(pcs), n_pcs=n_pcs, reference_scores=read(reference_scores),
        reference_pcs=read(reference_pcs), groups=groups,
    )  # fmt: skip
    with atomic_path(Path(out)) as tmp:
        write_tsv(adjusted, tmp, gzipped=True)
    with atomic_path(Path(models)) as tmp:
        tmp.write_text(json.dumps([f.to_dict() for f in fits], indent=2) + "\n")
