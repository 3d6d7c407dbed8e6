"""Stage options: defaults come only from the config schema, and options files are checked."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from igs.config import default_blocks, load_schema
from igs.errors import ConfigError
from igs.models.evaluate import EvaluationSettings
from igs.models.options import ModelsOptions
from igs.options import read_stage_config, stage_config, stage_record, write_stage_config
from igs.qc.options import QCOptions
from igs.scores.match import MatchOptions
from igs.scores.options import ScoresOptions

DEFAULTS = default_blocks(("seed", "qc", "scores", "pheno", "models", "share", "export", "hail"))


def test_qc_options_defaults_are_the_schemas():
    assert QCOptions.from_config(DEFAULTS["qc"], seed=DEFAULTS["seed"]) == QCOptions()


def test_models_and_scores_defaults_are_the_schemas():
    settings = ModelsOptions.from_config(DEFAULTS).settings
    schema_fields = (
        "horizons",
        "test_fraction",
        "n_folds",
        "penalizers",
        "n_bootstrap",
        "thresholds",
        "seed",
        "lifelines_check_max_n",
    )
    for name in schema_fields:
        assert getattr(settings, name) == getattr(EvaluationSettings(), name), name
    assert ScoresOptions.from_config(DEFAULTS).match == MatchOptions()


def test_simulate_defaults_are_the_schemas():
    from igs.simulate.cli import simulate

    schema = load_schema()["properties"]
    sim = {k: v["default"] for k, v in schema["simulation"]["properties"].items()}
    cohort = schema["biobanks"]["items"]["properties"]["simulate"]["properties"]
    params = {p.name: p.default for p in simulate.commands["cohort"].params}
    assert params["seed"] == sim["seed"] and params["n_variants"] == sim["n_variants"]
    assert params["chromosomes"] == ",".join(
        sim["chromosomes"]
    )  # 1-6, not simulate.smk's old ['1']
    assert params["cohort_seed"] == cohort["seed"]["default"]
    assert params["ancestry_proportions"] == ",".join(
        map(str, cohort["ancestry_proportions"]["default"])
    )


def test_options_file_round_trip_and_errors(tmp_path):
    cfg = {**DEFAULTS, "biobanks": [{"name": "x"}]}
    write_stage_config(stage_config(cfg, "qc", "x"), tmp_path / "qc.json")
    record = read_stage_config(tmp_path / "qc.json", "qc")
    assert record["config"]["qc"] == DEFAULTS["qc"] and record["biobank"] == {"name": "x"}
    assert "models" not in record["config"]  # a stage sees only the blocks it depends on
    with pytest.raises(
        ConfigError, match=r"qc\.json holds the options of stage 'qc', not 'models'"
    ):
        read_stage_config(tmp_path / "qc.json", "models")
    with pytest.raises(
        ConfigError, match=r"none\.json not found; the workflow's config_stage rule writes it"
    ):
        read_stage_config(tmp_path / "none.json", "qc")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match=r"bad\.json: not valid JSON"):
        read_stage_config(tmp_path / "bad.json", "qc")
    with pytest.raises(ConfigError, match="unknown stage 'qcc'; stages with options"):
        stage_config(cfg, "qcc")
    with pytest.raises(
        ConfigError,
        match=r"stage models: give --options \(the workflow's options file\) or --config",
    ):
        stage_record(None, None, "models", "x")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pheno", "build", "--out-dir", "o"], "igs pheno build: give --options, or --config with --biobank"),
        (["provenance", "--out", "p.json"], "igs provenance: give --options, or --config with --biobank"),
        (["report", "--out", "r.html"], "igs report: give --options (the workflow's report.json) or --config"),
    ],
    ids=["pheno", "provenance", "report"],
)  # fmt: skip
def test_commands_that_need_options_say_so(args, message):
    from igs.cli import cli

    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, ConfigError) and message in str(result.exception)


def test_models_command_needs_options(tmp_path):
    from igs.cli import cli

    files = []
    for option in ("--endpoint-table", "--covariates", "--omics", "--scores", "--pcs"):
        (tmp_path / option[2:]).write_text("")
        files += [option, str(tmp_path / option[2:])]
    result = CliRunner().invoke(
        cli, ["models", "evaluate", "--endpoint", "CAD", *files, "--out-dir", "o"]
    )
    assert "igs models: give --options (the workflow's models.json) or --config" in str(
        result.exception
    )


def test_config_stage_command_writes_what_the_rule_writes(tmp_path):
    from igs.cli import cli
    from igs.config import load_config
    from tests.conftest import REPO

    out = tmp_path / "models.json"
    result = CliRunner().invoke(cli, ["config", "stage", str(REPO / "config/config.yaml"), "--stage", "models",
                                      "--biobank", "north", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    cfg = load_config(REPO / "config/config.yaml")
    assert json.loads(out.read_text()) == json.loads(
        json.dumps(stage_config(cfg, "models", "north"))
    )
    assert dataclasses.asdict(ModelsOptions.from_config(read_stage_config(out, "models")["config"]))
