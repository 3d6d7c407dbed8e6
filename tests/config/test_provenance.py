"""provenance.json: versions, the config's hash and the checksum of every input file."""

from __future__ import annotations

import hashlib
import json

import yaml

from igs.config import resolve_config
from igs.provenance import provenance
from tests.conftest import run_igs


def test_provenance_of_a_biobank(small_cohort, small_scoring_files, tmp_path):
    cfg = {
        "biobanks": [
            {"name": "x", "genotypes": {"path": str(small_cohort / "genotypes"), "format": "bed"},
             "phenotypes": {"source": "table", "clinical": str(small_cohort / "clinical.tsv"),
                            "diagnoses": str(small_cohort / "diagnoses.tsv")}},
            {"name": "pg", "genotypes": {"path": str(small_cohort / "genotypes"), "format": "bed"},
             "phenotypes": {"source": "omop", "omop_url": "postgresql://me@db.example/omop?sslmode=require"}},
        ],
        "scores": {"scoring_files": [str(small_scoring_files / "IGS_SIM_CAD.txt.gz")]},
    }  # fmt: skip
    resolved = resolve_config(cfg)
    record = provenance(resolved, "x")
    expected = [f"{small_cohort}/genotypes{s}" for s in (".bed", ".bim", ".fam")]
    expected += [str(small_scoring_files / "IGS_SIM_CAD.txt.gz"), str(small_cohort / "clinical.tsv"),
                 str(small_cohort / "diagnoses.tsv")]  # fmt: skip
    assert list(record["inputs"]) == expected
    for path, digest in record["inputs"].items():
        with open(path, "rb") as fh:
            assert digest == hashlib.sha256(fh.read()).hexdigest()
    assert record["dependencies"]["numpy"] and record["dependencies"]["lifelines"]
    assert record["config_sha256"] == provenance(resolved, "x")["config_sha256"]
    changed = json.loads(json.dumps(resolved))
    changed["seed"] = 7
    assert provenance(changed, "x")["config_sha256"] != record["config_sha256"]
    pg = provenance(resolved, "pg")
    assert (  # user and query redacted everywhere in the record (passwords are refused earlier)
        "me@" not in json.dumps(pg)
        and "sslmode" not in json.dumps(pg)
        and pg["inputs"]["postgresql://***@db.example/omop?***"] is None
        and pg["config"]["biobanks"][1]["phenotypes"]["omop_url"]
        == "postgresql://***@db.example/omop?***"
    )

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_igs(
        "provenance",
        "--config",
        str(tmp_path / "c.yaml"),
        "--biobank",
        "x",
        "--out",
        str(tmp_path / "p.json"),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "p.json").read_text())["inputs"] == record["inputs"]


def test_provenance_lists_the_reference_panel(small_cohort, tmp_path):
    """scores.ancestry_reference: the reference genotypes and the label table are inputs too."""
    import numpy as np

    from tests.conftest import write_fileset

    write_fileset(tmp_path / "ref", np.zeros((3, 4), dtype=np.int8))
    (tmp_path / "labels.tsv").write_text("IID\tsuper_pop\ns0\tEUR\n")
    cfg = {
        "biobanks": [{"name": "x", "genotypes": {"path": str(small_cohort / "genotypes"), "format": "bed"}}],
        "scores": {"ancestry_reference": {"genotypes": {"path": str(tmp_path / "ref"), "format": "bed"},
                                          "populations": str(tmp_path / "labels.tsv")}},
    }  # fmt: skip
    inputs = provenance(resolve_config(cfg), "x")["inputs"]
    expected = [str(tmp_path / f"ref.{s}") for s in ("bed", "bim", "fam")]
    assert list(inputs)[-4:] == [*expected, str(tmp_path / "labels.tsv")]
    digest = hashlib.sha256((tmp_path / "labels.tsv").read_bytes()).hexdigest()
    assert inputs[str(tmp_path / "labels.tsv")] == digest
