"""``scores.liftover_chain`` wired in: a GRCh37 scoring file scored on GRCh38 genotypes through
``igs scores match`` and the workflow, lifted with a hand-written chain. Oracle: the positions
lifted by hand (see CHAIN) and sums of weights times genotypes computed by hand."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import yaml

from igs.errors import ConfigError
from igs.io import plink
from tests.conftest import run_igs, snakemake, write_fileset

# chain 1 (+): source 1:[1000,1060) -> dest 1:[5000,5060), gaps 940/950, [2000,2050) -> [6010,6060)
# chain 2 (-): source 1:[3000,3050) -> dest 2, minus-strand [100,150) of a 1,000,000 bp chromosome
CHAIN = """chain 1000 1 248956422 + 1000 2050 1 248956422 + 5000 6060 1
60\t940\t950
50

chain 500 1 248956422 + 3000 3050 2 1000000 - 100 150 2
50
"""
# GRCh37 rows -> their GRCh38 place by hand (1-based): 1001 -> 5001, 1060 -> 5060, 1500 in the gap
# (unmapped), 2010 -> 6010 + 9 + 1 = 6020, 3010 -> chr2 1000000 - 1 - 109 + 1 = 999891 (A/C -> T/G)
SCORE = """#pgs_id=PGS_L
#genome_build=GRCh37
rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight
rs1\t1\t1001\tA\tG\t1.5
rs2\t1\t1060\tC\tT\t-2
rs3\t1\t1500\tA\tC\t7
rs4\t1\t2010\tA\tC\t0.25
rs5\t1\t3010\tA\tC\t3
"""
# the target (GRCh38): the lifted places, plus one at the GRCh37 position of rs1 (a decoy that an
# unlifted file would hit); A1 is the effect allele, so a score is sum(weight * A1 count)
TARGET = pd.DataFrame(
    {
        "chrom": ["1", "1", "1", "1", "2"],
        "id": ["v1001", "v5001", "v5060", "v6020", "v999891"],
        "cm": 0.0,
        "pos": [1001, 5001, 5060, 6020, 999891],
        "a1": ["A", "A", "C", "A", "T"],
        "a2": ["G", "G", "T", "C", "G"],
    }
)
G = np.array([[2, 2, 2, 2], [0, 1, 2, 1], [1, 0, 2, 2], [2, 1, 0, 0], [0, 2, 1, 1]], dtype=np.int8)
EXPECTED = 1.5 * G[1] - 2 * G[2] + 0.25 * G[3] + 3 * G[4]  # rs3 unmapped, the decoy unused


def _inputs(tmp_path):
    write_fileset(tmp_path / "g", G)
    plink.write_bim(tmp_path / "g.bim", TARGET)
    (tmp_path / "hg19ToHg38.over.chain").write_text(CHAIN)
    with gzip.open(tmp_path / "PGS_L.txt.gz", "wt") as fh:
        fh.write(SCORE)


def _match(tmp_path, *extra):
    return run_igs("scores", "match", "--genotypes", str(tmp_path / "g"), "--genome-build",
                   "GRCh38", "--report", str(tmp_path / "report.tsv.gz"), "--summary",
                   str(tmp_path / "summary.tsv"), *extra, str(tmp_path / "PGS_L.txt.gz"))  # fmt: skip


def test_scores_match_lifts_over_with_the_chain_then_scores(tmp_path):
    _inputs(tmp_path)
    proc = _match(tmp_path, "--liftover-chain", str(tmp_path / "hg19ToHg38.over.chain"))
    assert proc.returncode == 0, proc.stderr
    report = pd.read_csv(tmp_path / "report.tsv.gz", sep="\t")
    assert report["match_status"].tolist() == ["matched", "matched", "absent", "matched",
                                               "matched"]  # fmt: skip
    assert report["target_index"].dropna().astype(int).tolist() == [1, 2, 3, 4]
    proc = run_igs("scores", "compute", "--genotypes", str(tmp_path / "g"), "--report",
                   str(tmp_path / "report.tsv.gz"), "--out", str(tmp_path / "s.tsv.gz"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    scores = pd.read_csv(tmp_path / "s.tsv.gz", sep="\t")
    np.testing.assert_allclose(scores["SUM"], EXPECTED, atol=1e-9)


def test_scores_match_without_or_with_a_bad_chain(tmp_path):
    _inputs(tmp_path)
    proc = _match(tmp_path)
    assert proc.returncode == 3 and "positions are on GRCh37" in proc.stderr
    (tmp_path / "bad.chain").write_text("chain 1 1 10 + 0 5 1 10 + 0\n5\n")
    proc = _match(tmp_path, "--liftover-chain", str(tmp_path / "bad.chain"))
    assert proc.returncode == 3
    assert "bad.chain: line 1 does not parse as a chain file" in proc.stderr


def _config(tmp_path, chain):
    return {
        "biobanks": [{"name": "b37", "genome_build": "GRCh38",
                      "genotypes": {"path": str(tmp_path / "g"), "format": "bed"},
                      "qc": {"source": "none"}}],
        "scores": {"scoring_files": [str(tmp_path / "PGS_L.txt.gz")], "liftover_chain": chain},
    }  # fmt: skip


def test_missing_chain_is_a_config_error(tmp_path):
    from igs.config import resolve_config

    _inputs(tmp_path)
    with pytest.raises(
        ConfigError, match=r"scores\.liftover_chain: chain file .*nope\.chain not found"
    ):
        resolve_config(_config(tmp_path, str(tmp_path / "nope.chain")))


@pytest.mark.workflow
def test_workflow_lifts_the_scoring_file_over(tmp_path):
    _inputs(tmp_path)
    chain = tmp_path / "chains dir" / "hg19ToHg38.over.chain"
    chain.parent.mkdir()
    chain.write_text(CHAIN)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_config(tmp_path, str(chain))))
    target = "results/b37/scores/scores.tsv.gz"
    proc = snakemake(target, "--cores", "1", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    scores = pd.read_csv(tmp_path / target, sep="\t")
    np.testing.assert_allclose(scores["SUM"], EXPECTED, atol=1e-9)
    assert (scores["n_variants"] == 4).all()
