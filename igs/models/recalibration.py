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


def cumulative_incidence(pop: Population, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative incidence at each band edge of every ``PARTITION`` group and of the whole
    population: arrays (draws, groups, edges) and (draws, edges). ``beta`` is (draws, bands)."""
    beta = np.atleast_2d(beta)
    groups = list(itertools.pairwise(PARTITION))
    p = np.array([hi - lo for lo, hi in groups], float) / 100
    hr = np.stack([group_hr(beta, lo, hi) for lo, hi in groups], axis=1)  # draws, groups, bands
    n_draws, n_groups, n_bands = hr.shape
    surv = np.ones((n_draws, n_groups))
    ci = np.zeros((n_draws, n_groups, n_bands + 1))
    width = np.diff(pop.edges)
    for j in range(n_bands):
        h0 = _baseline(pop.incidence[j], pop.mortality[j], width[j], p * surv, hr[:, :, j])
        h = h0[:, None] * hr[:, :, j]
        total = h + pop.mortality[j]
        out = 1 - np.exp(-total * width[j])
        ci[:, :, j + 1] = (
            ci[:, :, j] + surv * np.where(total > 0, h / np.where(total > 0, total, 1), 0) * out
        )
        surv = surv * (1 - out)
    return ci, (ci * p[None, :, None]).sum(axis=1)


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


def report_curves(ci: np.ndarray) -> dict[str, np.ndarray]:
    """The ``REPORT_GROUPS`` curves (draws, edges) as the share-weighted mean of the partition's."""
    groups = list(itertools.pairwise(PARTITION))
    out = {}
    for label, (lo, hi) in REPORT_GROUPS.items():
        idx = [k for k, (a, b) in enumerate(groups) if a >= lo and b <= hi]
        w = np.array([groups[k][1] - groups[k][0] for k in idx], float)
        out[label] = (ci[:, idx, :] * (w / w.sum())[None, :, None]).sum(axis=1)
    return out


def age_reaching(edges: np.ndarray, curve: np.ndarray, level: float) -> np.ndarray:
    """Age at which each curve (draws, edges) first reaches ``level`` (linear within a band; NaN
    if never)."""
    out = np.full(curve.shape[0], np.nan)
    for d in range(curve.shape[0]):
        k = np.flatnonzero(curve[d] >= level)
        if len(k) and k[0] > 0:
            j = k[0]
            lo, hi = curve[d, j - 1], curve[d, j]
            out[d] = edges[j - 1] + (level - lo) / (hi - lo) * (edges[j] - edges[j - 1])
        elif len(k):
            out[d] = edges[0]
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
    threshold_age: float = 60.0,
    n_draws: int = 500,
    seed: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, threshold ages) for every location and sex that ``effects`` (keyed by sex) covers.

    ``curves``: location, sex, group (a ``REPORT_GROUPS`` label or ``population``), age (each
    band edge), cumulative_incidence, ci_low, ci_high. ``threshold ages``: location, sex, group,
    threshold (the population's cumulative incidence by ``threshold_age``), age_reached,
    age_low, age_high (NaN when a group never reaches it within the table's ages).
    """
    curves, ages = [], []
    for (loc, sex), pop in pops.items():
        if sex not in effects:
            continue
        mids = (pop.edges[:-1] + pop.edges[1:]) / 2
        ci, popc = cumulative_incidence(pop, effects[sex].draws(mids, n_draws, seed))
        level = float(np.interp(threshold_age, pop.edges, popc[0]))
        for label, c in {**report_curves(ci), "population": popc}.items():
            lo, hi = np.percentile(c[1:], [2.5, 97.5], axis=0)
            curves += [{"location": loc, "sex": sex, "group": label, "age": float(a),
                        "cumulative_incidence": float(v), "ci_low": float(q1), "ci_high": float(q2)}
                       for a, v, q1, q2 in zip(pop.edges, c[0], lo, hi, strict=True)]  # fmt: skip
            reached = age_reaching(pop.edges, c, level)
            rest = reached[1:]
            ok = np.isfinite(rest)
            low, high = (
                np.percentile(rest[ok], [2.5, 97.5]) if ok.mean() > 0.975 else (np.nan, np.nan)
            )
            ages.append({"location": loc, "sex": sex, "group": label, "threshold": level,
                         "age_reached": reached[0], "age_low": low, "age_high": high})  # fmt: skip
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


def recalibrate_evaluation(
    evaluate_dir: str | os.PathLike[str],
    population: str | os.PathLike[str],
    *,
    locations: list[str] | None = None,
    threshold_age: float = 60.0,
    n_draws: int = 500,
    seed: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`recalibrate` with the score effects of one endpoint's evaluation folder
    (``hr_per_sd.tsv``, ``prs_modifiers.tsv``) and the population table at ``population``,
    for ``locations`` (default: every location in the table)."""
    from pathlib import Path

    ev = Path(evaluate_dir)
    hr = pd.read_csv(ev / "hr_per_sd.tsv", sep="\t")
    mods_file = ev / "prs_modifiers.tsv"
    mods = pd.read_csv(mods_file, sep="\t") if mods_file.is_file() else pd.DataFrame()
    pops = read_population(population)
    if locations is not None:
        unknown = sorted(set(locations) - {loc for loc, _ in pops})
        if unknown:
            known = sorted({loc for loc, _ in pops})
            raise InputFormatError(
                f"{population}: no rows for location(s) {', '.join(unknown)}; "
                f"the table has {', '.join(known)}."
            )
        pops = {k: v for k, v in pops.items() if k[0] in locations}
    return recalibrate(pops, effects_from_evaluation(hr, mods), threshold_age=threshold_age,
                       n_draws=n_draws, seed=seed)  # fmt: skip


CURVE_COLUMNS = ("location", "sex", "group", "age", "cumulative_incidence", "ci_low", "ci_high")
AGE_COLUMNS = ("location", "sex", "group", "threshold", "age_reached", "age_low", "age_high")


def write_recalibration(
    evaluate_dir: str | os.PathLike[str],
    tables: dict[str, str],
    *,
    threshold_age: float = 60.0,
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
                                      threshold_age=threshold_age, n_draws=n_draws, seed=seed)  # fmt: skip
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
