"""Options of the scores stage, from the config's ``scores`` and ``hail`` blocks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from igs.scores.match import MatchOptions


@dataclass(frozen=True)
class ReferenceOptions:
    """The reference panel's label column, the PCA (number of PCs, variant filters, LD
    thinning, seed) and the PCs the population classifier uses."""

    population_column: str = "super_pop"
    n_pcs: int = 10
    n_pcs_population: int = 5
    min_maf: float = 0.01
    prune_r2: float = 0.2
    prune_window: int = 50
    prune_window_kb: int = 1000
    min_variants: int = 50
    max_variants: int = 20000
    chunk_variants: int = 4096
    seed: int = 42

    @classmethod
    def from_config(cls, block: dict[str, Any] | None) -> ReferenceOptions:
        """From ``scores.ancestry_reference`` (schema defaults filled; None: the defaults).
        The PCA and the random forest use the fixed seed 42."""
        names = {f.name for f in fields(cls)} - {
            "seed",
            "prune_window",
            "prune_window_kb",
            "chunk_variants",
        }
        return cls(**{k: v for k, v in (block or {}).items() if k in names})


@dataclass(frozen=True)
class ScoresOptions:
    """How to match (``MatchOptions``), the scoring filters for imputed data, whether a score
    below ``min_overlap`` stops the run, how many PCs adjust for ancestry, the Hail settings, the
    chain file that lifts scoring files on another build to the target's, and the reference
    panel's options (``scores.ancestry_reference``; defaults when absent)."""

    match: MatchOptions
    n_pcs: int
    hail: dict[str, Any]
    min_info: float = 0.0
    min_maf: float = 0.0
    strict: bool = False
    liftover_chain: str | None = None
    reference: ReferenceOptions = dataclasses.field(default_factory=ReferenceOptions)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], **match: Any) -> ScoresOptions:
        """From a resolved config; ``match`` overrides MatchOptions fields (those given as flags)."""
        s = cfg["scores"]
        opts = MatchOptions(min_overlap=s["min_overlap"])
        return cls(
            match=dataclasses.replace(opts, **{k: v for k, v in match.items() if v is not None}),
            n_pcs=s["ancestry_adjustment"]["n_pcs"],
            hail=cfg.get("hail", {}),
            min_info=s["min_info"],
            min_maf=s["min_maf"],
            strict=s["strict"],
            liftover_chain=s.get("liftover_chain"),
            reference=ReferenceOptions.from_config(s.get("ancestry_reference")),
        )
