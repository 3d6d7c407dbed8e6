"""Cumulative incidence by score group recalibrated to a population: closed forms by hand, HR 1
gives the population curve, and a simulated population with known incidence and mortality is
recovered within the CIs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError
from igs.models.recalibration import (
    Population,
    ScoreEffect,
    cumulative_incidence,
    group_hr,
    read_population,
    recalibrate,
)

EDGES = np.arange(0.0, 101.0, 5.0)  # GBD publishes 5-year age bands


def gompertz_rates(rate: float, shape: float) -> np.ndarray:
    """Per-year rates at each band's middle age."""
    mids = (EDGES[:-1] + EDGES[1:]) / 2
    return rate * np.exp(shape * mids)


def test_group_hr_is_the_mean_of_exp_beta_z_within_the_group():
    z = np.random.default_rng(0).standard_normal(2_000_000)
    for lo, hi in ((0, 10), (40, 60), (90, 100)):
        a, b = np.percentile(z, [lo, hi])
        inside = z[(z >= a) & (z <= b)]
        assert group_hr(0.5, lo, hi) == pytest.approx(np.exp(0.5 * inside).mean(), rel=5e-3)
    # the whole distribution: E exp(beta z) = exp(beta^2 / 2)
    assert group_hr(0.7, 0, 100) == pytest.approx(np.exp(0.49 / 2))


def test_one_band_by_hand():
    pop = Population("X", "female", np.array([50.0, 60.0]), np.array([0.01]), np.array([0.02]))
    _, popc = cumulative_incidence(pop, np.zeros((1, 1)))
    assert popc[0, 1] == pytest.approx(0.01 / 0.03 * (1 - np.exp(-0.3)))


def test_hr_one_gives_every_group_the_population_curve():
    pop = Population("X", "male", EDGES, gompertz_rates(2e-5, 0.09), gompertz_rates(5e-5, 0.085))
    curves, ages = recalibrate({("X", "male"): pop}, {"male": ScoreEffect(0.0, 0.0)}, n_draws=5)
    wide = curves.pivot(index="age", columns="group", values="cumulative_incidence")
    for g in wide.columns:
        np.testing.assert_allclose(wide[g], wide["population"], rtol=1e-12)
    # every group reaches the population's risk at 60 at 60
    np.testing.assert_allclose(ages["age_reached"], 60.0, rtol=1e-9)


def simulate_population(n: int, beta: float, inc: np.ndarray, mort: np.ndarray, seed: int):
    """People from birth: score z ~ N(0, 1), disease hazard h0_k exp(beta z) and mortality m_k
    constant within each 10-year band. Returns z, the observed population incidence per band
    (events / person-years at risk), each person's onset age (inf if none) and exit age (onset,
    death or 100)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    alive = np.ones(n, bool)
    onset = np.full(n, np.inf)
    exit_age = np.full(n, EDGES[-1])
    events, pyears = np.zeros(len(inc)), np.zeros(len(inc))
    for k, (lo, hi) in enumerate(itertools.pairwise(EDGES)):
        h = inc[k] * np.exp(beta * z[alive])
        t = rng.exponential(1 / (h + mort[k]))
        ends = t < hi - lo
        ill = ends & (rng.random(len(t)) < h / (h + mort[k]))
        pyears[k] = np.minimum(t, hi - lo).sum()
        events[k] = ill.sum()
        idx = np.flatnonzero(alive)
        onset[idx[ill]] = lo + t[ill]
        exit_age[idx[ends]] = lo + t[ends]
        alive[idx[ends]] = False
    return z, events / pyears, onset, exit_age


def exact_population(beta: float, h0: np.ndarray, mort: np.ndarray) -> tuple[np.ndarray, dict]:
    """The known population by quadrature over the score: its incidence per band (events over
    person-years at risk, what GBD reports) and each group's cumulative incidence at every edge."""
    from scipy.stats import norm

    z = np.linspace(-8, 8, 40001)
    dens = norm.pdf(z) * (z[1] - z[0])
    surv, ci = np.ones_like(z), [np.zeros_like(z)]
    events, pyears = [], []
    for k, width in enumerate(np.diff(EDGES)):
        h = h0[k] * np.exp(beta * z)
        total = h + mort[k]
        out = -np.expm1(-total * width)
        pyears.append((dens * surv * out / total).sum())
        events.append((dens * surv * h / total * out).sum())
        ci.append(ci[-1] + surv * h / total * out)
        surv = surv * (1 - out)
    ci = np.array(ci)  # edges x z
    groups = {}
    for label, (lo, hi) in {
        "bottom 10%": (0, 10),
        "40-60%": (40, 60),
        "top 10%": (90, 100),
    }.items():
        m = (z > norm.ppf(lo / 100)) & (z <= norm.ppf(hi / 100))
        groups[label] = (ci[:, m] * dens[m]).sum(axis=1) / dens[m].sum()
    return np.array(events) / np.array(pyears), groups


def test_simulated_population_is_recovered_within_ci():
    """Known hazards (score log HR 0.6 per SD, Gompertz-shaped incidence and mortality, constant
    within 5-year bands): given the population's incidence and mortality and a log HR per SD
    estimated with its SE on a simulated cohort of 30,000, every group's cumulative incidence
    at 60, 80 and 100 lies within its CI."""
    from igs.models.coxsolver import cox_covariance, cox_fit

    beta = 0.6
    h0 = gompertz_rates(3e-5, 0.085)
    mort = gompertz_rates(6e-5, 0.08)
    incidence, truth = exact_population(beta, h0, mort)
    z, observed, onset, exit_age = simulate_population(30_000, beta, h0, mort, seed=3)
    b = cox_fit(z[:, None], np.zeros(len(z)), exit_age, np.isfinite(onset))
    cov = cox_covariance(z[:, None], np.zeros(len(z)), exit_age, np.isfinite(onset), b)
    assert abs(b[0] - beta) < 3 * np.sqrt(cov[0, 0])
    pop = Population("Sim", "female", EDGES, incidence, mort)
    effect = ScoreEffect(float(b[0]), float(np.sqrt(cov[0, 0])))
    curves, ages = recalibrate({("Sim", "female"): pop}, {"female": effect}, n_draws=400)
    curves = curves.set_index(["group", "age"])
    for group, exact in truth.items():
        for age in (60.0, 80.0, 100.0):
            row = curves.loc[(group, age)]
            value = exact[int(age / 5)]
            assert row["ci_low"] <= value <= row["ci_high"], (group, age, value, row.to_dict())
    # the score matters: the top decile reaches clearly more than the bottom one, and sooner
    assert curves.loc[("top 10%", 80.0), "ci_low"] > 2 * curves.loc[("bottom 10%", 80.0), "ci_high"]
    at = ages.set_index("group")
    assert (
        at.loc["top 10%", "age_high"]
        < at.loc["40-60%", "age_low"]
        < at.loc["bottom 10%", "age_low"]
    )
    # with the true log HR and no uncertainty the method is exact (up to the score partition)
    curves, _ = recalibrate({("Sim", "female"): pop}, {"female": ScoreEffect(beta, 0.0)}, n_draws=2)
    curves = curves.set_index(["group", "age"])
    for group, exact in truth.items():
        got = [curves.loc[(group, a), "cumulative_incidence"] for a in (60.0, 80.0, 100.0)]
        np.testing.assert_allclose(got, exact[[12, 16, 20]], rtol=1e-3)
    # the simulated population's own rates agree with the quadrature's
    np.testing.assert_allclose(observed[8:], incidence[8:], rtol=0.35)


def test_population_table_errors(tmp_path):
    good = pd.DataFrame({"location": "X", "sex": "female", "age_start": [0, 50, 0, 50],
                         "age_end": [50, 100, 50, 100], "measure": ["incidence"] * 2 + ["mortality"] * 2,
                         "rate": [10.0, 100.0, 50.0, 500.0]})  # fmt: skip
    path = tmp_path / "pop.tsv"
    good.to_csv(path, sep="\t", index=False)
    pop = read_population(path)[("X", "female")]
    np.testing.assert_allclose(pop.incidence, [1e-4, 1e-3])
    for change, message in (
        (lambda d: d.drop(columns="rate"), "population table lacks column(s) rate"),
        (lambda d: d.assign(measure=["incidence", "incidence", "deaths", "mortality"]), "unknown measure(s) deaths"),
        (lambda d: d.assign(rate=[10.0, -1.0, 50.0, 500.0]), "a rate is negative or missing"),
        (lambda d: d.assign(age_start=[0, 60, 0, 50]), "age bands must be contiguous and non-empty"),
        (lambda d: d.assign(age_end=[50, 100, 50, 90]), "incidence and mortality need the same age bands"),
    ):  # fmt: skip
        change(good).to_csv(path, sep="\t", index=False)
        with pytest.raises(InputFormatError, match=__import__("re").escape(message)):
            read_population(path)


def test_shipped_synthetic_table_is_its_documented_truth():
    from pathlib import Path

    import igs
    from igs.models.recalibration import SYNTHETIC_TRUTH, synthetic_population_table

    path = Path(igs.__file__).parent / "resources/recalibration/synthetic_gbd.tsv"
    pops = read_population(path)
    assert set(pops) == set(SYNTHETIC_TRUTH)
    for key, truth in SYNTHETIC_TRUTH.items():
        mids = (pops[key].edges[:-1] + pops[key].edges[1:]) / 2
        rate, shape = truth["incidence"]
        np.testing.assert_allclose(pops[key].incidence, rate * np.exp(shape * mids), rtol=1e-5)
        rate, shape = truth["mortality"]
        np.testing.assert_allclose(pops[key].mortality, rate * np.exp(shape * mids), rtol=1e-5)
    assert len(synthetic_population_table()) == len(pd.read_csv(path, sep="\t"))


def test_recalibrate_an_evaluation_folder(tmp_path):
    from pathlib import Path

    import igs
    from igs.models.recalibration import recalibrate_evaluation

    table = Path(igs.__file__).parent / "resources/recalibration/synthetic_gbd.tsv"
    pd.DataFrame({"group": ["all", "female", "male"], "log_hr": [0.4, 0.5, 0.3],
                  "se": [0.03, 0.05, 0.04]}).to_csv(tmp_path / "hr_per_sd.tsv", sep="\t", index=False)  # fmt: skip
    flat, _ = recalibrate_evaluation(tmp_path, table, locations=["Northland"], n_draws=50)
    pd.DataFrame({"effect": ["prs_interaction"], "group": ["prs_x_age_decade"], "log_hr": [-0.2],
                  "se": [0.02]}).to_csv(tmp_path / "prs_modifiers.tsv", sep="\t", index=False)  # fmt: skip
    shrinking, ages = recalibrate_evaluation(tmp_path, table, n_draws=50)
    assert set(flat["location"]) == {"Northland"} and set(shrinking["location"]) == {
        "Northland",
        "Southland",
    }

    def gap(curves: pd.DataFrame, age: float, sex: str = "female") -> float:
        c = curves[
            (curves["location"] == "Northland") & (curves["sex"] == sex) & (curves["age"] == age)
        ]
        c = c.set_index("group")["cumulative_incidence"]
        return c["top 10%"] / c["bottom 10%"]

    # an effect that shrinks with age: a larger top/bottom ratio early, a smaller one late
    assert gap(shrinking, 45.0) > gap(flat, 45.0) and gap(shrinking, 90.0) < gap(flat, 90.0)
    assert gap(flat, 70.0) > gap(flat, 70.0, "male")  # women's HR per SD is the larger one
    # each population reaches its own risk at 60 at 60; the top decile decades earlier
    at = ages.set_index(["location", "sex", "group"])["age_reached"]
    assert at[("Southland", "female", "population")] == pytest.approx(60.0)
    assert (
        at[("Southland", "female", "top 10%")] < 55 < 65 < at[("Southland", "female", "bottom 10%")]
    )
    with pytest.raises(
        InputFormatError, match=__import__("re").escape("no rows for location(s) Atlantis")
    ):
        recalibrate_evaluation(tmp_path, table, locations=["Atlantis"])


def test_config_block_to_written_tables(tmp_path):
    """models.recalibration in a config reaches ModelsOptions, and write_recalibration writes
    both tables (header only without tables); a missing table is named."""
    from pathlib import Path

    import igs
    from igs.config import resolve_config
    from igs.models.options import ModelsOptions
    from igs.models.recalibration import write_recalibration

    table = str(Path(igs.__file__).parent / "resources/recalibration/synthetic_gbd.tsv")
    cfg = {"biobanks": [{"name": "x", "genotypes": {"path": "g", "format": "bed"},
                         "phenotypes": {"source": "table", "clinical": "c.tsv"}}],
           "models": {"recalibration": {"tables": {"Southland": table}, "threshold_age": 55}}}  # fmt: skip
    opts = ModelsOptions.from_config(resolve_config(cfg, check_files=False))
    assert opts.recalibration_tables == (("Southland", table),) and opts.threshold_age == 55.0
    assert opts.n_draws == 500
    pd.DataFrame({"group": ["all"], "log_hr": [0.4], "se": [0.03]}).to_csv(
        tmp_path / "hr_per_sd.tsv", sep="\t", index=False
    )
    write_recalibration(tmp_path, dict(opts.recalibration_tables), threshold_age=55, n_draws=50)
    curves = pd.read_csv(tmp_path / "recalibrated_incidence.tsv", sep="\t")
    ages = pd.read_csv(tmp_path / "threshold_ages.tsv", sep="\t")
    assert set(curves["location"]) == {"Southland"} and set(curves["sex"]) == {"female", "male"}
    assert len(curves) == 2 * 5 * 21 and len(ages) == 2 * 5
    pop = ages[ages["group"] == "population"]
    np.testing.assert_allclose(pop["age_reached"], 55.0)
    write_recalibration(tmp_path, {})
    assert pd.read_csv(tmp_path / "threshold_ages.tsv", sep="\t").empty
    with pytest.raises(InputFormatError, match="population table not found"):
        write_recalibration(tmp_path, {"Southland": str(tmp_path / "nope.tsv")})
