"""Options of the models stage, from the config's ``models``, ``pheno``, ``scores``, ``share`` and ``seed``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from igs.errors import ConfigError
from igs.models.evaluate import EvaluationSettings


@dataclass(frozen=True)
class ModelsOptions:
    """The evaluation settings and what the analysis table of an endpoint is built from."""

    settings: EvaluationSettings
    endpoint_scores: tuple[tuple[str, str | None], ...]  # (endpoint, pgs_id or None)
    omics_statistics: tuple[str, ...]
    n_pcs: int
    min_cell: (
        int  # model.json leaves the biobank: its baseline steps hold at least this many events
    )
    baseline_grid_years: float
    # models.recalibration: (location, population table) pairs, screening age and window, draws
    recalibration_tables: tuple[tuple[str, str], ...] = ()
    screening_age: float = 50.0
    screening_window: float = 10.0
    n_draws: int = 500

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> ModelsOptions:
        m = cfg["models"]
        recal = m.get("recalibration", {})
        settings = EvaluationSettings(
            horizons=tuple(float(h) for h in m["horizons"]), test_fraction=m["test_fraction"],
            n_folds=m["n_folds"], penalizers=tuple(m["penalizers"]), n_bootstrap=m["n_bootstrap"],
            thresholds=tuple(m["thresholds"]), seed=cfg["seed"],
            lifelines_check_max_n=m["lifelines_check_max_n"],
        )  # fmt: skip
        return cls(
            settings=settings,
            endpoint_scores=tuple((e["name"], e.get("score")) for e in cfg["pheno"]["endpoints"]),
            omics_statistics=tuple(m["omics_statistics"]),
            n_pcs=cfg["scores"]["ancestry_adjustment"]["n_pcs"],
            min_cell=cfg["share"]["min_cell"],
            baseline_grid_years=cfg["share"]["baseline_grid_years"],
            recalibration_tables=tuple(recal.get("tables", {}).items()),
            screening_age=float(recal.get("screening_age", 50.0)),
            screening_window=float(recal.get("screening_window", 10.0)),
            n_draws=int(recal.get("n_draws", 500)),
        )

    def score_of(self, endpoint: str) -> str:
        """The pgs_id modelled for ``endpoint``; an unknown endpoint or one without a score fails."""
        scores = dict(self.endpoint_scores)
        if endpoint not in scores:
            known = ", ".join(scores)
            raise ConfigError(f"unknown endpoint {endpoint!r}; pheno.endpoints defines: {known}.")
        if scores[endpoint] is None:
            raise ConfigError(f"pheno.endpoints ({endpoint}) needs `score`: the pgs_id to model.")
        return str(scores[endpoint])
