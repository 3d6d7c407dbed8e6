"""One self-contained HTML report for a whole run: per biobank and for the meta-analysis.

Sections per biobank: QC (removals per step), score matching, score distributions by ancestry
group (raw and adjusted), phenotype counts, and per endpoint the model comparison table with the
evaluation plots; then the pooled results with their forest plots. Images are embedded as
``data:`` URIs and the styles are inline, so the file can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from igs import paths

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
h1{border-bottom:2px solid #345}h2{margin-top:2.5rem;color:#345}h3{color:#567}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}th{background:#eef}
td:first-child,th:first-child{text-align:left}img{max-width:48%;margin:.3rem;border:1px solid #eee}
.note{color:#666;font-size:.85rem}
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    return df.to_html(
        index=False, float_format=lambda v: f"{v:.{digits}g}", na_rep="", border=0, escape=True
    )


def _score_distributions(scores: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(scores["pgs_id"].unique())
    fig, axes = plt.subplots(2, len(ids), figsize=(3.2 * len(ids), 5), squeeze=False)
    for j, pgs in enumerate(ids):
        s = scores[scores["pgs_id"] == pgs]
        for i, col in enumerate(("Z_raw", "Z_norm2")):
            ax = axes[i, j]
            for group, g in s.groupby("ancestry_group", dropna=False):
                ax.hist(g[col], bins=40, density=True, histtype="step", label=f"group {group}")
            ax.set_title(f"{pgs} {'raw' if i == 0 else 'adjusted'}", fontsize=8)
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _qc_section(summary: Path) -> str:
    s = json.loads(summary.read_text())
    rows = [
        {"what": "samples", "step": x["step"], "removed": x["removed"]}
        for x in s["samples"]["removed_in_order"]
    ]
    rows += [
        {"what": "variants", "step": x["step"], "removed": x["removed"]}
        for x in s["variants"]["removed_in_order"]
    ]
    head = (f"<p>{s['samples']['final']} of {s['samples']['input']} samples and {s['variants']['final']} of "
            f"{s['variants']['input']} variants kept.</p>")  # fmt: skip
    return "<h3>QC</h3>" + head + _table(pd.DataFrame(rows))


def oracle_and_contributions(ev: Path, comp: pd.DataFrame) -> list[str]:
    """The oracle C's note (simulated data) and the table of what each block adds."""
    parts = []
    if comp.get("oracle_harrell_c", pd.Series(dtype=float)).notna().any():
        parts.append("<p><code>oracle_harrell_c</code>: the C of the simulation's true risk on the "
                     "same held-out people, the best any model of these data can expect.</p>")  # fmt: skip
    if (ev / "contributions.tsv").is_file():
        parts += ["<p>What each block adds (clinical, then + PRS, then + omics): delta C at the "
                  "last horizon and category-free NRI at the first, with paired bootstrap 95% CIs:</p>",
                  _table(pd.read_csv(ev / "contributions.tsv", sep="\t"))]  # fmt: skip
    return parts


def biobank_section(results: Path, name: str, endpoints: list[str]) -> str:
    """One biobank's part of the report, from its files in the results layout (``igs.paths``)."""
    parts = [
        f"<h2>Biobank {html.escape(name)}</h2>",
        _qc_section(Path(paths.qc(results, name, "summary.json"))),
    ]
    match = pd.read_csv(paths.scores(results, name, "match_summary.tsv"), sep="\t")
    parts += [
        "<h3>Score matching</h3>",
        _table(
            match[["pgs_id", "n_variants", "matched", "excluded_ambiguous", "absent", "match_rate"]]
        ),
    ]
    scores = pd.read_csv(paths.scores(results, name, "scores_adjusted.tsv.gz"), sep="\t")
    parts += [
        "<h3>Score distributions by ancestry group</h3>",
        _img(_score_distributions(scores), f"{name} score distributions"),
    ]
    pheno = Path(paths.pheno(results, name, "summary.json"))
    if pheno.is_file():
        eps = json.loads(pheno.read_text())["endpoints"]
        table = pd.DataFrame(
            [
                {k: v for k, v in e.items() if not isinstance(v, dict)}  # counts, not breakdowns
                | {f"events_{k}": v for k, v in e.get("events_by_source", {}).items()}
                for e in eps.values()
            ]
        )
        parts += ["<h3>Endpoints</h3>", _table(table)]
    for ep in endpoints:
        ev = Path(paths.evaluation(results, name, ep))
        if not (ev / "comparison.tsv").is_file():
            continue
        comp = pd.read_csv(ev / "comparison.tsv", sep="\t")
        cols = [c for c in ("model", "harrell_c", "harrell_c_low", "harrell_c_high", "oracle_harrell_c", "uno_c", "auc_5y", "auc_10y",
                            "brier_10y", "calibration_slope", "observed_expected", "delta_c", "nri", "cv_harrell_c_mean")
                if c in comp]  # fmt: skip
        hr = pd.read_csv(ev / "hr_per_sd.tsv", sep="\t")
        parts += [
            f"<h3>{html.escape(ep)}: model comparison (held-out data)</h3>",
            _table(comp[cols]),
        ]
        parts += oracle_and_contributions(ev, comp)
        parts += ["<p>PRS hazard ratio per SD (adjusted for PCs):</p>",
                  _table(hr[["group", "n", "n_events", "hr", "hr_low", "hr_high"]])]  # fmt: skip
        if (ev / "fairness.tsv").is_file():
            fair = pd.read_csv(ev / "fairness.tsv", sep="\t")
            parts += ["<p>Fairness of the full model on the held-out data, by genetic ancestry group "
                      "(reference_population: the most similar population of the shared reference "
                      "panel; ancestry: the biobank's own groups), sex and age at entry (C, observed/expected risk, calibration slope, HR per SD "
                      "of the score):</p>", _table(fair)]  # fmt: skip
        if (ev / "prs_modifiers.tsv").is_file():
            mods = pd.read_csv(ev / "prs_modifiers.tsv", sep="\t")
            parts += ["<p>PRS effect by age band, and its interactions with sex (male/female HR "
                      "ratio) and age (HR ratio per decade):</p>",
                      _table(mods[["effect", "group", "n", "n_events", "hr", "hr_low", "hr_high", "p"]])]  # fmt: skip
        parts += [
            _img((ev / f"{p}.png").read_bytes(), f"{ep} {p}")
            for p in ("cumulative_incidence", "calibration", "td_auc", "percentile_hr")
            if (ev / f"{p}.png").is_file()
        ]
        parts += _recalibration_part(ev, ep)
    return "\n".join(parts)


def _recalibration_part(ev: Path, endpoint: str) -> list[str]:
    """The recalibrated cumulative incidence per score group (plot) and the ages at which each
    group reaches the screening threshold, when ``models.recalibration`` names tables."""
    from igs.models.plots import plot_recalibrated

    curves_file, ages_file = ev / "recalibrated_incidence.tsv", ev / "threshold_ages.tsv"
    if not curves_file.is_file():
        return []
    curves = pd.read_csv(curves_file, sep="\t")
    if curves.empty:
        return []
    ages = pd.read_csv(ages_file, sep="\t") if ages_file.is_file() else pd.DataFrame()
    parts = [f"<p>{html.escape(endpoint)}: lifetime cumulative incidence by score group "
             "recalibrated to each population (its incidence and competing mortality with the "
             "score's sex- and age-specific HR; bands: 95% CI over the score effects; dots: the "
             "age at which the group's risk over the screening window reaches the population's "
             "at the screening age):</p>", _img(plot_recalibrated(curves, ages), f"{endpoint} recalibrated incidence")]  # fmt: skip
    if len(ages):
        parts.append(_table(ages, digits=4))
    return parts


def meta_section(meta_dir: Path) -> str:
    pooled_file = Path(meta_dir) / "pooled.tsv"
    if not pooled_file.is_file():
        return ""
    pooled = pd.read_csv(pooled_file, sep="\t")
    hr = pooled[pooled["quantity"].str.startswith(("log_hr_per_sd", "log_hr_ratio"))].copy()
    for col in ("fixed", "random", "random_low", "random_high"):
        hr[f"hr_{col}"] = np.exp(hr[col])
    parts = ["<h2>Meta-analysis</h2>", "<h3>PRS hazard ratio per SD (by age band) and its interactions (HR ratios)</h3>",
             _table(hr[["endpoint", "quantity", "k", "hr_fixed", "hr_random", "hr_random_low", "hr_random_high", "q_p", "i2", "tau2"]]),
             "<h3>Harrell's C</h3>",
             _table(pooled[pooled["quantity"].str.startswith("harrell_c")][["endpoint", "quantity", "k", "fixed", "random", "i2"]])]  # fmt: skip
    parts += [_img(p.read_bytes(), p.stem) for p in sorted(Path(meta_dir).glob("forest_*.png"))]
    return "\n".join(parts)


def federated_section(results: Path, endpoints: list[str], model_set: str) -> str:
    """The pooled federated model beside the meta-analysis of the per-biobank models: its
    coefficients, and its C and td-AUC (all data at every node) beside the pooled per-biobank C
    of the same model set (held-out sets)."""
    parts: list[str] = []
    pooled_file = Path(paths.meta(results, "pooled.tsv"))
    pooled = pd.read_csv(pooled_file, sep="\t") if pooled_file.is_file() else None
    for ep in endpoints:
        folder = Path(paths.federated(results, ep))
        if not (folder / "comparison.tsv").is_file():
            continue
        comp = pd.read_csv(folder / "comparison.tsv", sep="\t")
        keep = ["feature", "federated", "federated_se", "meta_fixed", "meta_fixed_se", "meta_random", "meta_random_se", "i2"]  # fmt: skip
        row = {"federated_harrell_c": np.nan, "federated_td_auc": np.nan, "federated_o_e": np.nan}
        conc = pd.read_csv(folder / "concordance.tsv", sep="\t").set_index("site")
        row["federated_harrell_c"] = conc.loc["all", "harrell_c"]
        if (folder / "td_auc.tsv").is_file():
            auc = pd.read_csv(folder / "td_auc.tsv", sep="\t").set_index("site")
            row["federated_td_auc"] = auc.loc["all", "td_auc"]
        cal = pd.read_csv(folder / "calibration.tsv", sep="\t")
        row["federated_o_e"] = cal["observed"].sum() / cal["expected"].sum()
        if pooled is not None:
            c = pooled[(pooled["endpoint"] == ep) & (pooled["quantity"] == f"harrell_c:{model_set}/cox")]  # fmt: skip
            if len(c):
                row |= {"meta_harrell_c_fixed": c["fixed"].iloc[0], "meta_harrell_c_random": c["random"].iloc[0]}  # fmt: skip
        parts += [f"<h3>{html.escape(ep)}: model set {html.escape(model_set)}</h3>",
                  "<p>Log HR per pooled SD: the federated (biobank-stratified) fit beside the "
                  "fixed- and random-effects meta-analysis of per-biobank fits.</p>",
                  _table(comp[[k for k in keep if k in comp]]),
                  "<p>Discrimination and calibration: the federated model's Harrell C, td-AUC "
                  "and O/E combined over every node's data, beside the meta-analysed C of the "
                  "per-biobank Cox models (their held-out sets).</p>",
                  _table(pd.DataFrame([row]))]  # fmt: skip
    return "\n".join(["<h2>Federated model (Vantage6)</h2>", *parts]) if parts else ""


def build_report(
    results: Path, biobanks: list[str], endpoints: list[str], title: str = "igs run report",
    federated_model_set: str = "clinical_prs",
) -> str:  # fmt: skip
    """The whole report as one HTML string."""
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p class='note'>Biobanks: {', '.join(map(html.escape, biobanks))}. Only aggregate results are shown.</p>"]  # fmt: skip
    body += [biobank_section(results, b, endpoints) for b in biobanks]
    body.append(meta_section(Path(paths.meta(results))))
    body.append(federated_section(results, endpoints, federated_model_set))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")  # fmt: skip
