"""What each block of features adds: clinical -> + PRS -> + omics, on the held-out people.

Each step compares a Cox model set with the one before it (``STEPS``) on the test set: the
delta of Harrell's C (both models ranked by their absolute risk at the last horizon, as in the
comparison table) and the category-free NRI at the first horizon (events by then against
people followed event-free past it; no risk categories), each with a paired percentile
bootstrap 95% CI. Every statistic of one table uses the same resamples: ``n_bootstrap`` draws
of ``rng.integers(0, n, n)`` from ``default_rng(seed)``, as :func:`igs.models.metrics.bootstrap_ci`
draws them. The first step (``clinical``) has no reference: its row holds its C only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from igs.models import metrics as M

# (model set, the model set it adds a block to)
STEPS = (("clinical", None), ("clinical_prs", "clinical"), ("clinical_prs_omics", "clinical_prs"))
COLUMNS = [
    "step", "model", "reference", "harrell_c", "delta_c", "delta_c_low", "delta_c_high",
    "nri", "nri_low", "nri_high", "nri_events", "nri_nonevents", "nri_horizon",
]  # fmt: skip


def block_contributions(
    time: np.ndarray,
    event: np.ndarray,
    risks: dict[str, dict[float, np.ndarray]],
    horizons: tuple[float, ...],
    *,
    n_bootstrap: int,
    seed: int,
) -> pd.DataFrame:
    """One row per step of ``STEPS`` whose model sets are in ``risks`` (model set -> {horizon:
    absolute risk of each test person}); see the module docstring."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    h0, tau = horizons[0], max(horizons)
    rows = []
    for model_set, ref in STEPS:
        if model_set not in risks or (ref is not None and ref not in risks):
            continue
        lp = M.cloglog(risks[model_set][tau])
        row = {"step": "+" + model_set.rsplit("_", 1)[-1] if ref else model_set,
               "model": f"{model_set}/cox", "reference": f"{ref}/cox" if ref else "",
               "harrell_c": M.harrell_c(time, event, lp), "nri_horizon": h0}  # fmt: skip
        if ref is not None:
            row |= _step(time, event, risks[ref], risks[model_set], h0, tau, n_bootstrap, seed)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _step(
    time: np.ndarray,
    event: np.ndarray,
    old: dict[float, np.ndarray],
    new: dict[float, np.ndarray],
    h0: float,
    tau: float,
    n_bootstrap: int,
    seed: int,
) -> dict[str, float]:
    """Delta C (at ``tau``) and NRI (at ``h0``) of ``new`` against ``old``, paired bootstrap CIs."""
    c_new = M.BootstrapConcordance(time, event, M.cloglog(new[tau]))
    c_old = M.BootstrapConcordance(time, event, M.cloglog(old[tau]))
    nri = M.continuous_nri(time, event, old[h0], new[h0], h0)

    def boot(stat) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        return M.bootstrap_ci(stat, len(time), n_boot=n_bootstrap, seed=seed)

    dc = boot(lambda i: c_new(i) - c_old(i))
    nri_ci = boot(lambda i: M.continuous_nri(time[i], event[i], old[h0][i], new[h0][i], h0)["nri"])
    return {
        "delta_c": M.harrell_c(time, event, M.cloglog(new[tau]))
        - M.harrell_c(time, event, M.cloglog(old[tau])),
        "delta_c_low": dc[0], "delta_c_high": dc[1],
        "nri": nri["nri"], "nri_low": nri_ci[0], "nri_high": nri_ci[1],
        "nri_events": nri["nri_events"], "nri_nonevents": nri["nri_nonevents"],
    }  # fmt: skip


def step_columns(contributions: pd.DataFrame) -> pd.DataFrame:
    """The contributions as columns of the comparison table (``step_*``, keyed by ``model``)."""
    keep = ["reference", "delta_c", "delta_c_low", "delta_c_high", "nri", "nri_low", "nri_high"]
    out = contributions[contributions["reference"] != ""][["model", *keep]]
    return out.rename(columns={c: f"step_{c}" for c in keep})
