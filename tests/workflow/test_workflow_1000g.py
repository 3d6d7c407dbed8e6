"""pgsc_calc's 1000 Genomes example through the workflow as its users run it: one genotype file
per autosome (``genotypes.path`` with ``{chrom}``), ``scores.pgs_ids`` from a filled cache, no
phenotypes, the local engine, target ``results/{biobank}/scores/scores.tsv.gz``; from VCF and
from BGEN. Oracle: pgsc_calc's published ``scores.txt.gz`` (809 of 1023 variants matched)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from igs.config import load_schema
from tests.conftest import G1000, snakemake
from tests.scores.dosage_files import split_bgen_by_chromosome, split_vcf_by_chromosome

pytestmark = [pytest.mark.workflow, pytest.mark.oracle]

DATA = G1000 / "tests/data"


@pytest.mark.skipif(not G1000.is_dir(), reason="../shared/oracle/1000g_pgs000586 is absent")
@pytest.mark.parametrize("fmt", ["vcf", "bgen"])
def test_1000g_example_through_the_workflow_equals_pgsc_calc(tmp_path, fmt):
    genotypes = tmp_path / "genotypes"
    genotypes.mkdir()
    if fmt == "vcf":
        split_vcf_by_chromosome(DATA / "vcf/PGS000586_GRCh38.vcf.gz", genotypes)
        g = {"path": str(genotypes / "PGS000586_GRCh38_{chrom}.vcf.gz"), "format": "vcf"}
    else:
        split_bgen_by_chromosome(DATA / "bgen/PGS000586_GRCh38.bgen", genotypes)
        g = {"path": str(genotypes / "chr{chrom}.bgen"), "format": "bgen",
             "sample": str(genotypes / "chr{chrom}.sample")}  # fmt: skip
    cache = tmp_path / "pgs cache" / "PGS000586"
    cache.mkdir(parents=True)
    shutil.copy(DATA / "PGS000586_hmPOS_GRCh38.txt.gz", cache)
    biobank = {"name": "g1000", "genome_build": "GRCh38", "genotypes": g}
    if "qc" in load_schema()["properties"]["biobanks"]["items"]["properties"]:
        biobank["qc"] = {"source": "none"}  # scores only, as pgsc_calc users run it (#16 item 4)
    config = {
        "biobanks": [biobank],
        "scores": {"pgs_ids": ["PGS000586"], "cache_dir": str(cache.parent)},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    target = "results/g1000/scores/scores.tsv.gz"
    proc = snakemake(target, "--cores", "2", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    # one match of all 22 chromosome files, one compute job per file, then one sum
    for rule, n in (("scores_match", 1), ("scores_compute", 22), ("scores_sum", 1)):
        assert out.count(f"rule {rule}:") == n, rule
    assert not (tmp_path / "results/g1000/qc").exists()  # scoring reads the original genotypes

    ours = pd.read_csv(tmp_path / target, sep="\t", dtype={"IID": str}).set_index("IID")
    published = pd.read_csv(G1000 / "assets/example_results/scores.txt.gz").set_index("sample_id")
    assert set(ours.index) == set(published.index)
    mine = ours.loc[published.index]
    assert (mine["pgs_id"] == "PGS000586").all()
    assert (mine["n_variants"] == 809).all()
    assert np.abs(mine["SUM"].to_numpy() - published["score"].to_numpy()).max() < 1e-6
    summary = pd.read_csv(tmp_path / "results/g1000/scores/match_summary.tsv", sep="\t")
    row = summary.set_index("pgs_id").loc["PGS000586"]
    assert (row["n_variants"], row["matched"], row["excluded_ambiguous"]) == (1023, 809, 136)
    assert bool(row["scored"])
