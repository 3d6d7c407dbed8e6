"""Share bundles: the aggregate results of one biobank that may leave it.

A bundle is a folder of small tables and a manifest:

* ``counts.tsv``: per endpoint, people included, events, competing deaths, exclusions;
* ``models.tsv``: the model comparison of each endpoint (C statistics and their CIs, AUCs,
  Brier scores, calibration, delta-C, NRI);
* ``prs_effects.tsv``: HR per SD of the score (log HR and SE, overall and by sex) and the
  percentile-group HRs;
* ``calibration.tsv``: predicted and observed risk by decile;
* ``match.tsv``: per score, the share of its variants matched;
* ``provenance.json``: a copy of the biobank's provenance record (code, config, input checksums);
* ``manifest.json``: schema version, biobank, ``min_cell``, what was suppressed, and the
  SHA-256 of every file.

Any value computed from fewer than ``min_cell`` people (a count, or a group's estimates) is
replaced by an empty cell and listed in the manifest; nothing per person (IDs, dates, scores)
is ever read into a bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs import paths
from igs.io.atomic import atomic_paths

SCHEMA_VERSION = "1.0"
BUNDLE_FILES = ("counts.tsv", "models.tsv", "prs_effects.tsv", "calibration.tsv", "match.tsv")


def suppress(
    table: pd.DataFrame, count_cols: list[str], value_cols: list[str], min_cell: int
) -> tuple[pd.DataFrame, int]:
    """Blank every count from 1 to ``min_cell - 1`` and that row's values; return the rows blanked."""
    table = table.copy()
    small = np.zeros(len(table), dtype=bool)
    for c in count_cols:
        v = pd.to_numeric(table[c], errors="coerce")
        small |= ((v > 0) & (v < min_cell)).to_numpy()
    for c in count_cols + value_cols:
        table[c] = table[c].astype(object)
        table.loc[small, c] = None
    return table, int(small.sum())


@dataclass(frozen=True)
class BundleFiles:
    """The stage outputs a bundle is built from (the share_bundle rule's inputs)."""

    pheno_summary: Path  # pheno/summary.json
    match_summary: Path  # scores/match_summary.tsv
    evaluations: dict[str, Path]  # endpoint -> its evaluate/{endpoint} folder
    provenance: Path | None = None  # provenance.json

    @classmethod
    def in_results(
        cls, results: str | os.PathLike[str], biobank: str, endpoints: list[str]
    ) -> BundleFiles:
        """The files at their places in the results layout (``igs.paths``)."""
        return cls(
            Path(paths.pheno(results, biobank, "summary.json")),
            Path(paths.scores(results, biobank, "match_summary.tsv")),
            {ep: Path(paths.evaluation(results, biobank, ep)) for ep in endpoints},
            Path(paths.provenance(results, biobank)),
        )


def build_bundle(files: BundleFiles, min_cell: int = 5) -> dict[str, pd.DataFrame]:
    """The bundle's tables for one biobank's results (see the module docstring)."""
    summary = json.loads(files.pheno_summary.read_text())
    counts = []
    for name, ep in summary["endpoints"].items():
        counts.append({"endpoint": name, "n_included": ep["n_included"], "n_events": ep["n_events"],
                       "n_competing_deaths": ep["n_competing_deaths"],
                       **{f"excluded_{k}": v for k, v in ep["excluded"].items()}})  # fmt: skip
    counts = pd.DataFrame(counts)
    count_cols = [c for c in counts.columns if c.startswith("n_") or c.startswith("excluded_")]
    counts, n_counts = suppress(counts, count_cols, [], min_cell)

    models, effects, calib = [], [], []
    for ep, ev in files.evaluations.items():
        if not ev.is_dir():
            continue
        comp = pd.read_csv(ev / "comparison.tsv", sep="\t")
        models.append(comp.drop(columns=["penalizer"], errors="ignore").assign(endpoint=ep))
        hr = pd.read_csv(ev / "hr_per_sd.tsv", sep="\t").assign(endpoint=ep, effect="hr_per_sd")
        pct = pd.read_csv(ev / "percentile_hr.tsv", sep="\t").assign(
            endpoint=ep, effect="percentile_group"
        )
        effects += [hr, pct]
        calib.append(pd.read_csv(ev / "calibration.tsv", sep="\t").assign(endpoint=ep))
    value_cols = ["hr", "hr_low", "hr_high", "log_hr", "se", "p"]
    effects_df, n_eff = suppress(
        _stack(effects, ["endpoint", "effect", "group", "n", "n_events", *value_cols]),
        ["n", "n_events"], value_cols, min_cell,
    )  # fmt: skip
    calib_df, n_cal = suppress(
        _stack(calib, ["endpoint", "model", "bin", "n", "predicted", "observed"]),
        ["n"], ["predicted", "observed"], min_cell,
    )  # fmt: skip
    models_df = _stack(models, ["endpoint", "model"], keep_others=True)
    metric_cols = [
        c
        for c in models_df.columns
        if c not in ("endpoint", "model", "model_set", "engine", "n_train", "n_test", "events_test")
    ]
    models_df, n_mod = suppress(
        models_df, [c for c in ("events_test",) if c in models_df], metric_cols, min_cell
    )
    match = pd.read_csv(files.match_summary, sep="\t")
    match = match[["pgs_id", "n_variants", "matched", "match_rate"]]
    tables = {
        "counts.tsv": counts,
        "models.tsv": models_df,
        "prs_effects.tsv": effects_df,
        "calibration.tsv": calib_df,
        "match.tsv": match,
    }
    if files.provenance is not None and files.provenance.is_file():
        tables["provenance.json"] = files.provenance.read_text()
    tables["__suppressed__"] = pd.DataFrame(
        {
            "table": ["counts.tsv", "prs_effects.tsv", "calibration.tsv", "models.tsv"],
            "rows_suppressed": [n_counts, n_eff, n_cal, n_mod],
        }
    )
    return tables


def write_bundle(
    tables: dict[str, pd.DataFrame], out_dir: str | os.PathLike[str], biobank: str, min_cell: int
) -> Path:
    """Write the tables and a manifest with their checksums, all or nothing."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(BUNDLE_FILES) + (["provenance.json"] if "provenance.json" in tables else [])
    paths = [out / n for n in names] + [out / "manifest.json"]
    with atomic_paths(paths) as tmps:
        digests = {}
        for name, tmp in zip(names, tmps, strict=False):
            if name.endswith(".json"):
                tmp.write_text(tables[name])
            else:
                tables[name].to_csv(tmp, sep="\t", index=False, float_format="%.6g")
            digests[name] = hashlib.sha256(tmp.read_bytes()).hexdigest()
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "biobank": biobank,
            "min_cell": min_cell,
            "suppressed_rows": dict(
                zip(
                    tables["__suppressed__"]["table"],
                    tables["__suppressed__"]["rows_suppressed"].astype(int).tolist(),
                    strict=True,
                )
            ),
            "sha256": digests,
        }
        tmps[-1].write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def read_bundle(path: str | os.PathLike[str]) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A bundle's manifest and tables, after checking its schema version and checksums."""
    from igs.errors import InputFormatError

    path = Path(path)
    manifest_file = path / "manifest.json"
    if not manifest_file.is_file():
        raise InputFormatError(f"{path}: not a share bundle (no manifest.json).")
    manifest = json.loads(manifest_file.read_text())
    if str(manifest.get("schema_version", "")).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise InputFormatError(
            f"{path}: bundle schema {manifest.get('schema_version')} is not {SCHEMA_VERSION}."
        )
    tables = {}
    for name, digest in manifest["sha256"].items():
        data = (path / name).read_bytes() if (path / name).is_file() else b""
        if hashlib.sha256(data).hexdigest() != digest:
            raise InputFormatError(
                f"{path / name}: checksum differs from the manifest (file changed or missing)."
            )
        tables[name] = (
            json.loads(data) if name.endswith(".json") else pd.read_csv(path / name, sep="\t")
        )
    return manifest, tables


def _stack(
    frames: list[pd.DataFrame], columns: list[str], *, keep_others: bool = False
) -> pd.DataFrame:
    """The frames one under another with ``columns`` first (and only, unless ``keep_others``);
    an empty table with those columns when there are no frames."""
    if not frames:
        return pd.DataFrame(columns=columns)
    df = pd.concat(frames, ignore_index=True)
    return df[columns + ([c for c in df.columns if c not in columns] if keep_others else [])]
