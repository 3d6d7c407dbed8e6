"""The central side: a Cox model stratified by biobank from the nodes' aggregates.

The stratified log partial likelihood is the sum of the biobanks' own (each biobank keeps its
own baseline hazard), so its gradient and Hessian are the sums of theirs and Newton's method on
the sums gives the coefficients a stratified fit on the concatenated rows gives. ``ask(method,
kwargs, sites=None)`` sends one request to every node (or to ``sites``) and returns
{site: message}; it is the only way the
central part reaches the data (Vantage6 tasks in :mod:`igs.federated.algorithm`, a loop over
local tables in tests and ``igs federated central --mock``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import IGSError
from igs.federated.node import Standardisation
from igs.io.atomic import atomic_paths
from igs.share.meta import pool

Ask = Callable[..., dict[str, dict]]  # ask(method, kwargs, sites=None) -> {site: message}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FederatedFit:
    """The pooled model: coefficients per pooled SD and per unit, their SEs, and the sites."""

    columns: tuple[str, ...]
    scaling: Standardisation
    coef: tuple[float, ...]  # per pooled SD
    se: tuple[float, ...]
    loglik: float
    iterations: int
    sites: dict[str, dict]  # site: n_people, n_events, n_competing

    def table(self) -> pd.DataFrame:
        coef, se, sd = np.array(self.coef), np.array(self.se), np.array(self.scaling.scales)
        return pd.DataFrame({"feature": self.columns, "log_hr_per_sd": coef, "se_per_sd": se,
                             "hr_per_sd": np.exp(coef), "log_hr_per_unit": coef / sd,
                             "se_per_unit": se / sd, "pooled_mean": self.scaling.means,
                             "pooled_sd": sd})  # fmt: skip


def pooled_scaling(summaries: dict[str, dict], columns: list[str]) -> Standardisation:
    """Pooled feature means and SDs from each node's people, means and variances (over observed
    values; a missing value is set to the pooled mean, so any standardisation shared by all
    nodes gives the same model); every node must hold the same features as ``columns``."""
    for site, s in summaries.items():
        if list(s["columns"]) != list(columns):
            extra = sorted(set(s["columns"]) - set(columns))
            lacking = sorted(set(columns) - set(s["columns"]))
            raise IGSError(f"{site}: mismatched feature set across nodes (extra: {extra or 'none'}, missing: {lacking or 'none'}); every node must send {', '.join(columns)}.")  # fmt: skip
    n = np.array([[s["n_people"]] * len(columns) for s in summaries.values()], float)
    m = np.array([s["mean"] for s in summaries.values()], float)
    v = np.array([s["var"] for s in summaries.values()], float)
    total = n.sum(axis=0)
    mean = (n * m).sum(axis=0) / np.where(total > 0, total, 1)
    var = (n * (v + m**2)).sum(axis=0) / np.where(total > 0, total, 1) - mean**2
    sd = np.sqrt(np.clip(var, 0, None))
    return Standardisation(
        tuple(columns), tuple(mean.tolist()), tuple(np.where(sd > 0, sd, 1.0).tolist())
    )


def constant_columns(summaries: dict[str, dict], columns: list[str]) -> list[str]:
    """Features with one value at every node (variance 0 and equal means where anyone is)."""
    out = []
    for j, c in enumerate(columns):
        seen = [s for s in summaries.values() if s["n_people"] > 0]
        if all(s["var"][j] == 0 for s in seen) and len({s["mean"][j] for s in seen}) <= 1:
            out.append(c)
    return out


def newton(
    ask: Ask, scaling: Standardisation, *, tol: float = 1e-10, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Maximise the summed log-likelihood of the nodes ``ask`` reaches: beta, covariance, loglik
    and the number of rounds (step halving as :func:`igs.models.coxsolver.cox_fit`)."""
    p = len(scaling.columns)
    beta = beta_old = np.zeros(p)
    ll_old = -np.inf
    for it in range(1, max_iter + 1):
        ll, g, h = _summed(ask("loglik", {"scaling": asdict(scaling), "beta": beta.tolist()}))
        if ll < ll_old - 1e-12 * max(1.0, abs(ll_old)):
            beta = (beta + beta_old) / 2
            continue
        try:
            step = np.linalg.solve(-h, g)
        except np.linalg.LinAlgError:
            break  # a singular information matrix: a feature without information
        beta_old, ll_old = beta, ll
        beta = beta + step
        if np.max(np.abs(step), initial=0.0) < tol:
            ll, _, h = _summed(ask("loglik", {"scaling": asdict(scaling), "beta": beta.tolist()}))
            return beta, np.linalg.inv(-h), ll, it
        if not np.all(np.isfinite(beta)):
            break
    raise IGSError("the federated Cox model did not converge; a feature may separate events perfectly at some site.")  # fmt: skip


def _summed(messages: dict[str, dict]) -> tuple[float, np.ndarray, np.ndarray]:
    ll = sum(m["loglik"] for m in messages.values())
    g = np.sum([m["gradient"] for m in messages.values()], axis=0)
    h = np.sum([m["hessian"] for m in messages.values()], axis=0)
    return float(ll), np.asarray(g, float), np.asarray(h, float)


def fit(ask: Ask, columns: list[str], *, tol: float = 1e-10, max_iter: int = 50) -> FederatedFit:
    """Summaries, pooled standardisation, then Newton rounds: the stratified Cox model."""
    summaries = ask("summary", {"columns": list(columns)})
    pooled_scaling(summaries, list(columns))  # every node holds the same features
    constant = constant_columns(summaries, list(columns))
    if constant:  # e.g. sex for a one-sex endpoint: no information, a singular Hessian
        log.warning("constant feature(s) %s left out of the federated model", ", ".join(constant))
        columns = [c for c in columns if c not in constant]
        summaries = ask("summary", {"columns": columns})
    scaling = pooled_scaling(summaries, list(columns))
    beta, cov, ll, it = newton(ask, scaling, tol=tol, max_iter=max_iter)
    sites = {
        s: {k: m[k] for k in ("n_people", "n_events", "n_competing")} for s, m in summaries.items()
    }
    return FederatedFit(tuple(columns), scaling, tuple(beta.tolist()),
                        tuple(np.sqrt(np.diag(cov)).tolist()), ll, it, sites)  # fmt: skip


def per_site_fits(ask: Ask, fit_: FederatedFit, **kw) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each biobank's own model (Newton on its own aggregates, same scaling): beta and SE."""
    sites = list(fit_.sites)
    out = {}
    for site in sites:

        def one(method: str, kwargs: dict, sites: list[str] | None = None, s: str = site) -> dict:
            return ask(method, kwargs, [s])

        beta, cov, *_ = newton(one, fit_.scaling, **kw)
        out[site] = (beta, np.sqrt(np.diag(cov)))
    return out


def comparison(
    fit_: FederatedFit, site_fits: dict[str, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """Per feature: the federated estimate, the fixed/random-effects meta-analysis of the
    per-biobank models, and each biobank's own estimate (log HR per pooled SD)."""
    rows = []
    for j, col in enumerate(fit_.columns):
        eff = np.array([b[j] for b, _ in site_fits.values()])
        se = np.array([s[j] for _, s in site_fits.values()])
        pooled = pool(eff, se)
        row = {"feature": col, "federated": fit_.coef[j], "federated_se": fit_.se[j],
               "meta_fixed": pooled.fixed, "meta_fixed_se": pooled.fixed_se,
               "meta_random": pooled.random, "meta_random_se": pooled.random_se, "i2": pooled.i2}  # fmt: skip
        for site, e, s in zip(site_fits, eff, se, strict=True):
            row[f"{site}"], row[f"{site}_se"] = float(e), float(s)
        rows.append(row)
    return pd.DataFrame(rows)


def agreed_edges(proposals: dict[str, dict]) -> list[float]:
    """The grid points every node kept (each node's intervals are unions of its own, so every
    count stays 0 or >= min_cell)."""
    kept = set.intersection(*(set(p["edges"]) for p in proposals.values()))
    return sorted(kept)


def curves(counts: dict[str, dict]) -> pd.DataFrame:
    """Kaplan-Meier survival (event-free; a competing death censors) and Aalen-Johansen
    cumulative incidence (death competing) per site and pooled ("all") on the agreed grid: the
    product-limit estimates from grouped data, each interval's events and deaths over the people
    at risk at its start. They equal lifelines' fits on the rows with entry and exit ages moved
    up to the next grid point (entrants in an interval join the risk set at its end)."""
    frames = []
    for site, c in [*counts.items(), ("all", _sum_counts(counts))]:
        r = np.asarray(c["n_at_risk"], float)
        d, cd = np.asarray(c["n_events"], float), np.asarray(c["n_competing"], float)
        with np.errstate(invalid="ignore", divide="ignore"):
            q_event = np.where(r > 0, d / r, 0.0)
            q_any = np.where(r > 0, (d + cd) / r, 0.0)
        survival = np.r_[1.0, np.cumprod(1.0 - q_event)]
        free = np.r_[1.0, np.cumprod(1.0 - q_any)]  # free of both the event and death
        cif = np.r_[0.0, np.cumsum(free[:-1] * q_event)]
        frames.append(pd.DataFrame({"site": site, "age": c["edges"], "at_risk": np.r_[r, np.nan],
                                    "events": np.r_[np.nan, d], "competing_deaths": np.r_[np.nan, cd],
                                    "survival": survival, "cumulative_incidence": cif}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _sum_counts(counts: dict[str, dict]) -> dict:
    keys = [k for k in next(iter(counts.values())) if k != "edges"]
    out = {k: np.sum([c[k] for c in counts.values()], axis=0).tolist() for k in keys}
    return out | {"edges": next(iter(counts.values()))["edges"]}


def combined_evaluation(messages: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Harrell's C per site and pooled (pairs within sites only), and the calibration bins
    (observed and expected events, O/E) per site."""
    rows, bins = [], []
    for site, m in messages.items():
        rows.append({"site": site, "pairs": m["n_pairs"],
                     "harrell_c": (m["n_concordant"] + 0.5 * m["n_tied"]) / m["n_pairs"]})  # fmt: skip
        for b, (n, o, e, lp) in enumerate(
            zip(m["n_bin"], m["n_observed_events"], m["expected_events"], m["mean_lp"], strict=True)
        ):
            bins.append({"site": site, "bin": b + 1, "n": n, "observed": o, "expected": e,
                         "o_e": o / e if e > 0 else np.nan, "mean_lp": lp})  # fmt: skip
    pairs = sum(m["n_pairs"] for m in messages.values())
    conc = sum(m["n_concordant"] + 0.5 * m["n_tied"] for m in messages.values())
    rows.append({"site": "all", "pairs": pairs, "harrell_c": conc / pairs})
    return pd.DataFrame(rows), pd.DataFrame(bins)


def censoring_weights(counts: dict) -> list[float]:
    """1/G at the end of each follow-up interval: G is the Kaplan-Meier probability of remaining
    uncensored, censorings at a time counted after its events (scikit-survival's
    ``CensoringDistributionEstimator``)."""
    r, d = np.asarray(counts["n_at_risk"], float), np.asarray(counts["n_events"], float)
    c = np.asarray(counts["n_censored"], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.cumprod(1.0 - np.where(r - d > 0, c / (r - d), 0.0))
    return np.where(g > 0, 1.0 / g, 0.0).tolist()


def _auc(weights: np.ndarray, controls: np.ndarray) -> float:
    """Cumulative/dynamic AUC from cases' weights and controls per risk bin (ascending): a case
    outranks the controls in lower bins and ties those in its own."""
    below = np.r_[0.0, np.cumsum(controls)[:-1]]
    den = weights.sum() * controls.sum()
    return float(weights @ (below + 0.5 * controls) / den) if den > 0 else float("nan")


RISK_GRID = [round(x, 2) for x in np.arange(-12.0, 4.0001, 0.05)]  # cloglog of the risk


def td_auc(
    ask: Ask, scaling: Standardisation, beta: list[float], horizon: float, *,
    followup_step: float = 1.0, risk_grid: list[float] = RISK_GRID,
) -> pd.DataFrame:  # fmt: skip
    """The pooled model's cumulative/dynamic AUC at ``horizon`` years of follow-up, per site and
    pooled ("all", cases and controls from every site compared): inverse-probability-of-
    censoring weights from the pooled (or the site's own) censoring distribution on a shared
    follow-up grid, risks on a shared grid; both grids merged until no count is small. Equal to
    scikit-survival's ``cumulative_dynamic_auc`` on the rows with follow-up and risk coarsened to
    the agreed grids."""
    grid = sorted({*np.arange(0.0, horizon, followup_step).round(9).tolist(), float(horizon)})
    followup = agreed_edges(ask("followup_edges", {"grid": grid}))
    counts = ask("censoring_counts", {"edges": followup})
    weights = {s: censoring_weights(c) for s, c in counts.items()}
    weights["pooled"] = censoring_weights(_sum_counts(counts))
    model = {"scaling": asdict(scaling), "beta": list(beta), "horizon": float(horizon)}
    proposals = ask("risk_edges", model | {"grid": list(risk_grid)})
    risk = agreed_edges(proposals)
    bins = ask("auc_counts", model | {"followup": followup, "weights": weights, "risk": risk})
    rows = []
    for site, m in bins.items():
        ctrl = np.asarray(m["n_controls"], float)
        rows.append({"site": site, "horizon": horizon, "cases": int(np.sum(m["n_cases"])),
                     "controls": int(ctrl.sum()),
                     "td_auc": _auc(np.asarray(m[f"case_weight_{site}"], float), ctrl)})  # fmt: skip
    ctrl = np.sum([m["n_controls"] for m in bins.values()], axis=0).astype(float)
    w = np.sum([m["case_weight_pooled"] for m in bins.values()], axis=0)
    rows.append({"site": "all", "horizon": horizon, "cases": sum(r["cases"] for r in rows),
                 "controls": int(ctrl.sum()), "td_auc": _auc(w, ctrl)})  # fmt: skip
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class FederatedResult:
    fit: FederatedFit
    comparison: pd.DataFrame
    curves: pd.DataFrame
    concordance: pd.DataFrame
    calibration: pd.DataFrame
    td_auc: pd.DataFrame


def run(
    ask: Ask, columns: list[str], *, grid: list[float], horizon: float, n_bins: int = 5,
    tol: float = 1e-10, max_iter: int = 50,
) -> FederatedResult:  # fmt: skip
    """The whole federated analysis: model, per-site models and their meta-analysis, curves,
    evaluation (C, calibration, td-AUC at ``horizon``). Raises before anything is written if any node fails or times out."""
    if len(grid) < 2 or list(grid) != sorted(set(grid)):
        raise IGSError(f"federated.grid needs at least two increasing ages; got {list(grid)}.")
    f = fit(ask, columns, tol=tol, max_iter=max_iter)
    comp = comparison(f, per_site_fits(ask, f, tol=tol, max_iter=max_iter))
    edges = agreed_edges(ask("grid_edges", {"grid": list(map(float, grid))}))
    cur = curves(ask("curve_counts", {"edges": edges}))
    ev = {"scaling": asdict(f.scaling), "beta": list(f.coef), "horizon": horizon, "n_bins": n_bins}
    conc, cal = combined_evaluation(ask("evaluation", ev))
    auc = td_auc(ask, f.scaling, list(f.coef), horizon)
    return FederatedResult(f, comp, cur, conc, cal, auc)


def write(result: FederatedResult, out_dir: str | Path) -> list[Path]:
    """model.json and the tables, all or none."""
    out = Path(out_dir)
    names = ["model.json", "coefficients.tsv", "comparison.tsv", "curves.tsv",
             "concordance.tsv", "calibration.tsv", "td_auc.tsv"]  # fmt: skip
    paths = [out / n for n in names]
    with atomic_paths(paths) as tmp:
        f = result.fit
        model = {"kind": "cox_stratified_by_site", "columns": list(f.columns),
                 "coef_per_sd": list(f.coef), "se_per_sd": list(f.se), "scaling": asdict(f.scaling),
                 "loglik": f.loglik, "iterations": f.iterations, "sites": f.sites}  # fmt: skip
        tmp[0].write_text(json.dumps(model, indent=2) + "\n")
        for t, frame in zip(tmp[1:], [f.table(), result.comparison, result.curves,
                                      result.concordance, result.calibration, result.td_auc],
                                     strict=True):  # fmt: skip
            frame.to_csv(t, sep="\t", index=False, float_format="%.6g")
    return paths
