"""The variant universe shared by every simulated biobank."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtri

# GRCh38 chromosome lengths (bp); enough for realistic positions.
CHROM_LENGTHS = {
    "1": 248_956_422,
    "2": 242_193_529,
    "3": 198_295_559,
    "4": 190_214_555,
    "5": 181_538_259,
    "6": 170_805_979,
    "7": 159_345_973,
    "8": 145_138_636,
    "9": 138_394_717,
    "10": 133_797_422,
    "11": 135_086_622,
    "12": 133_275_309,
    "13": 114_364_328,
    "14": 107_043_718,
    "15": 101_991_189,
    "16": 90_338_345,
    "17": 83_257_441,
    "18": 80_373_285,
    "19": 58_617_616,
    "20": 64_444_167,
    "21": 46_709_983,
    "22": 50_818_468,
    "X": 156_040_895,
}
# chrX positions are drawn outside the pseudo-autosomal regions (GRCh38 PAR1 ends 2,781,479).
X_NONPAR = (3_000_000, 155_000_000)
COMPLEMENT = str.maketrans("ACGT", "TGCA")
POPULATIONS = ("POP_A", "POP_B", "POP_C")


@dataclass(frozen=True)
class ScoreSpec:
    """A polygenic score in the simulation: its causal variants and, if it is a disease's score, which."""

    pgs_id: str
    trait: str
    n_causal: int


DEFAULT_SCORES = (
    ScoreSpec("IGS_SIM_CAD", "coronary artery disease", 1000),
    ScoreSpec("IGS_SIM_T2D", "type 2 diabetes", 600),
    ScoreSpec(
        "IGS_SIM_LDL",
        "LDL cholesterol (no effect on CAD or T2D; planted prostate cancer effect)",
        300,
    ),
)


@dataclass(frozen=True)
class UniverseSpec:
    """What every biobank in one simulation shares."""

    seed: int = 42
    n_variants: int = 20_000
    chromosomes: tuple[str, ...] = ("1", "2", "3", "4", "5", "6")
    x_fraction: float = 0.05
    fst: tuple[float, ...] = (0.02, 0.04, 0.12)  # per ancestry group, Balding-Nichols
    mean_block_length: int = 15
    x_mean_block_length: int = 2  # short blocks on chrX so sex checks see many independent sites
    frac_ambiguous: float = 0.10
    genome_build: str = "GRCh38"
    scores: tuple[ScoreSpec, ...] = field(default=DEFAULT_SCORES)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Universe:
    """Variants (table), per-group allele frequencies, LD blocks and causal weights.

    ``variants`` columns: chrom, id, cm, pos, a1 (counted allele), a2, block, rho, p_anc.
    ``freqs`` is (n_groups, n_variants): frequency of a1 in each ancestry group.
    ``weights`` maps a score id to a dense per-variant vector of true a1 effects.
    """

    spec: UniverseSpec
    variants: pd.DataFrame
    freqs: np.ndarray
    weights: dict[str, np.ndarray]

    @property
    def thresholds(self) -> np.ndarray:
        """Latent-Gaussian cut-offs: a haplotype carries a1 where z < threshold."""
        return ndtri(self.freqs)


def build_universe(spec: UniverseSpec) -> Universe:
    """Draw the shared variants deterministically from ``spec.seed``."""
    rng = np.random.default_rng([spec.seed, 0])
    n_x = max(50, round(spec.n_variants * spec.x_fraction)) if spec.x_fraction > 0 else 0
    n_auto = spec.n_variants - n_x
    lengths = np.array([CHROM_LENGTHS[c] for c in spec.chromosomes], dtype=float)
    per_chrom = _split_counts(n_auto, lengths / lengths.sum())
    parts = []
    for chrom, count in zip(spec.chromosomes, per_chrom, strict=True):
        parts.append(_positions(rng, chrom, count, 1_000_000, CHROM_LENGTHS[chrom] - 1_000_000))
    if n_x:
        parts.append(_positions(rng, "X", n_x, *X_NONPAR))
    variants = pd.concat(parts, ignore_index=True)
    m = len(variants)

    a1, a2 = _alleles(rng, m, spec.frac_ambiguous)
    rs_numbers = rng.choice(np.arange(1_000, 1_000 + 50 * m), size=m, replace=False)
    variants["id"] = [f"rs{k}" for k in rs_numbers]
    variants["cm"] = 0.0
    variants["a1"], variants["a2"] = a1, a2

    chroms = variants["chrom"].to_numpy()
    mean_length = np.where(chroms == "X", spec.x_mean_block_length, spec.mean_block_length)
    block = _ld_blocks(rng, chroms, mean_length)
    variants["block"] = block
    n_blocks = int(block.max()) + 1
    variants["rho"] = rng.uniform(0.6, 0.95, size=n_blocks)[block]

    p_anc = np.clip(rng.beta(0.8, 0.8, size=m), 0.002, 0.998)
    variants["p_anc"] = p_anc
    freqs = np.empty((len(spec.fst), m))
    for k, f in enumerate(spec.fst):
        a, b = p_anc * (1 - f) / f, (1 - p_anc) * (1 - f) / f
        freqs[k] = np.clip(rng.beta(a, b), 0.0005, 0.9995)

    weights = {}
    autosomal_common = np.flatnonzero(
        (variants["chrom"] != "X").to_numpy() & (np.minimum(p_anc, 1 - p_anc) > 0.02)
    )
    for s in spec.scores:
        idx = np.sort(
            rng.choice(autosomal_common, size=min(s.n_causal, len(autosomal_common)), replace=False)
        )
        w = np.zeros(m)
        w[idx] = rng.normal(0.0, 1.0, size=len(idx)) * rng.choice(
            [0.3, 1.0, 3.0], p=[0.6, 0.3, 0.1], size=len(idx)
        )
        weights[s.pgs_id] = w / np.sqrt(np.sum(w**2))
    columns = ["chrom", "id", "cm", "pos", "a1", "a2", "block", "rho", "p_anc"]
    return Universe(spec=spec, variants=variants[columns], freqs=freqs, weights=weights)


def complement(allele: str) -> str:
    """The allele on the other DNA strand (A<->T, C<->G)."""
    return allele.translate(COMPLEMENT)


def is_ambiguous(a1: str, a2: str) -> bool:
    """A/T and C/G SNPs read the same on both strands."""
    return complement(a1) == a2


def _split_counts(total: int, shares: np.ndarray) -> np.ndarray:
    counts = np.floor(shares * total).astype(int)
    counts[: total - counts.sum()] += 1
    return counts


def _positions(rng: np.random.Generator, chrom: str, count: int, lo: int, hi: int) -> pd.DataFrame:
    pos = lo + np.sort(rng.choice(hi - lo, size=count, replace=False))
    return pd.DataFrame({"chrom": chrom, "pos": pos})


def _alleles(
    rng: np.random.Generator, m: int, frac_ambiguous: float
) -> tuple[np.ndarray, np.ndarray]:
    ambiguous = [("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")]
    unambiguous = [(x, y) for x in "ACGT" for y in "ACGT" if x != y and (x, y) not in ambiguous]
    is_amb = rng.random(m) < frac_ambiguous
    pairs = np.array(unambiguous)[rng.integers(0, len(unambiguous), size=m)]
    pairs[is_amb] = np.array(ambiguous)[rng.integers(0, len(ambiguous), size=int(is_amb.sum()))]
    return pairs[:, 0], pairs[:, 1]


def _ld_blocks(rng: np.random.Generator, chroms: np.ndarray, mean_length: np.ndarray) -> np.ndarray:
    """Block index per variant; blocks have geometric lengths and never cross chromosomes."""
    starts = rng.random(len(chroms)) < 1.0 / mean_length
    starts[0] = True
    starts[1:] |= chroms[1:] != chroms[:-1]
    return np.cumsum(starts) - 1
