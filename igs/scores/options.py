"""Options of the scores stage, from the config's ``scores`` and ``hail`` blocks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from igs.scores.match import MatchOptions
from igs.scores.reference import ReferenceOptions


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
