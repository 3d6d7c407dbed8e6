"""``igs inputs check`` on VCF, BGEN and per-chromosome ``{chrom}`` genotypes: the summary
against the dosages written (numpy), and each bad input's error naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from igs.errors import InputFormatError
from igs.inputs import summarise_genotypes
from tests.conftest import run_igs, snakemake
from tests.scores.dosage_files import random_dosages, variant_table, write_bgen, write_vcf

N, M, CHROMS = 40, 90, ("1", "2", "3")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """The same dosages per chromosome as VCF DS and as BGEN (+ .sample), and merged as VCF."""
    out = tmp_path_factory.mktemp("inputs")
    samples = [f"S{i}" for i in range(N)]
    variants = variant_table(M, CHROMS, seed=21)
    d = random_dosages(N, M, seed=22, missing=0.05)
    write_vcf(out / "all.vcf.gz", variants, samples, d)
    for c in CHROMS:
        rows = [i for i, v in enumerate(variants) if v[0] == c]
        write_vcf(out / f"chr{c}.vcf.gz", [variants[i] for i in rows], samples, d[rows])
        write_bgen(out / f"chr{c}.bgen", [variants[i] for i in rows], samples, d[rows])
    return {"dir": out, "samples": samples, "variants": variants, "d": d}


def _expected(d: np.ndarray, variants: list[tuple]) -> dict:
    missing = np.isnan(d)
    return {
        "n_samples": d.shape[1],
        "n_variants": d.shape[0],
        "n_sex_unknown": d.shape[1],
        "variants_per_chromosome": {c: sum(v[0] == c for v in variants) for c in CHROMS},
        "overall_call_rate": 1 - missing.mean(),
        "lowest_sample_call_rate": 1 - missing.mean(axis=0).max(),
    }


def _check(summary: dict, expected: dict) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert summary[key] == pytest.approx(value, abs=1e-12), key
        else:
            assert summary[key] == value, key


@pytest.mark.parametrize("fmt", ["vcf", "bgen"])
def test_per_chromosome_files_summarised_through_the_cli(files, fmt, tmp_path):
    out = files["dir"]
    path = out / ("chr{chrom}.vcf.gz" if fmt == "vcf" else "chr{chrom}.bgen")
    args = ["--sample", str(out / "chr{chrom}.sample")] if fmt == "bgen" else []
    proc = run_igs("inputs", "check", "--genotypes", str(path), "--format", fmt, *args,
                   "--out", str(tmp_path / "s.json"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    _check(summary, _expected(files["d"], files["variants"]))
    assert list(summary["files"]) == list(CHROMS)
    assert summary["files"]["2"] == str(path).replace("{chrom}", "2")


def test_one_vcf_summarised(files):
    summary = summarise_genotypes(files["dir"] / "all.vcf.gz", "vcf", chunk_variants=7)
    _check(summary, _expected(files["d"], files["variants"]))
    assert summary["files"] == {"all": str(files["dir"] / "all.vcf.gz")}


def test_bad_inputs_name_the_file(files, tmp_path):
    out = files["dir"]
    with pytest.raises(InputFormatError, match=r"chr4\.vcf\.gz: file for chromosome 4 not found"):
        summarise_genotypes(out / "chr{chrom}.vcf.gz", "vcf", chromosomes=["1", "4"])
    with pytest.raises(InputFormatError, match=r"imputed_\{chrom\}\.vcf\.gz: matches nothing"):
        summarise_genotypes(out / "imputed_{chrom}.vcf.gz", "vcf")
    with pytest.raises(InputFormatError, match=r"chr9\.sample: BGEN sample file not found"):
        summarise_genotypes(out / "chr{chrom}.bgen", "bgen", sample=out / "chr9.sample")
    samples, variants, d = files["samples"], files["variants"][:3], files["d"][:3]
    write_vcf(tmp_path / "xx.vcf.gz", variants, samples, d, field="XX")
    with pytest.raises(
        InputFormatError,
        match=r"xx\.vcf\.gz: no FORMAT/DS, FORMAT/GP or FORMAT/GT declared in the header",
    ):
        summarise_genotypes(tmp_path / "xx.vcf.gz", "vcf")
    # chromosome files with other samples than the first
    (tmp_path / "p").mkdir()
    write_vcf(tmp_path / "p/c1.vcf.gz", variants[:1], samples, d[:1])
    write_vcf(tmp_path / "p/c2.vcf.gz", variants[1:], samples[::-1], d[1:])
    with pytest.raises(
        InputFormatError,
        match=r"c2\.vcf\.gz: has other samples \(or another order\) than .*c1\.vcf\.gz",
    ):
        summarise_genotypes(tmp_path / "p/c{chrom}.vcf.gz", "vcf")
    # a variant called in nobody
    empty = d.copy()
    empty[1] = np.nan
    write_vcf(tmp_path / "empty.vcf.gz", variants, samples, empty)
    with pytest.raises(
        InputFormatError,
        match=r"empty\.vcf\.gz: 1 variant\(s\) have no called genotype in any sample",
    ):
        summarise_genotypes(tmp_path / "empty.vcf.gz", "vcf")


def test_cli_error_exit_code_and_message(files, tmp_path):
    proc = run_igs("inputs", "check", "--genotypes", str(files["dir"] / "chr{chrom}.bgen"),
                   "--format", "bgen", "--sample", str(tmp_path / "none_{chrom}.sample"),
                   "--out", str(tmp_path / "s.json"))  # fmt: skip
    assert proc.returncode == 3
    assert "none_1.sample: BGEN sample file not found" in proc.stderr
    assert not (tmp_path / "s.json").exists()


@pytest.mark.workflow
def test_workflow_checks_per_chromosome_bgen(files, tmp_path):
    out = files["dir"]
    g = {"path": str(out / "chr{chrom}.bgen"), "format": "bgen", "sample": str(out / "chr{chrom}.sample"),
         "chromosomes": ["1", "3"]}  # fmt: skip
    config = {"biobanks": [{"name": "imp", "genome_build": "GRCh38", "genotypes": g,
                            "qc": {"source": "none"}}]}  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    target = "results/imp/inputs/genotype_summary.json"
    proc = snakemake(target, "--cores", "1", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / target).read_text())
    rows = [i for i, v in enumerate(files["variants"]) if v[0] in ("1", "3")]
    assert list(summary["files"]) == ["1", "3"]
    assert summary["n_variants"] == len(rows)
    assert summary["overall_call_rate"] == pytest.approx(1 - np.isnan(files["d"][rows]).mean())
