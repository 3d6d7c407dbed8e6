"""Options of the phenotype stage, from the config's ``pheno`` block and the biobank's entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from igs.errors import ConfigError
from igs.pheno.endpoints import EndpointSpec
from igs.pheno.omop import OmopConcepts


@dataclass(frozen=True)
class PhenoOptions:
    """Endpoints to build, where the records are, and the overlap and landmark settings."""

    endpoints: tuple[EndpointSpec, ...]
    phenotypes: dict[str, Any]  # the biobank's `phenotypes` entry (source and files)
    concepts: OmopConcepts
    min_genotype_overlap: float
    landmark_age: float | None

    @classmethod
    def from_config(cls, cfg: dict[str, Any], biobank: dict[str, Any]) -> PhenoOptions:
        p = cfg["pheno"]
        if not p["endpoints"]:
            raise ConfigError("pheno.endpoints is empty; define at least one endpoint.")
        by_name = {e["name"]: e for e in p["endpoints"]}
        return cls(
            endpoints=tuple(
                EndpointSpec.from_config(
                    e, age_cap=p["age_cap"], landmark_age=p["landmark_age"], others=by_name
                )
                for e in p["endpoints"]
            ),
            phenotypes=biobank["phenotypes"],
            concepts=OmopConcepts(**p["omop_concepts"]),
            min_genotype_overlap=p["min_genotype_overlap"],
            landmark_age=p["landmark_age"],
        )
