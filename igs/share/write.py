"""The share stage's outputs: a biobank's bundle, and the meta-analysis over many bundles."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from igs.errors import InputFormatError
from igs.io.atomic import atomic_paths
from igs.share.bundle import read_bundle
from igs.share.meta import forest_plot, gather_estimates, meta_analyse

log = logging.getLogger(__name__)


def write_meta(
    bundles: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Meta-analyse share bundles into estimates.tsv, pooled.tsv, leave_one_out.tsv and one
    forest plot per endpoint; a second bundle of the same biobank is an error."""
    read = {}
    for b in bundles:
        manifest, tables = read_bundle(b)
        if manifest["biobank"] in read:
            raise InputFormatError(f"{b}: a second bundle from biobank {manifest['biobank']!r}.")
        read[manifest["biobank"]] = tables
    estimates = gather_estimates(read)
    pooled, loo = meta_analyse(estimates)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    overall = pooled[pooled["quantity"] == "log_hr_per_sd:all"]
    plots = [out / f"forest_{ep}.png" for ep in overall["endpoint"]]
    files = [out / "estimates.tsv", out / "pooled.tsv", out / "leave_one_out.tsv", *plots]
    with atomic_paths(files) as tmps:
        for tmp, table in zip(tmps, (estimates, pooled, loo), strict=False):
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        for tmp, ep in zip(tmps[3:], overall["endpoint"], strict=True):
            forest_plot(estimates, pooled, "log_hr_per_sd:all", ep, tmp)
    log.info("meta-analysed %d quantities over %d biobanks", len(pooled), len(read))
    return files
