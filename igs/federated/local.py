"""Node requests dispatched by name, and a federation of local tables (tests, ``--mock``)."""

from __future__ import annotations

import pandas as pd

from igs.errors import IGSError
from igs.federated import node
from igs.federated.node import Standardisation

METHODS = ("summary", "loglik", "grid_edges", "curve_counts", "evaluation")


def answer(table: pd.DataFrame, method: str, kwargs: dict, min_cell: int, site: str) -> dict:
    """One node's answer to request ``method`` (checked by :func:`igs.federated.node.release`)."""
    if method == "summary":
        return node.summary(table, kwargs["columns"], min_cell, site)
    if method == "grid_edges":
        return {"edges": node.grid_edges(table, kwargs["grid"], min_cell)}
    if method == "curve_counts":
        return node.curve_counts(table, kwargs["edges"], min_cell, site)
    if method not in METHODS:
        raise IGSError(
            f"{site}: unknown federated request {method!r}; one of {', '.join(METHODS)}."
        )
    scaling = Standardisation(**{k: tuple(v) for k, v in kwargs["scaling"].items()})
    if method == "loglik":
        return node.loglik(table, scaling, kwargs["beta"], min_cell, site)
    return node.evaluation(table, scaling, kwargs["beta"], kwargs["horizon"], kwargs["n_bins"],
                           min_cell, site)  # fmt: skip


def local_ask(tables: dict[str, pd.DataFrame], min_cell: int):  # type: ignore[no-untyped-def]
    """An ``ask`` over in-memory analysis tables, one per site."""

    def ask(method: str, kwargs: dict, sites: list[str] | None = None) -> dict[str, dict]:
        return {s: answer(tables[s], method, kwargs, min_cell, s) for s in sites or tables}

    return ask
