"""Share bundles and meta-analysis: hand-computed pooling, statsmodels as the oracle, checksums."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError
from igs.share.bundle import read_bundle, suppress
from igs.share.meta import gather_estimates, meta_analyse, pool
from tests.conftest import bundle, run_igs

EFFECTS = np.array([0.30, 0.45, 0.60, 0.20])
SES = np.array([0.10, 0.08, 0.15, 0.12])


def test_pooling_by_hand():
    # two studies: w = 1/0.01 = 100 and 1/0.04 = 25
    p = pool(np.array([0.2, 0.7]), np.array([0.1, 0.2]))
    assert p.fixed == pytest.approx((100 * 0.2 + 25 * 0.7) / 125)
    assert p.fixed_se == pytest.approx(np.sqrt(1 / 125))
    q = 100 * (0.2 - 0.3) ** 2 + 25 * (0.7 - 0.3) ** 2  # fixed = 0.3
    assert p.q == pytest.approx(q)
    tau2 = (q - 1) / (125 - (100**2 + 25**2) / 125)
    assert p.tau2 == pytest.approx(tau2)
    assert p.i2 == pytest.approx((q - 1) / q)
    w = 1 / (np.array([0.01, 0.04]) + tau2)
    assert p.random == pytest.approx((w * [0.2, 0.7]).sum() / w.sum())


def test_pooling_equals_statsmodels():
    from statsmodels.stats.meta_analysis import combine_effects

    p = pool(EFFECTS, SES)
    res = combine_effects(EFFECTS, SES**2, method_re="dl")
    assert p.fixed == pytest.approx(res.mean_effect_fe, abs=1e-12)
    assert p.random == pytest.approx(res.mean_effect_re, abs=1e-12)
    assert p.fixed_se == pytest.approx(res.sd_eff_w_fe, abs=1e-12)
    assert p.random_se == pytest.approx(res.sd_eff_w_re, abs=1e-12)
    assert p.q == pytest.approx(res.q, abs=1e-10)
    assert p.tau2 == pytest.approx(res.tau2, abs=1e-12)
    assert p.i2 == pytest.approx(res.i2, abs=1e-12)


def test_suppression_blanks_small_cells_and_their_values():
    t = pd.DataFrame({"group": ["a", "b", "c"], "n": [100, 3, 0], "hr": [1.2, 2.5, np.nan]})
    out, n = suppress(t, ["n"], ["hr"], 5)
    assert n == 1 and out.loc[1, ["n", "hr"]].isna().all() and out.loc[0, "hr"] == 1.2


def test_meta_cli_over_bundles(tmp_path):
    paths = [
        bundle(tmp_path, f"bb{i}", e, s) for i, (e, s) in enumerate(zip(EFFECTS, SES, strict=True))
    ]
    proc = run_igs("share", "meta", *map(str, paths), "--out-dir", str(tmp_path / "meta"))
    assert proc.returncode == 0, proc.stderr
    pooled = pd.read_csv(tmp_path / "meta/pooled.tsv", sep="\t").set_index("quantity")
    assert pooled.loc["log_hr_per_sd:all", "random"] == pytest.approx(
        pool(EFFECTS, SES).random, rel=1e-5
    )
    loo = pd.read_csv(tmp_path / "meta/leave_one_out.tsv", sep="\t")
    assert len(loo[loo["quantity"] == "log_hr_per_sd:all"]) == 4
    assert (tmp_path / "meta/forest_CAD.png").stat().st_size > 5000
    # a changed file no longer matches its checksum
    (paths[0] / "prs_effects.tsv").write_text(
        (paths[0] / "prs_effects.tsv").read_text().replace("0.3", "0.9")
    )
    with pytest.raises(InputFormatError, match="checksum differs from the manifest"):
        read_bundle(paths[0])
    proc = run_igs("meta", *map(str, paths), "--out-dir", str(tmp_path / "meta2"))
    assert proc.returncode == 3 and "checksum" in proc.stderr


def test_gather_skips_suppressed_rows():
    eff = pd.DataFrame({"endpoint": ["CAD", "CAD"], "effect": ["hr_per_sd"] * 2, "group": ["all", "male"],
                        "log_hr": [0.4, None], "se": [0.05, None]})  # fmt: skip
    models = pd.DataFrame(
        columns=["endpoint", "model", "harrell_c", "harrell_c_low", "harrell_c_high"]
    )
    est = gather_estimates({"x": {"prs_effects.tsv": eff, "models.tsv": models}})
    assert est["quantity"].tolist() == ["log_hr_per_sd:all"]
    pooled, _ = meta_analyse(est)
    assert pooled.loc[0, "k"] == 1


@pytest.mark.parametrize(
    ("table", "column", "value", "kind"),
    [
        ("prs_effects.tsv", "endpoint", "../../x", "endpoint"),
        ("models.tsv", "endpoint", "CAD/../../x", "endpoint"),
        ("models.tsv", "model", "../cox", "model"),
        ("prs_effects.tsv", "group", "all/../../y", "group"),
        ("manifest.json", "biobank", "../north", "biobank"),
    ],
)
def test_crafted_bundle_names_are_refused(tmp_path, table, column, value, kind):
    path = bundle(tmp_path, "bb", 0.3, 0.1)
    if table == "manifest.json":
        manifest = json.loads((path / table).read_text())
        (path / table).write_text(json.dumps(manifest | {"biobank": value}))
    else:
        t = pd.read_csv(path / table, sep="\t").assign(**{column: value})
        t.to_csv(path / table, sep="\t", index=False)
        manifest = json.loads((path / "manifest.json").read_text())
        manifest["sha256"][table] = hashlib.sha256((path / table).read_bytes()).hexdigest()
        (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        InputFormatError,
        match=rf"{kind} name '.*' does not match .* \(a crafted or corrupted bundle\?\)",
    ):
        read_bundle(path)
    out = tmp_path / "deep" / "meta"
    proc = run_igs("meta", str(path), "--out-dir", str(out))
    assert proc.returncode == 3 and "does not match" in proc.stderr
    assert not list(tmp_path.rglob("x*")) and not (tmp_path / "deep").exists()


def test_reference_population_fairness_rows_pool_by_population():
    """Two biobanks' fairness rows by reference population pool as
    fairness_log_hr_per_sd:reference_population:<population> (inverse-variance, by hand)."""
    models = pd.DataFrame(
        columns=["endpoint", "model", "harrell_c", "harrell_c_low", "harrell_c_high"]
    )
    eff = pd.DataFrame(columns=["endpoint", "effect", "group", "log_hr", "se"])

    def fair(log_hr: float, se: float) -> pd.DataFrame:
        return pd.DataFrame({"endpoint": ["CAD", "CAD"], "dimension": "reference_population",
                             "group": ["EUR", "AFR"], "log_hr": [log_hr, None], "se": [se, None]})  # fmt: skip

    est = gather_estimates({
        b: {"prs_effects.tsv": eff, "models.tsv": models, "fairness.tsv": fair(lh, se)}
        for b, lh, se in (("a", 0.4, 0.1), ("b", 0.2, 0.2))
    })  # fmt: skip
    assert set(est["quantity"]) == {"fairness_log_hr_per_sd:reference_population:EUR"}
    pooled, _ = meta_analyse(est)
    w = np.array([1 / 0.1**2, 1 / 0.2**2])
    assert pooled.loc[0, "k"] == 2
    assert pooled.loc[0, "fixed"] == pytest.approx((w * [0.4, 0.2]).sum() / w.sum())
    assert pooled.loc[0, "fixed_se"] == pytest.approx(w.sum() ** -0.5)
