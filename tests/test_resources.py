"""Job resources from the config's ``resources`` block: hand-computed requests, overrides, caps."""

from __future__ import annotations

import re

import pytest

from igs.config import default_blocks, resolve_config
from igs.errors import ConfigError
from igs.resources import JobResources, job_resources, simulated_genotypes_mb
from tests.conftest import REPO

DEFAULTS = default_blocks(("resources",))["resources"]


def test_requests_grow_with_the_input():
    # qc_genotypes: 1000 MB + 16000 MB/GB, 10 min + 120 min/GB, 2 threads
    assert job_resources(DEFAULTS, "qc_genotypes", 2500.0) == JobResources(2, 41000, 310)
    assert job_resources(DEFAULTS, "qc_genotypes", 0.0) == JobResources(2, 1000, 10)
    # 1 MB of input: 1000 + 16 = 1016 MB, 10 + 0.12 -> 11 minutes (rounded up)
    assert job_resources(DEFAULTS, "qc_genotypes", 1.0) == JobResources(2, 1016, 11)


def test_a_rule_override_replaces_only_its_keys():
    cfg = {"rules": {"qc_genotypes": {"threads": 8, "mem_mb_per_gb": 1000}}}
    # 1000 + 1000 * 2.5 = 3500 MB; run time keeps its defaults: 10 + 120 * 2.5 = 310
    assert job_resources(cfg, "qc_genotypes", 2500.0) == JobResources(8, 3500, 310)
    assert job_resources(cfg, "scores_compute", 0.0) == JobResources(2, 2000, 10)


def test_requests_are_capped():
    cfg = {"max_mem_mb": 10000, "max_runtime": 100}
    assert job_resources(cfg, "models_evaluate", 5000.0) == JobResources(2, 10000, 100)


def test_simulated_genotypes_size():
    # .bed: 3 magic bytes + 2000 variants x ceil(201 / 4) = 51 bytes; twice for .pgen
    assert simulated_genotypes_mb(201, 2000) == pytest.approx(2 * 102003 / 1e6, rel=1e-12)


def test_every_workflow_rule_has_resources():
    names = set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        names |= set(re.findall(r"^rule (\w+):", smk.read_text(), flags=re.M))
    names -= {"unknown_biobank"}  # answers unknown targets with an error, never runs
    assert names == set(DEFAULTS["rules"])


def test_unknown_rule_in_config_is_an_error():
    cfg = {"biobanks": [], "resources": {"rules": {"qc_genotyps": {"threads": 4}}}}
    with pytest.raises(ConfigError, match=r"resources.rules: unknown key\(s\) 'qc_genotyps'"):
        resolve_config(cfg)
    cfg["resources"]["rules"] = {"qc_genotypes": {"thread": 4}}
    with pytest.raises(
        ConfigError, match=r"resources.rules.qc_genotypes: unknown key\(s\) 'thread'"
    ):
        resolve_config(cfg)
