"""Secrets: a database password never enters igs (refused in URLs, taken by libpq from PGPASSWORD
or a password file) and every URL igs prints or records is redacted."""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from igs.config import resolve_config
from igs.errors import ConfigError, InputFormatError
from igs.redact import RedactingFormatter, check_no_password, redact_url, redact_urls
from tests.conftest import run_igs

PASSWORD = "s3cret-Pw-4711"


def test_redact_url_hides_user_password_and_query():
    cases = {
        "postgresql://me:pw@db.example:5432/omop?sslmode=require&password=x":
            "postgresql://***@db.example:5432/omop?***",
        "postgres://me@10.0.0.1/omop": "postgres://***@10.0.0.1/omop",
        "postgresql://db.example/omop": "postgresql://db.example/omop",
        "postgresql://me:p/w?x@y@db.example/omop": "postgresql://***@db.example/omop",
        "results/simulated/north/omop.duckdb": "results/simulated/north/omop.duckdb",
    }  # fmt: skip
    for url, expected in cases.items():
        assert redact_url(url) == expected
    text = "cannot reach 'postgresql://a:b@h/db?password=c' or postgresql://u@h2/x"
    assert redact_urls(text) == "cannot reach 'postgresql://***@h/db?***' or postgresql://***@h2/x"
    record = logging.LogRecord(
        "igs", logging.INFO, "", 0, "writing to %s", ("postgres://u@h/d",), None
    )
    assert RedactingFormatter("%(message)s").format(record) == "writing to postgres://***@h/d"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me:hunter2@db.example/omop",
        "postgresql://me@db.example/omop?sslmode=require&password=hunter2",
        "postgres://me:@db.example/omop",
        "postgresql://me:hunter2/x?y@db.example/omop",
    ],
)
def test_url_with_a_password_is_refused(url, tmp_path):
    with pytest.raises(ConfigError, match="contains a password; igs never stores one") as err:
        check_no_password(url, "omop_url")
    assert "hunter2" not in str(err.value) and "PGPASSWORD or ~/.pgpass" in str(err.value)
    cfg = {"biobanks": [{"name": "x", "genotypes": {"path": "g", "format": "bed"},
                         "phenotypes": {"source": "omop", "omop_url": url}}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"biobanks\[0\] \(x\)\.phenotypes\.omop_url"):
        resolve_config(cfg, check_files=False)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_igs("config", "validate", "--no-file-checks", str(tmp_path / "c.yaml"))
    assert proc.returncode == 2 and "contains a password" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    # the command that takes a URL refuses it too, before connecting
    proc = run_igs("simulate", "omop", "--cohort-dir", str(tmp_path), "--out", url)
    assert proc.returncode == 2 and "contains a password" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout


@pytest.fixture(scope="module")
def password_server():
    """A throw-away PostgreSQL server that requires a password (scram-sha-256) on loopback."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found; run `make system-deps`.")
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="igs-pgpw-"))
    (root / "pw").write_text(PASSWORD + "\n")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(root / "pw", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"

    def run(*args: str, **env: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True,
                       env={**os.environ, **env})  # fmt: skip

    run(str(bindir / "initdb"), "-D", str(data), "-A", "scram-sha-256", "-U", "igs",
        f"--pwfile={root / 'pw'}", "--no-sync")  # fmt: skip
    (root / "pw").unlink()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "igs", "omop",
            PGPASSWORD=PASSWORD)  # fmt: skip
        yield port
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_password_comes_from_pgpassfile_or_pgpassword(password_server, tmp_path, monkeypatch):
    from igs.pheno.omop import connect

    url = f"postgresql://igs@127.0.0.1:{password_server}/omop"
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
    with pytest.raises(InputFormatError, match="cannot connect to the OMOP database") as err:
        connect(url)
    assert "postgresql://***@127.0.0.1" in str(err.value)

    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{password_server}:omop:igs:{PASSWORD}\n")
    pgpass.chmod(0o600)  # libpq ignores a password file others can read
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    conn = connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == "igs"
    finally:
        conn.close()

    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    connect(url).close()


def omop_biobank_config(url, cohort: Path, scoring_files: Path, folder: Path) -> Path:
    """Write the cohort's records to the OMOP server at ``url`` (PGPASSWORD must be set) and a
    config whose one biobank reads them; returns the config file."""
    from igs.pheno import read_table_records, write_omop

    write_omop(read_table_records(cohort / "clinical.tsv", cohort / "diagnoses.tsv"), url)
    cfg = {
        "results_dir": str(folder / "results"),
        "biobanks": [{"name": "pg", "genotypes": {"path": str(cohort / "genotypes"),
                                                  "format": "bed"},
                      "phenotypes": {"source": "omop", "omop_url": url}}],
        "scores": {"scoring_files": [str(scoring_files / "IGS_SIM_CAD.txt.gz")]},
        "pheno": {"endpoints": [{"name": "CAD", "icd10": ["I21", "I25.1"]}]},
    }  # fmt: skip
    (folder / "c.yaml").write_text(yaml.safe_dump(cfg))
    return folder / "c.yaml"


def test_a_run_with_a_password_leaves_no_trace_of_it(
    password_server, small_cohort, small_scoring_files, tmp_path, monkeypatch
):
    """pheno build and provenance read a password-protected OMOP server (password from
    PGPASSWORD); no file they write and nothing they print contains the password or the user."""
    url = f"postgresql://igs@127.0.0.1:{password_server}/omop?sslmode=disable"
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    omop_biobank_config(url, small_cohort, small_scoring_files, tmp_path)
    out = tmp_path / "results" / "pg"
    env_run = [
        run_igs("pheno", "build", "--config", str(tmp_path / "c.yaml"), "--biobank", "pg",
                "--out-dir", str(out)),
        run_igs("provenance", "--config", str(tmp_path / "c.yaml"), "--biobank", "pg",
                "--out", str(out / "provenance.json")),
    ]  # fmt: skip
    for proc in env_run:
        assert proc.returncode == 0, proc.stderr
    assert (out / "pheno" / "CAD.parquet").is_file()
    printed = "".join(p.stdout + p.stderr for p in env_run)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "c.yaml"]
    assert len(files) > 3
    for text in [printed] + [p.read_bytes().decode("latin-1") for p in files]:
        assert PASSWORD not in text and "igs@127.0.0.1" not in text and "sslmode" not in text
    # the server was really read, and with the password from the environment
    monkeypatch.setenv("PGPASSWORD", "wrong")
    proc = run_igs("pheno", "build", "--config", str(tmp_path / "c.yaml"), "--biobank", "pg",
                   "--out-dir", str(tmp_path / "again"))  # fmt: skip
    assert proc.returncode == 3 and "password authentication failed" in proc.stderr
    assert "wrong" not in proc.stderr.replace("password authentication failed", "")


@pytest.mark.workflow
def test_a_workflow_run_with_a_password_leaves_no_trace_of_it(
    password_server, small_cohort, small_scoring_files, tmp_path
):
    """The workflow reads a password-protected OMOP server (PGPASSWORD in its environment): no
    file under results/, logs/ or .snakemake/ and nothing Snakemake prints holds the password."""
    from tests.conftest import snakemake

    url = f"postgresql://igs@127.0.0.1:{password_server}/omop"
    os.environ["PGPASSWORD"] = PASSWORD
    try:
        omop_biobank_config(url, small_cohort, small_scoring_files, tmp_path)
        targets = [
            str(tmp_path / "results/pg" / f) for f in ("pheno/summary.json", "provenance.json")
        ]
        proc = snakemake(*targets, "--cores", "2", "--configfile", "c.yaml", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        # a changed value makes Snakemake print "Params have changed" with the stage's config
        again = snakemake(*targets, "--cores", "2", "--config", "seed=9", "--configfile",
                          "c.yaml", cwd=tmp_path)  # fmt: skip
        assert again.returncode == 0, again.stderr
    finally:
        del os.environ["PGPASSWORD"]
    files = [p for d in ("results", "logs", ".snakemake") for p in (tmp_path / d).rglob("*")
             if p.is_file()]  # fmt: skip
    assert len(files) > 5 and (tmp_path / "results/pg/pheno/CAD.parquet").is_file()
    for text in [proc.stdout + proc.stderr + again.stdout + again.stderr] + [
        p.read_bytes().decode("latin-1") for p in files
    ]:
        assert PASSWORD not in text
