"""A fast Newton-Raphson solver for the Cox model with Efron ties, delayed entry and an L2 penalty.

lifelines fits delayed-entry Cox models through its time-varying code path, which takes seconds
per fit at biobank sizes; cross-validation and penalty choice need hundreds of fits. This solver
maximises the same penalised partial likelihood (lifelines' parametrisation:
``loglik - n * penalizer / 2 * ||beta||^2``) with vectorised risk-set sums, and the tests check
it against lifelines and R to 1e-6. The Breslow baseline hazard honours delayed entry (the
people at risk at time t are those with start < t <= stop), which lifelines' baseline does not.
"""

from __future__ import annotations

import numpy as np

from igs.errors import ModelError


def _risk_set_sums(start, stop, event_times, r, x, need_second: bool):
    """S0, S1 (and S2) at each event time over the risk set {start < t <= stop}."""
    order_stop = np.argsort(stop, kind="stable")
    order_start = np.argsort(start, kind="stable")
    stop_sorted, start_sorted = stop[order_stop], start[order_start]

    def tail_sums(values, order, sorted_times, side):
        # sum over people whose time (stop or start) is >= t (side="left") or > t (side="right")
        cum = np.concatenate(
            [np.cumsum(values[order][::-1], axis=0)[::-1], np.zeros((1, *values.shape[1:]))]
        )
        return cum[np.searchsorted(sorted_times, event_times, side=side)]

    def at_risk(values):
        return tail_sums(values, order_stop, stop_sorted, "left") - tail_sums(
            values, order_start, start_sorted, "left"
        )

    s0 = at_risk(r)
    s1 = at_risk(r[:, None] * x)
    s2 = at_risk(r[:, None, None] * x[:, :, None] * x[:, None, :]) if need_second else None
    return s0, s1, s2


def tied_events(
    stop: np.ndarray, event: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The events, their distinct times, each event's time index, and its Efron fraction.

    Efron: the l-th of d tied events (l = 0..d-1) removes l/d of the tied events' risk.
    """
    ev_idx = np.flatnonzero(np.asarray(event, bool))
    times, inverse = np.unique(stop[ev_idx], return_inverse=True)
    d = np.bincount(inverse)  # tied events per time
    rank = np.zeros(len(ev_idx))
    for k in np.flatnonzero(d > 1):
        members = np.flatnonzero(inverse == k)
        rank[members] = np.arange(len(members))
    return ev_idx, times, inverse, rank / d[inverse]


def penalised_loglik(
    x: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    beta: np.ndarray,
    penalizer: float = 0.0,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Penalised log partial likelihood, its gradient and Hessian at ``beta``."""
    x = np.asarray(x, float)
    return _loglik(x, start, stop, *tied_events(stop, event), beta, penalizer, len(x))


def cox_covariance(
    x: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    beta: np.ndarray,
    *,
    penalizer: float = 0.0,
) -> np.ndarray:
    """Inverse of the negative (penalised) Hessian at ``beta``: the coefficients' covariance."""
    return np.linalg.inv(-penalised_loglik(x, start, stop, event, beta, penalizer)[2])


def cox_fit(
    x: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    *,
    penalizer: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    """Penalised partial-likelihood estimate of beta (Efron ties, delayed entry at ``start``)."""
    x = np.asarray(x, float)
    n, p = x.shape
    events = tied_events(stop, event)
    _check_risk_sets(start, stop, events[1])
    beta = beta_old = np.zeros(p)
    ll_old = -np.inf
    for _ in range(max_iter):
        ll, g, h = _loglik(x, start, stop, *events, beta, penalizer, n)
        if ll < ll_old - 1e-12:  # overshoot: halve the step
            beta = (beta + beta_old) / 2
            continue
        step = np.linalg.solve(-h, g) if p else np.zeros(0)
        beta_old, ll_old = beta, ll
        beta = beta + step
        if np.max(np.abs(step), initial=0.0) < tol:
            return beta
        if not np.all(np.isfinite(beta)):
            break
    raise ModelError("the Cox model did not converge; a feature may separate events perfectly.")


def _check_risk_sets(start: np.ndarray, stop: np.ndarray, times: np.ndarray) -> None:
    """Everyone who has an event must be at risk then (start < t <= stop)."""
    at_risk = np.searchsorted(np.sort(start), times, "left") - np.searchsorted(
        np.sort(stop), times, "left"
    )
    if np.any(at_risk <= 0):
        raise ModelError("an event time has nobody at risk; check that start < stop for everyone.")


def _loglik(x, start, stop, ev_idx, times, inverse, frac, beta, penalizer, n):
    lp = x @ beta
    shift = lp.max()
    r = np.exp(lp - shift)
    s0, s1, s2 = _risk_set_sums(start, stop, times, r, x, need_second=True)
    xe, re = x[ev_idx], r[ev_idx]
    t0 = np.bincount(inverse, weights=re)
    t1 = np.zeros((len(times), x.shape[1]))
    np.add.at(t1, inverse, re[:, None] * xe)
    t2 = np.zeros((len(times), x.shape[1], x.shape[1]))
    np.add.at(t2, inverse, re[:, None, None] * xe[:, :, None] * xe[:, None, :])
    f = frac
    a0 = s0[inverse] - f * t0[inverse]
    a1 = s1[inverse] - f[:, None] * t1[inverse]
    a2 = s2[inverse] - f[:, None, None] * t2[inverse]
    if np.any(a0 <= 0):  # risk sets are not empty (checked), so the weights underflowed
        raise ModelError("the Cox model did not converge; a feature may separate events perfectly.")
    ll = lp[ev_idx].sum() - np.log(a0).sum() - len(ev_idx) * shift
    mean1 = a1 / a0[:, None]
    g = xe.sum(axis=0) - mean1.sum(axis=0)
    h = -(a2 / a0[:, None, None]).sum(axis=0) + np.einsum("ei,ej->ij", mean1, mean1)
    if penalizer > 0:
        ll -= 0.5 * n * penalizer * beta @ beta
        g = g - n * penalizer * beta
        h = h - n * penalizer * np.eye(len(beta))
    return ll, g, h


def breslow_delayed_entry(
    start: np.ndarray, stop: np.ndarray, event: np.ndarray, lp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline cumulative hazard at each event time; at risk means start < t <= stop."""
    event = np.asarray(event, bool)
    times, deaths = np.unique(stop[event], return_counts=True)
    shift = lp.max()
    s0, _, _ = _risk_set_sums(
        start, stop, times, np.exp(lp - shift), np.zeros((len(lp), 0)), need_second=False
    )
    return times, np.cumsum(deaths / (s0 * np.exp(shift)))
