"""Meta-analysis of share bundles: fixed-effect and DerSimonian-Laird random-effects pooling.

For each endpoint the pooled quantities are the log HR per SD of the score (overall, female,
male and per age band: ``log_hr_per_sd:<group>``), the log ratios of HRs per SD of its
interactions with sex and age (``log_hr_ratio:prs_x_male``, ``log_hr_ratio:prs_x_age_decade``)
and each model's Harrell C (SE from its bootstrap 95% CI: (high - low) / (2 x 1.96)).
Per quantity: the inverse-variance fixed-effect estimate, the DerSimonian-Laird random-effects
estimate, Cochran's Q with its p-value, I-squared, tau-squared, and leave-one-biobank-out
random-effects estimates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

Z95 = stats.norm.ppf(0.975)


@dataclass(frozen=True)
class Pooled:
    k: int
    fixed: float
    fixed_se: float
    random: float
    random_se: float
    q: float
    q_p: float
    i2: float
    tau2: float


def pool(effect: np.ndarray, se: np.ndarray) -> Pooled:
    """Inverse-variance fixed effect and DerSimonian-Laird random effects of ``k`` estimates."""
    y, v = np.asarray(effect, float), np.asarray(se, float) ** 2
    w = 1 / v
    fixed = float((w * y).sum() / w.sum())
    q = float((w * (y - fixed) ** 2).sum())
    k = len(y)
    c = w.sum() - (w**2).sum() / w.sum()
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 else 0.0
    wr = 1 / (v + tau2)
    random = float((wr * y).sum() / wr.sum())
    return Pooled(
        k=k,
        fixed=fixed,
        fixed_se=float(np.sqrt(1 / w.sum())),
        random=random,
        random_se=float(np.sqrt(1 / wr.sum())),
        q=q,
        q_p=float(stats.chi2.sf(q, k - 1)) if k > 1 else float("nan"),
        i2=float(max(0.0, (q - (k - 1)) / q)) if q > 0 else 0.0,
        tau2=float(tau2),
    )


def leave_one_out(effect: np.ndarray, se: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Random-effects estimate without each biobank in turn."""
    rows = []
    for i, name in enumerate(names):
        keep = np.arange(len(names)) != i
        if keep.sum():
            p = pool(effect[keep], se[keep])
            rows.append({"left_out": name, "random": p.random, "random_se": p.random_se})
    return pd.DataFrame(rows)


def gather_estimates(bundles: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """One row per biobank and pooled quantity: quantity, endpoint, biobank, estimate, se."""
    rows = []
    for bb, tables in bundles.items():
        eff = tables["prs_effects.tsv"]
        kinds = {"hr_per_sd": "log_hr_per_sd", "hr_per_sd_by_age": "log_hr_per_sd",
                 "prs_interaction": "log_hr_ratio"}  # fmt: skip
        hr = eff[eff["effect"].isin(list(kinds))].dropna(subset=["log_hr", "se"])
        for _, r in hr.iterrows():
            rows.append({"quantity": f"{kinds[r['effect']]}:{r['group']}", "endpoint": r["endpoint"], "biobank": bb,
                         "estimate": r["log_hr"], "se": r["se"]})  # fmt: skip
        fair = tables.get("fairness.tsv")
        if isinstance(fair, pd.DataFrame) and len(fair):
            for _, r in fair.dropna(subset=["log_hr", "se"]).iterrows():
                rows.append({"quantity": f"fairness_log_hr_per_sd:{r['dimension']}:{r['group']}",
                             "endpoint": r["endpoint"], "biobank": bb, "estimate": r["log_hr"], "se": r["se"]})  # fmt: skip
        models = tables["models.tsv"].dropna(
            subset=["harrell_c", "harrell_c_low", "harrell_c_high"]
        )
        for _, r in models.iterrows():
            se = (r["harrell_c_high"] - r["harrell_c_low"]) / (2 * Z95)
            if se > 0:
                rows.append({"quantity": f"harrell_c:{r['model']}", "endpoint": r["endpoint"], "biobank": bb,
                             "estimate": r["harrell_c"], "se": se})  # fmt: skip
    return pd.DataFrame(rows, columns=["quantity", "endpoint", "biobank", "estimate", "se"])


def meta_analyse(estimates: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pooled results per (endpoint, quantity) and the leave-one-out table."""
    pooled, loo = [], []
    for (ep, qty), g in estimates.groupby(["endpoint", "quantity"], sort=True):
        p = pool(g["estimate"].to_numpy(), g["se"].to_numpy())
        row = {"endpoint": ep, "quantity": qty, **asdict(p),
               "random_low": p.random - Z95 * p.random_se, "random_high": p.random + Z95 * p.random_se,
               "biobanks": ",".join(g["biobank"])}  # fmt: skip
        pooled.append(row)
        if len(g) > 2:
            loo.append(
                leave_one_out(
                    g["estimate"].to_numpy(), g["se"].to_numpy(), list(g["biobank"])
                ).assign(endpoint=ep, quantity=qty)
            )
    loo_df = (
        pd.concat(loo, ignore_index=True)
        if loo
        else pd.DataFrame(columns=["left_out", "random", "random_se", "endpoint", "quantity"])
    )
    return pd.DataFrame(pooled), loo_df


def forest_plot(
    estimates: pd.DataFrame,
    pooled: pd.DataFrame,
    quantity: str,
    endpoint: str,
    path,
    *,
    exp: bool = True,
) -> None:
    """Per-biobank estimates with 95% CIs and the fixed and random pooled estimates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = estimates[(estimates["quantity"] == quantity) & (estimates["endpoint"] == endpoint)]
    p = pooled[(pooled["quantity"] == quantity) & (pooled["endpoint"] == endpoint)].iloc[0]
    labels = [*g["biobank"], "fixed effect", "random effects"]
    est = np.r_[g["estimate"], p["fixed"], p["random"]]
    se = np.r_[g["se"], p["fixed_se"], p["random_se"]]
    f = np.exp if exp else (lambda a: a)
    y = np.arange(len(labels))[::-1]
    fig, ax = plt.subplots(figsize=(5, 0.45 * len(labels) + 1.2))
    ax.errorbar(
        f(est), y, xerr=[f(est) - f(est - Z95 * se), f(est + Z95 * se) - f(est)], fmt="s", ms=4
    )
    ax.set_yticks(y, labels)
    ax.axvline(1 if exp else 0.5, color="k", lw=0.8)
    ax.set(
        xlabel="HR per SD" if exp else "Harrell C", title=f"{endpoint}: I² = {100 * p['i2']:.0f}%"
    )
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
