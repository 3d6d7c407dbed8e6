"""``igs federated``: a node's analysis table for Vantage6, and the central part over a mock
federation of local tables (the demo)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from igs.cli_options import options_options, stage_options_config
from igs.models.cli import survival_files, survival_inputs

_BLOCKS = "`federated`, `pheno`, `models`, `scores` blocks and `seed`"


@click.group()
def federated() -> None:
    """Federated Cox model across biobanks (Vantage6): only aggregates leave a biobank."""


@federated.command("node")
@options_options("federated", _BLOCKS)
@click.option("--endpoint", required=True)
@survival_inputs
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The analysis table (CSV) the Vantage6 node serves as its database.")  # fmt: skip
@click.option("--site", default="node", help="This biobank's name in messages.")
def federated_node(
    options_file: Path | None, config_file: Path | None, endpoint: str, out: Path, site: str,
    **files: Path,
) -> None:  # fmt: skip
    """Write this biobank's analysis table for the Vantage6 node, and print the summary message
    it would send (after the disclosure check): nothing else leaves."""
    from igs.federated.node import summary, table_of
    from igs.io.atomic import atomic_path
    from igs.models.load import load_survival_data
    from igs.models.options import ModelsOptions

    cfg = stage_options_config(options_file, config_file, "federated")
    fed = cfg["federated"]
    data = load_survival_data(survival_files(**files), endpoint, ModelsOptions.from_config(cfg))
    columns = data.columns(fed["model_set"])
    table = table_of(data, columns)
    message = summary(table, columns, fed["min_cell"], site)  # fails before writing
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    click.echo(json.dumps(message, indent=2))


@federated.command("central")
@options_options("federated", _BLOCKS)
@click.option("--table", "tables", multiple=True, required=True, metavar="SITE=PATH",
              help="A site's analysis table (from `igs federated node`); repeat per site.")  # fmt: skip
@click.option(
    "--columns",
    default=None,
    help="Comma-separated features; default: the model set's, from the first table.",
)
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
def federated_central(
    options_file: Path | None,
    config_file: Path | None,
    tables: tuple[str, ...],
    columns: str | None,
    out_dir: Path,
) -> None:
    """Run the federation over Vantage6's mock client (one organisation per table) and write
    model.json and its tables (all or none)."""
    import pandas as pd

    from igs.errors import ConfigError, IGSError

    try:
        from vantage6.algorithm.tools.mock_client import MockAlgorithmClient
    except ImportError:
        raise ConfigError(
            "igs federated central needs the Vantage6 algorithm tools (the igs[federated] extra): "
            "pip install --no-deps 'vantage6-algorithm-tools>=4.15,<4.16' "
            "'vantage6-common>=4.15,<4.16' appdirs colorama qrcode SPARQLWrapper"
        ) from None
    from igs.federated import central as C
    from igs.federated.algorithm import vantage6_ask

    cfg = stage_options_config(options_file, config_file, "federated")
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
