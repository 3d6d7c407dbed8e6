"""Polygenic scores in the context of genetic ancestry: PCA projection and adjustment.

The adjustment follows pgsc_calc's two regression methods, fitted in a *reference* set (by
default the biobank's own QC'd, unrelated samples; or a reference panel's scores and PCs) and
applied to every target sample:

* ``Z_norm1`` (mean): the residual of the score after a linear regression on the top PCs,
  divided by the reference residuals' standard deviation;
* ``Z_norm2`` (mean + variance): the same residual divided by the square root of its expected
  variance, from a gamma GLM with log link of the squared reference residuals on the PCs (a
  maximum-likelihood fit without penalty).

``Z_raw`` standardises the raw score with the reference mean and SD, and ``percentile`` is the
empirical percentile of ``Z_norm2`` among the reference samples (0-100). When ancestry groups are
known, ``percentile_in_group`` is the raw score's percentile within the sample's own group.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from igs.errors import InputFormatError, ModelError

log = logging.getLogger(__name__)

ADJUSTED_COLUMNS = (
    "IID",
    "pgs_id",
    "SUM",
    "ancestry_group",
    "Z_raw",
    "percentile_in_group",
    "Z_norm1",
    "Z_norm2",
    "percentile",
)


@dataclass(frozen=True)
class AdjustmentFit:
    """One score's fitted ancestry model (coefficients: intercept first, then PC1..PCk)."""

    pgs_id: str
    n_reference: int
    n_pcs: int
    mean_coef: list[float]
    residual_sd: float
    var_coef: list[float]
    raw_mean: float
    raw_sd: float

    def to_dict(self) -> dict:
        return asdict(self)


def fit_gamma_log_glm(
    x: np.ndarray, y: np.ndarray, *, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """Maximum-likelihood gamma GLM with log link: coefficients of ``log E[y] = X b``.

    ``x`` must include the intercept column. For the gamma family with log link the IRLS
    weights are constant, so each step is an ordinary least-squares fit of the working response.
    """
    if np.any(y <= 0):
        y = np.maximum(y, np.finfo(float).tiny)  # a residual of exactly 0 has no log
    beta = np.linalg.lstsq(x, np.log(y), rcond=None)[0]  # a good start: fit on the log scale
    beta[0] += np.log(np.mean(y / np.exp(x @ beta)))
    for _ in range(max_iter):
        eta = x @ beta
        z = eta + (y - np.exp(eta)) / np.exp(eta)
        new = np.linalg.lstsq(x, z, rcond=None)[0]
        if np.max(np.abs(new - beta)) < tol * (1 + np.max(np.abs(beta))):
            return new
        beta = new
    raise ModelError("the gamma GLM for the score variance did not converge; try fewer PCs.")


def fit_adjustment(pgs_id: str, score: np.ndarray, pcs: np.ndarray) -> AdjustmentFit:
    """Fit the mean and variance models of one score on the reference samples."""
    n, k = pcs.shape
    if n < 10 * (k + 1):
        raise ModelError(
            f"{pgs_id}: {n} reference samples are too few to adjust for {k} PCs "
            f"(need at least {10 * (k + 1)}); lower scores.ancestry_adjustment.n_pcs."
        )
    if np.std(score) == 0:
        raise ModelError(
            f"{pgs_id}: the score is constant in the reference; it cannot be adjusted."
        )
    x = np.column_stack([np.ones(n), pcs])
    mean_coef = np.linalg.lstsq(x, score, rcond=None)[0]
    resid = score - x @ mean_coef
    var_coef = fit_gamma_log_glm(x, resid**2)
    return AdjustmentFit(
        pgs_id=pgs_id,
        n_reference=n,
        n_pcs=k,
        mean_coef=mean_coef.tolist(),
        residual_sd=float(np.std(resid, ddof=1)),
        var_coef=var_coef.tolist(),
        raw_mean=float(np.mean(score)),
        raw_sd=float(np.std(score, ddof=1)),
    )


def apply_adjustment(
    fit: AdjustmentFit, score: np.ndarray, pcs: np.ndarray
) -> dict[str, np.ndarray]:
    """``Z_raw``, ``Z_norm1`` and ``Z_norm2`` of target samples under a fitted model."""
    x = np.column_stack([np.ones(len(score)), pcs[:, : fit.n_pcs]])
    resid = score - x @ np.asarray(fit.mean_coef)
    return {
        "Z_raw": (score - fit.raw_mean) / fit.raw_sd,
        "Z_norm1": resid / fit.residual_sd,
        "Z_norm2": resid / np.sqrt(np.exp(x @ np.asarray(fit.var_coef))),
    }


def empirical_percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Percentage of reference values at or below each value (0-100)."""
    ref = np.sort(reference)
    return 100.0 * np.searchsorted(ref, values, side="right") / len(ref)


def adjust_scores(
    scores: pd.DataFrame,
    pcs: pd.DataFrame,
    *,
    n_pcs: int = 4,
    reference_scores: pd.DataFrame | None = None,
    reference_pcs: pd.DataFrame | None = None,
    groups: pd.Series | None = None,
) -> tuple[pd.DataFrame, list[AdjustmentFit]]:
    """Ancestry-adjusted scores (``ADJUSTED_COLUMNS``) and the fitted models, one per score.

    ``scores`` is the long table of :func:`igs.scores.compute_scores` (IID, pgs_id, SUM);
    ``pcs`` has IID and PC1..; the reference defaults to the target samples themselves.
    ``groups`` maps IID to an ancestry group label.
    """
    pc_cols = [f"PC{i}" for i in range(1, n_pcs + 1)]
    missing = [c for c in ["IID", *pc_cols] if c not in pcs.columns]
    if missing:
        raise InputFormatError(
            f"the PC table has no column(s) {', '.join(missing)} (n_pcs = {n_pcs})."
        )
    ref_scores = scores if reference_scores is None else reference_scores
    ref_pcs = pcs if reference_pcs is None else reference_pcs
    target_pcs = pcs.set_index(pcs["IID"].astype(str))[pc_cols]
    reference_pcs_ = ref_pcs.set_index(ref_pcs["IID"].astype(str))[pc_cols]
    out, fits = [], []
    for pgs_id, target in scores.groupby("pgs_id", sort=False):
        ref = ref_scores[ref_scores["pgs_id"] == pgs_id]
        if ref.empty:
            raise InputFormatError(f"{pgs_id}: the reference has no scores for it.")
        ref_ids = ref["IID"].astype(str)
        no_pcs = ~ref_ids.isin(reference_pcs_.index)
        if no_pcs.any():
            raise InputFormatError(
                f"{pgs_id}: {int(no_pcs.sum())} reference sample(s) have no PCs, "
                f"e.g. {ref_ids[no_pcs].iloc[0]}."
            )
        fit = fit_adjustment(
            str(pgs_id), ref["SUM"].to_numpy(float), reference_pcs_.loc[ref_ids].to_numpy(float)
        )
        ids = target["IID"].astype(str)
        lacking = ~ids.isin(target_pcs.index)
        if lacking.any():
            raise InputFormatError(
                f"{pgs_id}: {int(lacking.sum())} scored sample(s) have no PCs, e.g. {ids[lacking].iloc[0]}; "
                "project them with `igs qc project`."
            )
        z = apply_adjustment(
            fit, target["SUM"].to_numpy(float), target_pcs.loc[ids].to_numpy(float)
        )
        ref_z = apply_adjustment(
            fit, ref["SUM"].to_numpy(float), reference_pcs_.loc[ref_ids].to_numpy(float)
        )
        frame = pd.DataFrame(
            {
                "IID": target["IID"].to_numpy(),
                "pgs_id": pgs_id,
                "SUM": target["SUM"].to_numpy(),
                "ancestry_group": groups.reindex(ids).to_numpy() if groups is not None else pd.NA,
                **z,
                "percentile": empirical_percentile(ref_z["Z_norm2"], z["Z_norm2"]),
            }
        )
        frame["percentile_in_group"] = _percentile_in_group(frame)
        out.append(frame[list(ADJUSTED_COLUMNS)])
        fits.append(fit)
    return pd.concat(out, ignore_index=True), fits


def _percentile_in_group(frame: pd.DataFrame) -> np.ndarray:
    result = np.full(len(frame), np.nan)
    if frame["ancestry_group"].isna().all():
        return result
    for _, idx in frame.groupby("ancestry_group", sort=False).indices.items():
        values = frame["SUM"].to_numpy()[idx]
        result[idx] = empirical_percentile(values, values)
    return result


def skip_adjustment(
    scores: pd.DataFrame,
    reference_scores: pd.DataFrame | None = None,
    *,
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """``ADJUSTED_COLUMNS`` without PCs: ``Z_raw`` and ``percentile`` from the reference's raw
    scores (default: the scored samples), ``Z_norm1`` and ``Z_norm2`` missing."""
    ref_scores = scores if reference_scores is None else reference_scores
    out = []
    for pgs_id, target in scores.groupby("pgs_id", sort=False):
        ref = ref_scores.loc[ref_scores["pgs_id"] == pgs_id, "SUM"].to_numpy(float)
        if len(ref) < 2:
            raise ModelError(f"{pgs_id}: {len(ref)} reference sample(s); Z_raw needs at least 2.")
        value = target["SUM"].to_numpy(float)
        ids = target["IID"].astype(str)
        frame = pd.DataFrame(
            {
                "IID": target["IID"].to_numpy(),
                "pgs_id": pgs_id,
                "SUM": value,
                "ancestry_group": groups.reindex(ids).to_numpy() if groups is not None else pd.NA,
                "Z_raw": (value - ref.mean()) / ref.std(ddof=1),
                "Z_norm1": np.nan,
                "Z_norm2": np.nan,
                "percentile": empirical_percentile(ref, value),
            }
        )
        frame["percentile_in_group"] = _percentile_in_group(frame)
        out.append(frame[list(ADJUSTED_COLUMNS)])
    return pd.concat(out, ignore_index=True)
