"""The results layout, defined once: the workflow's rules, the report and the share bundle use it.

Every function takes the results folder (``results_dir`` of the config) and returns a path as
text, so that a rule can pass ``"{biobank}"`` and get a Snakemake pattern back, e.g.
``qc(RESULTS, "{biobank}", "pcs.tsv") == f"{RESULTS}/{{biobank}}/qc/pcs.tsv"``.
"""

from __future__ import annotations

import os

Root = str | os.PathLike[str]


def biobank(results: Root, name: str) -> str:
    """One biobank's results folder."""
    return f"{os.fspath(results)}/{name}"


def stage_options(results: Root, name: str, stage: str) -> str:
    """The resolved config section a stage's jobs read (written by the rule ``config_stage``)."""
    return f"{biobank(results, name)}/config/{stage}.json"


def run_options(results: Root, stage: str) -> str:
    """The config section of a stage that spans every biobank (the report, the federated model)."""
    return f"{os.fspath(results)}/config/{stage}.json"


def inputs(results: Root, name: str) -> str:
    return f"{biobank(results, name)}/inputs/genotype_summary.json"


def qc(results: Root, name: str, file: str) -> str:
    return f"{biobank(results, name)}/qc/{file}"


def qc_genotypes(results: Root, name: str) -> str:
    """Prefix of the QC'd bed/bim/fam fileset."""
    return qc(results, name, "genotypes")


def scores(results: Root, name: str, file: str) -> str:
    return f"{biobank(results, name)}/scores/{file}"


def scores_reference(results: Root, name: str, file: str) -> str:
    """A file of the biobank's comparison with the shared reference panel (scores.ancestry_reference)."""
    return scores(results, name, f"reference/{file}")


def scores_part(results: Root, name: str, part: str, file: str) -> str:
    """A file of one genotype part's scoring (a chromosome file, or ``all``), summed later."""
    return scores(results, name, f"parts/{part}/{file}")


def pheno(results: Root, name: str, file: str) -> str:
    return f"{biobank(results, name)}/pheno/{file}"


def endpoint_table(results: Root, name: str, endpoint: str) -> str:
    return pheno(results, name, f"{endpoint}.parquet")


def features(results: Root, name: str, file: str) -> str:
    return f"{biobank(results, name)}/features/{file}"


def evaluation(results: Root, name: str, endpoint: str, file: str = "") -> str:
    """The folder of one endpoint's evaluation, or a file in it."""
    folder = f"{biobank(results, name)}/evaluate/{endpoint}"
    return f"{folder}/{file}" if file else folder


def share(results: Root, name: str, file: str = "") -> str:
    folder = f"{biobank(results, name)}/share"
    return f"{folder}/{file}" if file else folder


def export(results: Root, name: str, file: str = "") -> str:
    folder = f"{biobank(results, name)}/export"
    return f"{folder}/{file}" if file else folder


def fhir(results: Root, name: str, endpoint: str) -> str:
    return export(results, name, f"fhir/{endpoint}")


def provenance(results: Root, name: str) -> str:
    return f"{biobank(results, name)}/provenance.json"


def meta(results: Root, file: str = "") -> str:
    folder = f"{os.fspath(results)}/meta"
    return f"{folder}/{file}" if file else folder


def report(results: Root) -> str:
    return f"{os.fspath(results)}/report.html"


def federated_table(results: Root, name: str, endpoint: str) -> str:
    """The analysis table a biobank's (mock) Vantage6 node serves for one endpoint."""
    return f"{biobank(results, name)}/federated/{endpoint}.csv"


def federated(results: Root, endpoint: str, file: str = "") -> str:
    """The federated model of one endpoint (the central part's outputs), or a file in it."""
    folder = f"{os.fspath(results)}/federated/{endpoint}"
    return f"{folder}/{file}" if file else folder
