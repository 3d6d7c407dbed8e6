"""Property tests of the scoring engine (hypothesis): what must hold for any genotypes and weights.

- a score is linear in its weights;
- naming the other allele as the effect allele and negating the weight changes nothing but a
  constant (``-2 * sum(w)`` per score, with mean imputation), so every centred score is unchanged;
- scoring each chromosome on its own and adding SUM and ALLELE_CT gives the whole-genome score.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from igs.io import plink
from igs.scores import (
    MatchOptions,
    compute_scores,
    match_variants,
    read_scoring_file,
    score_weights,
)

HEADER = "#format_version=2.0\n#pgs_id=PGS_P\n#genome_build=GRCh38\n"
COLUMNS = "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cohorts(draw):
    """(genotypes (variants, samples) int8 with -9 missing, chromosome per variant, weights)."""
    k = draw(st.integers(2, 12))
    n = draw(st.integers(2, 9))
    g = draw(arrays(np.int8, (k, n), elements=st.sampled_from([0, 1, 2, -9])))
    g[:, 0] = np.where(g[:, 0] == -9, 1, g[:, 0])  # every variant has a called genotype
    chroms = np.sort(draw(arrays(np.int64, k, elements=st.integers(1, 3))))
    w = draw(arrays(np.float64, k, elements=st.floats(-3, 3, allow_nan=False, width=32)))
    return g, chroms.astype(str), w


def _fileset(folder: Path, g: np.ndarray, chroms: np.ndarray) -> plink.GenotypeSet:
    k, n = g.shape
    samples = pd.DataFrame(
        {"FID": [f"s{i}" for i in range(n)], "IID": [f"s{i}" for i in range(n)], "sex": 2}
    )
    variants = pd.DataFrame(
        {"chrom": chroms, "id": [f"rs{j}" for j in range(k)], "cm": 0.0,
         "pos": np.arange(1, k + 1) * 100, "a1": "A", "a2": "G"}
    )  # fmt: skip
    with plink.BedWriter(folder / "g.bed", n) as w:
        w.append(g)
    plink.write_bim(folder / "g.bim", variants)
    plink.write_fam(folder / "g.fam", samples)
    return plink.open_genotypes(folder / "g")


def _score(gset, folder: Path, rows: list[tuple], mean_impute: bool = True) -> pd.DataFrame:
    text = (
        HEADER
        + COLUMNS
        + "".join(f"rs{j}\t{c}\t{p}\t{ea}\t{oa}\t{w!r}\n" for j, c, p, ea, oa, w in rows)
    )
    (folder / "s.txt").write_text(text)
    report = match_variants(
        read_scoring_file(folder / "s.txt"), gset.variants, MatchOptions(min_overlap=0.0)
    )
    return compute_scores(gset, score_weights([report], gset.n_variants), mean_impute=mean_impute)


def _rows(chroms, w, swapped=False, sign=1.0):
    ea, oa = ("G", "A") if swapped else ("A", "G")
    return [(j, c, (j + 1) * 100, ea, oa, sign * float(w[j])) for j, c in enumerate(chroms)]


@SETTINGS
@given(cohorts(), st.floats(-4, 4, allow_nan=False), st.booleans())
def test_score_is_linear_in_its_weights(cohort, a, mean_impute):
    g, chroms, w = cohort
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        gset = _fileset(folder, g, chroms)
        base = _score(gset, folder, _rows(chroms, w), mean_impute)["SUM"].to_numpy()
        scaled = _score(gset, folder, _rows(chroms, a * w), mean_impute)["SUM"].to_numpy()
    np.testing.assert_allclose(scaled, a * base, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(cohorts())
def test_swapping_alleles_and_negating_weights_changes_only_a_constant(cohort):
    g, chroms, w = cohort
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        gset = _fileset(folder, g, chroms)
        base = _score(gset, folder, _rows(chroms, w))
        swapped = _score(gset, folder, _rows(chroms, w, swapped=True, sign=-1.0))
    # -w * (2 - d) = w * d - 2w for every variant, imputed ones included (2 - mean = mean of 2 - d)
    np.testing.assert_allclose(swapped["SUM"], base["SUM"] - 2 * w.sum(), rtol=1e-9, atol=1e-9)
    assert (swapped["ALLELE_CT"] == base["ALLELE_CT"]).all()


@SETTINGS
@given(cohorts(), st.booleans())
def test_per_chromosome_scores_sum_to_the_whole(cohort, mean_impute):
    g, chroms, w = cohort
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        gset = _fileset(folder, g, chroms)
        whole = _score(gset, folder, _rows(chroms, w), mean_impute)
        parts = []
        for c in np.unique(chroms):
            rows = [r for r in _rows(chroms, w) if r[1] == c]
            parts.append(_score(gset, folder, rows, mean_impute))
    summed = pd.concat(parts).groupby("IID", sort=False)[["SUM", "ALLELE_CT"]].sum()
    np.testing.assert_allclose(summed.loc[whole["IID"], "SUM"], whole["SUM"], rtol=1e-9, atol=1e-9)
    assert (summed.loc[whole["IID"], "ALLELE_CT"].to_numpy() == whole["ALLELE_CT"].to_numpy()).all()
