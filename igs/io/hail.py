"""Hail start-up and genotype import, shared by the QC and scoring engines.

Hail is optional (``pip install 'igs[hail]'``); :func:`import_hail` explains how to install it.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

from igs.errors import ConfigError, InputFormatError
from igs.io.plink import open_genotypes

# Reference genomes this process has registered with Hail (one per distinct .bim contig set).
_REFERENCES: set[str] = set()


def import_hail():  # type: ignore[no-untyped-def]
    """Import hail, or explain how to install it."""
    try:
        import hail as hl
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "engine 'hail' needs the optional dependency: pip install 'igs[hail]' (and Java 11/17)."
        ) from exc
    return hl


def init_hail(hail_config: dict[str, Any] | None = None) -> Any:
    """Start Hail once per process: local Spark by default, a cluster when master is set."""
    hl = import_hail()
    cfg = hail_config or {}
    if hl.utils.java.Env._hc is None:
        tmp = Path(cfg.get("tmp_dir") or "tmp/hail")
        tmp.mkdir(parents=True, exist_ok=True)
        hl.init(
            master=cfg.get("master") or "local[2]",
            tmp_dir=str(tmp),
            local_tmpdir=str(tmp),
            log=str(tmp / "hail.log"),
            quiet=True,
            idempotent=True,
        )
    return hl


def read_matrix_table(path: str, fmt: str, hl: Any) -> Any:
    """Genotypes as a MatrixTable with GT counting the PLINK A1 / VCF ALT allele.

    Columns keyed by ``s`` (IID) with ``fam_id`` and ``is_male``; rows with ``rsid``.
    PLINK input uses a reference genome built from its own contigs, so any build works.
    """
    if fmt == "bed":
        gset = open_genotypes(path, "bed")  # same validation as the local engine
        v = gset.variants
        lengths = (v.groupby("chrom", sort=False)["pos"].max() + 1).to_dict()
        x = [c for c in lengths if c in ("X", "23")]
        name = f"igs_{hashlib.sha1(repr(sorted(lengths.items())).encode()).hexdigest()[:12]}"
        if name not in _REFERENCES:
            hl.ReferenceGenome(
                name, list(lengths), {k: int(n) for k, n in lengths.items()}, x_contigs=x
            )
            _REFERENCES.add(name)
        mt = hl.import_plink(
            f"{path}.bed", f"{path}.bim", f"{path}.fam", reference_genome=name, a2_reference=True,
            quant_pheno=True, missing="-9",
        )  # fmt: skip
        return mt.annotate_cols(is_male=mt.is_female == False)  # noqa: E712 - Hail expression
    if fmt == "vcf":
        mt = hl.import_vcf(
            path, reference_genome=_vcf_reference(path), force_bgz=path.endswith(".gz")
        )
    elif fmt == "bgen":
        hl.index_bgen(path, reference_genome="GRCh37")
        mt = hl.import_bgen(path, entry_fields=["GT"])
    else:
        raise ConfigError(f"the Hail engine reads bed, vcf or bgen, not {fmt!r}.")
    return mt.annotate_cols(fam_id=mt.s, is_male=hl.missing(hl.tbool))


def _vcf_reference(path: str) -> str:
    """GRCh38 for 'chr'-prefixed contigs, GRCh37 for plain ones (from the first data line)."""
    opener = gzip.open if path.endswith((".gz", ".bgz")) else open
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                return "GRCh38" if line.startswith("chr") else "GRCh37"
    raise InputFormatError(f"{path}: no variant lines in the VCF.")
