"""The workflow on a simulated imputed biobank (issue #16 item 8): per-chromosome pgen dosages
scored per chromosome (equal to plink2 --score on each file, summed), QC on the array fileset,
or without one on hard calls of the imputed dosages (item 4)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import require_tool, run_tool, snakemake

pytestmark = pytest.mark.workflow

CONFIG = {
    "simulation": {"seed": 7, "n_variants": 3000, "chromosomes": ["1", "2"]},
    "qc": {"ancestry_groups": 2},
    "biobanks": [
        {"name": "arr", "simulate": {"n_samples": 300, "seed": 5, "imputed": True}},
        {"name": "dos", "simulate": {"n_samples": 300, "seed": 6, "imputed": True, "array_qc": False}},
    ],
}  # fmt: skip
CHROMS = ("1", "2", "X")


def plink2_sum(tmp_path, pfile, report: pd.DataFrame, pgs: str) -> pd.Series | float:
    """plink2 --score SUM of one scoring file's matched variants on one chromosome's pgen (0
    where none matched: the causal variants are autosomal)."""
    m = report[(report["pgs_id"] == pgs) & (report["match_status"] == "matched")]
    if m.empty:
        return 0.0
    pvar = pd.read_csv(f"{pfile}.pvar", sep="\t")
    v = pvar.iloc[m["target_index"].astype(int).to_numpy()]
    swapped = m["match_type"].str.contains("swapped").to_numpy()
    score = tmp_path / f"{pgs}.txt"
    pd.DataFrame(
        {"ID": v["ID"].to_numpy(), "A": np.where(swapped, v["REF"], v["ALT"]),
         "W": m["effect_weight"].to_numpy()}
    ).to_csv(score, sep="\t", index=False)  # fmt: skip
    run_tool(
        [require_tool("plink2"), "--pfile", str(pfile), "--score", str(score), "1", "2", "3",
         "header-read", "cols=+scoresums", "--out", str(tmp_path / pgs)],
        tmp_path,
    )  # fmt: skip
    return pd.read_csv(tmp_path / f"{pgs}.sscore", sep="\t").set_index("IID")["W_SUM"]


def test_imputed_biobank_scored_per_chromosome_and_qcd_on_array_or_dosages(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    targets = [f"results/{b}/scores/scores_adjusted.tsv.gz" for b in ("arr", "dos")]
    proc = snakemake(*targets, "--cores", "2", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "results"
    jobs = proc.stdout + proc.stderr
    assert "rule simulate_imputed:" in jobs and "rule qc_hardcalls:" in jobs

    # QC: the array fileset for one, hard calls of the dosages for the other
    arr = json.loads((results / "arr/qc/summary.json").read_text())
    dos = json.loads((results / "dos/qc/summary.json").read_text())
    assert arr["input"]["genotypes"].endswith("simulated/arr/array")
    assert dos["input"]["genotypes"].endswith("dos/qc/imputed_hard_calls")
    for b in ("arr", "dos"):
        truth = json.loads((results / f"simulated/{b}/truth.json").read_text())["planted"]
        qc = pd.read_csv(results / f"{b}/qc/sample_qc.tsv.gz", sep="\t").set_index("IID")
        assert (qc.loc[truth["sex_mismatch"], "qc_fail"] == "sex_check").all(), b
        for a, c in truth["related_pairs"]:
            assert (qc.loc[[a, c], "qc_fail"] != "").any(), b

    # scores: per-chromosome dosages summed equal plink2 on each chromosome's pgen, summed
    b = "arr"
    assert jobs.count("rule scores_match:") == 2  # one match per biobank, of all its parts
    matched = pd.read_csv(results / f"{b}/scores/match_report.tsv.gz", sep="\t",
                          dtype={"chrom_part": str})  # fmt: skip
    scores = pd.read_csv(results / f"{b}/scores/scores.tsv.gz", sep="\t")
    scores = scores.pivot(index="IID", columns="pgs_id", values="SUM")
    people = pd.read_csv(results / f"simulated/{b}/truth_samples.tsv.gz", sep="\t")
    people = people.set_index("IID")
    for pgs in ("IGS_SIM_CAD", "IGS_SIM_T2D"):
        total = 0.0
        for c in CHROMS:
            report = matched[matched["chrom_part"] == c]  # target_index: into this part
            total = total + plink2_sum(
                tmp_path, results / f"simulated/{b}/imputed/chr{c}", report, pgs
            )
        ours = scores[pgs]
        np.testing.assert_allclose(
            ours.to_numpy(), total.loc[ours.index].to_numpy(), rtol=1e-5, atol=1e-5
        )
        # the planted genetic score is still recovered from imputed dosages (0.89 measured)
        assert np.corrcoef(ours, people.loc[ours.index, f"prs_raw_{pgs}"])[0, 1] > 0.8
    adjusted = pd.read_csv(results / f"{b}/scores/scores_adjusted.tsv.gz", sep="\t")
    assert len(adjusted["IID"].unique()) == len(people)  # everyone genotyped is scored
