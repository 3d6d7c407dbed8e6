"""Genotype QC: sample and variant filters, sex check, relatedness and PCA (local and Hail engines)."""

from igs.qc.local import run_local_qc, write_qc_genotypes
from igs.qc.options import QCOptions
from igs.qc.result import QCResult, write_qc_tables
from igs.qc.run import run_qc

__all__ = [
    "QCOptions",
    "QCResult",
    "run_local_qc",
    "run_qc",
    "write_qc_genotypes",
    "write_qc_tables",
]
