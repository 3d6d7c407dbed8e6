"""The node side: aggregates of one biobank's analysis table, checked before they leave.

The analysis table is one row per person: ``start`` and ``stop`` (ages, years), ``event`` and
``competing`` (0/1), the features, and optionally ``IID`` (used only to check that no ID leaves).
Every function returns a JSON-ready dict and passes it through :func:`release`, which refuses a
message holding a count from 1 to ``min_cell - 1``, a person ID, a date or an exact event or
censoring age (:func:`igs.share.disclosure.check_files` on the serialised message).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import IGSError
from igs.models.coxsolver import RiskSets, _check_risk_sets, _loglik, breslow_delayed_entry
from igs.models.dataset import SurvivalData
from igs.models.metrics import _concordance_counts
from igs.share.disclosure import check_files

OUTCOME_COLUMNS = ("start", "stop", "event", "competing")


class DisclosureError(IGSError):
    """A node message would disclose something (a small count, an ID, a date, an exact age)."""


@dataclass(frozen=True)
class Standardisation:
    """Pooled feature means and SDs: every node scales its features the same way."""

    columns: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        """Standardised features; a missing value becomes the pooled mean (0)."""
        x = (table[list(self.columns)].astype(float).to_numpy() - self.means) / self.scales
        return np.nan_to_num(x, nan=0.0)


def table_of(data: SurvivalData, columns: list[str] | None = None) -> pd.DataFrame:
    """A biobank's analysis table (see the module docstring) from its :class:`SurvivalData`."""
    feats = data.features if columns is None else data.features[columns]
    return pd.concat(
        [
            pd.DataFrame({"IID": data.iid, "start": data.start, "stop": data.stop,
                          "event": data.event.astype(int), "competing": data.competing.astype(int)}),
            feats.reset_index(drop=True),
        ],
        axis=1,
    )  # fmt: skip


def check_table(table: pd.DataFrame, columns: list[str], site: str = "node") -> None:
    """The outcome columns and the model's features are present and follow-up is valid."""
    missing = [c for c in (*OUTCOME_COLUMNS, *columns) if c not in table.columns]
    if missing:
        have = ", ".join(c for c in table.columns if c not in (*OUTCOME_COLUMNS, "IID"))
        raise IGSError(f"{site}: the analysis table lacks {', '.join(missing)}; it has {have}.")
    if not (table["start"] < table["stop"]).all():
        raise IGSError(f"{site}: start must be below stop for everyone in the analysis table.")


def release(message: dict, table: pd.DataFrame, min_cell: int, site: str = "node") -> dict:
    """``message`` if it discloses nothing, else :class:`DisclosureError` naming what it holds.

    Counts are the values of keys starting with ``n_`` (numbers or lists of numbers)."""
    for key, value in message.items():
        if key.startswith("n_"):
            small = [v for v in np.ravel(value) if 0 < v < min_cell]
            if small:
                raise DisclosureError(f"{site}: message count {key} = {small[0]:g} is below min_cell = {min_cell}; nothing was sent.")  # fmt: skip
    ids = table["IID"].astype(str) if "IID" in table else ()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "message.json"
        path.write_text(json.dumps(message))
        found = check_files([path], person_ids=ids,
                            ages=np.r_[table["start"], table["stop"]], min_cell=min_cell)  # fmt: skip
    if found:
        raise DisclosureError(f"{site}: the message would disclose {found[0].kind} ({found[0].detail}); nothing was sent.")  # fmt: skip
    return message


def _check_derived(counts: dict[str, int], min_cell: int, site: str) -> None:
    """Counts a message implies (differences of the counts it holds) must not be small either."""
    for what, v in counts.items():
        if 0 < v < min_cell:
            raise DisclosureError(f"{site}: the message would imply {v} {what}, below min_cell = {min_cell}; nothing was sent.")  # fmt: skip


def summary(table: pd.DataFrame, columns: list[str], min_cell: int, site: str = "node") -> dict:
    """People, events, competing deaths, and each feature's mean and variance over its observed
    values (no count of missing values: it could be small)."""
    check_table(table, columns, site)
    x = table[columns].astype(float)
    n_events = int(table["event"].sum())
    if n_events == 0:
        raise IGSError(f"{site}: the analysis table has no events; a node without events cannot join the federated Cox model.")  # fmt: skip
    n_competing = int(table["competing"].sum())
    _check_derived({"censored people": len(table) - n_events - n_competing}, min_cell, site)
    msg = {
        "n_people": len(table),
        "n_events": n_events,
        "n_competing": n_competing,
        "columns": list(columns),
        "mean": x.mean().fillna(0.0).tolist(),
        "var": x.var(ddof=0).fillna(0.0).tolist(),
    }
    return release(msg, table, min_cell, site)


def loglik(
    table: pd.DataFrame,
    scaling: Standardisation,
    beta: list[float],
    min_cell: int,
    site: str = "node",
) -> dict:
    """This biobank's Efron log partial likelihood (delayed entry, age scale) with its gradient and
    Hessian at ``beta`` (per pooled SD): its own baseline hazard, a stratum of the central model."""
    check_table(table, list(scaling.columns), site)
    sets = RiskSets.of(table["start"], table["stop"], table["event"])
    _check_risk_sets(sets)
    ll, g, h = _loglik(scaling.transform(table), sets, np.asarray(beta, float), 0.0)
    msg = {"loglik": float(ll), "gradient": g.tolist(), "hessian": h.tolist()}
    return release(msg, table, min_cell, site)


def _interval_counts(table: pd.DataFrame, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Per age interval (edges[k], edges[k+1]]: people at risk at its start (entered at or before
    it, still followed), and the events and competing deaths among them; someone who enters and
    leaves within one interval is in no count (grouped-data product-limit counts)."""
    start, stop = table["start"].to_numpy(float), table["stop"].to_numpy(float)
    ev, cd = table["event"].to_numpy(bool), table["competing"].to_numpy(bool)
    lo, hi = edges[:-1], edges[1:]
    s, t = start[:, None], stop[:, None]
    at_risk = (s <= lo) & (t > lo)
    ends = at_risk & (t <= hi)
    return {"n_at_risk": at_risk.sum(axis=0), "n_events": (ends & ev[:, None]).sum(axis=0),
            "n_competing": (ends & cd[:, None]).sum(axis=0)}  # fmt: skip


def _merged(grid: list[float], counts: Callable[[np.ndarray], dict], min_cell: int) -> list[float]:
    """The coarsest merge of ``grid`` needed: adjacent intervals are merged (left to right, the
    last into its neighbour; the end points stay) until each count ``counts(edges)`` returns
    under a key starting with ``n_`` is 0 or >= ``min_cell``. Only grid points leave the node."""
    edges = list(map(float, grid))
    while len(edges) > 2:
        bad = np.zeros(len(edges) - 1, bool)
        for key, v in counts(np.asarray(edges)).items():
            if key.startswith("n_"):
                bad |= (v > 0) & (v < min_cell)
        if not bad.any():
            break
        k = int(np.flatnonzero(bad)[0])
        del edges[k + 1 if k + 1 < len(edges) - 1 else k]
    return edges


def grid_edges(table: pd.DataFrame, grid: list[float], min_cell: int) -> list[float]:
    """This biobank's merge of the shared age ``grid`` (see :func:`_merged`)."""
    return _merged(grid, lambda e: _interval_counts(table, e), min_cell)


def curve_counts(
    table: pd.DataFrame, edges: list[float], min_cell: int, site: str = "node"
) -> dict:
    """Risk-set, event and competing-death counts per interval of the agreed grid ``edges``
    (shared coarse ages; no individual times): what product-limit curves need."""
    counts = _interval_counts(table, np.asarray(edges, float))
    msg = {"edges": list(map(float, edges))} | {k: v.tolist() for k, v in counts.items()}
    return release(msg, table, min_cell, site)


def _baseline_rise(start, stop, event, lp, end) -> np.ndarray:
    """This biobank's Breslow cumulative baseline hazard (delayed entry, the pooled model's linear
    predictor ``lp``) gained from each person's entry to ``end``."""
    times, cumhaz = breslow_delayed_entry(start, stop, event, lp)
    h = np.r_[0.0, cumhaz]
    return h[np.searchsorted(times, end, "right")] - h[np.searchsorted(times, start, "right")]


def evaluation(
    table: pd.DataFrame,
    scaling: Standardisation,
    beta: list[float],
    horizon: float,
    n_bins: int,
    min_cell: int,
    site: str = "node",
) -> dict:
    """The pooled model on this biobank: Harrell's C pair counts (pairs within this biobank, on
    follow-up time) and calibration by group of linear predictor: people, observed events within
    ``horizon`` years of entry, and expected events (this biobank's Breslow baseline with the
    pooled coefficients, delayed entry). Groups are merged until each holds ``min_cell`` events
    and non-events."""
    check_table(table, list(scaling.columns), site)
    lp = scaling.transform(table) @ np.asarray(beta, float)
    start, stop = table["start"].to_numpy(float), table["stop"].to_numpy(float)
    event = table["event"].to_numpy(bool)
    _, comparable, concordant, tied = _concordance_counts(stop - start, event, lp, 0.0)
    end = np.minimum(stop, start + horizon)
    observed = event & (stop <= start + horizon)
    expected = _baseline_rise(start, stop, event, lp, end) * np.exp(lp)
    group = np.minimum(
        (pd.Series(lp).rank(method="first").to_numpy() - 1) * n_bins // len(lp), n_bins - 1
    ).astype(int)
    cuts = list(range(n_bins + 1))
    while len(cuts) > 2:
        b = np.searchsorted(cuts, group, "right") - 1
        n_b, o_b = (
            np.bincount(b, minlength=len(cuts) - 1),
            np.bincount(b, weights=observed, minlength=len(cuts) - 1),
        )
        bad = (o_b < min_cell) | (n_b - o_b < min_cell)
        if not bad.any():
            break
        k = int(np.flatnonzero(bad)[0])
        del cuts[k + 1 if k + 1 < len(cuts) - 1 else k]
    b = np.searchsorted(cuts, group, "right") - 1
    k = len(cuts) - 1
    n_b, o_b = np.bincount(b, minlength=k), np.bincount(b, weights=observed, minlength=k)
    _check_derived(
        {"people without an event in a calibration group": int((n_b - o_b).min())}, min_cell, site
    )
    msg = {
        "n_pairs": int(comparable.sum()),
        "n_concordant": int(concordant.sum()),
        "n_tied": int(tied.sum()),
        "n_bin": np.bincount(b, minlength=k).tolist(),
        "n_observed_events": np.bincount(b, weights=observed, minlength=k).astype(int).tolist(),
        "expected_events": np.bincount(b, weights=expected, minlength=k).tolist(),
        "mean_lp": (np.bincount(b, weights=lp, minlength=k) / np.bincount(b, minlength=k)).tolist(),
    }
    return release(msg, table, min_cell, site)


def _followup_counts(table: pd.DataFrame, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Per follow-up interval (edges[k], edges[k+1]] (years since entry): people still followed
    at its start, and the events and censorings (a competing death censors) among them."""
    t = (table["stop"] - table["start"]).to_numpy(float)[:, None]
    ev = table["event"].to_numpy(bool)[:, None]
    lo, hi = edges[:-1], edges[1:]
    ends = (t > lo) & (t <= hi)
    return {"n_at_risk": (t > lo).sum(axis=0), "n_events": (ends & ev).sum(axis=0),
            "n_censored": (ends & ~ev).sum(axis=0)}  # fmt: skip


def followup_edges(table: pd.DataFrame, grid: list[float], min_cell: int) -> list[float]:
    """This biobank's merge of the shared follow-up ``grid`` (0 to the horizon; see
    :func:`_merged`)."""
    return _merged(grid, lambda e: _followup_counts(table, e), min_cell)


def censoring_counts(
    table: pd.DataFrame, edges: list[float], min_cell: int, site: str = "node"
) -> dict:
    """At-risk, event and censoring counts per interval of the agreed follow-up grid: the
    censoring distribution behind the td-AUC's inverse-probability weights."""
    counts = _followup_counts(table, np.asarray(edges, float))
    msg = {"edges": list(map(float, edges))} | {k: v.tolist() for k, v in counts.items()}
    return release(msg, table, min_cell, site)


def _risk_groups(
    table: pd.DataFrame, scaling: Standardisation, beta: list[float], horizon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cloglog of each person's risk within ``horizon`` years of entry (this biobank's Breslow
    baseline with the pooled coefficients; -inf where the baseline does not rise), and whether
    they are a case (event within the horizon) or a control (followed beyond it)."""
    start, stop = table["start"].to_numpy(float), table["stop"].to_numpy(float)
    event = table["event"].to_numpy(bool)
    lp = scaling.transform(table) @ np.asarray(beta, float)
    with np.errstate(divide="ignore"):
        cloglog = np.log(_baseline_rise(start, stop, event, lp, start + horizon)) + lp
    followup = stop - start
    return cloglog, event & (followup <= horizon), followup > horizon


def _risk_bin(cloglog: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each person's risk bin; the first and last bins are open-ended."""
    return np.clip(np.searchsorted(edges, cloglog, "right") - 1, 0, len(edges) - 2)


def _risk_bin_counts(cloglog, case, control, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Cases and controls per risk bin."""
    b, k = _risk_bin(cloglog, edges), len(edges) - 1
    return {"n_cases": np.bincount(b[case], minlength=k), "n_controls": np.bincount(b[control], minlength=k)}  # fmt: skip


def risk_edges(
    table: pd.DataFrame, scaling: Standardisation, beta: list[float], horizon: float,
    grid: list[float], min_cell: int,
) -> list[float]:  # fmt: skip
    """This biobank's merge of the shared grid of cloglog risk (see :func:`_merged`)."""
    cloglog, case, control = _risk_groups(table, scaling, beta, horizon)
    return _merged(grid, lambda e: _risk_bin_counts(cloglog, case, control, e), min_cell)


def auc_counts(
    table: pd.DataFrame, scaling: Standardisation, beta: list[float], horizon: float,
    followup: list[float], weights: dict[str, list[float]], risk: list[float], min_cell: int,
    site: str = "node",
) -> dict:  # fmt: skip
    """Per bin of the agreed risk grid: cases (event within ``horizon`` years of entry),
    controls (followed beyond it), and the cases' inverse-probability-of-censoring weights, for
    each censoring distribution in ``weights`` (name: 1/G at the end of each interval of the
    follow-up grid ``followup``, e.g. the pooled one and this site's own)."""
    cloglog, case, control = _risk_groups(table, scaling, beta, horizon)
    edges = np.asarray(risk, float)
    counts = _risk_bin_counts(cloglog, case, control, edges)
    b = _risk_bin(cloglog, edges)
    t = (table["stop"] - table["start"]).to_numpy(float)
    interval = np.clip(np.searchsorted(np.asarray(followup, float), t, "left") - 1, 0, len(followup) - 2)  # fmt: skip
    msg: dict = {"risk_edges": list(map(float, risk))} | {k: v.tolist() for k, v in counts.items()}
    for name, w in weights.items():
        per_case = np.asarray(w, float)[interval[case]]
        msg[f"case_weight_{name}"] = np.bincount(b[case], weights=per_case, minlength=len(edges) - 1).tolist()  # fmt: skip
    return release(msg, table, min_cell, site)
