"""PGS Catalog format 2.0 scoring files for the simulated scores, with planted match cases.

Each causal variant of a score becomes one row. Rows are then altered the way real
scoring files differ from real genotype data, and each row's true status is kept
in a ``<pgs_id>.truth.tsv.gz`` file beside the scoring file:

* ``exact``: effect allele is the target's counted allele (a1);
* ``swapped``: effect allele is the target's other allele (weight sign flipped);
* ``flipped`` / ``flipped_swapped``: alleles reported on the other strand;
* ``ambiguous``: an A/T or C/G SNP (cannot be strand-resolved);
* ``absent``: a position that no biobank genotyped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from igs import __version__
from igs import columns as C
from igs.io.atomic import atomic_path
from igs.io.tables import deterministic_gzip
from igs.simulate.universe import Universe, complement, is_ambiguous


def scoring_file_rows(
    universe: Universe,
    pgs_id: str,
    rng: np.random.Generator,
    *,
    frac_swapped: float = 0.3,
    frac_flipped: float = 0.05,
    frac_absent: float = 0.03,
    weight_noise: float = 0.2,
) -> pd.DataFrame:
    """Rows of one scoring file, plus a ``status`` and ``true_weight_a1`` column."""
    w = universe.weights[pgs_id]
    idx = np.flatnonzero(w)
    v = universe.variants.iloc[idx]
    a1, a2 = v["a1"].to_numpy(), v["a2"].to_numpy()
    est = w[idx] + rng.normal(0.0, weight_noise * np.std(w[idx]), size=len(idx))
    ambiguous = np.array([is_ambiguous(x, y) for x, y in zip(a1, a2, strict=True)])
    swapped = rng.random(len(idx)) < frac_swapped
    flipped = (rng.random(len(idx)) < frac_flipped) & ~ambiguous
    effect = np.where(swapped, a2, a1)
    other = np.where(swapped, a1, a2)
    effect = np.array([complement(a) if f else a for a, f in zip(effect, flipped, strict=True)])
    other = np.array([complement(a) if f else a for a, f in zip(other, flipped, strict=True)])
    status = np.where(
        ambiguous,
        "ambiguous",
        np.where(
            flipped,
            np.where(swapped, "flipped_swapped", "flipped"),
            np.where(swapped, "swapped", "exact"),
        ),
    )
    rows = pd.DataFrame(
        {
            C.RSID: v["id"].to_numpy(),
            C.CHR_NAME: v["chrom"].to_numpy(),
            C.CHR_POSITION: v["pos"].to_numpy(),
            C.EFFECT_ALLELE: effect,
            C.OTHER_ALLELE: other,
            C.EFFECT_WEIGHT: np.round(np.where(swapped, -est, est), 6),
            "status": status,
            "true_weight_a1": w[idx],
        }
    )
    n_absent = round(frac_absent * len(idx))
    if n_absent:
        rows = pd.concat([rows, _absent_rows(universe, rng, n_absent)], ignore_index=True)
    return rows.sort_values(
        [C.CHR_NAME, C.CHR_POSITION], key=_chrom_order, kind="stable"
    ).reset_index(drop=True)


def write_scoring_files(universe: Universe, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write one gzipped PGS Catalog file (and its truth file) per score in the universe."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for k, s in enumerate(universe.spec.scores):
        rng = np.random.default_rng([universe.spec.seed, 100 + k])
        rows = scoring_file_rows(universe, s.pgs_id, rng)
        header = [
            "###PGS CATALOG SCORING FILE - simulated by igs",
            "#format_version=2.0",
            "##POS=Metadata",
            f"#pgs_id={s.pgs_id}",
            f"#pgs_name={s.pgs_id.lower()}_simulated",
            f"#trait_reported={s.trait}",
            "#trait_mapped=",
            "#trait_efo=",
            "#weight_type=beta",
            f"#genome_build={universe.spec.genome_build}",
            f"#variants_number={len(rows)}",
            f"##SOURCE=igs {__version__} simulate (universe seed {universe.spec.seed})",
        ]
        path = out_dir / f"{s.pgs_id}.txt.gz"
        with atomic_path(path) as tmp:
            _write_gzip_text(
                tmp,
                "\n".join(header)
                + "\n"
                + rows[list(C.SCORING_FILE_COLUMNS)].to_csv(sep="\t", index=False),
            )
        truth = out_dir / f"{s.pgs_id}.truth.tsv.gz"
        with atomic_path(truth) as tmp:
            cols = [C.RSID, C.CHR_NAME, C.CHR_POSITION, C.EFFECT_ALLELE, "status", "true_weight_a1"]
            _write_gzip_text(tmp, rows[cols].to_csv(sep="\t", index=False))
        written += [path, truth]
    return written


def _write_gzip_text(path: Path, text: str) -> None:
    with deterministic_gzip(path) as gz:
        gz.write(text.encode())


def _absent_rows(universe: Universe, rng: np.random.Generator, n: int) -> pd.DataFrame:
    v = universe.variants
    taken = set(zip(v["chrom"], v["pos"], strict=True))
    autosomes = [c for c in universe.spec.chromosomes]
    out = []
    while len(out) < n:
        chrom = autosomes[rng.integers(len(autosomes))]
        pos = int(rng.integers(1_000_000, 40_000_000))
        if (chrom, pos) in taken:
            continue
        taken.add((chrom, pos))
        a, b = rng.choice(list("ACGT"), size=2, replace=False)
        out.append(
            {
                C.RSID: f"rs{900_000_000 + len(out)}",
                C.CHR_NAME: chrom,
                C.CHR_POSITION: pos,
                C.EFFECT_ALLELE: a,
                C.OTHER_ALLELE: b,
                C.EFFECT_WEIGHT: round(float(rng.normal(0, 0.02)), 6),
                "status": "absent",
                "true_weight_a1": 0.0,
            }
        )
    return pd.DataFrame(out)


def _chrom_order(col: pd.Series) -> pd.Series:
    if col.name != C.CHR_NAME:
        return col
    return col.map(lambda c: int(c) if str(c).isdigit() else 100 + ord(str(c)[0]))
