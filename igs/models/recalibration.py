"""Lifetime cumulative incidence by score group, recalibrated to a population (INTERVENE-style).

A population table gives, per location (country), sex and age band, the disease's incidence and
all-cause mortality (the Global Burden of Disease layout, see :func:`read_population`). Within an
age band the hazards are constant. The score enters as ``exp(beta * z)`` with ``z`` the score in SD
(standard normal) and ``beta`` the log HR per SD for that sex and age (``beta_sex + gamma * (age -
60) / 10``, from ``hr_per_sd.tsv`` and ``prs_modifiers.tsv``). A percentile group's hazard ratio is
``E[exp(beta z) | z in group] = exp(beta^2 / 2) (Phi(b - beta) - Phi(a - beta)) / (Phi(b) -
Phi(a))``. In each band the baseline hazard ``h0`` is set so that the people still at risk
(alive and free of the disease; their score mix shifts as high scorers fall ill first) have the
population's incidence: ``h0 = incidence * sum_k PY_k / sum_k PY_k HR_k`` with ``PY_k`` group
``k``'s expected person-years at risk in the band (see :func:`_baseline`). Each group's cumulative incidence then follows the
competing-risks product over bands (mortality as the competing hazard):
``CI += S * h / (h + m) * (1 - exp(-(h + m) * width))``, ``S *= exp(-(h + m) * width)``.
CIs: percentiles of the curves over draws of ``beta_sex`` and ``gamma`` from their normal
sampling distributions (independent; the population rates are taken as known).

Screening threshold (:func:`threshold_ages`): the population's risk within ``window`` years from
``screening_age`` among those alive and free of the disease then; each group reaches it at the
first age at which its own ``window``-year risk, ``(CI(a + window) - CI(a)) / S(a)``, does.
A person (:func:`person_risk`) with score ``z`` has hazard ``h0 exp(beta z)`` with the same
band baselines; their risk over a horizon from their current age follows the same product.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from igs.errors import InputFormatError

POPULATION_COLUMNS = ("location", "sex", "age_start", "age_end", "measure", "rate")
MEASURES = ("incidence", "mortality")
PER = 1e5  # rates are per 100,000 person-years, as GBD publishes them
AGE_CENTRE = 60.0
# the groups the table reports, and the fine partition whose mix is tracked among those at risk
REPORT_GROUPS = {
    "bottom 10%": (0, 10),
    "40-60%": (40, 60),
    "top 10%": (90, 100),
    "top 1%": (99, 100),
}
PARTITION = (0, 0.1, 0.5, *range(1, 100), 99.5, 99.9, 100)  # finest in the tails


@dataclass(frozen=True)
class Population:
    """One location and sex: age band edges and the per-year hazards in each band."""

    location: str
    sex: str
    edges: np.ndarray  # band k is [edges[k], edges[k + 1])
    incidence: np.ndarray
    mortality: np.ndarray


def read_population(path: str | os.PathLike[str]) -> dict[tuple[str, str], Population]:
    """The population table (TSV, columns ``POPULATION_COLUMNS``; ``measure`` incidence or
    mortality, ``rate`` per 100,000 person-years) keyed by (location, sex)."""
    if not os.path.isfile(path):
        raise InputFormatError(f"{path}: population table not found.")
    df = pd.read_csv(path, sep="\t")
    missing = [c for c in POPULATION_COLUMNS if c not in df]
    if missing:
        raise InputFormatError(f"{path}: population table lacks column(s) {', '.join(missing)}.")
    bad = sorted(set(df["measure"]) - set(MEASURES))
    if bad:
        raise InputFormatError(
            f"{path}: unknown measure(s) {', '.join(map(str, bad))}; use incidence and mortality."
        )
    if (df["rate"] < 0).any() or df["rate"].isna().any():
        raise InputFormatError(f"{path}: a rate is negative or missing.")
    out = {}
    for (loc, sex), g in df.groupby(["location", "sex"], sort=True):
        bands = {}
        for m in MEASURES:
            t = g[g["measure"] == m].sort_values("age_start")
            starts, ends = t["age_start"].to_numpy(float), t["age_end"].to_numpy(float)
            if len(t) == 0 or np.any(starts[1:] != ends[:-1]) or np.any(ends <= starts):
                raise InputFormatError(
                    f"{path}: {loc}/{sex} {m}: age bands must be contiguous and non-empty "
                    "(each age_end the next age_start)."
                )
            bands[m] = (np.r_[starts, ends[-1]], t["rate"].to_numpy(float) / PER)
        if not np.array_equal(bands["incidence"][0], bands["mortality"][0]):
            raise InputFormatError(
                f"{path}: {loc}/{sex}: incidence and mortality need the same age bands."
            )
        out[(str(loc), str(sex))] = Population(
            str(loc), str(sex), bands["incidence"][0], bands["incidence"][1], bands["mortality"][1]
        )
    return out


def group_hr(beta: np.ndarray, lo_pct: float, hi_pct: float) -> np.ndarray:
    """E[exp(beta z) | z between the lo and hi percentiles of N(0, 1)] (any shape of beta)."""
    a, b = norm.ppf(lo_pct / 100), norm.ppf(hi_pct / 100)
    beta = np.asarray(beta, float)
    return (
        np.exp(beta**2 / 2)
        * (norm.cdf(b - beta) - norm.cdf(a - beta))
        / (norm.cdf(b) - norm.cdf(a))
    )


def _fit(pop: Population, beta: np.ndarray) -> tuple[np.ndarray, ...]:
    """Band by band: the baseline hazard (draws, bands), every ``PARTITION`` group's hazard
    ratio (draws, groups, bands), and its cumulative incidence and survival free of both the
    disease and death at each band edge (draws, groups, edges)."""
    beta = np.atleast_2d(beta)
    groups = list(itertools.pairwise(PARTITION))
    p = np.array([hi - lo for lo, hi in groups], float) / 100
    hr = np.stack([group_hr(beta, lo, hi) for lo, hi in groups], axis=1)  # draws, groups, bands
    n_draws, n_groups, n_bands = hr.shape
    surv = np.ones((n_draws, n_groups, n_bands + 1))
    ci = np.zeros((n_draws, n_groups, n_bands + 1))
    h0 = np.zeros((n_draws, n_bands))
    width = np.diff(pop.edges)
    for j in range(n_bands):
        h0[:, j] = _baseline(pop.incidence[j], pop.mortality[j], width[j], p * surv[:, :, j],
                             hr[:, :, j])  # fmt: skip
        h = h0[:, j, None] * hr[:, :, j]
        total = h + pop.mortality[j]
        out = -np.expm1(-total * width[j])
        ci[:, :, j + 1] = ci[:, :, j] + surv[:, :, j] * _share(h, total) * out
        surv[:, :, j + 1] = surv[:, :, j] * (1 - out)
    return h0, hr, ci, surv


def _baseline(
    incidence: float, mortality: float, width: float, at_start: np.ndarray, hr: np.ndarray
) -> np.ndarray:
    """The baseline hazard (per draw) at which the band's expected events over its expected
    person-years at risk equal ``incidence``: ``h0 = incidence * sum PY_k / sum PY_k HR_k``, with
    group k's person-years ``at_start_k (1 - exp(-(h0 HR_k + m) w)) / (h0 HR_k + m)`` (a fixed
    point, found by iteration from the mix at the band's start)."""
    weights = at_start
    for _ in range(50):
        h0 = incidence * weights.sum(axis=1) / (weights * hr).sum(axis=1)
        total = h0[:, None] * hr + mortality
        py = np.where(total > 0, -np.expm1(-total * width) / np.where(total > 0, total, 1), width)
        new = at_start * py
        if np.allclose(new, weights, rtol=1e-12, atol=0):
            break
        weights = new
    return incidence * weights.sum(axis=1) / (weights * hr).sum(axis=1)


def _share(h: np.ndarray, total: np.ndarray) -> np.ndarray:
    """h / total, 0 where total is 0 (no hazard at all)."""
    return np.where(total > 0, h / np.where(total > 0, total, 1), 0.0)


def cumulative_incidence(pop: Population, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative incidence at each band edge of every ``PARTITION`` group and of the whole
    population: arrays (draws, groups, edges) and (draws, edges). ``beta`` is (draws, bands)."""
    _, _, ci, _ = _fit(pop, beta)
    p = np.diff(np.array(PARTITION, float)) / 100
    return ci, (ci * p[None, :, None]).sum(axis=1)


def baseline_hazards(pop: Population, beta: np.ndarray) -> np.ndarray:
    """The recalibrated baseline hazard (draws, bands): a person with score ``z`` (in SD) has
    hazard ``h0 * exp(beta * z)`` in each band. ``beta`` is (draws, bands)."""
    return _fit(pop, beta)[0]


def _band_sums(edges: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Years of [start, stop] in each band: (people, bands)."""
    lo = np.maximum(edges[None, :-1], start[:, None])
    hi = np.minimum(edges[None, 1:], stop[:, None])
    return np.clip(hi - lo, 0, None)


def person_risk(
    pop: Population,
    h0: np.ndarray,
    beta: np.ndarray,
    z: np.ndarray,
    start: np.ndarray,
    horizon: float,
) -> np.ndarray:
    """Each person's probability (draws, people) of the disease in ``[start, start + horizon]``
    given alive and free of it at ``start``, with death competing: hazard ``h0 exp(beta z)`` and
    mortality constant within each band (``h0`` and ``beta`` are (draws, bands)). Ages beyond
    the table's last edge add nothing (the horizon is cut there); NaN for a missing score or a
    ``start`` outside the table's ages."""
    z, start = np.asarray(z, float), np.asarray(start, float)
    years = _band_sums(pop.edges, start, start + horizon)  # people, bands
    h0, beta = np.atleast_2d(h0), np.atleast_2d(beta)
    surv = np.ones((h0.shape[0], len(z)))
    risk = np.zeros_like(surv)
    for j in np.flatnonzero(years.sum(axis=0) > 0):
        h = h0[:, j, None] * np.exp(beta[:, j, None] * z[None, :])
        total = h + pop.mortality[j]
        out = -np.expm1(-total * years[None, :, j])
        risk += surv * _share(h, total) * out
        surv *= 1 - out
    bad = ~(np.isfinite(z) & (start >= pop.edges[0]) & (start < pop.edges[-1]))
    risk[:, bad] = np.nan
    return risk


def _state_at(
    pop: Population, h: np.ndarray, ci: np.ndarray, surv: np.ndarray, ages: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative incidence and survival (draws, groups, ages) at any ``ages`` within the table,
    from their values at the band edges and the bands' constant hazards ``h`` (draws, groups,
    bands)."""
    j = np.clip(np.searchsorted(pop.edges, ages, side="right") - 1, 0, len(pop.edges) - 2)
    dt = ages - pop.edges[j]
    total = h[:, :, j] + pop.mortality[j]
    out = -np.expm1(-total * dt)
    return ci[:, :, j] + surv[:, :, j] * _share(h[:, :, j], total) * out, surv[:, :, j] * (1 - out)


def _members() -> dict[str, np.ndarray]:
    """Per ``REPORT_GROUPS`` label and ``population``, the weight of each ``PARTITION`` group."""
    groups = list(itertools.pairwise(PARTITION))
    w = np.diff(np.array(PARTITION, float))
    return {label: np.array([lo <= a and b <= hi for a, b in groups]) * w
            for label, (lo, hi) in REPORT_GROUPS.items()} | {"population": w}  # fmt: skip


def window_risks(
    pop: Population,
    beta: np.ndarray,
    ages: np.ndarray,
    window: float,
    chunk: int = 64,
    fit: tuple[np.ndarray, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Per ``REPORT_GROUPS`` label and ``population``: the risk (draws, ages) of the disease
    within ``window`` years from each age among the group's people alive and free of it then,
    ``(CI(a + window) - CI(a)) / S(a)`` over the group's share of the score partition
    (``fit``: :func:`_fit` of ``pop`` and ``beta`` when already computed)."""
    h0, hr, ci, surv = fit if fit is not None else _fit(pop, beta)
    h = h0[:, None, :] * hr
    members = _members()
    out = {label: np.zeros((h.shape[0], len(ages))) for label in members}
    ages = np.asarray(ages, float)
    for s in range(0, len(ages), chunk):
        a = ages[s : s + chunk]
        ci0, s0 = _state_at(pop, h, ci, surv, a)
        ci1, _ = _state_at(pop, h, ci, surv, np.minimum(a + window, pop.edges[-1]))
        for label, wt in members.items():
            num = np.einsum("g,dga->da", wt, ci1 - ci0)
            out[label][:, s : s + chunk] = num / np.einsum("g,dga->da", wt, s0)
    return out


def _draw_window_risk(pop, h, ci, surv, wt, ages, window) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The window risk of one group (weights ``wt``) at one age per draw (``ages``: draws)."""
    d = np.arange(len(ages))

    def state(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = np.clip(np.searchsorted(pop.edges, a, side="right") - 1, 0, len(pop.edges) - 2)
        hh = h[d, :, j]  # draws, groups
        total = hh + pop.mortality[j][:, None]
        out = -np.expm1(-total * (a - pop.edges[j])[:, None])
        return ci[d, :, j] + surv[d, :, j] * _share(hh, total) * out, surv[d, :, j] * (1 - out)

    (c0, s0), (c1, _) = state(ages), state(np.minimum(ages + window, pop.edges[-1]))
    return (c1 - c0) @ wt / (s0 @ wt)


def threshold_ages(
    pop: Population, beta: np.ndarray, level: float, window: float, step: float = 1.0
) -> dict[str, np.ndarray]:
    """Per ``REPORT_GROUPS`` label and ``population``: the first age (per draw) at which the
    group's ``window``-year risk reaches ``level``: bracketed on a grid ``step`` years apart,
    then found by bisection to 1e-6 years (NaN if never while the window fits in the table;
    the table's first age if already reached there)."""
    fit = _fit(pop, beta)
    h0, hr, ci, surv = fit
    h = h0[:, None, :] * hr
    grid = np.arange(pop.edges[0], pop.edges[-1] - window + step / 2, step)
    coarse = window_risks(pop, beta, grid, window, fit=fit)
    out = {}
    for label, wt in _members().items():
        above = coarse[label] >= level
        k = np.where(above.any(axis=1), above.argmax(axis=1), -1)
        lo, hi = grid[np.maximum(k - 1, 0)], grid[np.maximum(k, 0)]
        while np.any(hi - lo > 1e-6):
            mid = (lo + hi) / 2
            up = _draw_window_risk(pop, h, ci, surv, wt, mid, window) >= level
            lo, hi = np.where(up, lo, mid), np.where(up, mid, hi)
        out[label] = np.where(k < 0, np.nan, np.where(k == 0, grid[0], hi))
    return out


def report_curves(ci: np.ndarray) -> dict[str, np.ndarray]:
    """The ``REPORT_GROUPS`` curves (draws, edges) as the share-weighted mean of the partition's."""
    groups = list(itertools.pairwise(PARTITION))
    out = {}
    for label, (lo, hi) in REPORT_GROUPS.items():
        idx = [k for k, (a, b) in enumerate(groups) if a >= lo and b <= hi]
        w = np.array([groups[k][1] - groups[k][0] for k in idx], float)
        out[label] = (ci[:, idx, :] * (w / w.sum())[None, :, None]).sum(axis=1)
    return out


@dataclass(frozen=True)
class ScoreEffect:
    """log HR per SD at ``AGE_CENTRE`` and its age slope per decade, with standard errors."""

    log_hr: float
    se: float
    per_decade: float = 0.0
    per_decade_se: float = 0.0

    def draws(self, mids: np.ndarray, n: int, seed: int) -> np.ndarray:
        """(n + 1, bands): the point estimate first, then ``n`` normal draws."""
        rng = np.random.default_rng(seed)
        b = np.r_[self.log_hr, rng.normal(self.log_hr, self.se, n)]
        g = np.r_[self.per_decade, rng.normal(self.per_decade, self.per_decade_se, n)]
        return b[:, None] + g[:, None] * (mids[None, :] - AGE_CENTRE) / 10


def recalibrate(
    pops: dict[tuple[str, str], Population],
    effects: dict[str, ScoreEffect],
    *,
    screening_age: float = 50.0,
    window: float = 10.0,
    n_draws: int = 500,
    seed: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, threshold ages) for every location and sex that ``effects`` (keyed by sex) covers.

    ``curves``: location, sex, group (a ``REPORT_GROUPS`` label or ``population``), age (each
    band edge), cumulative_incidence, ci_low, ci_high. ``threshold ages``: location, sex, group,
    screening_age, window, threshold (the population's risk within ``window`` years from
    ``screening_age`` among those alive and free of the disease then), age_reached (the first
    age at which the group's own ``window``-year risk reaches it, :func:`threshold_ages`),
    age_low, age_high (NaN when a group never reaches it within the table's ages); ages
    are rounded to 0.01 years (no 6-digit number that could match a person's exact age).
    """
    curves, ages = [], []
    for (loc, sex), pop in pops.items():
        if sex not in effects:
            continue
        mids = (pop.edges[:-1] + pop.edges[1:]) / 2
        beta = effects[sex].draws(mids, n_draws, seed)
        ci, popc = cumulative_incidence(pop, beta)
        level = float(
            window_risks(pop, beta[:1], np.array([screening_age]), window)["population"][0, 0]
        )
        reached_by = threshold_ages(pop, beta, level, window)
        for label, c in {**report_curves(ci), "population": popc}.items():
            lo, hi = np.percentile(c[1:], [2.5, 97.5], axis=0)
            curves += [{"location": loc, "sex": sex, "group": label, "age": float(a),
                        "cumulative_incidence": float(v), "ci_low": float(q1), "ci_high": float(q2)}
                       for a, v, q1, q2 in zip(pop.edges, c[0], lo, hi, strict=True)]  # fmt: skip
            reached = reached_by[label]
            rest = reached[1:]
            ok = np.isfinite(rest)
            low, high = (
                np.percentile(rest[ok], [2.5, 97.5]) if ok.mean() > 0.975 else (np.nan, np.nan)
            )
            ages.append({"location": loc, "sex": sex, "group": label, "screening_age": screening_age,
                         "window": window, "threshold": level, "age_reached": round(reached[0], 2),
                         "age_low": round(low, 2), "age_high": round(high, 2)})  # fmt: skip
    return pd.DataFrame(curves), pd.DataFrame(ages)


def effects_from_evaluation(
    hr_per_sd: pd.DataFrame, modifiers: pd.DataFrame
) -> dict[str, ScoreEffect]:
    """Per sex, the score's effect from an evaluation's tables: the sex's log HR per SD
    (``hr_per_sd.tsv``; the overall one for a sex without its own), taken to hold at
    ``AGE_CENTRE``, and the score x age slope of ``prs_modifiers.tsv`` (0 when absent)."""
    hr = hr_per_sd.set_index("group")
    mod = modifiers.set_index("group") if len(modifiers) else pd.DataFrame()
    slope, slope_se = (
        (float(mod.loc["prs_x_age_decade", "log_hr"]), float(mod.loc["prs_x_age_decade", "se"]))
        if "prs_x_age_decade" in mod.index
        else (0.0, 0.0)
    )
    out = {}
    for sex in ("female", "male"):
        g = sex if sex in hr.index else "all"
        if g in hr.index and np.isfinite(hr.loc[g, "log_hr"]):
            out[sex] = ScoreEffect(
                float(hr.loc[g, "log_hr"]), float(hr.loc[g, "se"]), slope, slope_se
            )
    return out


# The shipped synthetic table (igs/resources/recalibration/synthetic_gbd.tsv): per location and
# sex, per-year rates rate * exp(shape * mid) at each 5-year band's middle age, 0-100.
SYNTHETIC_TRUTH = {
    ("Northland", "female"): {"incidence": (1.0e-5, 0.09), "mortality": (4.0e-5, 0.085)},
    ("Northland", "male"): {"incidence": (3.0e-5, 0.085), "mortality": (7.0e-5, 0.085)},
    ("Southland", "female"): {"incidence": (1.5e-5, 0.09), "mortality": (4.8e-5, 0.085)},
    ("Southland", "male"): {"incidence": (4.5e-5, 0.085), "mortality": (8.4e-5, 0.085)},
}


def synthetic_population_table(truth: dict = SYNTHETIC_TRUTH, width: float = 5.0) -> pd.DataFrame:
    """The population table of ``truth`` (see ``SYNTHETIC_TRUTH``) in the read_population layout."""
    edges = np.arange(0.0, 100.0 + width, width)
    rows = []
    for (loc, sex), measures in truth.items():
        for measure, (rate, shape) in measures.items():
            for lo, hi in itertools.pairwise(edges):
                rows.append({"location": loc, "sex": sex, "age_start": lo, "age_end": hi,
                             "measure": measure, "rate": PER * rate * np.exp(shape * (lo + hi) / 2)})  # fmt: skip
    return pd.DataFrame(rows, columns=list(POPULATION_COLUMNS))


def evaluation_effects(evaluate_dir: str | os.PathLike[str]) -> dict[str, ScoreEffect]:
    """:func:`effects_from_evaluation` of one endpoint's evaluation folder (``hr_per_sd.tsv``,
    ``prs_modifiers.tsv`` when present)."""
    from pathlib import Path

    ev = Path(evaluate_dir)
    hr = pd.read_csv(ev / "hr_per_sd.tsv", sep="\t")
    mods_file = ev / "prs_modifiers.tsv"
    mods = pd.read_csv(mods_file, sep="\t") if mods_file.is_file() else pd.DataFrame()
    return effects_from_evaluation(hr, mods)


def populations_of(
    population: str | os.PathLike[str], locations: list[str] | None = None
) -> dict[tuple[str, str], Population]:
    """:func:`read_population` restricted to ``locations`` (default: all); an absent one fails."""
    pops = read_population(population)
    if locations is None:
        return pops
    unknown = sorted(set(locations) - {loc for loc, _ in pops})
    if unknown:
        known = sorted({loc for loc, _ in pops})
        raise InputFormatError(
            f"{population}: no rows for location(s) {', '.join(unknown)}; "
            f"the table has {', '.join(known)}."
        )
    return {k: v for k, v in pops.items() if k[0] in locations}


def recalibrate_evaluation(
    evaluate_dir: str | os.PathLike[str],
    population: str | os.PathLike[str],
    *,
    locations: list[str] | None = None,
    screening_age: float = 50.0,
    window: float = 10.0,
    n_draws: int = 500,
    seed: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`recalibrate` with the score effects of one endpoint's evaluation folder
    (``hr_per_sd.tsv``, ``prs_modifiers.tsv``) and the population table at ``population``,
    for ``locations`` (default: every location in the table)."""
    return recalibrate(populations_of(population, locations), evaluation_effects(evaluate_dir),
                       screening_age=screening_age, window=window, n_draws=n_draws, seed=seed)  # fmt: skip


@dataclass(frozen=True)
class PersonRisks:
    """Per person: the recalibrated risk (point estimate), its 2.5 and 97.5 percentiles over
    draws of the score effects, and the location used ("" where none applied)."""

    risk: np.ndarray
    low: np.ndarray
    high: np.ndarray
    location: np.ndarray


def person_risks(
    pops: dict[tuple[str, str], Population],
    effects: dict[str, ScoreEffect],
    location: str,
    sex: np.ndarray,
    z: np.ndarray,
    start: np.ndarray,
    horizon: float,
    *,
    n_draws: int = 500,
    seed: int = 1,
) -> PersonRisks:
    """Each person's risk within ``horizon`` years from age ``start`` in ``location``'s population
    (:func:`person_risk` with the sex's recalibrated baseline and score effect, ``z`` the score in
    SD); NaN for a sex without a table row or score effect, a missing score or age."""
    sex, z, start = np.asarray(sex).astype(str), np.asarray(z, float), np.asarray(start, float)
    risk, low, high = (np.full(len(z), np.nan) for _ in range(3))
    where = np.full(len(z), "", dtype=object)
    for s in np.unique(sex):
        if (location, s) not in pops or s not in effects:
            continue
        pop, idx = pops[(location, s)], np.flatnonzero(sex == s)
        beta = effects[s].draws((pop.edges[:-1] + pop.edges[1:]) / 2, n_draws, seed)
        r = person_risk(pop, baseline_hazards(pop, beta), beta, z[idx], start[idx], horizon)
        risk[idx] = r[0]
        low[idx], high[idx] = np.percentile(r[1:], [2.5, 97.5], axis=0)
        where[idx] = np.where(np.isfinite(r[0]), location, "")
    return PersonRisks(risk, low, high, where)


CURVE_COLUMNS = ("location", "sex", "group", "age", "cumulative_incidence", "ci_low", "ci_high")
AGE_COLUMNS = ("location", "sex", "group", "screening_age", "window", "threshold", "age_reached",
               "age_low", "age_high")  # fmt: skip


def write_recalibration(
    evaluate_dir: str | os.PathLike[str],
    tables: dict[str, str],
    *,
    screening_age: float = 50.0,
    window: float = 10.0,
    n_draws: int = 500,
    seed: int = 1,
) -> list[str]:
    """``recalibrated_incidence.tsv`` and ``threshold_ages.tsv`` in ``evaluate_dir`` for every
    location of ``tables`` (location -> population table; config ``models.recalibration``),
    written together; with no tables both hold only their header."""
    from pathlib import Path

    from igs.io.atomic import atomic_paths

    curves, ages = [pd.DataFrame(columns=CURVE_COLUMNS)], [pd.DataFrame(columns=AGE_COLUMNS)]
    for location, table in tables.items():
        c, a = recalibrate_evaluation(evaluate_dir, table, locations=[location],
                                      screening_age=screening_age, window=window, n_draws=n_draws, seed=seed)  # fmt: skip
        curves.append(c)
        ages.append(a)
    out = [
        Path(evaluate_dir) / "recalibrated_incidence.tsv",
        Path(evaluate_dir) / "threshold_ages.tsv",
    ]
    frames = [
        pd.concat([f for f in fs if len(f)] or fs[:1], ignore_index=True) for fs in (curves, ages)
    ]
    with atomic_paths(out) as tmps:
        for tmp, frame in zip(tmps, frames, strict=True):
            frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return [str(p) for p in out]
