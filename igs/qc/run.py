"""QC of one genotype fileset with either engine, written to a qc/ folder."""

from __future__ import annotations

import logging
import os
from typing import Any

from igs.errors import ConfigError
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
) -> QCResult:
    """Run QC and write genotypes.bed/bim/fam, variant_qc, sample_qc, pcs and summary.json."""
    if engine == "local":
        from igs.io.plink import open_genotypes
        from igs.qc.local import run_local_qc, write_qc_genotypes

        if fmt not in ("bed", "pgen"):
            raise ConfigError(
                f"the local engine reads bed or pgen, not {fmt}; use --engine hail for VCF/BGEN "
                "(pip install 'igs[hail]')."
            )
        gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
        result = run_local_qc(gset, opts)
        write_qc_genotypes(gset, result, out_dir, opts)
    else:
        from igs.qc.hail_engine import run_hail_qc

        result = run_hail_qc(prefix, fmt, opts, out_dir, hail_config=hail_config)
    write_qc_tables(result, out_dir)
    s = result.summary
    log.info(
        "QC: %d of %d samples and %d of %d variants kept",
        s["samples"]["final"], s["samples"]["input"], s["variants"]["final"], s["variants"]["input"],
    )  # fmt: skip
    return result
