"""INTERVENE-style summaries of a polygenic score's effect on an endpoint.

* hazard ratio per SD of the score, adjusted for the PCs, overall and by sex (Cox, age scale
  with delayed entry);
* hazard ratios of percentile groups against the 40-60% group;
* cumulative incidence by age (Aalen-Johansen with delayed entry, death as a competing risk) for the bottom 10%,
  the 40-60% and the top 10% of the score.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from igs.errors import IGSError
from igs.models.dataset import SurvivalData

PERCENTILE_EDGES = (0, 1, 5, 10, 20, 40, 60, 80, 90, 95, 99, 100)
REFERENCE_GROUP = "40-60"
CURVE_GROUPS = {"bottom 10%": (0, 10), "40-60%": (40, 60), "top 10%": (90, 100)}


def _cox_summary(df: pd.DataFrame, terms: list[str], label: str) -> pd.DataFrame:
    """Log hazard ratios of ``terms`` with Wald 95% CIs and p-values, from igs's Cox solver
    (Efron ties, delayed entry at ``start``) on the other columns of ``df``, standardised for the
    fit as lifelines does."""
    from scipy.stats import norm

    from igs.models.coxsolver import cox_covariance, cox_fit

    covariates = [c for c in df.columns if c not in ("start", "stop", "event")]
    z = df[covariates].to_numpy(float, copy=True)
    scale = z.std(axis=0)
    z -= z.mean(axis=0)  # standardised in place: one n x p array (yearly pieces: millions of rows)
    z /= scale
    start, stop, event = (df[c].to_numpy(float) for c in ("start", "stop", "event"))
    event = event.astype(bool)
    try:
        beta = cox_fit(z, start, stop, event)
    except IGSError as exc:
        raise IGSError(f"{label}: {exc} Check the score and PC columns.") from exc
    se = np.sqrt(np.diag(cox_covariance(z, start, stop, event, beta))) / scale
    beta = beta / scale
    pick = [covariates.index(t) for t in terms]
    log_hr, se = beta[pick], se[pick]
    q = norm.ppf(0.975)
    return pd.DataFrame(
        {
            "term": terms,
            "log_hr": log_hr,
            "se": se,
            "hr": np.exp(log_hr),
            "hr_low": np.exp(log_hr - q * se),
            "hr_high": np.exp(log_hr + q * se),
            "p": 2 * norm.sf(np.abs(log_hr / se)),
        }
    )


def _frame(data: SurvivalData) -> pd.DataFrame:
    pcs = [c for c in data.groups["prs"] if c.startswith("PC")]
    prs = data.features["prs"]
    return pd.DataFrame(
        {"start": data.start, "stop": data.stop, "event": data.event.astype(int),
         "prs_sd": ((prs - prs.mean()) / prs.std(ddof=1)).to_numpy(),
         "sex_male": data.features["sex_male"].to_numpy()}
    ).join(data.features[pcs])  # fmt: skip


def hr_per_sd(data: SurvivalData) -> pd.DataFrame:
    """HR per SD of the score adjusted for the PCs: overall (also for sex) and within each sex."""
    df = _frame(data)
    pcs = [c for c in df.columns if c.startswith("PC")]
    rows = []
    sex = ["sex_male"] if df["sex_male"].nunique() > 1 else []  # none for one-sex endpoints
    overall = _cox_summary(
        df[["start", "stop", "event", "prs_sd", *sex, *pcs]],
        ["prs_sd"],
        f"{data.endpoint}: HR per SD (all)",
    )
    rows.append(overall.assign(group="all", n=len(df), n_events=int(df["event"].sum())))
    for label, male in (("female", 0.0), ("male", 1.0)):
        sub = df[df["sex_male"] == male]
        if sub["event"].sum() >= 10:
            res = _cox_summary(
                sub[["start", "stop", "event", "prs_sd", *pcs]],
                ["prs_sd"],
                f"{data.endpoint}: HR per SD ({label})",
            )
            rows.append(res.assign(group=label, n=len(sub), n_events=int(sub["event"].sum())))
    return pd.concat(rows, ignore_index=True)[
        ["group", "n", "n_events", "hr", "hr_low", "hr_high", "log_hr", "se", "p"]
    ]


def percentile_groups(prs: pd.Series) -> pd.Series:
    """The percentile group label of each person (``0-1`` ... ``99-100``)."""
    pct = 100 * (prs.rank(method="first") - 0.5) / len(prs)
    labels = [f"{a}-{b}" for a, b in itertools.pairwise(PERCENTILE_EDGES)]
    return pd.cut(pct, PERCENTILE_EDGES, labels=labels, include_lowest=True).astype(str)


def percentile_hrs(data: SurvivalData) -> pd.DataFrame:
    """HR of each percentile group against 40-60%, adjusted for the PCs and sex."""
    df = _frame(data)
    group = percentile_groups(data.features["prs"])
    pcs = [c for c in df.columns if c.startswith("PC")]
    dummies = pd.get_dummies(group).drop(columns=REFERENCE_GROUP).astype(float)
    dummies.columns = [f"g_{c}" for c in dummies.columns]
    sex = ["sex_male"] if df["sex_male"].nunique() > 1 else []
    fit_df = pd.concat([df[["start", "stop", "event", *sex, *pcs]], dummies], axis=1)
    counts = (
        pd.DataFrame({"group": group, "event": df["event"]})
        .groupby("group")["event"]
        .agg(["size", "sum"])
    )
    # a group without events has a log HR of minus infinity: its people leave every risk set
    # (the limit lifelines' fit approaches); the others' HRs are fitted without them
    empty = [f"g_{g}" for g in counts.index[counts["sum"] == 0] if g != REFERENCE_GROUP]
    keep = (fit_df[empty] == 0).all(axis=1) if empty else slice(None)
    terms = [c for c in dummies.columns if c not in empty]
    res = _cox_summary(
        fit_df.loc[keep].drop(columns=empty), terms, f"{data.endpoint}: percentile-group HRs"
    )
    res = pd.concat([res, pd.DataFrame({"term": empty})], ignore_index=True)
    res["group"] = res["term"].str.removeprefix("g_")
    ref = pd.DataFrame(
        [
            {
                "group": REFERENCE_GROUP,
                "hr": 1.0,
                "hr_low": 1.0,
                "hr_high": 1.0,
                "log_hr": 0.0,
                "se": 0.0,
                "p": np.nan,
            }
        ]
    )
    out = pd.concat([res.drop(columns="term"), ref], ignore_index=True)
    out["n"] = out["group"].map(counts["size"]).astype(int)
    out["n_events"] = out["group"].map(counts["sum"]).astype(int)
    order = {f"{a}-{b}": i for i, (a, b) in enumerate(itertools.pairwise(PERCENTILE_EDGES))}
    out = out.sort_values("group", key=lambda g: g.map(order)).reset_index(drop=True)
    # a group without events has no finite HR
    out.loc[out["n_events"] == 0, ["hr", "hr_low", "hr_high", "log_hr", "se", "p"]] = np.nan
    return out[["group", "n", "n_events", "hr", "hr_low", "hr_high", "log_hr", "se", "p"]]


def aalen_johansen(
    start: np.ndarray,
    stop: np.ndarray,
    status: np.ndarray,
    ages: np.ndarray,
    *,
    min_at_risk: int = 10,
) -> np.ndarray:
    """Cumulative incidence of cause 1 (status 1; 2 = competing death, 0 = censored) at ``ages``,
    with delayed entry: at risk at age t are those with start < t <= stop. Ages where fewer than
    ``min_at_risk`` people are at risk are skipped (lifelines' fitter instead fails when the
    youngest risk sets empty its survival curve)."""
    order = np.argsort(stop, kind="stable")
    stop_sorted, status_sorted = stop[order], status[order]
    times = np.unique(stop_sorted[status_sorted > 0])
    start_sorted = np.sort(start)
    n_at = (len(stop) - np.searchsorted(stop_sorted, times, side="left")) - (
        len(start) - np.searchsorted(start_sorted, times, side="left")
    )
    d1 = np.array([((stop_sorted == t) & (status_sorted == 1)).sum() for t in times])
    d_all = np.array([((stop_sorted == t) & (status_sorted > 0)).sum() for t in times])
    keep = n_at >= min_at_risk
    times, n_at, d1, d_all = times[keep], n_at[keep], d1[keep], d_all[keep]
    surv_before = np.concatenate([[1.0], np.cumprod(1 - d_all / n_at)[:-1]])
    cif = np.cumsum(surv_before * d1 / n_at)
    idx = np.searchsorted(times, ages, side="right") - 1
    return np.where(idx >= 0, cif[np.maximum(idx, 0)] if len(cif) else 0.0, 0.0)


def cumulative_incidence_by_group(data: SurvivalData, ages: np.ndarray) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence at ``ages`` for the bottom, middle and top groups."""
    pct = 100 * (data.features["prs"].rank(method="first") - 0.5) / len(data.iid)
    status = np.where(data.event, 1, np.where(data.competing, 2, 0))
    rows = []
    for label, (lo, hi) in CURVE_GROUPS.items():
        m = ((pct > lo) & (pct <= hi)).to_numpy()
        cif = aalen_johansen(data.start[m], data.stop[m], status[m], ages)
        rows += [
            {"group": label, "age": float(a), "cumulative_incidence": float(v)}
            for a, v in zip(ages, cif, strict=True)
        ]
    return pd.DataFrame(rows)


# Age bands of the score's effect on the age time scale: (label, lower, upper], in years.
AGE_BANDS = (
    ("age_under50", -np.inf, 50.0),
    ("age_50-60", 50.0, 60.0),
    ("age_60-70", 60.0, 70.0),
    ("age_70plus", 70.0, np.inf),
)
AGE_CENTRE = 60.0  # the score x age term is prs_sd * (age - AGE_CENTRE) / 10
MIN_EVENTS = 10  # fewer events in a sex or age band: no HR for it


def within_ages(df: pd.DataFrame, lo: float, hi: float) -> pd.DataFrame:
    """The follow-up of ``df`` (start, stop, event on the age scale) inside ages (lo, hi]:
    intervals clipped to the band, an event kept when it happens inside it."""
    sub = df[(df["start"] < hi) & (df["stop"] > lo)].copy()
    inside = sub["stop"] <= hi
    sub["event"] = (sub["event"].astype(bool) & inside).astype(int)
    sub["start"] = sub["start"].clip(lower=lo)
    sub["stop"] = sub["stop"].clip(upper=hi)
    return sub


def split_by_year(df: pd.DataFrame, width: float = 1.0) -> pd.DataFrame:
    """``df``'s follow-up cut at every multiple of ``width`` years of age (counting-process
    rows: the event stays on the last piece), with ``age_mid``, each piece's middle age."""
    start, stop = df["start"].to_numpy(float), df["stop"].to_numpy(float)
    first = np.floor(start / width).astype(int)
    last = np.ceil(stop / width).astype(int) - 1
    pieces = last - first + 1
    row = np.repeat(np.arange(len(df)), pieces)
    k = np.arange(len(row)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    cut = (first[row] + k) * width
    out = df.iloc[row].reset_index(drop=True)
    out["start"] = np.maximum(start[row], cut)
    out["stop"] = np.minimum(stop[row], cut + width)
    out["event"] = np.where(k == pieces[row] - 1, out["event"], 0)
    out["age_mid"] = (out["start"] + out["stop"]) / 2
    return out


def prs_effect_modifiers(data: SurvivalData, *, age_scale: bool = True) -> pd.DataFrame:
    """How the score's HR per SD changes with sex and age (age time scale), adjusted for the PCs:

    * ``hr_per_sd_by_age`` rows: the HR per SD within each of ``AGE_BANDS`` (follow-up clipped
      to the band; ``n`` people with follow-up in it, ``n_events`` its events);
    * ``prs_interaction`` rows: ``prs_x_male``, the ratio of the male to the female HR per SD
      (Cox with score, sex and score x sex), and ``prs_x_age_decade``, the ratio of HRs per SD
      ten years of age apart (score x (age - 60) / 10 as a time-varying covariate on yearly
      pieces of follow-up); their ``p`` is the Wald test of no interaction.

    Without ``age_scale`` (follow-up on the time-on-study scale) only ``prs_x_male`` is fitted.
    """
    df = _frame(data)
    pcs = [c for c in df.columns if c.startswith("PC")]
    two_sexes = df["sex_male"].nunique() > 1
    sex = ["sex_male"] if two_sexes else []
    rows = []
    for label, lo, hi in AGE_BANDS if age_scale else ():
        band = within_ages(df, lo, hi)
        if band["event"].sum() >= MIN_EVENTS:
            res = _cox_summary(
                band[["start", "stop", "event", "prs_sd", *sex, *pcs]],
                ["prs_sd"],
                f"{data.endpoint}: HR per SD ({label})",
            )
            rows.append(res.assign(effect="hr_per_sd_by_age", group=label, n=len(band),
                                   n_events=int(band["event"].sum())))  # fmt: skip
    n, n_events = len(df), int(df["event"].sum())
    events_by_sex = df.groupby("sex_male")["event"].sum()
    if two_sexes and events_by_sex.min() >= MIN_EVENTS:
        fit = df.assign(prs_x_male=df["prs_sd"] * df["sex_male"])
        res = _cox_summary(
            fit[["start", "stop", "event", "prs_sd", "sex_male", "prs_x_male", *pcs]],
            ["prs_x_male"],
            f"{data.endpoint}: score x sex interaction",
        )
        rows.append(
            res.assign(effect="prs_interaction", group="prs_x_male", n=n, n_events=n_events)
        )
    if age_scale and n_events >= MIN_EVENTS:
        # only the model's columns are split (~10 pieces per person), and none copied after
        pieces = split_by_year(df[["start", "stop", "event", "prs_sd", *sex, *pcs]])
        age_mid = pieces.pop("age_mid")
        pieces["prs_x_age_decade"] = pieces["prs_sd"] * (age_mid - AGE_CENTRE) / 10
        del age_mid
        res = _cox_summary(
            pieces,
            ["prs_x_age_decade"],
            f"{data.endpoint}: score x age interaction",
        )
        rows.append(res.assign(effect="prs_interaction", group="prs_x_age_decade", n=n,
                               n_events=n_events))  # fmt: skip
    cols = ["effect", "group", "n", "n_events", "hr", "hr_low", "hr_high", "log_hr", "se", "p"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)
