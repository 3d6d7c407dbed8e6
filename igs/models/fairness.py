"""How well one model works for whom: discrimination, calibration and the score's HR per SD
within genetic ancestry groups, sexes and age bands, on the held-out test set.

The ancestry rows have dimension ``reference_population`` (groups: the most similar population
of the shared reference panel, the same labels in every biobank) when the scores were compared
with one, else ``ancestry`` (the biobank's own ``ancestry_group``); see
:mod:`igs.models.dataset`. Counts below ``share.min_cell`` are suppressed in the share bundle.

Per subgroup: ``n`` and ``n_events`` (test set), Harrell's C of the risk at the last horizon,
the observed (Kaplan-Meier) over the mean predicted risk at the first horizon, the calibration
slope (Cox coefficient of the complementary log-log of that risk, follow-up capped at the
horizon), and the HR per SD of the score adjusted for the PCs (and for sex outside the sex
rows). A subgroup with fewer than ``MIN_EVENTS`` events (or people without one) keeps its
counts and no metrics; an empty subgroup has no row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from igs.errors import IGSError
from igs.models import metrics as M
from igs.models.dataset import SurvivalData
from igs.models.prs_effects import AGE_BANDS, _cox_summary, _frame

MIN_EVENTS = 10
COLUMNS = ("dimension", "group", "n", "n_events", "harrell_c", "observed_expected",
           "calibration_slope", "hr", "hr_low", "hr_high", "log_hr", "se")  # fmt: skip


def subgroups(data: SurvivalData, *, age_scale: bool = True) -> list[tuple[str, str, np.ndarray]]:
    """(dimension, group, mask) for each ancestry group, sex and age band at entry."""
    out = []
    if data.ancestry is not None:
        anc = pd.Series(data.ancestry).fillna("unknown").astype(str).to_numpy()
        out += [(data.ancestry_dimension, g, anc == g) for g in sorted(set(anc))]
    male = data.features["sex_male"].to_numpy()
    out += [
        ("sex", label, male == v)
        for label, v in (("female", 0.0), ("male", 1.0))
        if (male == v).any()
    ]
    if age_scale:
        out += [("age_at_entry", label, (data.start > lo) & (data.start <= hi))
                for label, lo, hi in AGE_BANDS]  # fmt: skip
    return out


def fairness_table(
    test: SurvivalData, risk: dict[float, np.ndarray], *, age_scale: bool = True
) -> pd.DataFrame:
    """The table of the module docstring for the test set ``test`` and its predicted absolute
    risks ``risk`` (horizon -> per-person risk; the first and last horizons are used)."""
    h0, tau = min(risk), max(risk)
    t, e = test.followup, test.event
    frame = _frame(test)
    pcs = [c for c in frame.columns if c.startswith("PC")]
    rows = []
    for dim, group, m in subgroups(test, age_scale=age_scale):
        if not m.any():  # e.g. no one entered after 70
            continue
        row = {"dimension": dim, "group": group, "n": int(m.sum()), "n_events": int(e[m].sum())}
        if row["n_events"] >= MIN_EVENTS and row["n"] - row["n_events"] >= MIN_EVENTS:
            row["harrell_c"] = M.harrell_c(t[m], e[m], M.cloglog(risk[tau][m]))
            pred = risk[h0][m]
            row["observed_expected"] = M.kaplan_meier_risk(t[m], e[m], h0) / float(pred.mean())
            row["calibration_slope"] = M.calibration_slope(t[m], e[m], M.cloglog(pred), h0)
            sex = ["sex_male"] if dim != "sex" and frame.loc[m, "sex_male"].nunique() > 1 else []
            sub = frame.loc[m, ["start", "stop", "event", "prs_sd", *sex, *pcs]]
            try:
                hr = _cox_summary(sub, ["prs_sd"], f"{test.endpoint}: HR per SD ({dim} {group})")
                row.update(hr.iloc[0][["hr", "hr_low", "hr_high", "log_hr", "se"]].to_dict())
            except IGSError:  # a small group whose fit does not converge keeps its other metrics
                pass
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))
