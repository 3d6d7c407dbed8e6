"""Options of the share stage, from the config's ``share`` and ``pheno`` blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ShareOptions:
    """The smallest count that may leave a biobank, and the endpoints a bundle covers."""

    min_cell: int
    endpoints: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> ShareOptions:
        return cls(
            min_cell=cfg["share"]["min_cell"],
            endpoints=tuple(e["name"] for e in cfg["pheno"]["endpoints"]),
        )
