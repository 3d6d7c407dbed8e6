"""Ancestry against a shared reference panel (``scores.ancestry_reference``): 1000 Genomes split
into a labelled reference and a held-out "biobank" (the panel's super-populations are the
truth), statsmodels OLS as the oracle of the adjustment fitted on the reference, and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from igs.errors import IGSError, InputFormatError, MatchRateError
from igs.io import plink
from igs.scores.reference import (
    ReferenceOptions,
    fit_reference_pca,
    project_parts,
    read_population_labels,
)
from tests.conftest import G1000, require_tool, run_igs, run_tool, write_fileset

VCF = G1000 / "tests/data/vcf/PGS000586_GRCh38.vcf.gz"
PANEL = G1000 / "populations/integrated_call_samples_v3.20130502.ALL.panel"
SCORE = G1000 / "tests/data/PGS000586_hmPOS_GRCh38.txt.gz"
needs_1000g = pytest.mark.skipif(
    not PANEL.is_file(), reason="../shared/oracle/1000g_pgs000586 is absent"
)


@pytest.fixture(scope="module")
def split_1000g(tmp_path_factory):
    """1000G: 80% of the panel's labelled samples are the reference (bed, labels given), the
    rest and the unlabelled samples the biobank (pgen); the workflow's commands run on them."""
    plink2 = require_tool("plink2")
    d = tmp_path_factory.mktemp("ref1000g")
    panel = pd.read_csv(PANEL, sep=r"\s+", dtype=str)
    in_vcf = set(plink.open_genotypes(VCF, "vcf").samples["IID"])
    panel = panel[panel["sample"].isin(in_vcf)].reset_index(drop=True)
    held = np.random.default_rng(7).random(len(panel)) < 0.2
    panel[~held][["sample", "pop", "super_pop"]].to_csv(d / "labels.tsv", sep="\t", index=False)
    panel.loc[~held, ["sample"]].to_csv(d / "ref_ids.txt", header=False, index=False)
    vcf = ["--vcf", str(VCF), "--set-all-var-ids", "@:#:$r:$a", "--new-id-max-allele-len", "100"]
    # the reference lacks every 10th variant: those are not scored in the biobank either
    ids = plink.open_genotypes(VCF, "vcf").variants["id"]
    ids.iloc[::10].to_csv(d / "not_in_ref.txt", header=False, index=False)
    run_tool([plink2, *vcf, "--keep", "ref_ids.txt", "--exclude", "not_in_ref.txt",
              "--make-bed", "--out", "ref"], d)  # fmt: skip
    run_tool([plink2, *vcf, "--remove", "ref_ids.txt", "--make-pgen", "--out", "bb"], d)
    match = ["scores", "match", "--genotypes", "bb", "--format", "pgen", "--genome-build", "GRCh38"]
    steps = [
        [*match, "--report", "all_report.tsv.gz", "--summary", "all_summary.tsv", str(SCORE)],
        [*match, "--reference", "ref", "--report", "report.tsv.gz", "--summary", "summary.tsv",
         str(SCORE)],
        ["scores", "compute", "--genotypes", "bb", "--format", "pgen", "--report", "report.tsv.gz",
         "--out", "scores.tsv.gz"],
        ["scores", "reference", "--reference", "ref", "--populations", "labels.tsv",
         "--target", "bb", "--target-format", "pgen", "--report", "report.tsv.gz",
         "--genome-build", "GRCh38", "--out-pcs", "ref_pcs.tsv", "--out-loadings",
         "ref_loadings.tsv.gz", "--out-scores", "ref_scores.tsv.gz", "--out-projected",
         "projected.tsv", "--out-summary", "ref_summary.json", str(SCORE)],
        ["scores", "adjust", "--scores", "scores.tsv.gz", "--pcs", "projected.tsv",
         "--reference-scores", "ref_scores.tsv.gz", "--reference-pcs", "ref_pcs.tsv",
         "--out", "adjusted.tsv.gz", "--models", "models.json"],
    ]  # fmt: skip
    for args in steps:
        proc = run_igs(*args, cwd=d)
        assert proc.returncode == 0, f"igs {' '.join(args[:2])}: {proc.stderr}"
    truth = panel[held].set_index("sample")["super_pop"]
    return d, truth


@needs_1000g
def test_held_out_1000g_population_and_reference_z(split_1000g):
    d, truth = split_1000g
    adjusted = pd.read_csv(d / "adjusted.tsv.gz", sep="\t", dtype={"IID": str})
    summary = json.loads((d / "ref_summary.json").read_text())
    assert summary["n_reference_samples"] == len(pd.read_csv(d / "labels.tsv", sep="\t"))
    assert summary["population_counts"].keys() == {"AFR", "AMR", "EAS", "EUR", "SAS"}
    # the biobank scores only variants the reference has, and the reference the same ones
    assert summary["scores"]["PGS000586"]["matched_target_only"] == 0
    matched = pd.read_csv(d / "summary.tsv", sep="\t").iloc[0]
    every = pd.read_csv(d / "all_summary.tsv", sep="\t").iloc[0]
    assert summary["scores"]["PGS000586"]["matched_both"] == matched["matched"]
    assert matched["not_in_reference"] == every["matched"] - matched["matched"] > 50
    report = pd.read_csv(d / "report.tsv.gz", sep="\t")
    dropped = report.loc[report["match_status"] == "not_in_reference", "target_id"]
    assert set(dropped) <= set((d / "not_in_ref.txt").read_text().split())
    # every biobank person (held-out and the panel's unlabelled) has a row and a population
    assert len(adjusted) == len(plink.open_genotypes(d / "bb", "pgen").samples)
    assert adjusted["most_similar_population"].notna().all()
    p = adjusted["most_similar_population_probability"]
    assert ((p > 0.2) & (p <= 1)).all()

    held = adjusted.set_index("IID").loc[truth.index]
    agree = (held["most_similar_population"] == truth).mean()
    assert agree > 0.95, f"{agree:.3f} of held-out samples get their panel super-population"
    # within each true population, Z relative to the reference population (empirical) and the
    # mean+variance adjustment fitted on the reference are centred with unit spread
    # (means within 4 standard errors of 0: sampling of the ~100 held-out people and of the
    # reference population; SDs within about 4 standard errors, sd / sqrt(2n), of 1)
    by_pop = held.assign(truth=truth).groupby("truth")
    n_ref = pd.read_csv(d / "ref_pcs.tsv", sep="\t")["population"].value_counts()
    se = np.sqrt(1 / by_pop.size() + 1 / n_ref.reindex(by_pop.size().index))
    for col in ("Z_most_similar_population", "Z_norm2"):
        mean, sd = by_pop[col].mean(), by_pop[col].std()
        assert (mean.abs() < 4 * se).all(), (col, mean.to_dict())
        assert ((sd > 0.75) & (sd < 1.3)).all(), (col, sd.to_dict())
    assert by_pop["Z_raw"].mean().max() - by_pop["Z_raw"].mean().min() > 0.5  # raw score differs
    pct = held["percentile_most_similar_population"]
    assert pct.between(0, 100).all() and abs(pct.mean() - 50) < 5


@needs_1000g
def test_reference_adjustment_equals_statsmodels_ols(split_1000g):
    sm = pytest.importorskip("statsmodels.api")
    d, _ = split_1000g
    ref_pcs = pd.read_csv(d / "ref_pcs.tsv", sep="\t", dtype={"IID": str})
    ref_scores = pd.read_csv(d / "ref_scores.tsv.gz", sep="\t", dtype={"IID": str})
    (fit,) = json.loads((d / "models.json").read_text())
    assert fit["n_reference"] == len(ref_pcs) == len(ref_scores)
    data = ref_scores.merge(ref_pcs, on="IID")
    x = sm.add_constant(data[[f"PC{i}" for i in range(1, fit["n_pcs"] + 1)]].to_numpy())
    ols = sm.OLS(data["SUM"].to_numpy(), x).fit()
    np.testing.assert_allclose(fit["mean_coef"], ols.params, rtol=1e-6, atol=1e-10)
    assert fit["residual_sd"] == pytest.approx(np.std(ols.resid, ddof=1), rel=1e-8)
    glm = sm.GLM(ols.resid**2, x, family=sm.families.Gamma(sm.families.links.Log())).fit(tol=1e-12)
    np.testing.assert_allclose(fit["var_coef"], glm.params, rtol=1e-5, atol=1e-8)


@needs_1000g
def test_projection_puts_reference_samples_on_their_own_pcs(split_1000g, tmp_path):
    """The plain-loadings projection of a reference sample is its own PCA score."""
    d, _ = split_1000g
    loadings = pd.read_csv(d / "ref_loadings.tsv.gz", sep="\t", dtype={"chrom": str})
    own = pd.read_csv(d / "ref_pcs.tsv", sep="\t", dtype={"IID": str}).set_index("IID")
    projected = project_parts([plink.open_genotypes(d / "ref")], loadings).set_index("IID")
    cols = [c for c in own.columns if c.startswith("PC")]
    np.testing.assert_allclose(projected.loc[own.index, cols], own[cols], atol=1e-5)


def test_population_table_errors(tmp_path):
    with pytest.raises(
        InputFormatError, match=r"the population table \(population labels\) does not exist"
    ):
        read_population_labels(tmp_path / "none.tsv", "super_pop")
    (tmp_path / "a.tsv").write_text("person\tsuper_pop\nx\tEUR\n")
    with pytest.raises(InputFormatError, match="the population table has no sample ID column"):
        read_population_labels(tmp_path / "a.tsv", "super_pop")
    (tmp_path / "b.tsv").write_text("sample\tpop\nx\tGBR\n")
    with pytest.raises(InputFormatError, match="the population table has no column 'super_pop'"):
        read_population_labels(tmp_path / "b.tsv", "super_pop")
    assert read_population_labels(tmp_path / "b.tsv", "pop").to_dict() == {"x": "GBR"}
    (tmp_path / "c.tsv").write_text("sample pop\nx Han/Chinese\ny GBR\n")
    with pytest.raises(InputFormatError, match=r"population label\(s\) 'Han/Chinese' in column 'pop' hold characters other than"):  # fmt: skip
        read_population_labels(tmp_path / "c.tsv", "pop")


def tiny_reference(tmp_path, *, n=60, k=80, pos_shift=0):
    rng = np.random.default_rng(0)
    g = rng.binomial(2, 0.4, size=(k, n)).astype(np.int8)
    write_fileset(tmp_path / "ref", g)
    gset = plink.open_genotypes(tmp_path / "ref")
    target = gset.variants.assign(pos=gset.variants["pos"] + pos_shift)
    labels = pd.Series(["A", "B"] * (n // 2), index=gset.samples["IID"].to_numpy())
    return gset, target, labels


def test_reference_pca_input_errors(tmp_path):
    gset, target, labels = tiny_reference(tmp_path, pos_shift=1)
    with pytest.raises(
        MatchRateError,
        match="no autosomal variant of the reference panel is in the biobank's genotypes",
    ):
        fit_reference_pca(gset, labels, [target])
    gset, target, labels = tiny_reference(tmp_path)
    with pytest.raises(InputFormatError, match="has a label in the population table"):
        fit_reference_pca(gset, labels.set_axis([f"x{i}" for i in range(len(labels))]), [target])
    with pytest.raises(
        MatchRateError, match="variants shared with the biobank are left for the reference PCA"
    ):
        fit_reference_pca(gset, labels, [target], ReferenceOptions(min_variants=1000))
    pca = fit_reference_pca(gset, labels, [target], ReferenceOptions(n_pcs=3))
    with pytest.raises(MatchRateError, match="reference PCA variants"):
        project_parts([gset], pca.loadings.assign(pos=pca.loadings["pos"] + 1))
    write_fileset(tmp_path / "other", np.zeros((5, 4), dtype=np.int8), iids=["a", "b", "c", "d"])
    with pytest.raises(InputFormatError, match="its samples differ from those of"):
        project_parts([gset, plink.open_genotypes(tmp_path / "other")], pca.loadings)


def test_cli_reference_errors(tmp_path):
    tiny_reference(tmp_path)
    (tmp_path / "report.tsv").write_text("pgs_id\trow\tmatch_status\nPGS1\t0\tmatched\n")
    (tmp_path / "labels.tsv").write_text(
        "IID\tsuper_pop\n" + "".join(f"s{i}\tA\n" for i in range(60))
    )
    common = ["scores", "reference", "--reference", str(tmp_path / "ref"), "--populations",
              str(tmp_path / "labels.tsv"), "--target", str(tmp_path / "ref"), "--report",
              str(tmp_path / "report.tsv"), "--genome-build", "GRCh38"]  # fmt: skip
    outs = [f"--out-{k}" for k in ("pcs", "loadings", "scores", "projected", "summary")]
    out_args = [a for o in outs for a in (o, str(tmp_path / o[6:]))]
    scoring = tmp_path / "s.txt"
    scoring.write_text(
        "#pgs_id=OTHER\nchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n1\t1\tA\tC\t0.1\n"
    )
    proc = run_igs(*common, *out_args, str(scoring))
    assert proc.returncode == 3, proc.stderr
    assert "no score of the biobank's match report is in the scoring files given" in proc.stderr
    proc = run_igs(*common, "--target-sample", str(tmp_path / "labels.tsv"), "--target",
                   str(tmp_path / "ref"), *out_args, str(scoring))  # fmt: skip
    assert proc.returncode == 2 and "give one --target-sample for each --target" in proc.stderr


def test_classifier_needs_the_pcs():
    from igs.scores.reference import classify_populations

    ref = pd.DataFrame({"IID": ["a", "b"], "population": ["X", "Y"], "PC1": [0.0, 1.0]})
    with pytest.raises(IGSError, match=r"the biobank PC table has no column\(s\) PC2"):
        classify_populations(ref.assign(PC2=0.0), ref[["IID", "PC1"]], n_pcs=2)


def test_simulated_populations_are_recognised(small_universe, small_cohort, tmp_path):
    """Planted truth without ../shared: the small simulated cohort (three populations, labels
    from its truth table, chrX variants present) is the reference; another cohort from the same
    universe is the biobank, and its people are assigned their simulated population."""
    from igs.scores.reference import classify_populations
    from igs.simulate import CohortSpec, simulate_cohort

    labels = read_population_labels(small_cohort / "truth_samples.tsv.gz", "population")
    spec = CohortSpec(name="bb", n_samples=300, seed=9, ancestry_proportions=(0.4, 0.3, 0.3))
    simulate_cohort(small_universe, spec, tmp_path / "bb", chunk_variants=700)
    ref = plink.open_genotypes(small_cohort / "genotypes")
    bb = plink.open_genotypes(tmp_path / "bb" / "genotypes")
    pca = fit_reference_pca(ref, labels, [bb.variants], ReferenceOptions(n_pcs=4))
    assert pca.loadings["chrom"].isin(["1", "2", "3"]).all()  # autosomes only
    assert len(pca.pcs) == len(labels) == ref.n_samples
    projected = project_parts([bb], pca.loadings)
    predicted = classify_populations(pca.pcs, projected, n_pcs=2).set_index("IID")
    truth = read_population_labels(tmp_path / "bb" / "truth_samples.tsv.gz", "population")
    agree = (predicted["most_similar_population"] == truth.reindex(predicted.index)).mean()
    assert agree > 0.95, agree


@needs_1000g
def test_projection_sums_over_chromosome_files(split_1000g, tmp_path):
    """The biobank as one VCF per autosome (the workflow's {chrom} parts) lands where the same
    people land from the pgen fileset: the projection is a sum over variants."""
    from tests.scores.dosage_files import split_vcf_by_chromosome

    d, _ = split_1000g
    loadings = pd.read_csv(d / "ref_loadings.tsv.gz", sep="\t", dtype={"chrom": str})
    parts = split_vcf_by_chromosome(VCF, tmp_path)
    assert len(parts) > 10
    by_part = project_parts([plink.open_genotypes(p, "vcf") for p in parts.values()], loadings)
    whole = pd.read_csv(d / "projected.tsv", sep="\t", dtype={"IID": str}).set_index("IID")
    cols = [c for c in whole.columns if c.startswith("PC")]
    np.testing.assert_allclose(
        by_part.set_index("IID").loc[whole.index, cols], whole[cols], atol=1e-6
    )
