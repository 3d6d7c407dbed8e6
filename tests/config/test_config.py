"""Configuration: the demo validates; typos, wrong types and missing files fail with the key's path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from igs.config import get_biobank, load_config, load_schema, resolve_config
from igs.errors import ConfigError
from tests.conftest import REPO

DEMO = REPO / "config" / "config.yaml"


@pytest.fixture
def demo() -> dict:
    return yaml.safe_load(DEMO.read_text())


def test_demo_config_is_valid_and_defaults_are_filled():
    cfg = load_config(DEMO)
    assert [b["name"] for b in cfg["biobanks"]] == ["north", "central", "south"]
    north = get_biobank(cfg, "north")
    assert north["genome_build"] == "GRCh38"
    # north is simulated as imputed per-chromosome dosages, QC'd on its array fileset
    assert north["genotypes"] == {
        "path": "results/simulated/north/imputed/chr{chrom}",
        "format": "pgen",
        "chromosomes": ["1", "2", "3", "4", "5", "6", "X"],
    }
    assert north["qc"]["genotypes"] == {"path": "results/simulated/north/array", "format": "bed"}
    central = get_biobank(cfg, "central")
    assert central["genotypes"] == {"path": "results/simulated/central/genotypes", "format": "bed"}
    assert cfg["scores"]["min_overlap"] == 0.75
    assert cfg["hail"] == {"master": None, "tmp_dir": "tmp/hail"}
    assert cfg["scores"]["scoring_files"][0].endswith("IGS_SIM_CAD.txt.gz")


def test_workflow_schema_is_the_package_schema():
    link = REPO / "workflow" / "schemas" / "config.schema.yaml"
    assert yaml.safe_load(link.read_text()) == load_schema()


def test_every_schema_key_is_described():
    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}.{key} has no description"
            walk(sub, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(load_schema(), "config")


def test_unknown_key_names_its_path(demo):
    demo["biobanks"][1]["enigne"] = "local"
    with pytest.raises(
        ConfigError, match=r"biobanks\[1\]: unknown key\(s\) 'enigne'; allowed keys: engine,"
    ):
        resolve_config(demo)


def test_unknown_top_level_key(demo):
    demo["scroes"] = {}
    with pytest.raises(ConfigError, match=r"\(top level\): unknown key\(s\) 'scroes'"):
        resolve_config(demo)


def test_wrong_type_names_its_path(demo):
    demo["biobanks"][0]["simulate"]["n_samples"] = "many"
    demo["scores"]["min_overlap"] = 1.5
    with pytest.raises(ConfigError, match=r"2 problem\(s\)") as err:
        resolve_config(demo)
    assert "biobanks[0].simulate.n_samples: 'many' is not of type 'integer'" in str(err.value)
    assert "scores.min_overlap: 1.5 is greater than the maximum of 1" in str(err.value)


def test_bad_enum(demo):
    demo["biobanks"][0]["engine"] = "spark"
    with pytest.raises(
        ConfigError, match=r"biobanks\[0\].engine: 'spark' is not one of \['local', 'hail'\]"
    ):
        resolve_config(demo)


def test_duplicate_biobank_names(demo):
    demo["biobanks"][1]["name"] = "north"
    with pytest.raises(ConfigError, match="biobank names must be unique; repeated: north"):
        resolve_config(demo)


def test_simulate_and_genotypes_clash(demo):
    demo["biobanks"][0]["genotypes"] = {"path": "x", "format": "bed"}
    with pytest.raises(
        ConfigError, match=r"biobanks\[0\] \(north\) has both `simulate` and 'genotypes'"
    ):
        resolve_config(demo)


def test_simulate_needs_simulation_block(demo):
    del demo["simulation"]
    with pytest.raises(
        ConfigError,
        match=r"biobanks\[0\] \(north\).simulate needs the top-level `simulation` block",
    ):
        resolve_config(demo)


def real_biobank(tmp_path: Path) -> dict:
    for s in ("bed", "bim", "fam"):
        (tmp_path / f"g.{s}").write_text("")
    (tmp_path / "clin.tsv").write_text("")
    return {
        "name": "real",
        "genotypes": {"path": str(tmp_path / "g"), "format": "bed"},
        "phenotypes": {"source": "table", "clinical": str(tmp_path / "clin.tsv")},
    }


def test_real_biobank_with_existing_files(tmp_path):
    cfg = resolve_config({"biobanks": [real_biobank(tmp_path)]})
    assert cfg["biobanks"][0]["engine"] == "local"
    assert cfg["scores"]["scoring_files"] == []


def test_missing_genotype_file_names_key_and_file(tmp_path):
    bb = real_biobank(tmp_path)
    (tmp_path / "g.fam").unlink()
    with pytest.raises(
        ConfigError, match=r"biobanks\[0\] \(real\).genotypes.path: bed file .*g\.fam not found"
    ):
        resolve_config({"biobanks": [bb]})


def test_per_chromosome_genotypes_scores_only_and_pgs_ids(tmp_path):
    """A {chrom} path expands to the files that exist (or genotypes.chromosomes); a biobank
    without phenotypes is scores-only; scores.pgs_ids resolve in scores.cache_dir."""
    from igs.config import genotype_parts, scoring_files

    for c in ("1", "2", "10"):
        (tmp_path / f"chr{c}.bgen").write_text("")
        (tmp_path / f"chr{c}.sample").write_text("")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/PGS000586_hmPOS_GRCh37.txt.gz").write_text("")
    g = {"path": str(tmp_path / "chr{chrom}.bgen"), "format": "bgen"}
    bb = {"name": "ukb", "genome_build": "GRCh37", "genotypes": g}
    scores = {"pgs_ids": ["PGS000586"], "cache_dir": str(tmp_path / "cache")}
    cfg = resolve_config({"biobanks": [bb], "scores": scores})
    assert "phenotypes" not in cfg["biobanks"][0]
    assert genotype_parts(cfg["biobanks"][0]["genotypes"]) == {
        c: str(tmp_path / f"chr{c}.bgen") for c in ("1", "2", "10")
    }
    assert scoring_files(cfg, "ukb") == [str(tmp_path / "cache/PGS000586_hmPOS_GRCh37.txt.gz")]
    assert genotype_parts({"path": "g", "format": "bed"}) == {"all": "g"}

    def fails(genotypes: dict, message: str, **top) -> None:
        with pytest.raises(ConfigError, match=message):
            resolve_config({"biobanks": [{**bb, "genotypes": {**g, **genotypes}}], **top})

    fails(
        {"chromosomes": ["1", "3"]},
        r"\.genotypes\.path: .*chr3\.bgen: file for chromosome 3 not found",
    )
    fails({"path": str(tmp_path / "none{chrom}.vcf.gz"), "format": "vcf"},
          r"\.genotypes\.path: .*none\{chrom\}\.vcf\.gz: matches nothing")  # fmt: skip
    (tmp_path / "chr10.sample").unlink()
    fails({"sample": str(tmp_path / "chr{chrom}.sample")},
          r"biobanks\[0\] \(ukb\)\.genotypes\.sample: file .*chr10\.sample not found")  # fmt: skip
    fails({"chromosomes": ["1"]}, r"scores\.pgs_ids \(biobank ukb\): .*PGS000001 for GRCh37 is not in "
          r"scores\.cache_dir", scores={**scores, "pgs_ids": ["PGS000001"]})  # fmt: skip


def test_missing_phenotype_file(tmp_path):
    bb = real_biobank(tmp_path)
    bb["phenotypes"]["omics"] = str(tmp_path / "nope.tsv")
    with pytest.raises(ConfigError, match=r"phenotypes.omics: file .*nope\.tsv not found"):
        resolve_config({"biobanks": [bb]})


def test_missing_scoring_file(tmp_path):
    cfg = {"biobanks": [real_biobank(tmp_path)], "scores": {"scoring_files": ["PGS999.txt"]}}
    with pytest.raises(ConfigError, match=r"scores.scoring_files\[0\]: file PGS999.txt not found"):
        resolve_config(cfg)


def test_biobank_without_inputs(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"biobanks\[0\] \(x\) needs genotypes \(or a `simulate` block\)",
    ):
        resolve_config({"biobanks": [{"name": "x"}]})


def test_unknown_biobank_lists_known(demo):
    with pytest.raises(
        ConfigError, match="unknown biobank 'west'; the config defines: north, central, south"
    ):
        get_biobank(resolve_config(demo), "west")


def test_resolve_does_not_modify_input(demo):
    before = copy.deepcopy(demo)
    resolve_config(demo)
    assert demo == before


def test_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("biobanks: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
