"""Values that used to pass silently or crash (issue #14 items 8, 12, 13, 14): each now gets a
clear `igs: error:` naming the key, file or person, or is checked against a documented range."""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from igs.config import load_config, resolve_config
from igs.errors import ConfigError, InputFormatError
from tests.conftest import run_igs


def base_config(**top) -> dict:
    cfg = {"biobanks": [{"name": "x", "genotypes": {"path": "g", "format": "bed"},
                         "phenotypes": {"source": "table", "clinical": "c.tsv"}}]}  # fmt: skip
    cfg.update(top)
    return cfg


# --------------------------------------------------------------------------- config values


def test_export_thresholds_must_increase_and_match_the_labels():
    with pytest.raises(ConfigError, match=r"export\.thresholds must be strictly increasing; got \[0\.1, 0\.05\]"):  # fmt: skip
        resolve_config(base_config(export={"thresholds": [0.1, 0.05]}), check_files=False)
    with pytest.raises(ConfigError, match="strictly increasing"):
        resolve_config(base_config(export={"thresholds": [0.05, 0.05]}), check_files=False)
    with pytest.raises(
        ConfigError, match=r"export\.labels needs one more entry than export\.thresholds"
    ):
        resolve_config(
            base_config(export={"thresholds": [0.05, 0.1, 0.2], "labels": ["low", "high"]}),
            check_files=False,
        )
    cfg = resolve_config(
        base_config(export={"thresholds": [0.02, 0.2], "labels": ["a", "b", "c"]}),
        check_files=False,
    )
    assert cfg["export"]["labels"] == ["a", "b", "c"]


def test_export_horizon_has_a_maximum():
    with pytest.raises(
        ConfigError, match=r"export\.horizon: 200 is greater than the maximum of 100"
    ):
        resolve_config(base_config(export={"horizon": 200}), check_files=False)


@pytest.mark.parametrize("folder", ["/", "~", str(Path.home()), "/tmp/.."])
def test_results_dir_cannot_be_a_root_or_home(folder):
    with pytest.raises(
        ConfigError, match=r"results_dir: .* is a filesystem root or the home folder"
    ):
        resolve_config(base_config(results_dir=folder), check_files=False)
    with pytest.raises(ConfigError, match="logs_dir"):
        resolve_config(base_config(logs_dir=folder), check_files=False)


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    # nine levels of nine aliases: 9**9 (387 million) strings from a file under 1 KB
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("biobanks: *a9")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    assert bomb.stat().st_size < 1024
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"YAML anchors .* are not allowed in an igs config"):
        load_config(bomb)
    proc = run_igs("config", "validate", str(bomb))
    assert time.perf_counter() - started < 30
    assert proc.returncode == 2 and "are not allowed in an igs config" in proc.stderr


def test_yaml_alias_is_refused_with_its_line(tmp_path):
    import igs.config

    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\nbiobanks: *b\n")
    loader = igs.config._NoAliasLoader(path.read_text())
    loader.name = str(path)
    with pytest.raises(ConfigError, match=r"c\.yaml: line 2: YAML aliases \(\*b\) are not allowed"):
        loader.get_single_data()


def test_config_that_is_not_text(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"biobanks:\n  - name: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"config file .*c\.yaml cannot be read \("):
        load_config(path)
    proc = run_igs("config", "validate", str(path))
    assert proc.returncode == 2 and "cannot be read (" in proc.stderr


# --------------------------------------------------------------------------- health records

CLIN = {
    "IID": ["p1", "p2"], "sex": ["male", "female"], "birth_date": ["1950-03-01", "1960-07-15"],
    "entry_date": ["2005-01-01", "2006-01-01"], "end_of_followup": ["2020-01-01", "2020-01-01"],
    "death_date": ["", ""], "bmi": ["27.5", "22.1"], "smoking": ["never", "current"],
    "sbp": ["130", "120"],
}  # fmt: skip


def records(tmp_path: Path, clin: dict | None = None, dx_date: str = "2010-05-05",
            omics_value: str = "1.5"):  # fmt: skip
    from igs.pheno.records import read_table_records

    pd.DataFrame(clin or CLIN).to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    pd.DataFrame({"IID": ["p1"], "date": [dx_date], "icd10": ["I21"]}).to_csv(
        tmp_path / "diagnoses.tsv", sep="\t", index=False
    )
    pd.DataFrame({"IID": ["p2"], "date": ["2006-01-01"], "analyte": ["ldl"],
                  "value": [omics_value]}).to_csv(tmp_path / "omics.tsv", sep="\t", index=False)  # fmt: skip
    return read_table_records(
        tmp_path / "clinical.tsv", tmp_path / "diagnoses.tsv", tmp_path / "omics.tsv"
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "birth_date",
            "1800-06-01",
            "birth_date is before 1900-01-01 (implausible; check the year)",
        ),
        ("bmi", "-5", "bmi is outside its plausible range 1-250 kg/m2 (or not finite)"),
        ("bmi", "900", "bmi is outside its plausible range 1-250 kg/m2"),
        ("bmi", "inf", "bmi is outside its plausible range"),
        ("sbp", "0", "sbp is outside its plausible range 40-350 mmHg (or not finite)"),
    ],
    ids=["birth-1800", "bmi-negative", "bmi-900", "bmi-inf", "sbp-0"],
)
def test_implausible_person_values(tmp_path, column, value, message):
    from igs.pheno.records import validate_records

    validate_records(records(tmp_path))  # the unedited records pass
    clin = {k: list(v) for k, v in CLIN.items()}
    clin[column][1] = value
    with pytest.raises(InputFormatError, match=r"1 row\(s\) where .*e\.g\. person p2") as err:
        validate_records(records(tmp_path, clin))
    assert message in str(err.value)


def test_diagnosis_before_birth_and_infinite_omics(tmp_path):
    from igs.pheno.records import validate_records

    with pytest.raises(InputFormatError, match=r"where a diagnoses date is before birth_date, e\.g\. person p1"):  # fmt: skip
        validate_records(records(tmp_path, dx_date="1894-01-01"))
    with pytest.raises(InputFormatError, match=r"a measurement value is not finite \(inf or NaN\)"):
        validate_records(records(tmp_path, omics_value="inf"))


def test_omop_garbage_file_and_missing_person_source_value(tmp_path):
    import duckdb

    from igs.pheno.omop import read_omop_records, write_omop

    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"this is not a database\n" * 200)
    with pytest.raises(
        InputFormatError, match=r"garbage\.duckdb: cannot open the OMOP DuckDB file"
    ):
        read_omop_records(garbage)
    write_omop(records(tmp_path), tmp_path / "omop.duckdb")
    with duckdb.connect(str(tmp_path / "omop.duckdb")) as con:
        con.execute("UPDATE person SET person_source_value = NULL WHERE person_id = 2")
    with pytest.raises(InputFormatError, match=r"1 person\(s\) have no person_source_value"):
        read_omop_records(tmp_path / "omop.duckdb")
    # OMOP rows get the same plausibility checks as tables: an SBP of 0 mmHg
    from igs.pheno.records import validate_records

    clin = {k: list(v) for k, v in CLIN.items()}
    clin["sbp"][0] = "0"
    write_omop(records(tmp_path, clin), tmp_path / "sbp.duckdb")
    with pytest.raises(InputFormatError, match=r"sbp is outside its plausible range .*person p1"):
        validate_records(read_omop_records(tmp_path / "sbp.duckdb"))
    proc = run_igs("config", "validate", str(garbage))  # not YAML either: a clean error
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- scoring files


def test_infinite_weight_is_refused(tmp_path):
    from igs.scores.scorefile import read_scoring_file

    path = tmp_path / "s.txt"
    path.write_text(
        "#pgs_id=PGS_T\n#genome_build=GRCh38\n"
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
        "1\t100\tA\tG\t0.1\n1\t200\tC\tT\tinf\n1\t300\tC\tT\t-Infinity\n"
    )
    with pytest.raises(
        InputFormatError,
        match=r"s\.txt: 2 infinite effect_weight\(s\), e\.g\. 'inf' on data row 2; a weight must be a finite number",
    ):
        read_scoring_file(path)


# --------------------------------------------------------------------------- full or read-only disk


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the file system is read-only")],
)
def test_full_or_read_only_disk_is_a_clean_error(tmp_path, monkeypatch, capsys, code, words):
    """`igs provenance` writing when the disk is full: a message naming the path, no traceback."""
    import os

    import igs.cli
    import igs.io.atomic

    def refuse(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    cfg = base_config()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(igs.io.atomic.os, "replace", refuse)
    monkeypatch.setattr(igs.config, "load_config", lambda p: resolve_config(cfg, check_files=False))
    monkeypatch.setattr("igs.provenance.provenance", lambda c, b: {"biobank": b})
    out = tmp_path / "sub" / "p.json"
    monkeypatch.setattr(sys, "argv", ["igs", "provenance", "--config", str(tmp_path / "c.yaml"),
                                      "--biobank", "x", "--out", str(out)])  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        igs.cli.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and "Traceback" not in err
    assert err.startswith(f"igs: error: {out}: {words}")
    assert "free space or fix permissions, then run the step again" in err
    assert not out.exists() and not list(out.parent.glob(".p.json.*"))  # nothing half-written


def test_other_os_errors_still_raise(monkeypatch):
    import igs.cli

    def boom(**kwargs):
        raise OSError(errno.EIO, "Input/output error", "/dev/sdz")

    monkeypatch.setattr(igs.cli, "cli", boom)
    with pytest.raises(OSError, match="Input/output error"):
        igs.cli.main()


def test_full_disk_during_qc_leaves_no_genotypes_without_summary(qc_run, tmp_path, monkeypatch):
    import os

    import igs.io.atomic
    from igs.qc import write_qc_tables
    from igs.qc.result import GENOTYPE_FILES, QC_FILES

    result, written = qc_run
    for name in GENOTYPE_FILES:  # the stage wrote its genotypes first ...
        (tmp_path / name).write_bytes((written / name).read_bytes())

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(igs.io.atomic.os, "replace", full)
    with pytest.raises(OSError, match="No space left on device"):
        write_qc_tables(result, tmp_path)  # ... then the disk filled up
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [], f"left behind: {left}"
    assert set(QC_FILES.values()).isdisjoint(left)
