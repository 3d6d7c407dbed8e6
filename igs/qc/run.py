"""QC of one genotype fileset with either engine, written to a qc/ folder."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd

from igs.errors import ConfigError
from igs.parallel import compute_threads
from igs.qc.options import QCOptions
from igs.qc.result import QCResult, write_qc_tables

log = logging.getLogger(__name__)


def run_qc(
    prefix: str,
    fmt: str,
    opts: QCOptions,
    out_dir: str | os.PathLike[str],
    *,
    engine: str = "local",
    hail_config: dict[str, Any] | None = None,
    threads: int | None = None,
) -> QCResult:
    """Run QC and write genotypes.bed/bim/fam, variant_qc, sample_qc, pcs and summary.json.

    The local engine computes on ``threads`` CPU threads (default: every available CPU)."""
    if engine == "local":
        from igs.io.plink import open_genotypes
        from igs.qc.local import run_local_qc, write_qc_genotypes

        if fmt not in ("bed", "pgen"):
            raise ConfigError(
                f"the local engine reads bed or pgen, not {fmt}; use --engine hail for VCF/BGEN "
                "(pip install 'igs[hail]')."
            )
        gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
        with compute_threads(threads):
            result = run_local_qc(gset, opts)
            write_qc_genotypes(gset, result, out_dir, opts)
    else:
        from igs.qc.hail_engine import run_hail_qc

        result = run_hail_qc(prefix, fmt, opts, out_dir, hail_config=hail_config)
        result.pcs = project_the_rest(prefix, fmt, result)
    write_qc_tables(result, out_dir)
    s = result.summary
    log.info(
        "QC: %d of %d samples and %d of %d variants kept",
        s["samples"]["final"], s["samples"]["input"], s["variants"]["final"], s["variants"]["input"],
    )  # fmt: skip
    return result


def project_the_rest(prefix: str, fmt: str, result: QCResult) -> pd.DataFrame:
    """``result.pcs`` (the people in the PCA fit) with ``pca_fit`` true, and every other person
    of a bed/pgen fileset projected onto ``result.loadings`` (``pca_fit`` false), in fileset
    order. VCF/BGEN are not read locally: their PCs stay those of the fit."""
    fitted = result.pcs.assign(pca_fit=True)
    if fmt not in ("bed", "pgen"):
        log.warning("%s: people removed by QC are not projected (%s); use bed/pgen", prefix, fmt)
        return fitted
    from igs.io.plink import open_genotypes
    from igs.qc.pca import project_samples

    gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
    iids = gset.samples["IID"].astype(str)
    if iids.isin(fitted["IID"].astype(str)).all():
        return fitted
    projected = project_samples(gset, result.loadings).assign(pca_fit=False)
    rest = projected[~iids.isin(fitted["IID"].astype(str)).to_numpy()]
    both = pd.concat([fitted, rest[fitted.columns]], ignore_index=True)
    order = pd.Series(range(len(iids)), index=iids.to_numpy())
    return both.iloc[np.argsort(order.loc[both["IID"].astype(str)].to_numpy(), kind="stable")]
