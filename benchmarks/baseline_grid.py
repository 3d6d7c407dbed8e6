"""How much absolute risks move when model.json keeps a coarse baseline (issue #14 item 1).

For each biobank and endpoint of a finished demo run: fit the full Cox model (clinical + score +
omics, penalizer 0.01) on the same 70% training split as `igs models evaluate`, then compare each
person's 10-year absolute risk from the fitted (per-event-time) baseline with the risk from the
coarsened one (``share.min_cell`` events per step, ``share.baseline_grid_years`` grid).

    python benchmarks/baseline_grid.py RESULTS_DIR [--config config/config.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from igs import paths
from igs.config import load_config
from igs.models.cox import fit_cox, usable_columns
from igs.models.evaluate import stratified_test_split
from igs.models.load import SurvivalFiles, load_survival_data
from igs.models.options import ModelsOptions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results_dir", type=Path)
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--horizon", type=float, default=10.0)
    args = ap.parse_args()
    cfg = load_config(args.config)
    sh = cfg["share"]
    print(
        "biobank\tendpoint\tgrid\tmin_events\tknots\tevent_times\tmedian_abs\tp99_abs\tmax_abs\tmax_rel"
    )
    opts = ModelsOptions.from_config(cfg)
    r = args.results_dir
    for bb in sorted(p.name for p in r.iterdir() if (p / "pheno").is_dir()):
        for ep in cfg["pheno"]["endpoints"]:
            files = SurvivalFiles(*map(Path, (
                paths.endpoint_table(r, bb, ep["name"]), paths.features(r, bb, "covariates.parquet"),
                paths.features(r, bb, "omics_landmark.parquet"), paths.scores(r, bb, "scores_adjusted.tsv.gz"),
                paths.qc(r, bb, "pcs.tsv"),
            )))  # fmt: skip
            data = load_survival_data(files, ep["name"], opts)
            test = stratified_test_split(data.event, cfg["models"]["test_fraction"], cfg["seed"])
            train = data.subset(np.flatnonzero(~test))
            cols = usable_columns(
                train, data.columns("clinical_prs_omics") or data.columns("clinical_prs")
            )
            fine = fit_cox(train, cols, penalizer=0.01)
            for grid, k in ((sh["baseline_grid_years"], sh["min_cell"]), (1.0, 10), (5.0, 5)):
                coarse = fine.coarsened(k, grid)
                a = fine.absolute_risk(data.features, data.start, args.horizon)
                b = coarse.absolute_risk(data.features, data.start, args.horizon)
                d = np.abs(a - b)
                print(f"{bb}\t{ep['name']}\t{grid:g}\t{k}\t{len(coarse.baseline_times)}\t"
                      f"{len(fine.baseline_times)}\t{np.median(d):.5f}\t{np.quantile(d, 0.99):.5f}\t"
                      f"{d.max():.5f}\t{np.max(d / np.maximum(a, 1e-12)):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
