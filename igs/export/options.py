"""Options of the clinician export, from the config's ``export`` block (and the models stage's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from igs.models.options import ModelsOptions


@dataclass(frozen=True)
class ExportOptions:
    """Risk horizon, category cut-offs and labels, the match rate flagged, the model options."""

    horizon: float
    thresholds: tuple[float, ...]
    labels: tuple[str, ...]
    min_match_rate: float
    models: ModelsOptions

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> ExportOptions:
        ex = cfg["export"]
        return cls(
            horizon=float(ex["horizon"]),
            thresholds=tuple(ex["thresholds"]),
            labels=tuple(ex["labels"]),
            min_match_rate=ex["min_match_rate"],
            models=ModelsOptions.from_config(cfg),
        )
