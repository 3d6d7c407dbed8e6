"""Synthetic multi-biobank cohorts with planted structure and known effects.

``build_universe`` fixes what all biobanks share (variants, allele frequencies per
ancestry group, LD blocks, causal effects); ``simulate_cohort`` draws one biobank's
people from it; ``write_scoring_files`` writes PGS Catalog files for the causal
scores, with strand flips, swaps, ambiguous and absent variants planted.
"""

from igs.simulate.cohort import CohortSpec, simulate_cohort
from igs.simulate.scorefiles import write_scoring_files
from igs.simulate.universe import UniverseSpec, build_universe

__all__ = ["CohortSpec", "UniverseSpec", "build_universe", "simulate_cohort", "write_scoring_files"]
