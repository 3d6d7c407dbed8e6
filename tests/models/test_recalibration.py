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
    # every group's 10-year risk reaches the population's 10-year risk at 50 at 50
    np.testing.assert_allclose(ages["age_reached"], 50.0, rtol=1e-9)
    assert set(ages["screening_age"]) == {50.0} and set(ages["window"]) == {10.0}


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
    # each population reaches its own 10-year risk at 50 at 50; the top decile years earlier
    at = ages.set_index(["location", "sex", "group"])["age_reached"]
    assert at[("Southland", "female", "population")] == pytest.approx(50.0)
    assert (
        at[("Southland", "female", "top 10%")] < 45 < 55 < at[("Southland", "female", "bottom 10%")]
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
           "models": {"recalibration": {"tables": {"Southland": table}, "screening_age": 55}}}  # fmt: skip
    opts = ModelsOptions.from_config(resolve_config(cfg, check_files=False))
    assert opts.recalibration_tables == (("Southland", table),) and opts.screening_age == 55.0
    assert opts.screening_window == 10.0
    assert opts.n_draws == 500
    pd.DataFrame({"group": ["all"], "log_hr": [0.4], "se": [0.03]}).to_csv(
        tmp_path / "hr_per_sd.tsv", sep="\t", index=False
    )
    write_recalibration(tmp_path, dict(opts.recalibration_tables), screening_age=55, n_draws=50)
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


def quad_risk(pop, h0, beta, z: float, start: float, horizon: float) -> float:
    """The risk within ``horizon`` years from ``start`` by scipy quadrature of
    ``h(t) exp(-int_start^t (h + m))``, hazards constant within the bands (independent oracle)."""
    from scipy.integrate import quad

    edges = pop.edges
    stop = min(start + horizon, edges[-1])

    def band(t: float) -> int:
        return min(int(np.searchsorted(edges, t, side="right")) - 1, len(edges) - 2)

    def hazard(t: float) -> float:
        return h0[band(t)] * np.exp(beta[band(t)] * z)

    def cumulative(t: float) -> float:  # int_start^t (h + m), exact for step functions
        knots = [start, *[e for e in edges if start < e < t], t]
        return sum(
            (hazard(a) + pop.mortality[band(a)]) * (b - a) for a, b in itertools.pairwise(knots)
        )

    inner = [e for e in edges if start < e < stop]
    return quad(lambda t: hazard(t) * np.exp(-cumulative(t)), start, stop, points=inner or None,
                epsabs=1e-13, epsrel=1e-12, limit=200)[0]  # fmt: skip


def test_person_risk_equals_quadrature_and_hr_one_the_population():
    """Per-person recalibrated risk with competing mortality: equal to scipy quadrature of the
    hazard to 1e-6 for people of different scores and ages (horizons crossing bands and the
    table's end); with HR 1 it is the population's own risk from the table's rates alone."""
    from igs.models.recalibration import baseline_hazards, person_risk

    pop = Population("X", "female", EDGES, gompertz_rates(2e-5, 0.09), gompertz_rates(5e-5, 0.085))
    mids = (EDGES[:-1] + EDGES[1:]) / 2
    beta = ScoreEffect(0.5, 0.0, -0.1, 0.0).draws(mids, 0, seed=1)  # shrinking with age
    h0 = baseline_hazards(pop, beta)
    z = np.array([-2.0, 0.0, 0.7, 2.5, 1.0, np.nan])
    start = np.array([42.3, 50.0, 63.9, 58.2, 95.0, 50.0])
    for horizon in (10.0, 23.5):
        got = person_risk(pop, h0, beta, z, start, horizon)[0]
        want = [quad_risk(pop, h0[0], beta[0], zi, si, horizon) for zi, si in zip(z[:-1], start[:-1], strict=True)]  # fmt: skip
        np.testing.assert_allclose(got[:-1], want, atol=1e-6, rtol=0)
        assert np.isnan(got[-1])  # no score, no risk
        outside = person_risk(pop, h0, beta, np.zeros(3), np.array([-1.0, 100.0, np.nan]), horizon)
        assert np.isnan(outside).all()  # an age the table does not cover
        assert np.all(np.diff(got[[0, 1]]) > 0)
    # HR 1: the baseline is the table's incidence and each person's risk the population's
    flat = np.zeros((1, len(mids)))
    np.testing.assert_allclose(baseline_hazards(pop, flat)[0], pop.incidence, rtol=1e-12)
    got = person_risk(pop, pop.incidence[None, :], flat, z[:-1], start[:-1], 10.0)[0]
    want = [quad_risk(pop, pop.incidence, flat[0], 0.0, s, 10.0) for s in start[:-1]]
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_person_risks_by_sex_location_and_interval():
    """person_risks: each sex its own population and effect, the interval brackets the point
    estimate and widens with the score's distance from 0, a sex without an effect is empty."""
    from igs.models.recalibration import baseline_hazards, person_risk, person_risks

    women = Population(
        "X", "female", EDGES, gompertz_rates(2e-5, 0.09), gompertz_rates(5e-5, 0.085)
    )
    men = Population("X", "male", EDGES, gompertz_rates(4e-5, 0.09), gompertz_rates(8e-5, 0.085))
    pops = {("X", "female"): women, ("X", "male"): men}
    effects = {"female": ScoreEffect(0.5, 0.05), "male": ScoreEffect(0.3, 0.05)}
    sex = np.array(["female", "male", "female", "female"])
    z, start = np.array([0.0, 1.0, 2.5, 1.0]), np.array([50.0, 50.0, 50.0, 60.0])
    got = person_risks(pops, effects, "X", sex, z, start, 10.0, n_draws=200, seed=3)
    mids = (EDGES[:-1] + EDGES[1:]) / 2
    for i, pop, eff in ((0, women, effects["female"]), (1, men, effects["male"])):
        beta = np.full((1, len(mids)), eff.log_hr)
        want = person_risk(
            pop, baseline_hazards(pop, beta), beta, z[i : i + 1], start[i : i + 1], 10.0
        )
        assert got.risk[i] == pytest.approx(want[0, 0], abs=1e-12)
    assert np.all((got.low <= got.risk) & (got.risk <= got.high))
    assert got.high[2] - got.low[2] > got.high[0] - got.low[0]
    assert list(got.location) == ["X"] * 4
    only_women = person_risks(
        pops, {"female": effects["female"]}, "X", sex, z, start, 10.0, n_draws=50
    )
    assert np.isnan(only_women.risk[1]) and only_women.location[1] == ""
    assert np.isfinite(only_women.risk[[0, 2, 3]]).all()


def exact_window_risk(beta: float, h0: np.ndarray, mort: np.ndarray, ages: np.ndarray,
                      window: float, lo: float, hi: float) -> np.ndarray:  # fmt: skip
    """The planted population's risk within ``window`` years from each age among the people of
    score percentiles (lo, hi] alive and free of the disease then, by quadrature over the score."""
    from scipy.stats import norm

    z = np.linspace(-8, 8, 40001)
    dens = norm.pdf(z) * (z[1] - z[0])
    keep = (z > norm.ppf(lo / 100)) & (z <= norm.ppf(hi / 100))
    z, dens = z[keep], dens[keep]

    def state(age: float) -> tuple[np.ndarray, np.ndarray]:  # cumulative incidence and survival
        ci, surv = np.zeros_like(z), np.ones_like(z)
        for k, (a, b) in enumerate(itertools.pairwise(EDGES)):
            dt = np.clip(age - a, 0, b - a)
            h = h0[k] * np.exp(beta * z)
            out = -np.expm1(-(h + mort[k]) * dt)
            ci, surv = ci + surv * h / (h + mort[k]) * out, surv * (1 - out)
        return ci, surv

    out = []
    for a in ages:
        (c0, s0), (c1, _) = state(a), state(a + window)
        out.append(((c1 - c0) * dens).sum() / (s0 * dens).sum())
    return np.array(out)


def test_threshold_age_recovers_planted_truth():
    """Planted population (log HR 0.6 per SD, known Gompertz hazards): the population's 10-year
    risk at 50 is the threshold; each group's age at which its own 10-year risk reaches it
    matches the truth found by quadrature over the score (within 0.02 years), and a screening
    age of 40 moves every group by the same truth."""
    from scipy.optimize import brentq

    beta = 0.6
    h0, mort = gompertz_rates(3e-5, 0.085), gompertz_rates(6e-5, 0.08)
    incidence, _ = exact_population(beta, h0, mort)
    pop = Population("Sim", "female", EDGES, incidence, mort)
    for screening_age in (50.0, 40.0):
        _, ages = recalibrate({("Sim", "female"): pop}, {"female": ScoreEffect(beta, 0.0)},
                              screening_age=screening_age, n_draws=2)  # fmt: skip
        at = ages.set_index("group")
        level = exact_window_risk(beta, h0, mort, [screening_age], 10.0, 0, 100)[0]
        assert at.loc["population", "threshold"] == pytest.approx(level, rel=2e-3)
        assert at.loc["population", "age_reached"] == pytest.approx(screening_age, abs=0.05)
        for group, (lo, hi) in {
            "bottom 10%": (0, 10),
            "40-60%": (40, 60),
            "top 10%": (90, 100),
        }.items():
            truth = brentq(lambda a, lo=lo, hi=hi, level=level: exact_window_risk(beta, h0, mort, [a], 10.0, lo, hi)[0] - level, 5, 89)  # fmt: skip
            assert at.loc[group, "age_reached"] == pytest.approx(truth, abs=0.02), group
    assert at.loc["top 10%", "age_reached"] < 35 < 45 < at.loc["bottom 10%", "age_reached"]


def test_bundle_and_report_carry_the_curves(tmp_path):
    """The recalibrated curves and threshold ages reach the share bundle (names valid for
    `igs share meta`, nothing the disclosure checker flags, not even a threshold age equal to a
    person's exact age) and the report (a plot and the table)."""
    from pathlib import Path

    import igs
    from igs.models.recalibration import write_recalibration
    from igs.report.html import _recalibration_part
    from igs.share.bundle import build_bundle, read_bundle, write_bundle
    from igs.share.disclosure import check_bundle, check_files
    from tests.conftest import bundle_inputs

    files, ev = bundle_inputs(tmp_path)
    table = str(Path(igs.__file__).parent / "resources/recalibration/synthetic_gbd.tsv")
    write_recalibration(ev, {"Northland": table}, n_draws=50)
    ages = pd.read_csv(ev / "threshold_ages.tsv", sep="\t")
    tables = build_bundle(files, min_cell=5)
    out = write_bundle(tables, tmp_path / "share", "north", 5)
    _, read = read_bundle(out)  # names pass `igs share meta`'s patterns
    curves = read["recalibrated_incidence.tsv"]
    assert set(curves["group"]) == {"bottom_10%", "40-60%", "top_10%", "top_1%", "population"}
    assert set(curves["endpoint"]) == {"CAD"} and len(curves) == 2 * 5 * 21
    got = read["threshold_ages.tsv"].set_index(["sex", "group"])["age_reached"]
    want = ages.set_index(["sex", "group"])["age_reached"]
    assert got[("female", "top_10%")] == pytest.approx(want[("female", "top 10%")])
    assert check_bundle(read, 5) == []
    # a person whose exact age equals a threshold age to 6 digits is not disclosed (0.01 years)
    found = check_files([out], ages=[float(a) + 1e-7 for a in ages["age_reached"]])
    assert found == []
    html = "".join(_recalibration_part(ev, "CAD"))
    assert html.count("<img") == 1 and "top 10%" in html and "Northland" in html
    write_recalibration(ev, {})  # without tables: no part in the report
    assert _recalibration_part(ev, "CAD") == []
