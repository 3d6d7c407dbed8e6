"""Discrimination, calibration and clinical-utility metrics for survival predictions.

Times here are years of follow-up since each person's start (horizons such as 5 and 10 years).
Harrell's and Uno's C are counted here by sorting, in O(n log n) (checked against lifelines and
scikit-survival in the tests); Uno's C weights, time-dependent AUC and Brier scores use
scikit-survival's inverse-probability-of-censoring estimators with the training data's
censoring distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cloglog(risk: np.ndarray) -> np.ndarray:
    """log(-log(1 - risk)): the linear-predictor scale of an absolute risk (calibration covariate)."""
    return np.log(-np.log(np.clip(1 - np.asarray(risk, float), 1e-12, 1 - 1e-12)))


def _prefix_counts(y: np.ndarray, prefix: np.ndarray, below: np.ndarray) -> np.ndarray:
    """For each query q, how many of ``y[:prefix[q]]`` are smaller than ``below[q]``.

    ``y`` holds distinct integers in 0..n-1 and ``below`` values in 0..n. An offline Fenwick tree
    (merge-sort tree) taken one level at a time: at level k the first ``prefix`` items split into
    blocks of 2**k, one per set bit of ``prefix``, and each block's count is a binary search in
    the keys (block, y), kept sorted by merging the sorted runs of the level below (timsort
    merges runs in linear time). O(n log n) time, O(n) memory.
    """
    n = len(y)
    shift = max(n, 1).bit_length()
    low = (1 << shift) - 1
    keys = (np.arange(n, dtype=np.int64) << shift) | np.asarray(y, np.int64)
    prefix, below = np.asarray(prefix, np.int64), np.asarray(below, np.int64)
    out = np.zeros(len(prefix), np.int64)
    level, top = 0, int(prefix.max(initial=0))
    while (1 << level) <= top:
        sel = np.flatnonzero((prefix >> level) & 1)
        block = (prefix[sel] >> level) - 1
        out[sel] += np.searchsorted(keys, (block << shift) | below[sel]) - (block << level)
        keys = np.sort(((keys >> (shift + 1)) << shift) | (keys & low), kind="stable")
        level += 1
    return out


def _comparable_queries(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, tied_tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The people in time order (descending; censored before events at the same time, so an
    event's comparable people are exactly those before the first event of its time), their risk
    ranks, and per event: its place, its number of comparable people, and the ranks that bound
    the risks lower by more than ``tied_tol`` and within ``tied_tol`` of its own."""
    n = len(time)
    order = np.lexsort((event, -time))
    t_sorted, e_sorted = time[order], event[order]
    new_run = np.r_[True, (t_sorted[1:] != t_sorted[:-1]) | (e_sorted[1:] != e_sorted[:-1])]
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
    ev_pos = np.flatnonzero(e_sorted)
    by_risk = np.argsort(risk, kind="stable")
    rank = np.empty(n, np.int64)
    rank[by_risk] = np.arange(n)
    r_ev = risk[order[ev_pos]]
    lower = np.searchsorted(risk[by_risk], r_ev - tied_tol, side="left")
    upper = np.searchsorted(risk[by_risk], r_ev + tied_tol, side="right")
    return order, rank[order], ev_pos, run_start[ev_pos], lower, upper


def _concordance_counts(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, tied_tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per event: its index, its comparable people (a later time, or the same time censored),
    and among them those with a lower risk (by more than ``tied_tol``) and a risk within
    ``tied_tol`` of its own. Sorting plus :func:`_prefix_counts`: O(n log n)."""
    order, y, ev_pos, comparable, lower, upper = _comparable_queries(time, event, risk, tied_tol)
    counts = _prefix_counts(y, np.r_[comparable, comparable], np.r_[lower, upper])
    below, within = counts[: len(ev_pos)], counts[len(ev_pos) :]
    return order[ev_pos], comparable, below, within - below


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's concordance: among comparable pairs (the shorter time is an event; at equal times
    an event against a censoring), the share where the earlier failure has the higher risk
    (equal risks count one half). O(n log n) time and O(n) memory."""
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    _, comparable, concordant, tied = _concordance_counts(time, event, risk, 0.0)
    pairs = int(comparable.sum())
    if pairs == 0:
        return float("nan")
    return float((int(concordant.sum()) + 0.5 * int(tied.sum())) / pairs)


def _structured(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    from sksurv.util import Surv

    return Surv.from_arrays(event=np.asarray(event, bool), time=np.asarray(time, float))


def censoring_survival(time: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Kaplan-Meier probability of remaining uncensored at ``at`` (censorings at a time count
    after that time's events), looked up as scikit-survival's ``CensoringDistributionEstimator``
    does: the step at or before each time, equal within machine epsilon."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    times, inverse = np.unique(time, return_inverse=True)
    total = np.bincount(inverse)
    events = np.bincount(inverse, weights=event)
    censored = total - events
    at_risk = len(time) - np.r_[0, np.cumsum(total)[:-1]] - events
    ratio = np.divide(censored, at_risk, out=np.zeros(len(times)), where=censored != 0)
    grid, prob = np.r_[-np.inf, times], np.r_[1.0, np.cumprod(1.0 - ratio)]
    at = np.asarray(at, float)
    idx = np.minimum(np.searchsorted(grid, at), len(grid) - 1)
    exact = np.abs(grid[idx] - at) < np.finfo(float).eps
    return prob[np.where(exact, idx, idx - 1)]


def uno_c(train_time, train_event, time, event, risk, tau: float) -> float:
    """Uno's C truncated at ``tau`` years, as scikit-survival's ``concordance_index_ipcw``
    (censoring weights from the training data, risks within 1e-8 tied) but with the pairs
    counted by sorting: O(n log n) instead of O(n^2)."""
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    tau = min(tau, float(np.max(time[event])) - 1e-9, float(np.max(train_time)) - 1e-9)
    ev_idx, comparable, concordant, tied = _concordance_counts(time, event, risk, 1e-8)
    weight = np.zeros(len(ev_idx))
    early = time[ev_idx] < tau
    weight[early] = censoring_survival(train_time, train_event, time[ev_idx][early]) ** -2.0
    denominator = float(weight @ comparable)
    if denominator == 0:
        return float("nan")
    return float(weight @ (concordant + 0.5 * tied)) / denominator


def _prefix_levels(
    y: np.ndarray, prefix: np.ndarray, below: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The levels of :func:`_prefix_counts` kept for weighted counts: at each level how the
    items move from the level below (a merge: the gather reads two runs in order, which is
    cache-friendly, unlike a gather from the first order), the queries answered there, and the
    sorted positions that bound their block."""
    n = len(y)
    shift = max(n, 1).bit_length()
    low = (1 << shift) - 1
    keys = (np.arange(n, dtype=np.int64) << shift) | np.asarray(y, np.int64)
    moved = np.arange(n)
    prefix, below = np.asarray(prefix, np.int64), np.asarray(below, np.int64)
    levels, level, top = [], 0, int(prefix.max(initial=0))
    while (1 << level) <= top:
        sel = np.flatnonzero((prefix >> level) & 1)
        block = (prefix[sel] >> level) - 1
        end = np.searchsorted(keys, (block << shift) | below[sel])
        levels.append((moved, sel, block << level, end))
        merged = ((keys >> (shift + 1)) << shift) | (keys & low)
        moved = np.argsort(merged, kind="stable")
        keys = merged[moved]
        level += 1
    return levels


class BootstrapConcordance:
    """Harrell's C, or Uno's C given the training data and ``tau``, of bootstrap resamples of
    one data set: equal to :func:`harrell_c` / :func:`uno_c` of ``time[index]`` etc., but the
    sorting and the merge-sort tree are built once (O(n log n) memory); each resample then costs
    a few cumulative sums of its multiplicities per tree level."""

    def __init__(self, time, event, risk, *, train=None, tau: float = np.inf) -> None:
        time, event, risk = (
            np.asarray(time, float),
            np.asarray(event, bool),
            np.asarray(risk, float),
        )
        tied_tol = 1e-8 if train is not None else 0.0  # as uno_c (scikit-survival) and harrell_c
        order, y, ev_pos, comparable, lower, upper = _comparable_queries(
            time, event, risk, tied_tol
        )
        self._n, self._order, self._ev = len(time), order, order[ev_pos]
        self._comparable = comparable
        self._levels = _prefix_levels(y, np.r_[comparable, comparable], np.r_[lower, upper])
        self._ev_time = time[self._ev]
        self._tau, self._ipcw2 = tau, None
        if train is not None:
            train_time, train_event = np.asarray(train[0], float), np.asarray(train[1], bool)
            self._train_max = float(np.max(train_time)) - 1e-9
            usable = self._ev_time < self._train_max
            ipcw2 = np.zeros(len(ev_pos))
            ipcw2[usable] = (
                censoring_survival(train_time, train_event, self._ev_time[usable]) ** -2.0
            )
            self._ipcw2 = ipcw2

    def __call__(self, index: np.ndarray) -> float:
        """The C of the resample ``index`` (people may repeat)."""
        count = np.bincount(index, minlength=self._n).astype(float)
        in_order = count.take(self._order)
        level_order = in_order
        m = len(self._ev)
        sums, cum = np.zeros(2 * m), np.zeros(self._n + 1)
        for moved, sel, start, end in self._levels:
            level_order = level_order.take(moved)
            np.cumsum(level_order, out=cum[1:])
            sums[sel] += cum.take(end) - cum.take(start)
        below, within = sums[:m], sums[m:]
        comparable = np.r_[0.0, np.cumsum(in_order)][self._comparable]
        weight = count[self._ev]
        if self._ipcw2 is not None:
            present = self._ev_time[weight > 0]
            if not len(present):
                return float("nan")
            tau = min(self._tau, float(present.max()) - 1e-9, self._train_max)
            weight = weight * np.where(self._ev_time < tau, self._ipcw2, 0.0)
        denominator = float(weight @ comparable)
        if denominator == 0:
            return float("nan")
        return float(weight @ (below + 0.5 * (within - below))) / denominator


def time_dependent_auc(
    train_time, train_event, time, event, risk_at: dict[float, np.ndarray]
) -> dict[float, float]:
    """Cumulative/dynamic AUC at each horizon, for the predicted risk at that horizon."""
    from sksurv.metrics import cumulative_dynamic_auc

    out = {}
    for h, risk in risk_at.items():
        try:
            auc, _ = cumulative_dynamic_auc(
                _structured(train_time, train_event), _structured(time, event), risk, [h]
            )
            out[h] = float(auc[0])
        except ValueError:  # no event before h or nobody at risk after it
            out[h] = float("nan")
    return out


def brier_scores(
    train_time, train_event, time, event, survival_at: dict[float, np.ndarray]
) -> dict[float, float]:
    """IPCW Brier score at each horizon, from predicted survival probabilities."""
    from sksurv.metrics import brier_score

    out = {}
    for h, surv in survival_at.items():
        try:
            out[h] = float(
                brier_score(
                    _structured(train_time, train_event),
                    _structured(time, event),
                    surv[:, None],
                    [h],
                )[1][0]
            )
        except ValueError:
            out[h] = float("nan")
    return out


def integrated_brier(
    train_time, train_event, time, event, times: np.ndarray, survival: np.ndarray
) -> float:
    """Integrated Brier score over ``times`` (survival: n x len(times))."""
    from sksurv.metrics import integrated_brier_score

    return float(
        integrated_brier_score(
            _structured(train_time, train_event), _structured(time, event), survival, times
        )
    )


def kaplan_meier_risk(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """1 - Kaplan-Meier survival at ``horizon``."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    failures, deaths = np.unique(time[event & (time <= horizon)], return_counts=True)
    at_risk = len(time) - np.searchsorted(np.sort(time), failures, side="left")
    s = float(np.prod(1.0 - deaths / at_risk)) if len(failures) else 1.0
    return 1.0 - s


def calibration(
    time, event, predicted_risk, horizon: float, lp: np.ndarray, n_bins: int = 10
) -> dict:
    """Observed (Kaplan-Meier) against predicted risk at ``horizon`` by decile of predicted risk,
    the overall observed/expected ratio, and the calibration slope (Cox coefficient of the
    linear predictor in these data; 1 is ideal)."""
    time, event, pred = (
        np.asarray(time, float),
        np.asarray(event, bool),
        np.asarray(predicted_risk, float),
    )
    bins = pd.qcut(pd.Series(pred).rank(method="first"), n_bins, labels=False)
    rows = []
    for b in range(n_bins):
        m = (bins == b).to_numpy()
        rows.append(
            {
                "bin": b + 1,
                "n": int(m.sum()),
                "predicted": float(pred[m].mean()),
                "observed": kaplan_meier_risk(time[m], event[m], horizon),
            }
        )
    observed = kaplan_meier_risk(time, event, horizon)
    slope = calibration_slope(time, event, lp, horizon)
    return {
        "horizon": horizon,
        "observed_risk": observed,
        "expected_risk": float(pred.mean()),
        "observed_expected": observed / float(pred.mean()) if pred.mean() > 0 else float("nan"),
        "slope": float(slope),
        "bins": rows,
    }


def calibration_slope(time, event, lp: np.ndarray, horizon: float) -> float:
    """Cox coefficient of ``lp`` with follow-up capped at ``horizon`` (igs's solver, Efron ties;
    NaN with fewer than 5 events by then, a constant ``lp`` or a fit that does not converge)."""
    from igs.errors import IGSError
    from igs.models.coxsolver import cox_fit

    time, event, lp = np.asarray(time, float), np.asarray(event, bool), np.asarray(lp, float)
    capped_e = event & (time <= horizon)
    if capped_e.sum() < 5 or np.std(lp) == 0:
        return float("nan")
    try:
        return float(
            cox_fit(lp[:, None], np.zeros(len(time)), np.minimum(time, horizon), capped_e)[0]
        )
    except IGSError:
        return float("nan")


def continuous_nri(time, event, old_risk, new_risk, horizon: float) -> dict:
    """Category-free NRI at ``horizon``: events by then and people followed event-free past it."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    case = event & (time <= horizon)
    control = time > horizon
    up = np.asarray(new_risk) > np.asarray(old_risk)
    down = np.asarray(new_risk) < np.asarray(old_risk)
    nri_events = float(up[case].mean() - down[case].mean()) if case.any() else float("nan")
    nri_nonevents = (
        float(down[control].mean() - up[control].mean()) if control.any() else float("nan")
    )
    return {
        "nri": nri_events + nri_nonevents,
        "nri_events": nri_events,
        "nri_nonevents": nri_nonevents,
    }


def net_benefit(time, event, risk, horizon: float, thresholds: tuple[float, ...]) -> list[dict]:
    """Decision-curve net benefit at ``horizon`` (Kaplan-Meier among those above each threshold),
    with the treat-all strategy for reference."""
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    overall = kaplan_meier_risk(time, event, horizon)
    rows = []
    for pt in thresholds:
        treat = risk >= pt
        share = float(treat.mean())
        r = kaplan_meier_risk(time[treat], event[treat], horizon) if treat.any() else 0.0
        odds = pt / (1 - pt)
        rows.append(
            {
                "threshold": pt,
                "net_benefit": share * r - share * (1 - r) * odds,
                "treat_all": overall - (1 - overall) * odds,
                "share_above": share,
            }
        )
    return rows


def bootstrap_values(stat, n: int, *, n_boot: int = 200, seed: int = 42) -> np.ndarray:
    """``stat(index)`` of each bootstrap resample of 0..n-1 (the same resamples for the same
    ``n``, ``n_boot`` and ``seed``: statistics of one resample can be paired)."""
    rng = np.random.default_rng(seed)
    return np.asarray([stat(rng.integers(0, n, n)) for _ in range(n_boot)], dtype=float)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite ``values`` (NaN, NaN if none is finite)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))


def bootstrap_ci(
    stat, n: int, *, n_boot: int = 200, seed: int = 42, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``stat(index)`` over bootstrap resamples of 0..n-1."""
    return percentile_interval(bootstrap_values(stat, n, n_boot=n_boot, seed=seed), level)
