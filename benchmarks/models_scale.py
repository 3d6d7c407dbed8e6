"""Models stage at biobank scale: igs's concordance, Cox fit and endpoint evaluation against
lifelines and scikit-survival on the same synthetic survival tables.

Synthetic age-scale survival (Gompertz hazard, delayed entry, censoring, a competing death) with
p features in the clinical / prs (+ PCs) / omics groups. At each n it times igs's `harrell_c`,
`uno_c` and one Cox fit (`cox_fit`, Efron ties, delayed entry), and lifelines'
`concordance_index`, `CoxPHFitter(entry_col=...)` and scikit-survival's
`concordance_index_censored` / `concordance_index_ipcw` up to their own size limits (they are
quadratic or slow: ``--peer-max-n``), checking that the values agree. One full
`evaluate_endpoint` (all model sets, bootstrap CIs, k-fold CV) runs in a child process up to
``--evaluate-sizes``, with its peak memory. Prints igs/peer ratios, the growth exponent of each
igs step, and an extrapolated evaluation time at the largest requested n; writes
``benchmarks/results/models_scale.tsv`` and a log-log plot of it, ``models_scale.png``.

    python -m benchmarks.models_scale --sizes 10000,50000,200000 --repeats 2
    python -m benchmarks.models_scale --sizes 10000 --evaluate-sizes 10000 --bootstrap 20

Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from igs.models import EvaluationSettings, SurvivalData

RESULTS = Path(__file__).parent / "results" / "models_scale.tsv"


def synthetic(n: int, p: int, seed: int = 1) -> SurvivalData:
    """Age-scale Gompertz survival with delayed entry, ~10% events, p features: 4 clinical, the
    score and 10 PCs, the rest omics (ages rounded to days, so event times tie)."""
    rng = np.random.default_rng(seed)
    n_omics = max(p - 15, 1)
    clinical = ["sex_male", "bmi", "sbp", "smoker"]
    pcs = [f"PC{i}" for i in range(1, 11)]
    omics = [f"omics{i}" for i in range(1, n_omics + 1)]
    x = pd.DataFrame(rng.normal(size=(n, 15 + n_omics)), columns=[*clinical, "prs", *pcs, *omics])
    x["sex_male"] = (x["sex_male"] > 0).astype(float)
    x["smoker"] = (x["smoker"] > 0.5).astype(float)
    eta = 0.5 * x["prs"] + 0.5 * x["sex_male"] + 0.2 * x["bmi"] + 0.3 * x["omics1"]
    entry = rng.uniform(40, 70, n)
    lam, gam = 1.5e-3, 0.08
    h_entry = lam / gam * (np.exp(gam * (entry - 40)) - 1)
    onset = 40 + np.log1p((h_entry - np.log(rng.random(n)) / np.exp(eta)) * gam / lam) / gam
    death = entry + rng.exponential(25, n)
    end = entry + rng.uniform(5, 20, n)
    stop = np.round(np.minimum.reduce([onset, death, end, np.full(n, 85.0)]) * 365) / 365
    stop = np.maximum(stop, entry + 1 / 365)
    groups = {"clinical": clinical, "prs": ["prs", *pcs], "omics": omics}
    return SurvivalData("SYN", np.arange(n).astype(str), entry, stop, (onset <= stop).to_numpy(),
                        ((death <= stop) & (onset > stop)).to_numpy(), x, groups)  # fmt: skip


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU time of ``repeats`` calls, and the value."""
    walls, cpus, value = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        value = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return float(np.median(walls)), float(np.median(cpus)), value


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_mb(fn) -> float:
    """Peak memory that ``fn`` allocates (tracemalloc; numpy arrays included)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def step_functions(data: SurvivalData) -> dict[str, dict[str, object]]:
    """For each step: igs's call and the peers' calls on the same data (same value expected)."""
    from lifelines import CoxPHFitter
    from lifelines.utils import concordance_index
    from sksurv.metrics import concordance_index_censored, concordance_index_ipcw
    from sksurv.util import Surv

    from igs.models import metrics as M
    from igs.models.coxsolver import cox_fit

    t, e = data.followup, data.event
    risk = data.features["prs"].to_numpy() + 0.5 * data.features["sex_male"].to_numpy()
    half = len(t) // 2  # Uno: censoring weights from the first half, C on the second
    tau = min(10.0, float(t[half:][e[half:]].max()) - 1e-9, float(t[:half].max()) - 1e-9)
    columns = data.columns("clinical_prs_omics")
    x = data.features[columns].to_numpy()
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    df = pd.DataFrame(z, columns=columns).assign(start=data.start, stop=data.stop, event=e)

    def lifelines_cox():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(
                df, "stop", "event", entry_col="start", fit_options={"precision": 1e-9}
            )
        return fit.params_[columns].to_numpy()

    return {
        "harrell_c": {
            "igs": lambda: M.harrell_c(t, e, risk),
            "lifelines": lambda: concordance_index(t, -risk, e),
            "sksurv": lambda: concordance_index_censored(e, t, risk)[0],
        },
        "uno_c": {
            "igs": lambda: M.uno_c(t[:half], e[:half], t[half:], e[half:], risk[half:], tau),
            "sksurv": lambda: concordance_index_ipcw(
                Surv.from_arrays(e[:half], t[:half]),
                Surv.from_arrays(e[half:], t[half:]),
                risk[half:],
                tau,
            )[0],
        },
        "cox_fit": {
            "igs": lambda: cox_fit(z, data.start, data.stop, e),
            "lifelines": lifelines_cox,
        },
    }


def _evaluate_child(n: int, p: int, settings: EvaluationSettings, threads: int, queue) -> None:
    from threadpoolctl import threadpool_limits

    from igs.models import evaluate_endpoint

    data = synthetic(n, p)
    with warnings.catch_warnings(), threadpool_limits(threads):
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        evaluate_endpoint(data, settings)
        wall = time.perf_counter() - start
    queue.put((wall, _peak_rss_mb()))


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluate_once(
    n: int, p: int, settings: EvaluationSettings, threads: int
) -> tuple[float, float, float]:
    """Wall time, CPU time (data simulation included) and peak RSS of one ``evaluate_endpoint``
    in a fresh process."""
    cpu = _children_cpu_s()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_evaluate_child, args=(n, p, settings, threads, queue))
    child.start()
    child.join()  # the result is two floats: the queue cannot fill up
    if child.exitcode != 0:
        raise SystemExit(f"evaluate_endpoint at n={n} failed (exit code {child.exitcode})")
    wall, rss = queue.get(timeout=60)
    return wall, _children_cpu_s() - cpu, rss


def parse_sizes(text: str) -> list[int]:
    return [int(float(v)) for v in text.split(",") if v]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[10_000, 50_000, 200_000, 500_000])
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--peer-max-n",
        default="lifelines.harrell_c=500000,sksurv.harrell_c=50000,sksurv.uno_c=50000,"
        "lifelines.cox_fit=10000",
        help="Largest n at which each peer (tool.step) is timed.",
    )
    parser.add_argument("--evaluate-sizes", type=parse_sizes, default=[10_000, 20_000, 50_000])
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads for every tool (1: small matrix products spin on a loaded machine).",
    )
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--target-n", type=int, default=500_000, help="Extrapolate to this n.")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="Table to update: rows of the same n, p, step and tool are replaced.",
    )
    return parser.parse_args()


def main() -> None:
    from threadpoolctl import threadpool_limits

    args = arguments()
    with threadpool_limits(args.blas_threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    limits = {k: int(float(v)) for k, v in (kv.split("=") for kv in args.peer_max_n.split(","))}
    settings = EvaluationSettings(n_bootstrap=args.bootstrap, n_folds=args.folds)
    for n in args.sizes:
        data = synthetic(n, args.features)
        for step, tools in step_functions(data).items():
            values = {}
            for tool, fn in tools.items():
                if tool != "igs" and n > limits.get(f"{tool}.{step}", 0):
                    continue
                wall, cpu, values[tool] = timed(fn, args.repeats)
                mem = peak_mb(fn) if tool == "igs" else np.nan
                save(args, {"n": n, "p": args.features, "step": step, "tool": tool,
                            "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                            "peak_mb": round(mem, 1)})  # fmt: skip
                print(f"n={n} {step} {tool}: {wall:.3f} s (CPU {cpu:.3f} s)", flush=True)
            for tool, value in values.items():
                np.testing.assert_allclose(
                    value, values["igs"], atol=1e-5, err_msg=f"{step} {tool}"
                )
    for n in args.evaluate_sizes:
        wall, cpu, rss = evaluate_once(n, args.features, settings, args.blas_threads)
        save(args, {"n": n, "p": args.features, "step": "evaluate_endpoint", "tool": "igs",
                    "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_mb": round(rss, 1)})  # fmt: skip
        print(f"n={n} evaluate_endpoint igs: {wall:.1f} s (CPU {cpu:.1f} s), peak RSS {rss:.0f} MB")
    table = pd.read_csv(args.out, sep="\t")
    report(table[table["p"] == args.features], args.target_n)
    plot(table[table["p"] == args.features], args.out.with_suffix(".png"))


def save(args: argparse.Namespace, row: dict) -> None:
    """Add one measurement to the table at once (an interrupted run keeps what it measured);
    a row of the same n, p, step and tool is replaced."""
    table = pd.DataFrame([row])
    if args.out.is_file():
        key = ["n", "p", "step", "tool"]
        old = pd.read_csv(args.out, sep="\t")
        old = old[~old.set_index(key).index.isin(table.set_index(key).index)]
        table = pd.concat([old, table], ignore_index=True).sort_values(key, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False)


def report(table: pd.DataFrame, target_n: int) -> None:
    """igs/peer ratios at each n, growth exponents and the extrapolation to ``target_n``."""
    wide = table.pivot_table(index=["step", "n"], columns="tool", values="wall_s")
    for peer in (c for c in wide.columns if c != "igs"):
        wide[f"{peer}/igs"] = wide[peer] / wide["igs"]
    print(wide.round(3).to_string())
    for step, part in table[table["tool"] == "igs"].groupby("step"):
        # CPU time too: on a loaded machine it is what a quiet one's single-core wall time is
        for clock in ("wall_s", "cpu_s"):
            timed_part = part.dropna(subset=[clock])
            if timed_part["n"].nunique() >= 2:
                print(f"{step} ({clock[:-2]}): {growth(timed_part, clock, target_n)}")


def growth(part: pd.DataFrame, clock: str, target_n: int) -> str:
    """The growth exponent of ``clock`` over all sizes and over the two largest, and the
    extrapolations to ``target_n`` (as a sentence)."""
    slope, icept = np.polyfit(np.log(part["n"]), np.log(part[clock]), 1)
    # the two largest sizes: the fixed costs of small n weigh least there
    last = part.sort_values("n").tail(2)
    t, n = last[clock].to_numpy(), last["n"].to_numpy()
    end = np.log(t[1] / t[0]) / np.log(n[1] / n[0])
    return (
        f"time ~ n^{slope:.2f} over all sizes (n^{end:.2f} over the two largest); at "
        f"n={target_n}: {np.exp(icept) * target_n**slope:.1f} s "
        f"({t[1] * (target_n / n[1]) ** end:.1f} s from the two largest)"
    )


def plot(table: pd.DataFrame, path: Path) -> None:
    """Log-log wall time against n: each step by tool (igs solid, peers dashed), and the whole
    endpoint evaluation with its peak memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (steps, whole) = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = {"harrell_c": "C0", "uno_c": "C1", "cox_fit": "C2"}
    for (step, tool), part in table[table["step"] != "evaluate_endpoint"].groupby(["step", "tool"]):
        part = part.sort_values("n")
        marker = {"igs": "o", "lifelines": "s", "sksurv": "^"}.get(tool, "x")
        steps.plot(part["n"], part["wall_s"], marker=marker, color=colours.get(step, "C7"),
                   linestyle="-" if tool == "igs" else "--", label=f"{step} ({tool})")  # fmt: skip
    steps.set_title("One call, wall (igs solid; lifelines squares, sksurv triangles)")
    evaluations = table[table["step"] == "evaluate_endpoint"].sort_values("n")
    for k, (tool, evaluation) in enumerate(evaluations.groupby("tool")):
        # igs as it is; other tools: earlier igs commits measured in the same run
        style = {"linestyle": "-" if tool == "igs" else "--", "color": f"C{k}"}
        whole.plot(evaluation["n"], evaluation["wall_s"] / 60, marker="o",
                   label=f"{tool} wall (min)", **style)  # fmt: skip
        if evaluation["cpu_s"].notna().any():
            whole.plot(evaluation["n"], evaluation["cpu_s"] / 60, marker="s", alpha=0.6,
                       label=f"{tool} CPU (min)", **style)  # fmt: skip
        if tool == "igs":
            whole.plot(evaluation["n"], evaluation["peak_mb"] / 1024, marker="^",
                       linestyle=":", color=f"C{k}", label=f"{tool} peak RSS (GB)")  # fmt: skip
    whole.axhline(20, color="grey", linewidth=0.8)  # the goal: 20 min (and 4 GB) at 500,000
    whole.set_title("One endpoint evaluated (all models, CIs, CV)")
    for ax, ylabel in ((steps, "wall time (s)"), (whole, "minutes / GB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("people (n), p = 30")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
