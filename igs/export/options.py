"""Options of the clinician export, from the config's ``export`` block (and the models stage's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from igs.models.options import ModelsOptions


@dataclass(frozen=True)
class ExportOptions:
    """Risk horizon, category cut-offs and labels, the match rate flagged, the model options,
    the country (biobank's ``recalibration.country``) whose population the risk is recalibrated
    to, the lowest most-similar-population probability not flagged, and the events a reference
    population needs in the held-out test set to count as validated (``share.min_cell``)."""

    horizon: float
    thresholds: tuple[float, ...]
    labels: tuple[str, ...]
    min_match_rate: float
    models: ModelsOptions
    country: str | None = None
    min_population_probability: float = 0.5
    min_cell: int = 5

    @property
    def recalibration_table(self) -> str | None:
        """The population table of ``country`` (``models.recalibration.tables``), if any."""
        return dict(self.models.recalibration_tables).get(self.country) if self.country else None

    @classmethod
    def from_config(
        cls, cfg: dict[str, Any], biobank: dict[str, Any] | None = None
    ) -> ExportOptions:
        ex = cfg["export"]
        return cls(
            horizon=float(ex["horizon"]),
            thresholds=tuple(ex["thresholds"]),
            labels=tuple(ex["labels"]),
            min_match_rate=ex["min_match_rate"],
            models=ModelsOptions.from_config(cfg),
            country=(biobank or {}).get("recalibration", {}).get("country"),
            min_population_probability=float(ex.get("min_population_probability", 0.5)),
            min_cell=int(cfg.get("share", {}).get("min_cell", 5)),
        )
