"""Penalised Cox models (lifelines) with delayed entry, as portable artifacts.

A :class:`CoxModel` holds everything another biobank needs to apply it: the feature list, the
training medians/means/SDs (imputation and scaling), the coefficients (per training SD), the
Breslow baseline cumulative hazard on the model's time scale, and the versions that made it.
Absolute risk over ``h`` years from a person's start ``s`` is
``1 - exp(-(H0(s + h) - H0(s)) * exp(lp))``.

A fitted model's baseline steps at every event time of its training data: exact event ages, which
must not leave the biobank. :meth:`CoxModel.coarsened` keeps the cumulative hazard only at knots
on a grid (multiples of ``grid`` years), merging grid steps until each holds at least
``min_events`` events, and interpolates linearly between knots; that is what ``model.json``
stores.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import IGSError, InputFormatError, ModelError
from igs.models.coxsolver import RiskSets, _loglik, breslow_delayed_entry, newton
from igs.models.dataset import Preprocessor, SurvivalData

log = logging.getLogger(__name__)

# 2: the baseline may be coarsened (``baseline_grid``); version 1 files (step baseline) still load
ARTIFACT_VERSION = 2
READABLE_ARTIFACT_VERSIONS = (1, 2)
# A fitted log hazard ratio beyond this per SD means monotone likelihood (perfect separation).
MAX_LOG_HR_PER_SD = 10.0


@dataclass(frozen=True)
class CoxModel:
    """A fitted Cox model (see the module docstring)."""

    endpoint: str
    model_set: str
    time_scale: str
    preprocessor: Preprocessor
    coef: list[float]
    penalizer: float
    baseline_times: list[float]
    baseline_cumhaz: list[float]
    versions: dict[str, str]
    covariance: list[list[float]] | None = None  # of coef (standardised features)
    artifact_version: int = ARTIFACT_VERSION
    # events at each baseline time (fitted models only; never written to model.json)
    baseline_events: list[int] | None = None
    # {"grid": years, "min_events": n} once coarsened: the baseline is then linear between knots
    baseline_grid: dict[str, float] | None = None

    @property
    def features(self) -> list[str]:
        return self.preprocessor.columns

    def linear_predictor(self, x: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.features if c not in x.columns]
        if missing:
            raise InputFormatError(
                f"{self.endpoint}: the data lack the model's feature(s) {', '.join(missing)}."
            )
        return self.preprocessor.transform(x).to_numpy() @ np.asarray(self.coef)

    def cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        """Baseline cumulative hazard at times ``t``: a step function, 0 before the first event
        (fitted), or linear between the knots of a coarsened baseline, flat outside them."""
        times = np.asarray(self.baseline_times)
        if self.baseline_grid is not None:
            return np.interp(np.asarray(t, dtype=float), times, np.asarray(self.baseline_cumhaz))
        idx = np.searchsorted(times, np.asarray(t, dtype=float), side="right") - 1
        return np.where(idx >= 0, np.asarray(self.baseline_cumhaz)[np.maximum(idx, 0)], 0.0)

    def absolute_risk(self, x: pd.DataFrame, start: np.ndarray, horizon: float) -> np.ndarray:
        """Probability of the event within ``horizon`` years of each person's start."""
        h = self.cumulative_hazard(np.asarray(start) + horizon) - self.cumulative_hazard(start)
        return 1.0 - np.exp(-h * np.exp(self.linear_predictor(x)))

    def risk_interval(
        self, x: pd.DataFrame, start: np.ndarray, horizon: float, level: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise interval of the absolute risk from the coefficients' uncertainty (delta method
        on the linear predictor; the baseline hazard is taken as known)."""
        from scipy.stats import norm

        if self.covariance is None:
            nan = np.full(len(x), np.nan)
            return nan, nan
        z = self.preprocessor.transform(x).to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", z, np.asarray(self.covariance), z))
        lp = z @ np.asarray(self.coef)
        h = self.cumulative_hazard(np.asarray(start) + horizon) - self.cumulative_hazard(start)
        q = norm.ppf(0.5 + level / 2)
        return 1 - np.exp(-h * np.exp(lp - q * se)), 1 - np.exp(-h * np.exp(lp + q * se))

    def coarsened(self, min_events: int, grid: float = 1.0) -> CoxModel:
        """This model with its baseline kept only at knots ``grid`` years apart holding at least
        ``min_events`` events each (see the module docstring)."""
        if self.baseline_events is None:
            raise ValueError(
                f"{self.endpoint} ({self.model_set}): the baseline has no event counts (already "
                "coarsened, or read from model.json); coarsen the fitted model."
            )
        knots, cumhaz = coarse_baseline(
            np.asarray(self.baseline_times),
            np.asarray(self.baseline_cumhaz),
            np.asarray(self.baseline_events),
            min_events=min_events,
            grid=grid,
        )
        return replace(
            self,
            baseline_times=knots.tolist(),
            baseline_cumhaz=cumhaz.tolist(),
            baseline_events=None,
            baseline_grid={"grid": float(grid), "min_events": int(min_events)},
        )

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """The artifact as JSON (without the per-time event counts)."""
        data = asdict(self)
        data.pop("baseline_events")
        Path(path).write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> CoxModel:
        data = json.loads(Path(path).read_text())
        if data.get("artifact_version") not in READABLE_ARTIFACT_VERSIONS:
            raise InputFormatError(
                f"{path}: model artifact version {data.get('artifact_version')} is not {ARTIFACT_VERSION}."
            )
        data["preprocessor"] = Preprocessor(**data["preprocessor"])
        return cls(**data)


def coarse_baseline(
    times: np.ndarray, cumhaz: np.ndarray, events: np.ndarray, *, min_events: int, grid: float
) -> tuple[np.ndarray, np.ndarray]:
    """Knots (multiples of ``grid``) and the cumulative hazard at them, from a step baseline with
    ``events`` events at ``times``: the first knot lies before the first event (hazard 0), each
    later knot closes a run of grid steps holding at least ``min_events`` events (a short last run
    joins the one before), the last knot lies at or after the last event."""
    if len(times) == 0:
        return np.array([0.0]), np.array([0.0])
    first = np.ceil(times[0] / grid) * grid - grid  # the grid point just below the first event
    steps = np.ceil((times - first) / grid).astype(int)  # event in (first + (k-1)g, first + kg]
    per_step = np.bincount(steps, weights=events, minlength=steps.max() + 1)
    ends, run = [], 0.0
    for k in range(1, len(per_step)):
        run += per_step[k]
        if run >= min_events:
            ends.append(k)
            run = 0.0
    if run > 0 or not ends:  # a last run below min_events joins the previous one
        ends = [*ends[:-1], len(per_step) - 1]
    knots = first + grid * np.r_[0, ends]
    idx = np.searchsorted(times, knots, side="right") - 1
    return knots, np.where(idx >= 0, cumhaz[np.maximum(idx, 0)], 0.0)


def usable_columns(data: SurvivalData, columns: list[str]) -> list[str]:
    """Drop (with a warning naming them) features that are constant or entirely missing."""
    x = data.features[columns]
    constant = [c for c in columns if x[c].nunique(dropna=True) <= 1]
    if constant:
        msg = f"{data.endpoint}: constant or empty feature(s) {', '.join(constant)} left out of the model."
        warnings.warn(msg, stacklevel=2)
        log.warning(msg)
    return [c for c in columns if c not in constant]


def check_events(data: SurvivalData, what: str, min_events: int = 10) -> None:
    n = int(data.event.sum())
    if n < min_events:
        raise ModelError(
            f"{data.endpoint}: {n} event(s) in {what} ({len(data.event)} people); at least {min_events} "
            "are needed to fit a survival model."
        )


def fit_cox(
    data: SurvivalData,
    columns: list[str],
    *,
    penalizer: float = 0.0,
    model_set: str = "custom",
    time_scale: str = "age",
    engine: str = "igs",
) -> CoxModel:
    """Fit a Cox model (Efron ties, delayed entry at ``start``, L2 penalty) on standardised features.

    ``engine="igs"`` uses :mod:`igs.models.coxsolver` (exact optimum, fast); ``"lifelines"`` uses
    lifelines' CoxPHFitter (slow with delayed entry; its penalised fits stop short of the optimum
    by ~1e-4). Either way the baseline hazard is the Breslow estimate with delayed entry.
    """
    if engine != "lifelines":
        model = fit_cox_path(
            data, columns, (penalizer,), model_set=model_set, time_scale=time_scale
        )[0]
        if isinstance(model, Exception):
            raise model
        return model
    design = _Design.of(data, columns)
    beta = _lifelines_coef(data, pd.DataFrame(design.x, columns=columns), penalizer)
    covariance = np.linalg.inv(-_loglik(design.x, design.sets, beta, penalizer)[2])
    return design.model(beta, covariance, penalizer, model_set, time_scale)


def fit_cox_path(
    data: SurvivalData,
    columns: list[str],
    penalizers: tuple[float, ...],
    *,
    model_set: str = "custom",
    time_scale: str = "age",
) -> list[CoxModel | IGSError | np.linalg.LinAlgError]:
    """:func:`fit_cox` (igs engine) at each of ``penalizers``, from one imputation, scaling and
    sort of ``data``, each fit's Newton steps starting from the last estimate; per penalizer the
    model, or the error that fitting it raised (the one :func:`fit_cox` raises)."""
    try:
        design = _Design.of(data, columns)
    except IGSError as exc:
        return [exc] * len(penalizers)
    out: list[CoxModel | IGSError | np.linalg.LinAlgError] = []
    start = None
    for penalizer in penalizers:
        try:
            try:
                beta, hessian = newton(design.x, design.sets, penalizer=penalizer, start=start)
            except IGSError as exc:
                raise ModelError(
                    f"{data.endpoint} ({model_set}): {exc} Increase models.penalizers or remove the feature."
                ) from exc
            model = design.model(beta, np.linalg.inv(-hessian), penalizer, model_set, time_scale)
        except (IGSError, np.linalg.LinAlgError) as exc:  # the solver may raise either
            out.append(exc)
            continue
        out.append(model)
        start = beta
    return out


@dataclass(frozen=True)
class _Design:
    """One training set's imputed, standardised features and its risk sets (sorted once)."""

    data: SurvivalData
    columns: list[str]
    pre: Preprocessor
    x: np.ndarray
    sets: RiskSets

    @classmethod
    def of(cls, data: SurvivalData, columns: list[str]) -> _Design:
        check_events(data, "the training data")
        pre = Preprocessor.fit(data.features[columns])
        x = pre.transform(data.features).to_numpy()
        return cls(data, columns, pre, x, RiskSets.of(data.start, data.stop, data.event))

    def model(
        self, beta: np.ndarray, covariance: np.ndarray, penalizer: float, model_set: str,
        time_scale: str,
    ) -> CoxModel:  # fmt: skip
        """The artifact of the estimate ``beta`` with its Breslow baseline, after the check for
        coefficients that run off (perfect separation)."""
        data, columns = self.data, self.columns
        huge = [c for c, b in zip(columns, beta, strict=True) if abs(b) > MAX_LOG_HR_PER_SD]
        if huge:
            raise ModelError(
                f"{data.endpoint} ({model_set}): the log hazard ratio of {', '.join(huge)} runs off to "
                f"{max(abs(b) for b in beta):.0f} per SD: the feature(s) separate events perfectly (leaked "
                "outcome?). Remove them or increase models.penalizers."
            )
        times, cumhaz = breslow_delayed_entry(
            data.start, data.stop, data.event, self.x @ beta, self.sets
        )
        # breslow_delayed_entry steps at each distinct event time, in order
        event_times, n_events = np.unique(
            data.stop[np.asarray(data.event, bool)], return_counts=True
        )
        if not np.array_equal(event_times, times):
            raise ValueError(
                "breslow_delayed_entry must step at each distinct event time, in order"
            )
        return CoxModel(
            endpoint=data.endpoint,
            model_set=model_set,
            time_scale=time_scale,
            preprocessor=self.pre,
            coef=np.asarray(beta, float).tolist(),
            covariance=np.asarray(covariance).tolist(),
            penalizer=penalizer,
            baseline_times=times.tolist(),
            baseline_cumhaz=cumhaz.tolist(),
            baseline_events=n_events.astype(int).tolist(),
            versions=_versions(),
        )


def _lifelines_coef(data: SurvivalData, x: pd.DataFrame, penalizer: float) -> np.ndarray:
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    df = x.assign(start=data.start, stop=data.stop, event=data.event.astype(int))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter(penalizer=penalizer).fit(
                df,
                "stop",
                "event",
                entry_col="start",
                fit_options={"precision": 1e-9, "max_steps": 500},
            )
    except ConvergenceError as exc:
        raise ModelError(
            f"{data.endpoint}: the Cox model did not converge ({str(exc).splitlines()[0]}); a feature "
            "may separate events perfectly. Increase models.penalizers or remove the feature."
        ) from exc
    return cph.params_[list(x.columns)].to_numpy(float)


def _versions() -> dict[str, str]:
    """The versions that made a model (lifelines' from its metadata: importing it takes seconds)."""
    from importlib.metadata import version

    import igs

    return {"igs": igs.__version__, "lifelines": version("lifelines"), "numpy": np.__version__}
