"""Options of the clinician export, from the config's ``export`` block (and the models stage's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from igs.models.options import ModelsOptions


@dataclass(frozen=True)
class ExportOptions:
    """Risk horizon, category cut-offs and labels, the match rate flagged, the model options and
    the country (biobank's ``recalibration.country``) whose population the risk is recalibrated to."""

    horizon: float
    thresholds: tuple[float, ...]
    labels: tuple[str, ...]
    min_match_rate: float
    models: ModelsOptions
    country: str | None = None

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
        )
