"""Node requests dispatched by name, and a federation of local tables (tests, ``--mock``)."""

from __future__ import annotations

import pandas as pd

from igs.errors import IGSError
from igs.federated import node
from igs.federated.node import Standardisation

METHODS = ("summary", "loglik", "grid_edges", "curve_counts", "evaluation", "followup_edges",
           "censoring_counts", "risk_edges", "auc_counts")  # fmt: skip


def answer(table: pd.DataFrame, method: str, kwargs: dict, min_cell: int, site: str) -> dict:
    """One node's answer to request ``method`` (checked by :func:`igs.federated.node.release`)."""
    if method == "summary":
        return node.summary(table, kwargs["columns"], min_cell, site)
    if method == "grid_edges":
        return {"edges": node.grid_edges(table, kwargs["grid"], min_cell)}
    if method == "curve_counts":
        return node.curve_counts(table, kwargs["edges"], min_cell, site)
    if method == "followup_edges":
        return {"edges": node.followup_edges(table, kwargs["grid"], min_cell)}
    if method == "censoring_counts":
        return node.censoring_counts(table, kwargs["edges"], min_cell, site)
    if method not in METHODS:
        raise IGSError(
            f"{site}: unknown federated request {method!r}; one of {', '.join(METHODS)}."
        )
    scaling = Standardisation(**{k: tuple(v) for k, v in kwargs["scaling"].items()})
    if method == "loglik":
        return node.loglik(table, scaling, kwargs["beta"], min_cell, site)
    if method == "risk_edges":
        edges = node.risk_edges(table, scaling, kwargs["beta"], kwargs["horizon"], kwargs["grid"], min_cell)  # fmt: skip
        return {"edges": edges}
    if method == "auc_counts":
        return node.auc_counts(table, scaling, kwargs["beta"], kwargs["horizon"], kwargs["followup"],
                               {k: v for k, v in kwargs["weights"].items() if k in (site, "pooled")},
                               kwargs["risk"], min_cell, site)  # fmt: skip
    return node.evaluation(table, scaling, kwargs["beta"], kwargs["horizon"], kwargs["n_bins"],
                           min_cell, site)  # fmt: skip


def local_ask(tables: dict[str, pd.DataFrame], min_cell: int):  # type: ignore[no-untyped-def]
    """An ``ask`` over in-memory analysis tables, one per site."""

    def ask(method: str, kwargs: dict, sites: list[str] | None = None) -> dict[str, dict]:
        return {s: answer(tables[s], method, kwargs, min_cell, s) for s in sites or tables}

    return ask
