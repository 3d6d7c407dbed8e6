"""The omics block of the integrative model: an elastic-net Cox sub-score learnt in training data.

Entering twenty or more analytes into a Cox model beside the clinical and PRS features lets the
noise analytes cost more than the informative ones gain. Instead, inside whatever data the
model is fitted on (the 70% training split, or a cross-validation fold's training part; never
the held-out people):

1. an elastic-net Cox model (age time scale, delayed entry, Efron ties; ``l1_ratio`` 0.5)
   of the standardised omics features, adjusted for the clinical and PRS features (which get
   only a small L2 penalty, ``BASE_PENALIZER``), is fitted along a path of penalties from the
   smallest that keeps every omics coefficient at 0 down to 1% of it; the penalty with the best
   3-fold cross-validated partial likelihood (Verweij & van Houwelingen 1993) is kept;
2. the omics sub-score is the omics part of that model's linear predictor, ``sum_j w_j z_j``;
3. the integrative Cox model is fitted on the clinical and PRS features plus that one sub-score
   (its L2 penalty chosen as for every model set), where each person's sub-score comes from the
   one learnt without their third of the data (:func:`cross_fitted_score`: refitting a score's
   coefficient on the data that chose its analytes overrates it, a noise score most); the
   coefficient is then folded into the score learnt on all the data, one coefficient per
   analyte, and the baseline refitted (:meth:`OmicsScore.fold_in`), so ``model.json``, the export
   and ``igs models apply`` use the raw analytes as before. When no analyte is selected, in all
   the data or in any of the three parts, the integrative model is the clinical + PRS model
   with omics coefficients 0.

The solver maximises ``loglik / n - lam * sum_j pf_j (l1_ratio |b_j| + (1 - l1_ratio) b_j^2 / 2)``
(scikit-survival's Coxnet objective, tested equal to it) by proximal Newton steps: the
quadratic model at the current coefficients is minimised by coordinate descent, then a
backtracking line search on the true objective.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from igs.errors import ModelError
from igs.models.coxsolver import RiskSets, _check_risk_sets, _loglik
from igs.models.dataset import Preprocessor, SurvivalData

OMICS_SCORE = "omics_score"  # the sub-score's column in the integrative model's design
WEIGHT_TOL = 1e-8  # an analyte weight (per SD) smaller than this is zero
L1_RATIO = 0.5
BASE_PENALIZER = 0.01  # L2 on the clinical and PRS features while the sub-score is learnt
N_LAMBDAS = 12
LAMBDA_MIN_RATIO = 0.01


@dataclass(frozen=True)
class OmicsScore:
    """An omics sub-score learnt in training data: ``sum_j weights_j * z_j`` with ``z`` the
    analytes imputed and standardised by ``preprocessor`` (training medians, means, SDs)."""

    preprocessor: Preprocessor
    weights: list[float]
    lam: float
    l1_ratio: float
    lambdas: list[float]
    cv_loglik: list[float]

    @property
    def columns(self) -> list[str]:
        return self.preprocessor.columns

    @property
    def selected(self) -> list[str]:
        return [c for c, w in zip(self.columns, self.weights, strict=True) if w != 0]

    def score(self, x: pd.DataFrame) -> np.ndarray:
        return self.preprocessor.transform(x).to_numpy() @ np.asarray(self.weights)

    def added_to(self, data: SurvivalData, values: np.ndarray | None = None) -> SurvivalData:
        """``data`` with the sub-score (or ``values``) as the feature ``OMICS_SCORE``."""
        score = self.score(data.features) if values is None else values
        return replace(data, features=data.features.assign(**{OMICS_SCORE: score}))

    def fold_in(self, model, data: SurvivalData):  # type: ignore[no-untyped-def]
        """The integrative :class:`~igs.models.cox.CoxModel` on the raw analytes: ``model``'s
        sub-score coefficient spread over the analytes by this score's weights, the Breslow
        baseline refitted on ``data`` with that linear predictor; the covariance takes the
        weights as known."""
        from igs.models.coxsolver import breslow_delayed_entry

        cols = model.preprocessor.columns
        base = [c for c in cols if c != OMICS_SCORE]
        k = len(base)
        jac = np.zeros((k + len(self.columns), len(cols)))
        jac[:k, [cols.index(c) for c in base]] = np.eye(k)
        if OMICS_SCORE in cols:
            jac[k:, cols.index(OMICS_SCORE)] = (
                np.asarray(self.weights) / model.preprocessor.scales[cols.index(OMICS_SCORE)]
            )
        pick = [cols.index(c) for c in base]
        pre = Preprocessor(
            base + self.columns,
            [model.preprocessor.medians[i] for i in pick] + self.preprocessor.medians,
            [model.preprocessor.means[i] for i in pick] + self.preprocessor.means,
            [model.preprocessor.scales[i] for i in pick] + self.preprocessor.scales,
        )
        cov = None if model.covariance is None else jac @ np.asarray(model.covariance) @ jac.T
        folded = replace(
            model,
            preprocessor=pre,
            coef=(jac @ np.asarray(model.coef)).tolist(),
            covariance=None if cov is None else cov.tolist(),
        )
        times, cumhaz = breslow_delayed_entry(
            data.start, data.stop, data.event, folded.linear_predictor(data.features)
        )
        if not np.array_equal(times, model.baseline_times):
            raise ValueError("fold_in needs the data the model was fitted on")
        return replace(folded, baseline_cumhaz=cumhaz.tolist())

    def summary(self) -> dict:
        """What metrics.json records about the sub-score."""
        return {
            "l1_ratio": self.l1_ratio, "lambda": self.lam, "selected": self.selected,
            "weights": dict(zip(self.columns, self.weights, strict=True)),
            "path": [{"lambda": a, "cv_loglik": b} for a, b in zip(self.lambdas, self.cv_loglik, strict=True)],
        }  # fmt: skip


def elastic_net_cox(
    x: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    *,
    lam: float,
    penalty_factor: np.ndarray,
    l1_ratio: float = L1_RATIO,
    ridge: np.ndarray | None = None,
    beta0: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int = 200,
) -> np.ndarray:
    """Coefficients maximising the elastic-net penalised Cox partial likelihood (see the module
    docstring); ``ridge`` adds ``ridge_j * b_j^2 / 2`` per feature (the base features' L2)."""
    x = np.asarray(x, float)
    n, p = x.shape
    sets = RiskSets.of(start, stop, event)
    _check_risk_sets(sets)
    pf = np.asarray(penalty_factor, float)
    l1 = lam * l1_ratio * pf
    l2 = lam * (1 - l1_ratio) * pf + (np.zeros(p) if ridge is None else np.asarray(ridge, float))

    def objective(b: np.ndarray) -> float:
        return -partial_loglik(x, sets, b) / n + l1 @ np.abs(b) + 0.5 * l2 @ (b * b)

    beta = np.zeros(p) if beta0 is None else np.asarray(beta0, float).copy()
    f = objective(beta)
    for _ in range(max_iter):
        _, g, h = _loglik(x, sets, beta, 0.0)
        grad, hess = -g / n, -h / n
        new = _lasso_quadratic(beta, grad, hess, l1, l2, tol)
        step = new - beta
        decrease = (
            grad @ step + l1 @ (np.abs(new) - np.abs(beta)) + 0.5 * l2 @ (new * new - beta * beta)
        )
        t = 1.0
        while True:
            f_new = objective(beta + t * step)
            if np.isfinite(f_new) and f_new <= f + 0.25 * t * min(decrease, 0.0) + 1e-15 * abs(f):
                break
            t /= 2
            if t < 1e-10:
                break
        beta, f = beta + t * step, f_new
        if np.max(np.abs(t * step), initial=0.0) < tol:
            return beta
        if not np.all(np.isfinite(beta)):
            break
    raise ModelError("the elastic-net Cox model of the omics features did not converge.")


def partial_loglik(x: np.ndarray, sets: RiskSets, beta: np.ndarray) -> float:
    """The Efron log partial likelihood alone (``coxsolver._loglik`` without its derivatives)."""
    lp = x @ beta
    shift = lp.max()
    r = np.exp(lp - shift)
    t0 = np.bincount(sets.inverse, weights=r[sets.ev_idx], minlength=len(sets.times))
    a0 = sets.at_risk(r)[sets.inverse] - sets.frac * t0[sets.inverse]
    with np.errstate(divide="ignore"):
        return float(lp[sets.ev_idx].sum() - np.log(a0).sum() - len(sets.ev_idx) * shift)


def _lasso_quadratic(
    beta: np.ndarray, grad: np.ndarray, hess: np.ndarray, l1: np.ndarray, l2: np.ndarray, tol: float
) -> np.ndarray:
    """argmin_b grad.(b - beta) + (b - beta)' hess (b - beta) / 2 + l1.|b| + l2.b^2 / 2 (coordinate descent)."""
    b = beta.copy()
    r = grad.copy()  # gradient of the quadratic part at b
    diag = np.diag(hess)
    for _ in range(1000):
        biggest = 0.0
        for j in range(len(b)):
            z = diag[j] * b[j] - r[j]
            new = np.sign(z) * max(abs(z) - l1[j], 0.0) / (diag[j] + l2[j])
            if new != b[j]:
                r += hess[:, j] * (new - b[j])
                biggest = max(biggest, abs(new - b[j]))
                b[j] = new
        if biggest < tol * 0.1:
            break
    return b


def learn_omics_score(
    data: SurvivalData,
    base: list[str],
    omics: list[str],
    *,
    seed: int,
    l1_ratio: float = L1_RATIO,
    n_folds: int = 3,
) -> OmicsScore:
    """The omics sub-score of ``data`` (see the module docstring): penalty by cross-validated
    partial likelihood over ``n_folds`` event-stratified folds of ``data``."""
    from igs.models.evaluate import stratified_folds

    pre_omics = Preprocessor.fit(data.features[omics])
    z = np.column_stack([
        Preprocessor.fit(data.features[base]).transform(data.features).to_numpy(),
        pre_omics.transform(data.features).to_numpy(),
    ])  # fmt: skip
    k, n = len(base), len(data.iid)
    pf = np.r_[np.zeros(k), np.ones(len(omics))]
    ridge = np.r_[np.full(k, BASE_PENALIZER), np.zeros(len(omics))]
    fit = _path_fitter(pf, ridge, l1_ratio)
    # the smallest penalty with every omics coefficient 0: the base model's score test
    b0 = fit(z, data.start, data.stop, data.event, np.inf, None)
    sets = RiskSets.of(data.start, data.stop, data.event)
    g = _loglik(z, sets, b0, 0.0)[1] / n
    lam_max = float(np.max(np.abs(g[k:]))) / l1_ratio
    if not lam_max > 0:
        return OmicsScore(pre_omics, [0.0] * len(omics), float("inf"), l1_ratio, [], [])
    lambdas = lam_max * np.geomspace(1.0, LAMBDA_MIN_RATIO, N_LAMBDAS)
    folds = stratified_folds(data.event, n_folds, seed)
    fold_sets = [
        RiskSets.of(data.start[folds != f], data.stop[folds != f], data.event[folds != f])
        for f in range(n_folds)
    ]
    cvl = np.zeros(len(lambdas))
    for f in range(n_folds):
        tr = folds != f
        beta = None
        for i, lam in enumerate(lambdas):
            beta = fit(z[tr], data.start[tr], data.stop[tr], data.event[tr], lam, beta)
            whole = partial_loglik(z, sets, beta)
            part = partial_loglik(z[tr], fold_sets[f], beta)
            cvl[i] += whole - part
    best = int(np.argmax(cvl))
    beta = None
    for lam in lambdas[: best + 1]:  # warm starts down the path
        beta = fit(z, data.start, data.stop, data.event, lam, beta)
    # coefficients per SD of an analyte below WEIGHT_TOL are the solver's rounding residue:
    # a score made of them is constant to 1e-13 and its SD blew its Cox coefficient up to 1e11
    weights = np.where(np.abs(beta[k:]) > WEIGHT_TOL, beta[k:], 0.0)
    return OmicsScore(pre_omics, weights.tolist(), float(lambdas[best]), l1_ratio,
                      lambdas.tolist(), cvl.tolist())  # fmt: skip


def cross_fitted_score(
    data: SurvivalData, base: list[str], omics: list[str], *, seed: int, n_folds: int = 3
) -> tuple[OmicsScore, np.ndarray | None]:
    """The sub-score learnt on all of ``data``, and each person's sub-score from the one learnt
    without their fold (``n_folds`` event-stratified folds): the Cox model weighs the
    out-of-fold values, so a sub-score that only fits noise in ``data`` gets a coefficient
    near 0 (stacking), and the learnt score is applied with that coefficient. None instead of
    the out-of-fold values when the full data or any fold selects no analyte: the omics then
    show no signal that holds up in every part of the data, and are left out."""
    from igs.models.evaluate import stratified_folds

    full = learn_omics_score(data, base, omics, seed=seed)
    if not full.selected:
        return full, None
    folds = stratified_folds(data.event, n_folds, seed + 1)
    oof = np.zeros(len(data.iid))
    for f in range(n_folds):
        part = learn_omics_score(data.subset(np.flatnonzero(folds != f)), base, omics, seed=seed)
        if not part.selected:
            return full, None
        oof[folds == f] = part.score(data.features[folds == f])
    return full, oof


def _path_fitter(pf: np.ndarray, ridge: np.ndarray, l1_ratio: float):  # type: ignore[no-untyped-def]
    """A fit at one penalty (``inf``: every penalised coefficient held at 0)."""

    def fit(z, start, stop, event, lam, beta0):  # type: ignore[no-untyped-def]
        if np.isinf(lam):
            keep = pf == 0
            b = np.zeros(len(pf))
            b[keep] = elastic_net_cox(z[:, keep], start, stop, event, lam=0.0,
                                      penalty_factor=pf[keep], ridge=ridge[keep])  # fmt: skip
            return b
        return elastic_net_cox(z, start, stop, event, lam=lam, penalty_factor=pf,
                               l1_ratio=l1_ratio, ridge=ridge, beta0=beta0)  # fmt: skip

    return fit
