"""QC thresholds and settings, shared by the local and Hail engines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class QCOptions:
    """Thresholds of the QC stage; defaults follow common biobank practice.

    Sample filters run in this order: call rate, heterozygosity, sex check, relatedness.
    Variant filters (call rate, MAF, HWE) are applied on the samples that pass.
    """

    sample_call_rate: float = 0.98
    variant_call_rate: float = 0.98
    maf: float = 0.01
    hwe_p: float = 1e-6
    hwe_midp: bool = True
    heterozygosity_sd: float = 3.0
    sex_f_female_max: float = 0.2
    sex_f_male_min: float = 0.8
    kinship: float = 0.0884
    ancestry_groups: int = 1
    n_pcs: int = 10
    prune_min_maf: float = 0.05
    prune_window: int = 50
    prune_step: int = 5
    prune_window_kb: int = 1000  # Hail engine only (hl.ld_prune's window is in bases)
    prune_r2: float = 0.2
    max_pca_variants: int = 20000
    chunk_variants: int = 8192
    # imputed genotypes without qc.genotypes: hard calls of well-imputed common variants
    imputed_min_info: float = 0.9
    imputed_hard_call: float = 0.1
    imputed_min_maf: float = 0.05
    seed: int = 42

    @classmethod
    def from_config(cls, qc: dict[str, Any], seed: int = 42) -> QCOptions:
        """Options from the config's ``qc`` block (unknown keys are rejected by the schema)."""
        names = {f.name for f in fields(cls)}
        flat = {k: v for k, v in qc.items() if k in names}
        prune = qc.get("ld_prune", {})
        for key, name in (
            ("min_maf", "prune_min_maf"),
            ("window", "prune_window"),
            ("step", "prune_step"),
            ("window_kb", "prune_window_kb"),
            ("r2", "prune_r2"),
        ):
            if key in prune:
                flat[name] = prune[key]
        return cls(seed=seed, **flat)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
