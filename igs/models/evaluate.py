"""Fit and compare the models of one endpoint, the way a clinical paper reports them.

1. A fixed, event-stratified train/test split (seeded). Every model is fitted on the training
   part only (imputation, scaling and the Cox penalty, chosen by 3-fold CV within the training
   data) and evaluated on the test part: Harrell's and Uno's C with bootstrap 95% CIs,
   time-dependent AUC, Brier scores and the integrated Brier score, calibration at the first
   horizon, delta-C (paired bootstrap) and continuous NRI against the clinical baseline, and
   decision-curve net benefit; what each block adds, clinical -> + PRS -> + omics
   (:mod:`igs.models.contrib`), and on simulated data the C of the true risk
   (:mod:`igs.models.oracle`). The omics enter as one sub-score learnt in the training data
   (:mod:`igs.models.omics`).
2. k-fold cross-validation of each Cox model set on all data (again all fitting inside the folds)
   gives the mean and SD of Harrell's C.
3. The score's own effect: HR per SD (overall, by sex), its modifiers (HR per SD by age band,
   score x sex and score x age interactions; age bands only on the age time scale),
   percentile-group HRs, cumulative incidence by score group.
4. Fairness: C, calibration and HR per SD of the full model within ancestry groups, sexes and
   age bands at entry, on the test set (:mod:`igs.models.fairness`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import ModelError
from igs.io.atomic import atomic_paths
from igs.models import metrics as M
from igs.models.contrib import block_contributions, step_columns
from igs.models.cox import CoxModel, check_events, fit_cox, fit_cox_path, usable_columns
from igs.models.dataset import MODEL_SETS, SurvivalData
from igs.models.engines import fit_coxnet, fit_xgboost
from igs.models.fairness import fairness_table
from igs.models.omics import OMICS_SCORE, cross_fitted_score
from igs.models.oracle import oracle_concordance
from igs.models.prs_effects import (
    cumulative_incidence_by_group,
    hr_per_sd,
    percentile_hrs,
    prs_effect_modifiers,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationSettings:
    horizons: tuple[float, ...] = (5.0, 10.0)
    test_fraction: float = 0.3
    n_folds: int = 5
    penalizers: tuple[float, ...] = (0.0, 0.01, 0.1)
    n_bootstrap: int = 200
    thresholds: tuple[float, ...] = (0.05, 0.1, 0.2)
    min_events_per_fold: int = 5
    seed: int = 42
    # the lifelines cross-check of the full model (a second fit of it, by lifelines'
    # delayed-entry code: minutes at biobank sizes) only up to this many training people
    lifelines_check_max_n: int = 20_000


def stratified_folds(event: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number of each person, events spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(event), dtype=int)
    for value in (True, False):
        idx = np.flatnonzero(event == value)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % k
    return fold


def stratified_test_split(event: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for the held-out people: ``fraction`` of the events and of the others, at random."""
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(event), dtype=bool)
    for value in (True, False):
        idx = rng.permutation(np.flatnonzero(event == value))
        is_test[idx[: round(fraction * len(idx))]] = True
    return is_test


def choose_penalizer(
    data: SurvivalData,
    columns: list[str],
    penalizers: tuple[float, ...],
    seed: int,
    horizons: tuple[float, ...] = (10.0,),
    model_set: str = "custom",
) -> float:
    """The penalty with the best mean Harrell C over 3 folds of ``data`` (ties: the smallest).

    A penalty whose model does not converge in some fold is skipped (and logged); only when no
    penalty converges is that an error, naming the model set and every penalty tried.
    """
    if len(penalizers) == 1:
        return penalizers[0]
    folds = stratified_folds(data.event, 3, seed)
    cs: list[list[float]] = [[] for _ in penalizers]
    failed: dict[int, str] = {}  # penalizer index -> the failure
    for k in range(3):
        tr, te = data.subset(np.flatnonzero(folds != k)), data.subset(np.flatnonzero(folds == k))
        # the penalizers that still converge, fitted on one scaling and sort of the fold
        todo = [i for i in range(len(penalizers)) if i not in failed]
        path = fit_cox_path(tr, columns, tuple(penalizers[i] for i in todo), model_set=model_set)
        for i, model in zip(todo, path, strict=True):
            if isinstance(model, Exception):
                log.warning(
                    "%s (%s): penalizer %g skipped, it failed in cross-validation fold %d: %s",
                    data.endpoint, model_set, penalizers[i], k + 1, model,
                )  # fmt: skip
                failed[i] = f"{penalizers[i]:g} ({model})"
                continue
            risk = model.absolute_risk(te.features, te.start, max(horizons))
            cs[i].append(M.harrell_c(te.followup, te.event, risk))
    best, best_c = None, -np.inf
    for i, pen in enumerate(penalizers):
        if i in failed:
            continue
        c = float(np.mean(cs[i]))
        if best is None or c > best_c + 1e-9:
            best, best_c = pen, c
    failures = [failed[i] for i in sorted(failed)]
    if best is None:
        raise ModelError(
            f"{data.endpoint} ({model_set}): no penalizer in models.penalizers gave a model that "
            f"converges in every cross-validation fold: {'; '.join(failures)}. Add a larger "
            "penalizer (e.g. 1.0) or remove the feature."
        )
    return best


def fit_model_set(
    data: SurvivalData, model_set: str, s: EvaluationSettings, *, engine: str = "igs"
) -> CoxModel:
    """The model set's Cox model on ``data``, its L2 penalty chosen by cross-validation; a set
    with omics enters them as one sub-score learnt in ``data`` (:mod:`igs.models.omics`)."""
    columns = usable_columns(data, data.columns(model_set))
    omics = [
        c for c in columns if "omics" in MODEL_SETS[model_set] and c in data.groups.get("omics", [])
    ]
    if not omics:
        pen = choose_penalizer(data, columns, s.penalizers, s.seed, s.horizons, model_set)
        return fit_cox(data, columns, penalizer=pen, model_set=model_set, engine=engine)
    base = [c for c in columns if c not in omics]
    score, out_of_fold = cross_fitted_score(data, base, omics, seed=s.seed)
    design = score.added_to(data, out_of_fold)
    columns = base + ([OMICS_SCORE] if out_of_fold is not None else [])
    pen = choose_penalizer(design, columns, s.penalizers, s.seed, s.horizons, model_set)
    model = fit_cox(design, columns, penalizer=pen, model_set=model_set, engine=engine)
    return score.fold_in(model, data)


def check_enough(data: SurvivalData, s: EvaluationSettings) -> None:
    """At least 20 events, and enough for ``min_events_per_fold`` in every cross-validation fold."""
    check_events(data, "the data", min_events=20)
    per_fold = int(data.event.sum()) // s.n_folds
    if per_fold < s.min_events_per_fold:
        raise ModelError(
            f"{data.endpoint}: too few events per fold ({int(data.event.sum())} events, {per_fold} per fold "
            f"< {s.min_events_per_fold}) for {s.n_folds}-fold cross-validation; lower models.n_folds."
        )


def evaluate_endpoint(
    data: SurvivalData,
    s: EvaluationSettings = EvaluationSettings(),
    *,
    threads: int = 1,
    truth: pd.DataFrame | None = None,
) -> dict:
    """Every metric and table for one endpoint (see the module docstring); XGBoost runs on
    ``threads`` threads (the results do not depend on them); ``truth`` (a simulation's true
    hazards, :func:`igs.models.oracle.read_truth`) adds the oracle C."""
    check_enough(data, s)
    is_test = stratified_test_split(data.event, s.test_fraction, s.seed)
    train, test = data.subset(np.flatnonzero(~is_test)), data.subset(np.flatnonzero(is_test))
    predictions: dict[str, dict] = {}
    fitted: dict[str, CoxModel] = {}
    for model_set in MODEL_SETS:
        if not data.columns(model_set):
            continue
        model = fit_model_set(train, model_set, s)
        fitted[model_set] = model
        predictions[f"{model_set}/cox"] = {
            "model_set": model_set, "engine": "igs_cox", "penalizer": model.penalizer,
            "lp": model.linear_predictor(test.features),
            "risk": {h: model.absolute_risk(test.features, test.start, h) for h in s.horizons},
        }  # fmt: skip
    full = "clinical_prs_omics" if "clinical_prs_omics" in fitted else "clinical_prs"
    if len(train.iid) <= s.lifelines_check_max_n:
        lifelines_model = fit_model_set(train, full, s, engine="lifelines")
        predictions[f"{full}/lifelines"] = {
            "model_set": full, "engine": "lifelines_cox", "penalizer": lifelines_model.penalizer,
            "lp": lifelines_model.linear_predictor(test.features),
            "risk": {h: lifelines_model.absolute_risk(test.features, test.start, h) for h in s.horizons},
        }  # fmt: skip
    else:
        log.info(
            "%s: %d training people > models.lifelines_check_max_n (%d): no lifelines cross-check fit",
            data.endpoint, len(train.iid), s.lifelines_check_max_n,
        )  # fmt: skip
    columns = usable_columns(train, data.columns(full))
    for other in (fit_xgboost(train, columns, threads=threads), fit_coxnet(train, columns)):
        predictions[f"{full}/{other.name}"] = {
            "model_set": full, "engine": other.name, "penalizer": np.nan,
            "lp": other.linear_predictor(test),
            "risk": {h: other.absolute_risk(test, h) for h in s.horizons},
        }  # fmt: skip
    # every model's C is paired with the clinical model's on the same resamples: sorted once
    base_lp = M.cloglog(predictions["clinical/cox"]["risk"][max(s.horizons)])
    base_boot = M.bootstrap_values(
        M.BootstrapConcordance(test.followup, test.event, base_lp),
        len(test.iid), n_boot=s.n_bootstrap, seed=s.seed,
    )  # fmt: skip
    rows, calib, nb = [], [], []
    for key, p in predictions.items():
        row, cal = _model_metrics(key, p, predictions["clinical/cox"], base_boot, train, test, s)
        row["ibs"] = _ibs(key, p, fitted, test, train, s)
        rows.append(row)
        calib += [{"model": key, **b} for b in cal["bins"]]
        nb += [
            {"model": key, **r}
            for r in M.net_benefit(
                test.followup, test.event, p["risk"][s.horizons[0]], s.horizons[0], s.thresholds
            )
        ]
    comparison = pd.DataFrame(rows)
    cv = cross_validated_c(data, s)
    comparison = comparison.merge(cv, on="model", how="left")
    contributions = block_contributions(
        test.followup, test.event,
        {p["model_set"]: p["risk"] for k, p in predictions.items() if k.endswith("/cox")},
        s.horizons, n_bootstrap=s.n_bootstrap, seed=s.seed,
    )  # fmt: skip
    comparison = comparison.merge(step_columns(contributions), on="model", how="left")
    oracle = dict.fromkeys(
        ("oracle_harrell_c", "oracle_harrell_c_low", "oracle_harrell_c_high"), np.nan
    )
    if truth is not None:
        oracle = oracle_concordance(test.iid, test.start, test.followup, test.event, truth,
                                    max(s.horizons), n_bootstrap=s.n_bootstrap, seed=s.seed)  # fmt: skip
    comparison = comparison.assign(**oracle)
    contributions = contributions.assign(oracle_harrell_c=oracle["oracle_harrell_c"])
    ages = np.arange(40, 81, 5, dtype=float)
    # on the time-on-study scale everyone starts at 0: no ages, so no age bands or age terms
    age_scale = bool(np.all(data.start > 0))
    return {
        "comparison": comparison,
        "contributions": contributions,
        "calibration": pd.DataFrame(calib),
        "net_benefit": pd.DataFrame(nb),
        "hr_per_sd": hr_per_sd(data),
        "fairness": fairness_table(test, predictions[f"{full}/cox"]["risk"], age_scale=age_scale),
        "prs_modifiers": prs_effect_modifiers(data, age_scale=age_scale),
        "percentile_hr": percentile_hrs(data),
        "cumulative_incidence": cumulative_incidence_by_group(data, ages),
        "model": fitted[full],
        "settings": asdict(s),
        "n": {
            "people": len(data.iid),
            "events": int(data.event.sum()),
            "train": len(train.iid),
            "test": len(test.iid),
        },
    }


def _model_metrics(
    key: str,
    p: dict,
    base: dict,
    base_boot: np.ndarray,
    train: SurvivalData,
    test: SurvivalData,
    s: EvaluationSettings,
) -> tuple[dict, dict]:
    """One row of the comparison table (test-set metrics) and the calibration at the first
    horizon; ``base_boot``: the base model's Harrell C on the bootstrap resamples."""
    h0, tau = s.horizons[0], max(s.horizons)
    # rank people by their absolute risk at the last horizon: on the age scale the linear
    # predictor leaves out age (it is the time axis), so only the absolute risk is comparable
    # across models and time scales; its complementary log-log is the calibration covariate
    t, e, lp = test.followup, test.event, M.cloglog(p["risk"][tau])
    base_lp = M.cloglog(base["risk"][tau])

    def boot(stat) -> np.ndarray:
        return M.bootstrap_values(stat, len(t), n_boot=s.n_bootstrap, seed=s.seed)

    # the resamples' C: sorted once per model (same values as harrell_c / uno_c of each
    # resample), each resample's C computed once and paired with the base model's for delta-C
    c_boot = boot(M.BootstrapConcordance(t, e, lp))
    uno_boot = boot(M.BootstrapConcordance(t, e, lp, train=(train.followup, train.event), tau=tau))
    c = M.harrell_c(t, e, lp)
    c_ci = M.percentile_interval(c_boot)
    uno = M.uno_c(train.followup, train.event, t, e, lp, tau=tau)
    uno_ci = M.percentile_interval(uno_boot)
    auc = M.time_dependent_auc(train.followup, train.event, t, e, p["risk"])
    brier = M.brier_scores(
        train.followup, train.event, t, e, {h: 1 - r for h, r in p["risk"].items()}
    )
    cal = M.calibration(t, e, p["risk"][h0], h0, M.cloglog(p["risk"][h0]))
    dc = c - M.harrell_c(t, e, base_lp)
    dc_ci = M.percentile_interval(c_boot - base_boot)
    nri = M.continuous_nri(t, e, base["risk"][h0], p["risk"][h0], h0)
    row = {
        "model": key, "model_set": p["model_set"], "engine": p["engine"], "penalizer": p["penalizer"],
        "n_train": len(train.iid), "n_test": len(t), "events_test": int(e.sum()),
        "harrell_c": c, "harrell_c_low": c_ci[0], "harrell_c_high": c_ci[1],
        "uno_c": uno, "uno_c_low": uno_ci[0], "uno_c_high": uno_ci[1],
        **{f"auc_{h:g}y": v for h, v in auc.items()}, **{f"brier_{h:g}y": v for h, v in brier.items()},
        "calibration_slope": cal["slope"], "observed_expected": cal["observed_expected"],
        "delta_c": dc, "delta_c_low": dc_ci[0], "delta_c_high": dc_ci[1], "nri": nri["nri"],
        "nri_events": nri["nri_events"], "nri_nonevents": nri["nri_nonevents"],
    }  # fmt: skip
    return row, cal


def _ibs(
    key: str, p: dict, fitted: dict, test: SurvivalData, train: SurvivalData, s: EvaluationSettings
) -> float:
    """Integrated Brier score over follow-up years (Cox models only)."""
    grid = np.linspace(0.5, max(s.horizons), 20)
    grid = grid[grid < min(test.followup.max(), train.followup.max())]
    if not key.endswith("/cox") or len(grid) < 2:
        return float("nan")
    model = fitted[p["model_set"]]
    surv = np.column_stack([1 - model.absolute_risk(test.features, test.start, h) for h in grid])
    try:
        return M.integrated_brier(
            train.followup, train.event, test.followup, test.event, grid, surv
        )
    except ValueError:
        return float("nan")


def cross_validated_c(data: SurvivalData, s: EvaluationSettings) -> pd.DataFrame:
    """Mean and SD over k folds of Harrell's C of each Cox model set (fitting inside the folds)."""
    folds = stratified_folds(data.event, s.n_folds, s.seed + 1)
    out = []
    for model_set in MODEL_SETS:
        if not data.columns(model_set):
            continue
        cs = []
        for k in range(s.n_folds):
            tr, te = (
                data.subset(np.flatnonzero(folds != k)),
                data.subset(np.flatnonzero(folds == k)),
            )
            model = fit_model_set(tr, model_set, s)
            risk = model.absolute_risk(te.features, te.start, max(s.horizons))
            cs.append(M.harrell_c(te.followup, te.event, risk))
        out.append(
            {
                "model": f"{model_set}/cox",
                "cv_harrell_c_mean": float(np.mean(cs)),
                "cv_harrell_c_sd": float(np.std(cs, ddof=1)),
            }
        )
    return pd.DataFrame(out)


def write_evaluation(result: dict, out_dir: str | os.PathLike[str]) -> list[Path]:
    """metrics.json, the tidy TSVs, the model artifact and the plots, written together."""
    from igs.models.plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        k: result[k]
        for k in (
            "comparison",
            "contributions",
            "calibration",
            "net_benefit",
            "hr_per_sd",
            "prs_modifiers",
            "fairness",
            "percentile_hr",
            "cumulative_incidence",
        )
    }
    names = [f"{k}.tsv" for k in tables] + ["metrics.json", "model.json"]
    plot_names = ["cumulative_incidence.png", "calibration.png", "td_auc.png", "percentile_hr.png"]
    paths = [out / n for n in names + plot_names]
    metrics = {
        "n": result["n"],
        "settings": result["settings"],
        "models": result["comparison"].replace({np.nan: None}).to_dict(orient="records"),
        "hr_per_sd": result["hr_per_sd"].replace({np.nan: None}).to_dict(orient="records"),
        "contributions": result["contributions"].replace({np.nan: None}).to_dict(orient="records"),
    }
    with atomic_paths(paths) as tmps:
        for tmp, table in zip(tmps, tables.values(), strict=False):
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        tmps[len(tables)].write_text(json.dumps(metrics, indent=2, default=float) + "\n")
        result["model"].to_json(tmps[len(tables) + 1])
        write_plots(result, dict(zip(plot_names, tmps[len(names) :], strict=True)))
    return paths
