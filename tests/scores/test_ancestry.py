"""Ancestry adjustment of scores and PCA projection: statsmodels as the GLM oracle, planted
ancestry effects, the QC run's own PCs, and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from igs.errors import IGSError, MatchRateError
from igs.io import plink
from igs.io.tables import read_tsv
from igs.qc.pca import project_samples
from igs.scores import compute_scores, match_variants, read_scoring_file, score_weights
from igs.scores.ancestry import (
    adjust_scores,
    empirical_percentile,
    fit_gamma_log_glm,
)
from tests.conftest import run_igs


def planted(n: int = 3000, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores whose mean and SD depend on the PCs, as allele-frequency differences make them."""
    rng = np.random.default_rng(seed)
    pcs = rng.normal(size=(n, 4))
    mean = 2.0 + 1.5 * pcs[:, 0] - 0.7 * pcs[:, 1]
    sd = np.exp(0.4 * pcs[:, 0] + 0.2 * pcs[:, 2])
    score = mean + sd * rng.normal(size=n)
    iid = [f"s{i}" for i in range(n)]
    pcs_df = pd.DataFrame(pcs, columns=[f"PC{i}" for i in range(1, 5)]).assign(IID=iid)
    return pd.DataFrame({"IID": iid, "pgs_id": "P1", "SUM": score}), pcs_df


def test_gamma_glm_equals_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(2000), rng.normal(size=(2000, 3))])
    y = rng.gamma(2.0, np.exp(x @ [0.3, 0.5, -0.2, 0.1]) / 2.0)
    theirs = sm.GLM(y, x, family=sm.families.Gamma(sm.families.links.Log())).fit(tol=1e-12)
    np.testing.assert_allclose(fit_gamma_log_glm(x, y), theirs.params, rtol=1e-7, atol=1e-9)


def test_planted_ancestry_effects_are_removed():
    scores, pcs = planted()
    adjusted, (fit,) = adjust_scores(scores, pcs, n_pcs=4)
    x = pcs[[f"PC{i}" for i in range(1, 5)]].to_numpy()
    # the planted mean and log-SD effects are recovered
    np.testing.assert_allclose(fit.mean_coef, [2.0, 1.5, -0.7, 0.0, 0.0], atol=0.08)
    np.testing.assert_allclose(np.array(fit.var_coef[1:]) / 2, [0.4, 0.0, 0.2, 0.0], atol=0.06)
    raw_corr = abs(np.corrcoef(scores["SUM"], x[:, 0])[0, 1])
    assert raw_corr > 0.5
    for col in ("Z_norm1", "Z_norm2"):
        assert abs(np.corrcoef(adjusted[col], x[:, 0])[0, 1]) < 0.02
    # mean+var: the spread no longer depends on PC1 (compare the PC1 tails)
    z = adjusted["Z_norm2"].to_numpy()
    low, high = x[:, 0] < -1, x[:, 0] > 1
    assert abs(z[low].std() - z[high].std()) < 0.1 and abs(z.std() - 1) < 0.05
    z1 = adjusted["Z_norm1"].to_numpy()
    assert z1[high].std() / z1[low].std() > 2  # mean-only adjustment keeps the planted spread
    # percentiles of Z_norm2 within the reference (here the samples themselves) are uniform
    pct = adjusted["percentile"].to_numpy()
    assert pct.min() > 0 and pct.max() == 100
    np.testing.assert_allclose(np.sort(pct), 100 * np.arange(1, len(pct) + 1) / len(pct))


def test_reference_panel_fit_applies_to_targets():
    ref_scores, ref_pcs = planted(seed=2)
    scores, pcs = planted(n=500, seed=4)
    own, _ = adjust_scores(scores, pcs)
    via_ref, (fit,) = adjust_scores(scores, pcs, reference_scores=ref_scores, reference_pcs=ref_pcs)
    assert fit.n_reference == 3000
    assert np.corrcoef(own["Z_norm2"], via_ref["Z_norm2"])[0, 1] > 0.98
    assert not np.allclose(own["Z_norm2"], via_ref["Z_norm2"])


def test_empirical_percentile():
    assert empirical_percentile(np.array([1.0, 2, 3, 4]), np.array([0.0, 2, 2.5, 9])).tolist() == [
        0.0,
        50.0,
        50.0,
        100.0,
    ]


def test_small_cohort_scores_by_ancestry(small_cohort, small_scoring_files, qc_run, tmp_path):
    """QC'd samples of three simulated populations: the raw score differs between groups,
    the adjusted one does not; projection onto the saved loadings reproduces the QC PCs."""
    result, out = qc_run
    gset = plink.open_genotypes(out / "genotypes")
    report = match_variants(
        read_scoring_file(small_scoring_files / "IGS_SIM_CAD.txt.gz"), gset.variants
    )
    scores = compute_scores(gset, score_weights([report], gset.n_variants))
    pcs = pd.read_csv(out / "pcs.tsv", sep="\t")
    pcs = pcs[pcs["pca_fit"]]  # the QC'd genotypes hold only the people who pass QC
    groups = result.samples.set_index("IID")["ancestry_group"]
    adjusted, _ = adjust_scores(scores, pcs, n_pcs=4, groups=groups.dropna())
    by_group = adjusted.groupby("ancestry_group")
    raw_means = by_group["Z_raw"].mean()
    adj_means = by_group["Z_norm2"].mean()
    assert raw_means.max() - raw_means.min() > 0.5  # allele frequencies differ between populations
    assert (adj_means.abs() < 0.2).all()
    assert by_group["percentile_in_group"].max().eq(100).all()

    projected = project_samples(
        gset, read_tsv(out / "pca_loadings.tsv.gz", dtypes={"chrom": "string"})
    )
    mine = projected.set_index("IID").loc[pcs["IID"], ["PC1", "PC2", "PC3"]].to_numpy()
    np.testing.assert_allclose(mine, pcs[["PC1", "PC2", "PC3"]].to_numpy(), atol=2e-4)


def test_projection_needs_the_pca_variants(qc_run):
    _, out = qc_run
    gset = plink.open_genotypes(out / "genotypes")
    loadings = read_tsv(out / "pca_loadings.tsv.gz", dtypes={"chrom": "string"})
    with pytest.raises(MatchRateError, match="PCA variants"):
        project_samples(gset, loadings.assign(pos=loadings["pos"] + 1))
    swapped = loadings.rename(columns={"a1": "a2", "a2": "a1"})
    swapped["a1_freq"] = 1 - swapped["a1_freq"]
    swapped[[c for c in loadings if c.startswith("PC")]] *= -1
    np.testing.assert_allclose(
        project_samples(gset, swapped)[["PC1", "PC2"]],
        project_samples(gset, loadings)[["PC1", "PC2"]],
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s, p: (s, p.drop(columns="PC3")), r"the PC table has no column\(s\) PC3"),
        (lambda s, p: (s, p.iloc[:-5]), r"reference sample\(s\) have no PCs"),
        (lambda s, p: (s.iloc[:40], p), "reference samples are too few to adjust for"),
        (lambda s, p: (s.assign(SUM=1.0), p), "the score is constant in the reference"),
    ],
    ids=["missing-pc-column", "samples-without-pcs", "too-few-reference", "constant-score"],
)
def test_bad_adjustment_inputs(change, message):
    scores, pcs = change(*planted(n=600))
    with pytest.raises(IGSError, match=message):
        adjust_scores(scores, pcs, n_pcs=4)


def test_cli_adjust(tmp_path):
    scores, pcs = planted(n=400)
    scores.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    pcs.to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    out, models = tmp_path / "adj.tsv.gz", tmp_path / "m.json"
    proc = run_igs("scores", "adjust", "--scores", str(tmp_path / "s.tsv"), "--pcs", str(tmp_path / "p.tsv"),
                   "--out", str(out), "--models", str(models))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns[:3]) == ["IID", "pgs_id", "SUM"] and len(table) == 400
    assert json.loads(models.read_text())[0]["n_pcs"] == 4
    proc = run_igs("scores", "adjust", "--scores", str(tmp_path / "s.tsv"), "--pcs", str(tmp_path / "p.tsv"),
                   "--n-pcs", "6", "--out", str(out), "--models", str(models))  # fmt: skip
    assert proc.returncode == 3 and "PC5" in proc.stderr


def test_without_pcs_the_adjustment_is_skipped_with_a_note(tmp_path):
    """qc.source none: no PC columns; Z_raw and its percentile by hand, Z_norm missing."""
    from igs.scores.run import adjust_files

    scores, pcs = planted(n=50)
    scores.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    pcs[["IID"]].to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    adjust_files(tmp_path / "s.tsv", tmp_path / "p.tsv", tmp_path / "a.tsv.gz",
                 tmp_path / "m.json", n_pcs=4)  # fmt: skip
    table = pd.read_csv(tmp_path / "a.tsv.gz", sep="\t")
    x = scores["SUM"].to_numpy()
    np.testing.assert_allclose(table["Z_raw"], (x - x.mean()) / x.std(ddof=1))
    np.testing.assert_allclose(table["percentile"], [100 * (x <= v).mean() for v in x])
    assert table[["Z_norm1", "Z_norm2"]].isna().all().all()
    assert "ancestry adjustment skipped" in json.loads((tmp_path / "m.json").read_text())["skipped"]


def test_z_raw_needs_two_reference_scores():
    from igs.errors import ModelError
    from igs.scores.ancestry import skip_adjustment

    scores, _ = planted(n=1)
    with pytest.raises(ModelError, match=r"Z_raw needs at least 2"):
        skip_adjustment(scores)
