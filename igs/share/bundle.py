"""Share bundles: the aggregate results of one biobank that may leave it.

A bundle is a folder of small tables and a manifest:

* ``counts.tsv``: per endpoint, people included, events, competing deaths, exclusions;
* ``models.tsv``: the model comparison of each endpoint (C statistics and their CIs, AUCs,
  Brier scores, calibration, delta-C, NRI);
* ``prs_effects.tsv``: HR per SD of the score (log HR and SE, overall and by sex) and the
  percentile-group HRs;
* ``calibration.tsv``: predicted and observed risk by decile (adjacent deciles merged until
  none implies a small event count, see :func:`merge_calibration_bins`);
* ``match.tsv``: per score, the share of its variants matched;
* ``recalibrated_incidence.tsv``, ``threshold_ages.tsv``: per endpoint, the curves by score group
  recalibrated to national populations and the ages reaching the screening threshold
  (:mod:`igs.models.recalibration`; computed from the population tables and the published score
  effects, no counts; group labels with ``_`` for spaces);
* ``provenance.json``: a copy of the biobank's provenance record (code, config, input checksums);
* ``manifest.json``: schema version, biobank, ``min_cell``, what was suppressed, and the
  SHA-256 of every file.

Every count from 1 to ``min_cell - 1``, and enough other counts that none of them can be
recovered by subtraction from totals or other rows of any table (see
:mod:`igs.share.disclosure`), is replaced by an empty cell, with the values computed from it;
the manifest counts the rows touched. Nothing per person (IDs, dates, scores) is ever read
into a bundle, and :func:`read_bundle` refuses names that could reach a file path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs import paths
from igs.io.atomic import atomic_paths
from igs.share.disclosure import bundle_constraints, count_columns, protect, value_columns

SCHEMA_VERSION = "1.0"
BUNDLE_FILES = ("counts.tsv", "models.tsv", "prs_effects.tsv", "calibration.tsv", "fairness.tsv",
                "match.tsv", "recalibrated_incidence.tsv", "threshold_ages.tsv")  # fmt: skip


def suppress(
    table: pd.DataFrame, count_cols: list[str], value_cols: list[str], min_cell: int
) -> tuple[pd.DataFrame, int]:
    """Blank every count from 1 to ``min_cell - 1`` and that row's values; return the rows blanked.
    (One table on its own; :func:`build_bundle` also blanks complementary cells across tables.)"""
    tables, n = protect_tables({"t": table}, min_cell, {"t": count_cols}, {"t": value_cols})
    return tables["t"], n["t"]


def protect_tables(
    tables: dict[str, pd.DataFrame],
    min_cell: int,
    count_cols: dict[str, list[str]] | None = None,
    value_cols: dict[str, list[str]] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The tables with small counts and their complements blanked (see igs.share.disclosure),
    each row's values blanked beside a blanked count, and the rows touched per table."""
    count_cols = count_cols or {n: count_columns(n, t) for n, t in tables.items()}
    value_cols = value_cols or {n: value_columns(n, t) for n, t in tables.items()}
    values = {}
    for name, table in tables.items():
        for col in count_cols[name]:
            for i, v in enumerate(pd.to_numeric(table[col], errors="coerce")):
                if pd.notna(v):
                    values[(name, i, col)] = float(v)
    constraints = bundle_constraints(tables)
    values |= _virtual_values(constraints, values)
    blank = protect(values, constraints, min_cell)
    out, touched = {}, {}
    for name, table in tables.items():
        table = table.copy()
        rows = np.zeros(len(table), dtype=bool)
        for _, i, col in (k for k in blank if k[0] == name):
            rows[i] = True
            table[col] = table[col].astype(object)
            table.iloc[i, table.columns.get_loc(col)] = None
        for col in value_cols.get(name, []):
            table[col] = table[col].astype(object)
            table.loc[rows, col] = None
        out[name], touched[name] = table, int(rows.sum())
    return out, touched


def merge_calibration_bins(calib: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Adjacent bins of each endpoint and model merged until none implies (``observed`` x ``n``,
    rounded) from 1 to ``min_cell - 1`` events or people without an event, nor holds fewer than
    ``min_cell`` people. A merged bin's ``predicted`` and ``observed`` are the ``n``-weighted means
    of its bins' (mean predicted and Kaplan-Meier) risks, and ``bin`` names its first and last bin
    ("3-5"). A model whose bins cannot be merged so keeps one bin with ``observed`` blanked."""
    rows = []
    for (ep, model), g in calib.groupby(["endpoint", "model"], sort=False):
        g = g.sort_values("bin")
        groups, current = [], []
        for _, r in g.iterrows():
            current.append(r)
            if _safe_bin(current, min_cell):
                groups.append(current)
                current = []
        if current:  # a short tail joins the bin before it
            groups = [*groups[:-1], (groups[-1] if groups else []) + current]
        for members in groups:
            rows.append(_merged(ep, model, members, min_cell))
    return pd.DataFrame(rows, columns=["endpoint", "model", "bin", "n", "predicted", "observed"])


def _safe_bin(members: list[pd.Series], min_cell: int) -> bool:
    n = sum(float(r["n"]) for r in members)
    events = round(sum(float(r["n"]) * float(r["observed"]) for r in members))
    return n >= min_cell and all(v == 0 or v >= min_cell for v in (events, n - events))


def _merged(ep: str, model: str, members: list[pd.Series], min_cell: int) -> dict:
    n = np.array([float(r["n"]) for r in members])
    first, last = members[0]["bin"], members[-1]["bin"]
    row = {
        "endpoint": ep,
        "model": model,
        "bin": str(first) if len(members) == 1 else f"{first}-{last}",
        "n": int(n.sum()),
        "predicted": float(np.average([r["predicted"] for r in members], weights=n)),
        "observed": float(np.average([r["observed"] for r in members], weights=n)),
    }
    if not _safe_bin(members, min_cell):
        row["observed"] = None
    return row


def _virtual_values(constraints: list, values: dict) -> dict:
    """The true values of the unpublished cells that a constraint defines from published ones."""
    out: dict = {}
    for _ in range(3):  # a virtual cell can rest on another (n_persons on each row's counts)
        for c in constraints:
            known = values | out
            rest = [(k, coef) for k, coef in c if k not in known]
            if len(rest) == 1 and rest[0][0][0] == "~":
                k, coef = rest[0]
                out[k] = -sum(cf * known[kk] for kk, cf in c if kk in known) / coef
    return out


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

    models, effects, calib, fair, recal, ages = [], [], [], [], [], []
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
        if (ev / "prs_modifiers.tsv").is_file():  # by age band and interactions (has ``effect``)
            mods = pd.read_csv(ev / "prs_modifiers.tsv", sep="\t").assign(endpoint=ep)
            effects.append(mods)
        calib.append(pd.read_csv(ev / "calibration.tsv", sep="\t").assign(endpoint=ep))
        if (ev / "fairness.tsv").is_file():
            fair.append(pd.read_csv(ev / "fairness.tsv", sep="\t").assign(endpoint=ep))
        for name, frames in (("recalibrated_incidence.tsv", recal), ("threshold_ages.tsv", ages)):
            if (ev / name).is_file():
                frames.append(pd.read_csv(ev / name, sep="\t").assign(endpoint=ep))
    effect_values = ["hr", "hr_low", "hr_high", "log_hr", "se", "p"]
    effects_df = _stack(effects, ["endpoint", "effect", "group", "n", "n_events", *effect_values])
    calib_raw = _stack(calib, ["endpoint", "model", "bin", "n", "predicted", "observed"])
    calib_df = merge_calibration_bins(calib_raw, min_cell)
    models_df = _stack(models, ["endpoint", "model"], keep_others=True)
    from igs.models.fairness import COLUMNS as FAIRNESS_COLUMNS

    fairness_df = _stack(fair, ["endpoint", *FAIRNESS_COLUMNS])
    raw = {"counts.tsv": counts, "models.tsv": models_df, "prs_effects.tsv": effects_df,
           "calibration.tsv": calib_df, "fairness.tsv": fairness_df}  # fmt: skip
    protected, touched = protect_tables(raw, min_cell)
    # a model whose test events are blanked loses its calibration too (computed from them)
    m, cal = protected["models.tsv"], protected["calibration.tsv"]
    no_events = m[m["events_test"].isna()] if "events_test" in m else m.iloc[:0]
    gone = set(zip(no_events["endpoint"], no_events["model"], strict=True))
    cal_gone = np.array([k in gone for k in zip(cal["endpoint"], cal["model"], strict=True)], bool)
    cal[["predicted", "observed"]] = cal[["predicted", "observed"]].astype(object)
    cal.loc[cal_gone, ["predicted", "observed"]] = None
    calibration_rows = int(cal_gone.sum()) + len(calib_raw) - len(calib_df)
    match = pd.read_csv(files.match_summary, sep="\t")
    match = match[["pgs_id", "n_variants", "matched", "match_rate"]]
    from igs.models.recalibration import AGE_COLUMNS, CURVE_COLUMNS

    recalibrated = {
        name: _four_digits(_stack([f for f in frames if len(f)], ["endpoint", *cols]).assign(
            group=lambda d: d["group"].astype(str).str.replace(" ", "_")
        ))
        for name, frames, cols in (("recalibrated_incidence.tsv", recal, list(CURVE_COLUMNS)),
                                   ("threshold_ages.tsv", ages, list(AGE_COLUMNS)))
    }  # fmt: skip
    tables = {**protected, "match.tsv": match, **recalibrated}
    if files.provenance is not None and files.provenance.is_file():
        tables["provenance.json"] = files.provenance.read_text()
    tables["__suppressed__"] = pd.DataFrame(
        {
            "table": ["counts.tsv", "prs_effects.tsv", "calibration.tsv", "models.tsv", "fairness.tsv"],
            "rows_suppressed": [touched["counts.tsv"], touched["prs_effects.tsv"],
                                calibration_rows, touched["models.tsv"], touched["fairness.tsv"]],
        }
    )  # fmt: skip
    return tables


def write_bundle(
    tables: dict[str, pd.DataFrame], out_dir: str | os.PathLike[str], biobank: str, min_cell: int
) -> Path:
    """Write the tables and a manifest with their checksums, all or nothing."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # (tables built before fairness.tsv existed have none: the manifest lists what is written)
    names = [n for n in BUNDLE_FILES if n in tables]
    names += ["provenance.json"] if "provenance.json" in tables else []
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
    check_names(path, manifest, tables)
    return manifest, tables


def name_patterns() -> dict[str, str]:
    """The patterns names read from a bundle must match: the config schema's for biobanks and
    endpoints, and the forms igs writes for models (``model_set/engine``) and groups."""
    from igs.config import load_schema

    props = load_schema()["properties"]
    endpoint = props["pheno"]["properties"]["endpoints"]["items"]["properties"]["name"]
    return {
        "biobank": props["biobanks"]["items"]["properties"]["name"]["pattern"],
        "endpoint": endpoint["pattern"],
        "model": r"^[A-Za-z0-9_]+/[A-Za-z0-9_]+$",
        "group": r"^[A-Za-z0-9_.%-]+$",
    }


def check_names(path: Path, manifest: dict, tables: dict[str, pd.DataFrame]) -> None:
    """Every biobank, endpoint, model and group name in a bundle matches :func:`name_patterns`
    (they become file names and pooled quantities: ``../x`` must not reach a path)."""
    from igs.errors import InputFormatError

    patterns = name_patterns()
    biobank = manifest.get("biobank")
    found = [("manifest.json", "biobank", biobank if isinstance(biobank, str) else repr(biobank))]
    for name, table in tables.items():
        if isinstance(table, pd.DataFrame):
            for col in ("endpoint", "model", "group"):
                if col in table:
                    found += [(name, col, str(v)) for v in table[col].dropna().unique()]
    for name, kind, value in found:
        if not re.fullmatch(patterns[kind].strip("^$"), value):
            raise InputFormatError(
                f"{path / name}: {kind} name {value!r} does not match {patterns[kind]} "
                "(a crafted or corrupted bundle?)."
            )


def _four_digits(table: pd.DataFrame) -> pd.DataFrame:
    """Float columns to 4 significant digits: the recalibrated curves need no more, and fewer
    long numbers in a bundle leave fewer chance matches with a person's values."""
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = [float(f"{v:.4g}") if np.isfinite(v) else v for v in out[col]]
    return out


def _stack(
    frames: list[pd.DataFrame], columns: list[str], *, keep_others: bool = False
) -> pd.DataFrame:
    """The frames one under another with ``columns`` first (and only, unless ``keep_others``);
    an empty table with those columns when there are no frames."""
    if not frames:
        return pd.DataFrame(columns=columns)
    df = pd.concat(frames, ignore_index=True)
    return df[columns + ([c for c in df.columns if c not in columns] if keep_others else [])]
