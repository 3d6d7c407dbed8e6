"""The simulation's oracle: how well the true risk ranks the held-out people.

A simulated biobank's ``truth_samples.tsv.gz`` holds each person's true onset hazard of every
simulated disease, ``rate * exp(shape * age)`` (columns ``hazard_rate_{endpoint}``,
``hazard_shape_{endpoint}``; :func:`igs.simulate.phenotypes.hazard_parameters`). The true
absolute risk over ``h`` years from a person's start age ``s`` is
``1 - exp(-rate / shape * (exp(shape * (s + h)) - exp(shape * s)))``; its Harrell C on the test
set, ranked at the last horizon as every model is, is the best any model of these data can
expect, printed beside each model (``oracle_harrell_c`` in the comparison table).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.models import metrics as M

log = logging.getLogger(__name__)


def read_truth(path: str | os.PathLike[str], endpoint: str) -> pd.DataFrame | None:
    """IID, rate and shape of ``endpoint``'s true hazard; None when the simulation has no such
    disease (e.g. an endpoint it does not plant)."""
    truth = pd.read_csv(path, sep="\t", dtype={"IID": str})
    cols = [f"hazard_rate_{endpoint}", f"hazard_shape_{endpoint}"]
    if "IID" not in truth or not any(c.startswith("hazard_rate_") for c in truth):
        raise InputFormatError(
            f"{path}: no IID or hazard_rate_* columns; expected a simulated cohort's "
            "truth_samples.tsv.gz written by `igs simulate cohort` (re-simulate an older one)."
        )
    if not set(cols) <= set(truth):
        log.info("%s: the simulation plants no %s; no oracle C", path, endpoint)
        return None
    return truth[["IID", *cols]].set_axis(["IID", "rate", "shape"], axis=1)


def true_risk(rate: np.ndarray, shape: np.ndarray, start: np.ndarray, horizon: float) -> np.ndarray:
    """Absolute risk within ``horizon`` years of ``start`` under the Gompertz hazard."""
    rate, shape, start = (np.asarray(a, float) for a in (rate, shape, start))
    flat = np.abs(shape) < 1e-12
    safe = np.where(flat, 1.0, shape)
    cumhaz = np.where(
        flat,
        rate * horizon,
        rate / safe * (np.exp(safe * (start + horizon)) - np.exp(safe * start)),
    )
    return -np.expm1(-cumhaz)


def oracle_concordance(
    iid: np.ndarray,
    start: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    truth: pd.DataFrame,
    horizon: float,
    *,
    n_bootstrap: int,
    seed: int,
    source: str = "truth",
) -> dict[str, float]:
    """Harrell's C (with a bootstrap 95% CI) of the true ``horizon``-year risk of these people."""
    t = truth.set_index("IID").reindex(pd.Index(np.asarray(iid).astype(str)))
    missing = t["rate"].isna()
    if missing.any():
        raise InputFormatError(
            f"{source}: {int(missing.sum())} of the {len(t)} held-out people have no true hazard "
            f"(e.g. {t.index[missing.to_numpy()][0]}); is it the truth of this biobank's simulation?"
        )
    risk = M.cloglog(true_risk(t["rate"].to_numpy(), t["shape"].to_numpy(), start, horizon))
    c = M.harrell_c(time, event, risk)
    low, high = M.bootstrap_ci(
        M.BootstrapConcordance(time, event, risk), len(time), n_boot=n_bootstrap, seed=seed
    )
    return {"oracle_harrell_c": c, "oracle_harrell_c_low": low, "oracle_harrell_c_high": high}
