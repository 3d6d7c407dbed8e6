"""``igs federated``: a node's analysis table for Vantage6, and the central part over a mock
federation of local tables (the demo)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def federated() -> None:
    """Federated Cox model across biobanks (Vantage6): only aggregates leave a biobank."""


@federated.command("node")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Workflow config (its `federated`, `pheno`, `models` and `scores` blocks).")  # fmt: skip
@click.option("--endpoint", required=True)
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="This biobank's results folder (results/{biobank}).")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The analysis table (CSV) the Vantage6 node serves as its database.")  # fmt: skip
@click.option("--site", default="node", help="This biobank's name in messages.")
def federated_node(
    config_file: Path, endpoint: str, results_dir: Path, out: Path, site: str
) -> None:
    """Write this biobank's analysis table for the Vantage6 node, and print the summary message
    it would send (after the disclosure check): nothing else leaves."""
    from igs.cli import _survival_data
    from igs.config import load_config
    from igs.federated.node import summary, table_of
    from igs.io.atomic import atomic_path

    cfg = load_config(config_file)
    fed = cfg["federated"]
    data = _survival_data(cfg, results_dir, endpoint)
    columns = data.columns(fed["model_set"])
    table = table_of(data, columns)
    message = summary(table, columns, fed["min_cell"], site)  # fails before writing
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    click.echo(json.dumps(message, indent=2))


@federated.command("central")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Workflow config (its `federated`, `pheno` and `models` blocks).")  # fmt: skip
@click.option("--table", "tables", multiple=True, required=True, metavar="SITE=PATH",
              help="A site's analysis table (from `igs federated node`); repeat per site.")  # fmt: skip
@click.option(
    "--columns",
    default=None,
    help="Comma-separated features; default: the model set's, from the first table.",
)
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
def federated_central(
    config_file: Path, tables: tuple[str, ...], columns: str | None, out_dir: Path
) -> None:
    """Run the federation over Vantage6's mock client (one organisation per table) and write
    model.json and its tables (all or none)."""
    import pandas as pd
    from vantage6.algorithm.tools.mock_client import MockAlgorithmClient

    from igs.config import read_config_yaml, resolve_config
    from igs.errors import IGSError
    from igs.federated import central as C
    from igs.federated.algorithm import vantage6_ask

    # the central part reads no biobank's inputs: only the `federated` block matters here
    cfg = resolve_config(read_config_yaml(config_file), source=str(config_file), check_files=False)
    fed = cfg["federated"]
    sites: dict[str, pd.DataFrame] = {}
    for spec in tables:
        name, sep, path = spec.partition("=")
        if not sep:
            raise IGSError(f"--table {spec!r}: expected SITE=PATH.")
        sites[name] = pd.read_csv(path, dtype={"IID": str})
    cols = columns.split(",") if columns else [c for c in next(iter(sites.values())).columns
                                               if c not in ("IID", "start", "stop", "event", "competing")]  # fmt: skip
    client = MockAlgorithmClient(
        datasets=[[{"database": t}] for t in sites.values()], module="igs.federated.algorithm"
    )
    ask = vantage6_ask(
        client, {s: i for i, s in enumerate(sites)}, fed["min_cell"], fed["timeout_s"]
    )
    result = C.run(
        ask,
        cols,
        grid=list(fed["grid"]),
        horizon=float(fed["horizon"]),
        n_bins=fed["calibration_bins"],
    )
    for path in C.write(result, out_dir):
        click.echo(str(path))
