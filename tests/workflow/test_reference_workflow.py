"""scores.ancestry_reference in the workflow: the config checks its files, and a dry run scores
only reference variants and adds one scores_reference job per scored biobank whose outputs
scores_adjust fits on."""

from __future__ import annotations

import pytest
import yaml

from igs.config import resolve_config
from igs.errors import ConfigError
from tests.conftest import snakemake


def _inputs(tmp_path):
    for prefix in ("chr1", "chr2", "ref panel"):
        for s in ("bed", "bim", "fam"):
            (tmp_path / f"{prefix}.{s}").write_text("")  # a dry run reads no genotypes
    (tmp_path / "S.txt").write_text(
        "#pgs_id=S\nchr_name\tchr_position\teffect_allele\teffect_weight\n"
    )
    (tmp_path / "labels.tsv").write_text("sample\tsuper_pop\n")
    return {
        "biobanks": [
            {
                "name": "arrays",
                "genotypes": {"path": "chr{chrom}", "format": "bed"},
                "qc": {"source": "none"},  # no PCs of its own: the reference gives them
            }
        ],
        "scores": {
            "scoring_files": ["S.txt"],
            "ancestry_reference": {
                "genotypes": {"path": "ref panel", "format": "bed"},
                "populations": "labels.tsv",
            },
        },
    }


def test_reference_config_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _inputs(tmp_path)
    resolved = resolve_config(cfg)
    assert resolved["scores"]["ancestry_reference"]["population_column"] == "super_pop"
    cfg["scores"]["ancestry_reference"]["populations"] = "none.tsv"
    with pytest.raises(ConfigError, match=r"scores.ancestry_reference: file none.tsv not found"):
        resolve_config(cfg)
    cfg["scores"]["ancestry_reference"]["genotypes"]["path"] = "chr{chrom}"
    with pytest.raises(
        ConfigError, match=r"scores.ancestry_reference.genotypes.path: one file\(set\), without"
    ):
        resolve_config(cfg)


@pytest.mark.workflow
def test_dry_run_fits_the_adjustment_on_the_reference(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_inputs(tmp_path)))
    proc = snakemake("-n", "-p", "--cores", "1", "--configfile", "c.yaml", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    reference = next(b for b in out.split("\nrule ")[1:] if b.startswith("scores_reference:"))
    for arg in ("--reference 'ref panel' --reference-format bed", "--target chr1 --target chr2",
                "--out-projected results/arrays/scores/reference/projected_pcs.tsv"):  # fmt: skip
        assert arg in reference, reference
    matches = [b for b in out.split("\nrule ")[1:] if b.startswith("scores_match:")]
    assert len(matches) == 1  # one of both chromosome files, scoring only reference variants
    assert "--reference 'ref panel' --reference-format bed" in matches[0], matches
    assert "--genotypes chr1 --part 1 --genotypes chr2 --part 2" in matches[0], matches
    adjust = next(b for b in out.split("\nrule ")[1:] if b.startswith("scores_adjust:"))
    for arg in ("--pcs results/arrays/scores/reference/projected_pcs.tsv",
                "--reference-pcs results/arrays/scores/reference/pcs.tsv",
                "--reference-scores results/arrays/scores/reference/scores.tsv.gz"):  # fmt: skip
        assert arg in adjust, adjust


@pytest.mark.workflow
@pytest.mark.slow
def test_tiny_workflow_adjusts_on_a_simulated_reference(tmp_path):
    """A real run to scores_adjusted.tsv.gz: the reference is another cohort of the workflow's
    simulated universe (labels from its truth table); every person is assigned a population,
    the assignments agree with the simulated ones, and the adjustment was fitted on the
    reference (ancestry_models.json counts its samples)."""
    import json

    import pandas as pd

    from igs.simulate import CohortSpec, UniverseSpec, build_universe, simulate_cohort

    universe = build_universe(UniverseSpec(seed=7, n_variants=2000, chromosomes=("1", "2")))
    spec = CohortSpec(name="ref", n_samples=300, seed=21, ancestry_proportions=(0.4, 0.3, 0.3))
    simulate_cohort(universe, spec, tmp_path / "ref", chunk_variants=700)
    cfg = {
        "simulation": {"seed": 7, "n_variants": 2000, "chromosomes": ["1", "2"]},
        "biobanks": [{"name": "tiny_a", "simulate": {"n_samples": 200, "seed": 5,
                                                     "ancestry_proportions": [0.5, 0.3, 0.2]}}],
        "scores": {"ancestry_reference": {
            "genotypes": {"path": "ref/genotypes", "format": "bed"},
            "populations": "ref/truth_samples.tsv.gz", "population_column": "population",
            "n_pcs": 4, "n_pcs_population": 2}},
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/tiny_a/scores/scores_adjusted.tsv.gz"
    proc = snakemake(target, "--cores", "2", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    adjusted = pd.read_csv(tmp_path / target, sep="\t")
    truth = pd.read_csv(tmp_path / "results/simulated/tiny_a/truth_samples.tsv.gz", sep="\t")
    both = adjusted.merge(truth[["IID", "population"]], on="IID")
    assert len(both) == len(adjusted) and adjusted["most_similar_population"].notna().all()
    assert (both["most_similar_population"] == both["population"]).mean() > 0.9
    models = json.loads((tmp_path / "results/tiny_a/scores/ancestry_models.json").read_text())
    assert {m["n_reference"] for m in models} == {300}


@pytest.mark.workflow
@pytest.mark.slow
def test_reference_populations_reach_fairness_and_the_export(tmp_path):
    """A real run to the clinician export with a simulated reference panel: fairness.tsv groups
    the test set by the most similar reference population (the counts are those of the adjusted
    scores' populations among the test set), the model card lists as validated exactly the
    populations with >= share.min_cell test events, and each exported person is flagged
    population_not_validated exactly when their population is not among them or its probability
    is below export.min_population_probability."""
    import json

    import numpy as np
    import pandas as pd

    from igs.simulate import CohortSpec, UniverseSpec, build_universe, simulate_cohort

    universe = build_universe(UniverseSpec(seed=7, n_variants=2000, chromosomes=("1", "2")))
    spec = CohortSpec(name="ref", n_samples=300, seed=21, ancestry_proportions=(0.4, 0.3, 0.3))
    simulate_cohort(universe, spec, tmp_path / "ref", chunk_variants=700)
    cfg = {
        "simulation": {"seed": 7, "n_variants": 2000, "chromosomes": ["1", "2"]},
        "biobanks": [{"name": "tiny_a", "simulate": {"n_samples": 2000, "seed": 5,
                                                     "ancestry_proportions": [0.6, 0.3, 0.1]}}],
        "pheno": {"endpoints": [{"name": "CAD", "icd10": ["I21", "I25.1"], "score": "IGS_SIM_CAD"}]},
        "models": {"n_bootstrap": 20, "n_folds": 2, "penalizers": [0.0],
                   "recalibration": {"n_draws": 50}},
        "scores": {"ancestry_reference": {
            "genotypes": {"path": "ref/genotypes", "format": "bed"},
            "populations": "ref/truth_samples.tsv.gz", "population_column": "population",
            "n_pcs": 4, "n_pcs_population": 2}},
        "export": {"min_population_probability": 0.8},
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/tiny_a/export/CAD_risk.csv"
    proc = snakemake(target, "--cores", "2", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    res = tmp_path / "results/tiny_a"
    fair = pd.read_csv(res / "evaluate/CAD/fairness.tsv", sep="\t")
    ref_rows = fair[fair["dimension"] == "reference_population"].set_index("group")
    assert "ancestry" not in set(fair["dimension"]) and len(ref_rows) >= 2
    adjusted = pd.read_csv(res / "scores/scores_adjusted.tsv.gz", sep="\t")
    pops = set(adjusted["most_similar_population"].dropna())
    assert set(ref_rows.index) <= pops
    sex = fair[fair["dimension"] == "sex"]
    assert ref_rows["n"].sum() == sex["n"].sum()  # both partition the test set
    validated = sorted(ref_rows.index[ref_rows["n_events"] >= 5])
    card = json.loads((res / "export/CAD_model_card.json").read_text())
    assert card["validation"]["reference_populations"]["validated"] == validated
    assert "reference panel" in card["application"]["ancestry_adjustment"]
    export = pd.read_csv(res / target.removeprefix("results/tiny_a/"), keep_default_na=False)
    scored = adjusted[adjusted["pgs_id"] == export["pgs_id"].iloc[0]]
    person = scored.set_index(scored["IID"].astype(str)).loc[export["IID"].astype(str)]
    assert (export["most_similar_population"].to_numpy()
            == person["most_similar_population"].to_numpy()).all()  # fmt: skip
    np.testing.assert_allclose(
        export["prs_percentile_most_similar_population"].astype(float),
        person["percentile_most_similar_population"], rtol=1e-5,
    )  # fmt: skip
    want = ~person["most_similar_population"].isin(validated).to_numpy() | (
        person["most_similar_population_probability"].to_numpy() < 0.8
    )
    np.testing.assert_array_equal(export["flag_population_not_validated"].astype(bool), want)
