"""The models stage: integrative survival models and their clinical-paper evaluation."""

from igs.models.cox import CoxModel, fit_cox
from igs.models.dataset import MODEL_SETS, SurvivalData, assemble
from igs.models.evaluate import EvaluationSettings, evaluate_endpoint, write_evaluation

__all__ = [
    "MODEL_SETS",
    "CoxModel",
    "EvaluationSettings",
    "SurvivalData",
    "assemble",
    "evaluate_endpoint",
    "fit_cox",
    "write_evaluation",
]
