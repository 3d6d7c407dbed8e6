"""The CLI: --help everywhere, clear errors with exit codes, and the simulate commands."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from igs.cli import cli
from tests.conftest import REPO


def all_commands(group: click.Group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", [(), *all_commands(cli)], ids=lambda p: " ".join(p) or "igs")
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def run_igs(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "igs.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_config_error_exit_code_and_message(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("biobanks:\n  - name: x\n    engin: local\n")
    proc = run_igs("config", "validate", str(bad))
    assert proc.returncode == 2
    assert "igs: error:" in proc.stderr and "biobanks[0]: unknown key(s) 'engin'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_validate_demo():
    proc = run_igs("config", "validate", "config/config.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "OK (3 biobank(s))" in proc.stdout


def test_input_error_exit_code(tmp_path):
    proc = run_igs(
        "inputs", "check", "--genotypes", str(tmp_path / "none"), "--out", str(tmp_path / "s.json")
    )
    assert proc.returncode == 3
    assert "none.bed: file not found" in proc.stderr


def test_simulate_commands_write_a_cohort(tmp_path):
    universe = ["--seed", "3", "--n-variants", "1000", "--chromosomes", "1"]
    proc = run_igs("simulate", "scores", "--out-dir", str(tmp_path / "scores"), *universe)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "scores" / "IGS_SIM_CAD.txt.gz").is_file()
    proc = run_igs(
        "simulate",
        "cohort",
        "--out-dir",
        str(tmp_path / "bb"),
        "--name",
        "bb",
        "--n-samples",
        "100",
        "--cohort-seed",
        "9",
        *universe,
    )
    assert proc.returncode == 0, proc.stderr
    truth = json.loads((tmp_path / "bb" / "truth.json").read_text())
    assert truth["genotypes"]["n_samples"] == 100 and truth["cohort"]["seed"] == 9
    proc = run_igs(
        "inputs",
        "check",
        "--genotypes",
        str(tmp_path / "bb" / "genotypes"),
        "--format",
        "pgen",
        "--out",
        str(tmp_path / "summary.json"),
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        json.loads((tmp_path / "summary.json").read_text())["n_variants"]
        == truth["genotypes"]["n_variants"]
    )


def test_simulate_rejects_bad_proportions(tmp_path):
    proc = run_igs(
        "simulate",
        "cohort",
        "--out-dir",
        str(tmp_path / "bb"),
        "--name",
        "bb",
        "--n-samples",
        "100",
        "--ancestry-proportions",
        "0.5,0.1,0.1",
        "--n-variants",
        "1000",
        "--chromosomes",
        "1",
    )
    assert proc.returncode == 2
    assert "ancestry proportions must sum to 1" in proc.stderr
    assert not (tmp_path / "bb").exists()
