"""The evaluation plots (PNG): cumulative incidence by score group, calibration, time-dependent
AUC by model, and the percentile-group hazard ratios as a forest plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_plots(result: dict, paths: dict[str, Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(paths[name], format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)

    ci = result["cumulative_incidence"]
    fig, ax = plt.subplots(figsize=(5, 4))
    for group, g in ci.groupby("group", sort=False):
        ax.step(g["age"], 100 * g["cumulative_incidence"], where="post", label=group)
    ax.set(
        xlabel="age (years)", ylabel="cumulative incidence (%)", title="By polygenic score group"
    )
    ax.legend()
    save(fig, "cumulative_incidence.png")

    cal = result["calibration"]
    fig, ax = plt.subplots(figsize=(5, 4))
    for model, g in cal[cal["model"].str.endswith("/cox")].groupby("model", sort=False):
        ax.plot(100 * g["predicted"], 100 * g["observed"], "o-", label=model.split("/")[0], ms=3)
    top = 100 * float(np.nanmax(cal[["predicted", "observed"]].to_numpy()))
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set(xlabel="predicted risk (%)", ylabel="observed risk (%)", title="Calibration (deciles)")
    ax.legend(fontsize=7)
    save(fig, "calibration.png")

    comp = result["comparison"]
    auc_cols = [c for c in comp.columns if c.startswith("auc_")]
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(comp))
    for i, col in enumerate(auc_cols):
        ax.bar(
            x + i * 0.8 / len(auc_cols),
            comp[col],
            width=0.8 / len(auc_cols),
            label=col.removeprefix("auc_"),
        )
    ax.set_xticks(x + 0.4 - 0.4 / len(auc_cols), comp["model"], rotation=30, ha="right", fontsize=7)
    ax.set(ylim=(0.5, 1.0), ylabel="time-dependent AUC", title="Discrimination at each horizon")
    ax.legend()
    save(fig, "td_auc.png")

    hr = result["percentile_hr"].dropna(subset=["hr"])
    fig, ax = plt.subplots(figsize=(5, 4))
    y = np.arange(len(hr))
    ax.errorbar(
        hr["hr"], y, xerr=[hr["hr"] - hr["hr_low"], hr["hr_high"] - hr["hr"]], fmt="o", ms=3
    )
    ax.axvline(1, color="k", lw=0.8)
    ax.set_yticks(y, hr["group"] + "%")
    ax.set_xscale("log")
    ax.set(xlabel="hazard ratio (vs 40-60%)", title="By score percentile")
    save(fig, "percentile_hr.png")


def plot_recalibrated(curves: pd.DataFrame, ages: pd.DataFrame | None = None) -> bytes:
    """PNG of ``recalibrated_incidence.tsv``: one panel per location and sex, each score group's
    lifetime cumulative incidence with its CI band (the population dashed), and each group's
    age reaching the screening threshold (``threshold_ages.tsv``) as a dot on its curve."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(curves.groupby(["location", "sex"], sort=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), squeeze=False)
    for ax, ((loc, sex), c) in zip(axes[0], panels, strict=True):
        for group, g in c.groupby("group", sort=False):
            style = {"ls": "--", "color": "k"} if group == "population" else {}
            (line,) = ax.plot(g["age"], 100 * g["cumulative_incidence"], label=group, **style)
            ax.fill_between(g["age"], 100 * g["ci_low"], 100 * g["ci_high"], alpha=0.2,
                            color=line.get_color(), lw=0)  # fmt: skip
            if ages is not None and len(ages):
                a = ages[
                    (ages["location"] == loc) & (ages["sex"] == sex) & (ages["group"] == group)
                ]
                if len(a) and np.isfinite(a["age_reached"].iloc[0]):
                    x = float(a["age_reached"].iloc[0])
                    ax.plot(x, 100 * np.interp(x, g["age"], g["cumulative_incidence"]), "o",
                            color=line.get_color(), ms=4)  # fmt: skip
        ax.set(xlabel="age (years)", ylabel="cumulative incidence (%)", title=f"{loc}, {sex}")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
