"""The scores stage: read scoring files, match them to the target variants, score every sample."""

from igs.scores.engine import ScoreWeights, compute_scores, score_weights
from igs.scores.match import MatchOptions, match_variants, summarise_matches
from igs.scores.scorefile import ScoringFile, read_scoring_file

__all__ = [
    "MatchOptions",
    "ScoreWeights",
    "ScoringFile",
    "compute_scores",
    "match_variants",
    "read_scoring_file",
    "score_weights",
    "summarise_matches",
]
