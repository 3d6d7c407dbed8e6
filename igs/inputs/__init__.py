"""The inputs stage: validate each biobank's genotype files before any analysis runs."""

from igs.inputs.genotype_summary import summarise_genotypes

__all__ = ["summarise_genotypes"]
