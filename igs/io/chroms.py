"""Per-chromosome genotype files: expand a ``{chrom}`` path into one file per chromosome.

``imputed/chr{chrom}.dose.vcf.gz`` or ``ukb_imp_chr{chrom}_v3`` (a PLINK prefix) names one
file(set) per chromosome; the chromosomes are those whose files exist, or a given list (each
of which must exist).
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from igs.errors import InputFormatError
from igs.io.formats import GENOTYPE_SUFFIXES

CHROM_FIELD = "{chrom}"
# the file whose existence says a PLINK prefix is there


def has_chrom_field(path: str | os.PathLike[str]) -> bool:
    return CHROM_FIELD in str(path)


def expand_chrom_paths(
    pattern: str | os.PathLike[str],
    fmt: str,
    chromosomes: list[str] | tuple[str, ...] | None = None,
) -> dict[str, Path]:
    """``{chromosome: path}`` in chromosome order (1..22, X, Y, XY, MT, then others by name).

    ``path`` is what the reader opens (the file for vcf/bgen, the prefix for bed/pgen).
    Raises InputFormatError naming a missing file, or the pattern when it matches nothing.
    """
    pattern = str(pattern)
    if not has_chrom_field(pattern):
        raise InputFormatError(f"{pattern}: genotypes path has no {CHROM_FIELD} field to expand.")
    if fmt not in GENOTYPE_SUFFIXES:
        raise ValueError(
            f"unknown genotype format {fmt!r}; expected one of {list(GENOTYPE_SUFFIXES)}"
        )
    suffix = GENOTYPE_SUFFIXES[fmt][0]  # the data file: .bed, .pgen, or the VCF/BGEN itself
    if chromosomes is not None:
        out = {}
        for c in chromosomes:
            path = Path(pattern.replace(CHROM_FIELD, str(c)))
            if not Path(f"{path}{suffix}").is_file():
                raise InputFormatError(
                    f"{path}{suffix}: file for chromosome {c} not found "
                    f"(genotypes.path {pattern}, genotypes.chromosomes {list(chromosomes)})."
                )
            out[str(c)] = path
        return dict(sorted(out.items(), key=lambda kv: chrom_sort_key(kv[0])))
    full = pattern + suffix
    head, _, tail = full.partition(CHROM_FIELD)
    if CHROM_FIELD in tail:
        raise InputFormatError(f"{pattern}: {CHROM_FIELD} may appear only once in genotypes.path.")
    regex = re.compile(re.escape(head) + r"(\w+)" + re.escape(tail) + r"\Z")
    found = {}
    for name in glob.glob(glob.escape(head) + "*" + glob.escape(tail)):
        m = regex.match(name)
        if m:
            found[m.group(1)] = Path(pattern.replace(CHROM_FIELD, m.group(1)))
    if not found:
        raise InputFormatError(
            f"{full}: matches nothing (no file for any chromosome); check genotypes.path."
        )
    return dict(sorted(found.items(), key=lambda kv: chrom_sort_key(kv[0])))


def chrom_sort_key(chrom: str) -> tuple[int, int, str]:
    """Sort 1..22 numerically, then X, Y, XY, MT, then anything else by name."""
    c = chrom[3:] if chrom.lower().startswith("chr") else chrom
    if c.isdigit():
        return (0, int(c), "")
    order = {"X": 0, "Y": 1, "XY": 2, "MT": 3, "M": 3}
    return (1, order.get(c.upper(), 9), c)
