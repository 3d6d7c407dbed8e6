# One Cox model across the config's biobanks, only aggregates exchanged (issue #20): each biobank
# writes the analysis table its Vantage6 node would serve, then the central part runs over
# Vantage6's mock client, one organisation per biobank. Runs when `federated.enabled` is set
# (needs the igs[federated] extra, which `make install` adds).
import shlex


rule federated_node:
    input:
        **survival_inputs(),
        options=options("federated"),
    output:
        P.federated_table(RESULTS, "{biobank}", "{endpoint}"),
    log:
        f"{LOGS}/{{biobank}}/federated/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    threads: rule_threads("federated_node")
    resources:
        mem_mb=rule_mem_mb("federated_node"),
        runtime=rule_runtime("federated_node"),
    shell:
        "igs federated node --options {input.options:q} --endpoint {wildcards.endpoint:q} "
        + SURVIVAL_ARGS
        + " --site {wildcards.biobank:q} --out {output:q} 2> {log:q}"


rule federated_central:
    input:
        tables=lambda wc: [P.federated_table(RESULTS, bb, wc.endpoint) for bb in PHENOTYPED],
        options=P.run_options(RESULTS, "federated"),
    output:
        [
            P.federated(RESULTS, "{endpoint}", name)
            for name in ("model.json", "coefficients.tsv", "comparison.tsv", "curves.tsv",
                         "concordance.tsv", "calibration.tsv", "td_auc.tsv")
        ],  # fmt: skip
    log:
        f"{LOGS}/federated/{{endpoint}}.log",
    wildcard_constraints:
        endpoint="|".join(MODELLED) or "^$",
    params:
        # quoted here, one --table SITE=PATH per biobank
        tables=lambda wc, input: " ".join(
            "--table " + shlex.quote(f"{bb}={t}") for bb, t in zip(PHENOTYPED, input.tables)
        ),
        out_dir=lambda wc: P.federated(RESULTS, wc.endpoint),
    threads: rule_threads("federated_central")
    resources:
        mem_mb=rule_mem_mb("federated_central"),
        runtime=rule_runtime("federated_central"),
    shell:
        "igs federated central --options {input.options:q} "
        "{params.tables} --out-dir {params.out_dir:q} 2> {log:q}"
