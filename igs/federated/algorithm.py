"""igs as a Vantage6 algorithm package: ``partial`` runs at each node, ``central`` combines.

The node's database is the biobank's analysis table (CSV/parquet, see
:mod:`igs.federated.node`; ``igs federated node`` writes it). ``partial`` answers one request
(:data:`igs.federated.local.METHODS`) with aggregates that passed the disclosure check; the node's
``IGS_MIN_CELL`` environment variable (algorithm_env in the node config) is a floor the central
request cannot lower. ``central`` creates one task per round and waits at most ``timeout_s`` for
every organisation; a node that fails or does not answer stops the analysis with an error.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict

import pandas as pd
from vantage6.algorithm.tools.decorators import algorithm_client, data

from igs.errors import IGSError
from igs.federated import central as C
from igs.federated.local import answer

DONE, FAILED = {"completed"}, {"failed", "crashed", "killed by user", "not allowed", "start failed", "no docker image"}  # fmt: skip


class FederationTimeout(IGSError):
    """A node did not answer within the central part's timeout."""


@data(1)
def partial(
    df: pd.DataFrame, method: str, kwargs: dict, min_cell: int = 5, site: str = "node"
) -> dict:
    """One node's answer to ``method``."""
    floor = int(os.environ.get("IGS_MIN_CELL", 0))
    return answer(df, method, kwargs, max(int(min_cell), floor), site)


def vantage6_ask(
    client, sites: dict[str, int], min_cell: int, timeout_s: float, poll_s: float = 1.0
):  # type: ignore[no-untyped-def]
    """An ``ask`` that sends a Vantage6 task to the organisations of ``sites`` (name: id)."""

    def ask(method: str, kwargs: dict, only: list[str] | None = None) -> dict[str, dict]:
        names = list(only or sites)
        out = {}
        for name in names:  # one task per site: each answer is known to come from its site
            task = client.task.create(
                input_={"method": "partial", "kwargs": {"method": method, "kwargs": kwargs,
                                                        "min_cell": min_cell, "site": name}},
                organizations=[sites[name]], name=f"igs-{method}",
            )  # fmt: skip
            out[name] = _collect(client, task["id"], name, method, timeout_s, poll_s)
        return out

    return ask


def _collect(client, task_id: int, site: str, method: str, timeout_s: float, poll_s: float) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        runs = client.run.from_task(task_id)  # the task's run at the site's node
        status = runs[0].get("status") if runs else None
        if status in DONE:
            results = client.result.from_task(task_id)
            if results:
                return results[0]
        if status in FAILED:
            raise IGSError(f"{site}: the node's {method!r} run ended with status {status!r}; no model was written.")  # fmt: skip
        if time.monotonic() >= deadline:
            raise FederationTimeout(f"{site}: no answer to {method!r} within federated.timeout_s = {timeout_s:g} s; no model was written.")  # fmt: skip
        time.sleep(poll_s)


@algorithm_client
def central(
    client, columns: list[str], sites: dict[str, int], grid: list[float], horizon: float,
    n_bins: int = 5, min_cell: int = 5, timeout_s: float = 3600.0, poll_s: float = 1.0,
) -> dict:  # type: ignore[no-untyped-def]  # fmt: skip
    """The federated analysis over ``sites`` (name: organisation id), as JSON-ready tables."""
    ask = vantage6_ask(client, sites, min_cell, timeout_s, poll_s)
    res = C.run(ask, columns, grid=grid, horizon=horizon, n_bins=n_bins)
    tables = {"coefficients": res.fit.table(), "comparison": res.comparison, "curves": res.curves,
              "concordance": res.concordance, "calibration": res.calibration,
              "td_auc": res.td_auc}  # fmt: skip
    model = asdict(res.fit)
    return {"model": model} | {k: v.to_dict(orient="list") for k, v in tables.items()}
