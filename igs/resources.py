"""Threads, memory and run time of the workflow's jobs, from the config's ``resources`` block.

A rule asks for ``mem_mb + mem_mb_per_gb * input GB`` megabytes and
``runtime + runtime_per_gb * input GB`` minutes, capped at ``max_mem_mb`` and ``max_runtime``,
with the threads of its block. The rules pass their input size (Snakemake's ``input.size_mb``);
a simulated biobank's rule, whose inputs do not exist yet, passes
:func:`simulated_genotypes_mb` of its configured size instead. The workflow's
``rule_threads``/``rule_mem_mb``/``rule_runtime`` (``workflow/rules/common.smk``) call
:func:`job_resources` for every rule.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from igs.config import default_blocks


@dataclass(frozen=True)
class JobResources:
    """What one job asks the scheduler for."""

    threads: int
    mem_mb: int
    runtime: int  # minutes


@functools.cache
def _schema_defaults() -> dict[str, Any]:
    """The schema's ``resources`` block (read once: every job of a workflow asks for it). Read
    only; callers build new dicts from it."""
    return default_blocks(("resources",))["resources"]


def rule_settings(resources: dict[str, Any], rule: str) -> dict[str, Any]:
    """The rule's block of ``resources.rules`` over its schema defaults, key by key."""
    defaults = _schema_defaults()["rules"]
    if rule not in defaults:
        raise KeyError(f"resources.rules has no rule {rule!r}; the schema defines {list(defaults)}")
    return {**defaults[rule], **resources.get("rules", {}).get(rule, {})}


def job_resources(resources: dict[str, Any], rule: str, input_mb: float = 0.0) -> JobResources:
    """Threads, memory (MB) and run time (minutes) of a job of ``rule`` reading ``input_mb``."""
    s = rule_settings(resources, rule)
    caps = _schema_defaults() | resources
    gb = max(input_mb, 0.0) / 1000
    mem = min(caps["max_mem_mb"], math.ceil(s["mem_mb"] + s["mem_mb_per_gb"] * gb))
    runtime = min(caps["max_runtime"], math.ceil(s["runtime"] + s["runtime_per_gb"] * gb))
    return JobResources(threads=s["threads"], mem_mb=max(mem, 1), runtime=max(runtime, 1))


def simulated_genotypes_mb(n_samples: int, n_variants: int) -> float:
    """Size in MB of a simulated biobank's genotypes (.bed and .pgen, 2 bits per call each)."""
    return 2 * (3 + n_variants * math.ceil(n_samples / 4)) / 1e6
