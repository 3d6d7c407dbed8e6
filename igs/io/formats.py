"""The genotype formats igs reads and the files of each: one table for the config checks, the
per-chromosome path expansion, the PLINK readers and provenance."""

from __future__ import annotations

# format -> the suffixes added to `genotypes.path` (a PLINK prefix; a VCF/BGEN path is the file)
GENOTYPE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "bed": (".bed", ".bim", ".fam"),
    "pgen": (".pgen", ".pvar", ".psam"),
    "vcf": ("",),
    "bgen": ("",),
}
