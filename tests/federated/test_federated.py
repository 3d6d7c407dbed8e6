"""Federated Cox (issue #20): the stratified model from node aggregates only, on Vantage6's mock
client, against a biobank-stratified fit on the concatenated rows (igs's solver and lifelines)."""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igs.errors import IGSError
from igs.federated import central as C
from igs.federated.local import local_ask
from igs.federated.node import DisclosureError, Standardisation, curve_counts, summary
from igs.models.coxsolver import penalised_loglik
from igs.share.disclosure import check_files
from igs.simulate.phenotypes import gompertz_age

COLUMNS = ["sex_male", "bmi", "prs", "PC1"]
LOG_HR = {"sex_male": 0.5, "bmi": 0.04, "prs": 0.45, "PC1": 0.0}
SITES = {"biobank_a": (700, 2e-4, 1), "biobank_b": (550, 4e-4, 2), "biobank_c": (450, 1e-4, 3)}
MIN_CELL = 5


def simulate_site(n: int, rate: float, seed: int) -> pd.DataFrame:
    """A small cohort on the age scale: Gompertz onset (igs.simulate's draw, conditional on
    being event-free at entry), competing death, censoring; ages to 0.01 y, so events tie."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"sex_male": rng.integers(0, 2, n).astype(float), "bmi": rng.normal(27, 4, n),
                      "prs": rng.normal(size=n), "PC1": rng.normal(size=n)})  # fmt: skip
    eta = sum(b * x[k].to_numpy() for k, b in LOG_HR.items()) - 0.04 * 27
    entry = np.round(rng.uniform(40, 70, n), 2)
    onset = gompertz_age(
        np.full(n, rate), 0.09, rng.exponential(size=n) / np.exp(eta), alive_at=entry
    )
    death = entry + rng.exponential(30, n)
    end = entry + rng.uniform(5, 20, n)
    stop = np.maximum(np.round(np.minimum.reduce([onset, death, end]), 2), entry + 0.01)
    event = (onset <= np.minimum(death, end)) & (np.round(onset, 2) <= stop)
    competing = ~event & (death <= end) & (np.round(death, 2) <= stop)
    iid = [f"S{seed}P{i:05d}" for i in range(n)]
    return pd.DataFrame({"IID": iid, "start": entry, "stop": stop, "event": event.astype(int),
                         "competing": competing.astype(int)}).join(x)  # fmt: skip


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return {s: simulate_site(*spec) for s, spec in SITES.items()}


def _standardised(all_rows: pd.DataFrame) -> np.ndarray:
    x = all_rows[COLUMNS].to_numpy(float)
    return (x - x.mean(axis=0)) / x.std(axis=0)


def _stratified_newton(all_rows: pd.DataFrame) -> np.ndarray:
    """Oracle 1: Newton on the sum over biobanks of igs's per-stratum log-likelihood."""
    z = _standardised(all_rows)
    strata = [np.flatnonzero(all_rows["biobank"].to_numpy() == s) for s in SITES]
    beta = np.zeros(len(COLUMNS))
    for _ in range(30):
        parts = [penalised_loglik(z[i], all_rows["start"].to_numpy()[i], all_rows["stop"].to_numpy()[i],
                                  all_rows["event"].to_numpy()[i], beta) for i in strata]  # fmt: skip
        g, h = sum(p[1] for p in parts), sum(p[2] for p in parts)
        beta = beta + np.linalg.solve(-h, g)
    return beta


def _recording_ask(tables):  # type: ignore[no-untyped-def]
    ask = local_ask(tables, MIN_CELL)
    sent: list[tuple[str, dict]] = []

    def recording(method, kwargs, sites=None):  # type: ignore[no-untyped-def]
        out = ask(method, kwargs, sites)
        sent.extend(out.items())
        return out

    return recording, sent


def test_federated_fit_equals_stratified_fits_on_concatenated_rows(tables):
    from lifelines import CoxPHFitter

    ask, sent = _recording_ask(tables)
    fit = C.fit(ask, COLUMNS)
    all_rows = pd.concat([t.assign(biobank=s) for s, t in tables.items()], ignore_index=True)
    np.testing.assert_allclose(fit.coef, _stratified_newton(all_rows), atol=1e-8)
    z = pd.DataFrame(_standardised(all_rows), columns=COLUMNS)
    df = z.assign(start=all_rows["start"], stop=all_rows["stop"], e=all_rows["event"],
                  biobank=all_rows["biobank"])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(df, "stop", "e", entry_col="start", strata=["biobank"],
                                fit_options={"precision": 1e-12, "step_size": 0.5})  # fmt: skip
    np.testing.assert_allclose(fit.coef, cph.params_[COLUMNS].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(fit.se, cph.standard_errors_[COLUMNS].to_numpy(), rtol=1e-4)
    # the planted effects (per unit) are inside 3 SEs
    per_unit = np.array(fit.coef) / np.array(fit.scaling.scales)
    se_unit = np.array(fit.se) / np.array(fit.scaling.scales)
    assert np.all(np.abs(per_unit - [LOG_HR[c] for c in COLUMNS]) < 3 * se_unit)
    assert {s for s, _ in sent} == set(SITES) and len(sent) >= 3 * 4


def _assert_discloses_nothing(sent, tables, tmp_path):  # type: ignore[no-untyped-def]
    """Every message, written as sent, passes the disclosure checker; no count in 1..min_cell-1."""
    for i, (site, msg) in enumerate(sent):
        path = tmp_path / f"{i}.json"
        path.write_text(json.dumps(msg))
        t = tables[site]
        assert check_files([path], person_ids=t["IID"], ages=np.r_[t["start"], t["stop"]],
                           min_cell=MIN_CELL) == [], (site, msg)  # fmt: skip
        for key, value in msg.items():
            if key.startswith("n_"):
                v = np.ravel(value)
                assert not np.any((v > 0) & (v < MIN_CELL)), (site, key)
        assert not set(msg) & {"IID", "start", "stop", "times"}


def test_mock_vantage6_federation_and_every_message_discloses_nothing(tables, tmp_path):
    from vantage6.algorithm.tools.mock_client import MockAlgorithmClient

    client = MockAlgorithmClient(datasets=[[{"database": t}] for t in tables.values()],
                                 module="igs.federated.algorithm")  # fmt: skip
    sites = {s: i for i, s in enumerate(tables)}
    task = client.task.create(
        input_={"method": "central", "kwargs": {"columns": COLUMNS, "sites": sites,
                                                "grid": list(range(40, 91, 5)), "horizon": 10.0,
                                                "min_cell": MIN_CELL, "timeout_s": 5}},
        organizations=[0],
    )  # fmt: skip
    (result,) = client.wait_for_results(task["id"])
    ask, sent = _recording_ask(tables)
    ref = C.run(ask, COLUMNS, grid=list(range(40, 91, 5)), horizon=10.0)
    np.testing.assert_allclose(result["model"]["coef"], ref.fit.coef, atol=1e-12)
    all_rows = pd.concat([t.assign(biobank=s) for s, t in tables.items()], ignore_index=True)
    np.testing.assert_allclose(result["model"]["coef"], _stratified_newton(all_rows), atol=1e-8)
    # every kind of node message of the whole analysis was recorded, and none discloses anything
    assert {"loglik", "n_pairs", "n_at_risk", "edges", "mean"} <= {k for _, m in sent for k in m}
    _assert_discloses_nothing(sent, tables, tmp_path)


def test_node_without_events_mismatched_features_and_timeout_write_nothing(tables, tmp_path):
    from vantage6.algorithm.tools.mock_client import MockAlgorithmClient

    no_events = dict(tables) | {"biobank_c": tables["biobank_c"].assign(event=0)}
    with pytest.raises(IGSError, match="biobank_c: the analysis table has no events"):
        C.run(local_ask(no_events, MIN_CELL), COLUMNS, grid=[40, 90], horizon=10.0)

    # a site whose table lacks a feature, and a site sending a different feature set
    lacking = dict(tables) | {"biobank_b": tables["biobank_b"].drop(columns="PC1")}
    with pytest.raises(IGSError, match="biobank_b: the analysis table lacks PC1"):
        C.fit(local_ask(lacking, MIN_CELL), COLUMNS)
    summaries = {s: summary(t, COLUMNS, MIN_CELL, s) for s, t in tables.items()}
    summaries["biobank_b"] = summary(tables["biobank_b"], ["sex_male", "bmi", "prs"], MIN_CELL)
    with pytest.raises(IGSError, match=r"biobank_b: mismatched feature set across nodes \(extra: none, missing: \['PC1'\]\)"):  # fmt: skip
        C.pooled_scaling(summaries, COLUMNS)

    # bad follow-up, an unknown request, a grid of one age, Newton stopped too early
    backwards = dict(tables) | {"biobank_a": tables["biobank_a"].assign(stop=40.0)}
    with pytest.raises(IGSError, match="biobank_a: start must be below stop for everyone in the analysis table"):  # fmt: skip
        C.fit(local_ask(backwards, MIN_CELL), COLUMNS)
    with pytest.raises(IGSError, match="biobank_a: unknown federated request 'rows'"):
        local_ask(tables, MIN_CELL)("rows", {})
    with pytest.raises(IGSError, match=r"federated.grid needs at least two increasing ages; got \[40\]"):  # fmt: skip
        C.run(local_ask(tables, MIN_CELL), COLUMNS, grid=[40], horizon=10.0)
    with pytest.raises(IGSError, match="the federated Cox model did not converge"):
        C.fit(local_ask(tables, MIN_CELL), COLUMNS, max_iter=1)

    # a node that never answers: its run stays "active" until the central timeout; a node
    # whose run failed
    class Silent(MockAlgorithmClient):
        status = "active"

        class Run(MockAlgorithmClient.Run):
            def from_task(self, task_id):  # type: ignore[no-untyped-def]
                late = task_id > 2
                return [{"status": self.parent.status}] if late else super().from_task(task_id)

        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            super().__init__(*a, **kw)
            self.run = self.Run(self)

    from igs.federated.algorithm import FederationTimeout, vantage6_ask

    client = Silent(datasets=[[{"database": t}] for t in tables.values()],
                    module="igs.federated.algorithm")  # fmt: skip
    out = tmp_path / "out"
    ask = vantage6_ask(client, {s: i for i, s in enumerate(tables)}, MIN_CELL, 0.2, 0.05)
    with pytest.raises(FederationTimeout, match=r"biobank_c: no answer to 'summary' within federated.timeout_s = 0\.2 s"):  # fmt: skip
        C.write(C.run(ask, COLUMNS, grid=[40, 90], horizon=10.0), out)
    assert not out.exists()
    client.status = "crashed"
    with pytest.raises(IGSError, match="biobank_a: the node's 'summary' run ended with status 'crashed'; no model was written"):  # fmt: skip
        C.write(C.run(ask, COLUMNS, grid=[40, 90], horizon=10.0), out)
    assert not out.exists()


def test_release_refuses_small_counts_ids_and_exact_ages(tables):
    from igs.federated.node import release

    t = tables["biobank_a"]
    with pytest.raises(DisclosureError, match="message count n_events = 3 is below min_cell = 5"):
        release({"n_events": [12, 3]}, t, MIN_CELL)
    few_censored = t.assign(event=(np.arange(len(t)) >= 3).astype(int), competing=0)
    with pytest.raises(DisclosureError, match="the message would imply 3 censored people, below min_cell = 5"):  # fmt: skip
        summary(few_censored, COLUMNS, MIN_CELL)
    with pytest.raises(DisclosureError, match="the message would disclose person_id"):
        release({"note": t["IID"].iloc[0]}, t, MIN_CELL)
    with pytest.raises(DisclosureError, match="the message would disclose exact_age"):
        release({"age": float(t["stop"].iloc[0]) + 1e-9}, t, MIN_CELL)


def _coarsened(t: pd.DataFrame, grid: list[float]) -> pd.DataFrame:
    """The rows with entry and exit ages moved up to the next grid point (an entrant joins the
    risk set just after that point: lifelines counts an entrant at risk at its entry time); people
    who enter and leave within one interval drop out, as in the grouped counts."""
    g = np.asarray(grid)
    up = lambda a: g[np.searchsorted(g, a.to_numpy(), "left")]  # noqa: E731
    out = t.assign(entry=up(t["start"]) + 1e-9, exit=up(t["stop"]))
    return out[out["exit"] > out["entry"]]


def test_grid_curves_equal_lifelines_product_limit_on_grid_coarsened_rows(tables):
    """Kaplan-Meier (delayed entry) and Aalen-Johansen from the nodes' counts equal lifelines'
    KaplanMeierFitter and AalenJohansenFitter on the concatenated rows coarsened to the agreed
    grid, pooled and per site."""
    from lifelines import AalenJohansenFitter, KaplanMeierFitter

    grid = [40.0, 50.0, 55.0, 60.0, 65.0, 70.0, 80.0, 90.0]
    ask = local_ask(tables, MIN_CELL)
    grid = C.agreed_edges(ask("grid_edges", {"grid": grid}))
    assert len(grid) >= 5  # old ages with few people merged
    cur = C.curves(ask("curve_counts", {"edges": grid})).set_index(["site", "age"])
    for site, rows in [*tables.items(), ("all", pd.concat(tables.values(), ignore_index=True))]:
        t = _coarsened(rows, grid)
        km = KaplanMeierFitter().fit(t["exit"], t["event"], entry=t["entry"])
        got = cur.loc[site]
        expected = km.survival_function_at_times(grid[1:]).fillna(1.0)  # nan: before anyone entered
        np.testing.assert_allclose(got.loc[grid[1:], "survival"], expected, atol=1e-12)
        # Aalen-Johansen: lifelines jitters tied event types; its own formula on exact ties is
        # the cumulative sum of S_all(t-) d(t) / r(t) over its event table
        cause = np.where(t["event"] == 1, 1, np.where(t["competing"] == 1, 2, 0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            aj = AalenJohansenFitter(jitter_level=1e-7, seed=1, calculate_variance=False).fit(
                t["exit"], cause, event_of_interest=1, entry=t["entry"]
            )
        cif = aj.cumulative_density_.iloc[:, 0]
        at = [cif[cif.index <= a + 1e-3].iloc[-1] for a in grid[1:]]
        np.testing.assert_allclose(got.loc[grid[1:], "cumulative_incidence"], at, atol=1e-9)
    assert cur["cumulative_incidence"].between(0, 1).all()


def test_grid_is_merged_until_no_small_count():
    t = pd.DataFrame({"start": [40.0] * 30, "stop": [41.0] * 2 + [55.0] * 28,
                      "event": [1] * 2 + [1] * 8 + [0] * 20, "competing": 0})  # fmt: skip
    edges = C.agreed_edges(
        local_ask({"x": t}, MIN_CELL)("grid_edges", {"grid": [40.0, 45.0, 50.0, 60.0]})
    )
    assert edges == [40.0, 60.0]  # 2 events in [40, 45), then in [40, 50): merged to 10
    counts = curve_counts(t, edges, MIN_CELL)
    assert all(v == 0 or v >= MIN_CELL for v in counts["n_events"])


def test_pooled_evaluation_equals_per_site_harrell_pairs(tables, tmp_path):
    from igs.models.metrics import harrell_c

    ask, sent = _recording_ask(tables)
    res = C.run(ask, COLUMNS, grid=list(range(40, 91, 5)), horizon=10.0)
    scaling = res.fit.scaling
    conc = res.concordance.set_index("site")
    num = den = 0.0
    for s, t in tables.items():
        lp = Standardisation.transform(scaling, t) @ np.array(res.fit.coef)
        c = harrell_c(t["stop"] - t["start"], t["event"].astype(bool), lp)
        assert conc.loc[s, "harrell_c"] == pytest.approx(c, abs=1e-12)
        num += c * conc.loc[s, "pairs"]
        den += conc.loc[s, "pairs"]
    assert conc.loc["all", "harrell_c"] == pytest.approx(num / den, abs=1e-12)
    # expected events sum to observed ones over the whole follow-up (Breslow, each site): here
    # within the horizon they are close; the calibration bins hold no small count
    cal = res.calibration
    assert (cal["n"] >= MIN_CELL).all() and (cal["observed"] >= MIN_CELL).all()
    assert 0.8 < cal["observed"].sum() / cal["expected"].sum() < 1.25
    # the meta-analysis of the per-site models lies close to the federated estimate
    comp = res.comparison.set_index("feature")
    assert np.all(np.abs(comp["federated"] - comp["meta_fixed"]) < 2 * comp["federated_se"])
    paths = C.write(res, tmp_path / "fed")
    assert paths[0].name == "model.json" and all(p.is_file() for p in paths)
    _assert_discloses_nothing(sent, tables, tmp_path)


def test_cli_central_over_mock_vantage6_writes_the_model(tables, tmp_path):
    from click.testing import CliRunner

    from igs.cli import cli
    from tests.conftest import REPO

    args = ["federated", "central", "--config", str(REPO / "config" / "config.yaml"),
            "--columns", ",".join(COLUMNS), "--out-dir", str(tmp_path / "fed")]  # fmt: skip
    for s, t in tables.items():
        t.to_csv(tmp_path / f"{s}.csv", index=False)
        args += ["--table", f"{s}={tmp_path / f'{s}.csv'}"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with pytest.raises(IGSError, match=r"--table 'biobank_a\.csv': expected SITE=PATH"):
        CliRunner().invoke(cli, [*args, "--table", "biobank_a.csv"], catch_exceptions=False)
    model = json.loads((tmp_path / "fed" / "model.json").read_text())
    all_rows = pd.concat([t.assign(biobank=s) for s, t in tables.items()], ignore_index=True)
    np.testing.assert_allclose(model["coef_per_sd"], _stratified_newton(all_rows), atol=1e-8)
    assert model["sites"]["biobank_a"]["n_people"] == SITES["biobank_a"][0]
    curves = pd.read_csv(tmp_path / "fed" / "curves.tsv", sep="\t")
    assert set(curves["site"]) == {*SITES, "all"} and curves["survival"].between(0, 1).all()


def test_central_without_the_federated_extra_says_how_to_install_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from igs.cli import cli
    from igs.errors import ConfigError
    from tests.conftest import REPO

    monkeypatch.setitem(sys.modules, "vantage6.algorithm.tools.mock_client", None)  # not installed
    args = ["federated", "central", "--config", str(REPO / "config" / "config.yaml"),
            "--table", f"a={tmp_path / 'a.csv'}", "--out-dir", str(tmp_path / "fed")]  # fmt: skip
    with pytest.raises(
        ConfigError,
        match=r"igs federated central needs the Vantage6 algorithm tools \(the igs\[federated\] extra\)",
    ):
        CliRunner().invoke(cli, args, catch_exceptions=False)
    assert not (tmp_path / "fed").exists()


def test_a_feature_constant_at_every_site_is_left_out(tables, caplog):
    """A one-sex endpoint has sex constant everywhere: the federated model leaves it out (no
    information, a singular Hessian) and equals the model fitted without it."""
    const = {s: t.assign(sex_male=1.0) for s, t in tables.items()}
    fit = C.fit(local_ask(const, MIN_CELL), COLUMNS)
    assert list(fit.columns) == COLUMNS[1:]
    assert "constant feature(s) sex_male left out" in caplog.text
    np.testing.assert_allclose(fit.coef, C.fit(local_ask(tables, MIN_CELL), COLUMNS[1:]).coef)


def test_federated_td_auc_equals_scikit_survival_on_coarsened_rows(tables, tmp_path):
    """td-AUC of the pooled model from binned, weighted case and control counts equals
    scikit-survival's cumulative_dynamic_auc on the rows with follow-up moved up to the agreed
    follow-up grid and risks replaced by their agreed bin: per site (its own censoring weights)
    and pooled (cases and controls of every site compared, pooled weights)."""
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    from igs.federated import node

    ask, sent = _recording_ask(tables)
    f = C.fit(ask, COLUMNS)
    horizon = 8.0
    auc = C.td_auc(ask, f.scaling, list(f.coef), horizon).set_index("site")
    followup = np.asarray(
        C.agreed_edges(ask("followup_edges", {"grid": list(np.arange(0.0, 8.5))}))
    )
    model = {"scaling": asdict(f.scaling), "beta": list(f.coef), "horizon": horizon}
    risk = np.asarray(C.agreed_edges(ask("risk_edges", model | {"grid": C.RISK_GRID})))
    assert len(risk) > 10 and len(followup) > 3

    def coarse(t: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cloglog, *_ = node._risk_groups(t, f.scaling, list(f.coef), horizon)
        fu = (t["stop"] - t["start"]).to_numpy()
        inside = fu <= horizon
        fu[inside] = followup[np.searchsorted(followup, fu[inside], "left")]
        b = np.clip(np.searchsorted(risk, cloglog, "right") - 1, 0, len(risk) - 2)
        return fu, t["event"].to_numpy(bool), b.astype(float)

    parts = {s: coarse(t) for s, t in tables.items()}
    parts["all"] = tuple(np.concatenate(x) for x in zip(*parts.values(), strict=True))
    for site, (fu, ev, b) in parts.items():
        y = Surv.from_arrays(ev, fu)
        expected, _ = cumulative_dynamic_auc(y, y, b, [horizon])
        assert auc.loc[site, "td_auc"] == pytest.approx(expected[0], abs=1e-12)
        assert auc.loc[site, "cases"] == int((ev & (fu <= horizon)).sum())
    assert 0.6 < auc.loc["all", "td_auc"] < 0.9
    _assert_discloses_nothing(sent, tables, tmp_path)


def _node_inputs(folder, n: int, seed: int, events: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    """The five stage outputs `igs federated node` joins, for one simulated site."""
    from tests.conftest import survival_inputs

    folder.mkdir(parents=True)
    endpoint, covariates, scores, pcs = survival_inputs(n=n, seed=seed)
    endpoint["stop"] = endpoint["stop"] + np.random.default_rng(seed).uniform(0, 15, n)
    if not events:
        endpoint["event"] = False
    scores = scores.assign(pgs_id="IGS_SIM_CAD")
    endpoint.to_parquet(folder / "CAD.parquet")
    covariates.to_parquet(folder / "covariates.parquet")
    covariates[["IID"]].to_parquet(folder / "omics.parquet")
    scores.to_csv(folder / "scores.tsv.gz", sep="\t", index=False)
    pcs.to_csv(folder / "pcs.tsv", sep="\t", index=False)
    return ["--endpoint-table", str(folder / "CAD.parquet"), "--covariates", str(folder / "covariates.parquet"),
            "--omics", str(folder / "omics.parquet"), "--scores", str(folder / "scores.tsv.gz"),
            "--pcs", str(folder / "pcs.tsv")]  # fmt: skip


def test_node_and_central_commands_end_to_end_and_the_report_section(tmp_path):
    """`igs federated node` at three sites (tables from the stage outputs, a summary message that
    passes the disclosure check), `igs federated central` over them, the report's comparison of
    the federated model with the meta-analysis; a site without events writes nothing."""
    from click.testing import CliRunner

    from igs import paths
    from igs.cli import cli
    from igs.report.html import federated_section
    from tests.conftest import REPO

    config = ["--config", str(REPO / "config" / "config.yaml")]
    tables = []
    for i, site in enumerate(("a", "b", "c")):
        files = _node_inputs(tmp_path / site, 600 + 100 * i, seed=10 + i)
        out = tmp_path / f"{site}.csv"
        args = ["federated", "node", *config, "--endpoint", "CAD", *files, "--site", site, "--out", str(out)]  # fmt: skip
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        message = json.loads(result.output)
        table = pd.read_csv(out)
        assert message["n_people"] == len(table) == 600 + 100 * i
        assert message["n_events"] == int(table["event"].sum()) >= MIN_CELL
        assert not any(str(x) in result.output for x in table["IID"])
        tables += ["--table", f"{site}={out}"]
    fed = Path(paths.federated(tmp_path / "results", "CAD"))
    result = CliRunner().invoke(cli, ["federated", "central", *config, *tables, "--out-dir", str(fed)], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pd.concat([pd.read_csv(tmp_path / f"{s}.csv").assign(biobank=s) for s in "abc"], ignore_index=True)  # fmt: skip
    model = json.loads((fed / "model.json").read_text())
    z = rows[model["columns"]].to_numpy(float)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    strata = [np.flatnonzero(rows["biobank"].to_numpy() == s) for s in "abc"]
    beta = np.zeros(z.shape[1])
    for _ in range(30):
        parts = [penalised_loglik(z[i], rows["start"].to_numpy()[i], rows["stop"].to_numpy()[i],
                                  rows["event"].to_numpy()[i], beta) for i in strata]  # fmt: skip
        beta = beta + np.linalg.solve(-sum(p[2] for p in parts), sum(p[1] for p in parts))
    np.testing.assert_allclose(model["coef_per_sd"], beta, atol=1e-8)
    # the report: the federated C and td-AUC beside the meta-analysed C of the same model set
    meta = Path(paths.meta(tmp_path / "results", "pooled.tsv"))
    meta.parent.mkdir(parents=True)
    pd.DataFrame({"endpoint": ["CAD"], "quantity": ["harrell_c:clinical_prs/cox"], "k": [3],
                  "fixed": [0.6123], "random": [0.6101], "i2": [0.0]}).to_csv(meta, sep="\t", index=False)  # fmt: skip
    section = federated_section(tmp_path / "results", ["CAD", "T2D"], "clinical_prs")
    c_all = pd.read_csv(fed / "concordance.tsv", sep="\t").set_index("site").loc["all", "harrell_c"]
    auc_all = pd.read_csv(fed / "td_auc.tsv", sep="\t").set_index("site").loc["all", "td_auc"]
    assert f"{c_all:.3f}" in section and f"{auc_all:.3f}" in section and "0.612" in section
    assert "T2D" not in section  # no federated model for it
    # a site without events: an error naming it, and no table written
    files = _node_inputs(tmp_path / "d", 400, seed=20, events=False)
    out = tmp_path / "d.csv"
    with pytest.raises(IGSError, match="d: the analysis table has no events"):
        CliRunner().invoke(cli, ["federated", "node", *config, "--endpoint", "CAD", *files, "--site", "d", "--out", str(out)], catch_exceptions=False)  # fmt: skip
    assert not out.exists()
