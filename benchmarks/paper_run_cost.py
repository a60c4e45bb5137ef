"""What the paper-size runs of the figures that need a cluster cost, measured rather than only modelled.

``prec reproduce --list`` prices a figure with a linear model fitted to runs recorded at the reduced profile's
sizes (:mod:`precision_jax.analysis.reproduce.cost`). For a figure over ``--over`` hours at the paper profile,
that is an extrapolation to nets and data sets up to 100× larger than any calibration run. This benchmark
measures the same quantity at the paper's sizes. For each run set that carries at least ``--share`` of the
figure's estimated cost, its dearest seed group (by the model) whose activations fit this machine's memory
(:func:`activation_bytes`; the set records what its dearest group needs, a cluster task's ``--mem``) runs at
the paper's N and D with every stage's iteration limit cut to ``s'_k = max(--min-steps, ⌈s_k · f⌉)``, f chosen
so the model expects ``--probe-seconds``, into a temporary store. From the group's learning curve, stage k's
time per iteration is

    t_k = (seconds at its last logged step − seconds at its first) / (last step − first step)

(compilation, before the first logged point, excluded; the probe logs once per shortest cut stage, so one
scoring of the seeds on the training and test sets falls inside a short stage's span), and the group at its
full limits costs

    T_group = T_fixed + Σ_k t_k · s_k · u_k,    T_fixed = T_probe − Σ_k t_k · s'_k,

with u_k the cost model's share of its limit that stage runs (1 for Adam, which always runs its limit):
the one modelled factor, since how far a quasi-Newton stage gets before its line search stops cannot be timed
in a cut run. A stage that stopped before its second logged point is priced by the model. ``measured /
model`` is T_group over the model's price of the same group; the figure's total is each probed run set's
model price times its ratio (the other run sets at the model's price).

    python benchmarks/paper_run_cost.py                       # every figure over 2 h at the paper profile
    python benchmarks/paper_run_cost.py --figures 8 A2 --probe-seconds 20

Writes ``benchmarks/results/paper_run_cost.json``; ``docs/reproduce.md#paper`` renders it.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import record

import precision_jax  # noqa: F401  (float64)
from precision_jax.analysis.reproduce import cost, runner, spec
from precision_jax.config.engine import to_dict
from precision_jax.engine import memory
from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs import sweep as sw

# Where plans point their runs: a plan only names run directories, nothing is written there.
SCRATCH = Path(tempfile.gettempdir()) / "prec-probe-plan"

ITERATION_KEYS = ("steps", "maxiter")  # a stage's iteration limit, by kind (StageConfig.iterations)


def group_seconds(group, model: cost.CostModel) -> float:
    """The cost model's price of one seed group."""
    return sum(cost.price(f, model) for f in cost.seed_group_features(group, model))


def probe_config(cfg, factor: float, min_steps: int, seeds: int, model: cost.CostModel):
    """``cfg`` with its chain written out and every stage's iteration limit cut by ``factor`` (at least
    ``min_steps``); with each written-out stage's kind, full limit and modelled seconds per iteration of the
    group, and the length of the main chain (the boosting rounds' stages follow it)."""
    written, n, d_train = cost.trained_sizes(cfg)
    data = to_dict(written)
    configs = list(written.train) + (list(written.boost.train) if written.boost is not None else [])
    stages = list(data["train"]) + (list(data["boost"]["train"]) if data.get("boost") else [])
    facts, cuts = [], []
    for stage, st in zip(stages, configs):
        key = next(k for k in ITERATION_KEYS if k in stage)
        work = st.iteration_work(n, st.fitted_points(d_train))
        facts.append((stage["kind"], int(stage[key]),
                      seeds * (model.rate("step") + model.rate(f"unit:{st.kind}") * work)))
        stage[key] = min(int(stage[key]), max(min_steps, math.ceil(int(stage[key]) * factor)))
        cuts.append(stage[key])
    # Each logged point scores the seeds on the training and test sets; logging once per shortest stage keeps
    # that out of the per-iteration time as far as a cut run can (a full run logs every log_every iterations).
    data["output"] = {**data.get("output", {}), "log_every": min(cuts)}
    return build_config(data), facts, len(data["train"])


def stage_rates(curve) -> dict[tuple[int, int], float]:
    """Seconds per iteration of each (round, stage) from one seed's learning curve, between its first and last
    logged points (the stage's compilation comes before the first)."""
    spans: dict[tuple[int, int], list] = {}
    for p in curve:
        spans.setdefault((p.round, p.stage), []).append((p.step, p.seconds))
    rates = {}
    for key, points in spans.items():
        (s0, t0), (s1, t1) = min(points), max(points)
        if s1 > s0:
            rates[key] = (t1 - t0) / (s1 - s0)
    return rates


PROBED: dict[tuple, dict] = {}  # run ids of a seed group → its probe: figures that share a run set probe it once


def probe_group(group, model: cost.CostModel, seconds: float, min_steps: int) -> dict:
    """Run one seed group cut to about ``seconds`` of modelled work; its measured and modelled full cost."""
    key = tuple(run.run_id for run in group)
    if key not in PROBED:
        PROBED[key] = _probe(group, model, seconds, min_steps)
    return PROBED[key]


def hidden_units(model_cfg) -> int:
    """Hidden activations per point of an MLP or modular net (0 for other kinds: not checked)."""
    if getattr(model_cfg, "widths", None):
        return sum(model_cfg.widths)
    if getattr(model_cfg, "modules", None):
        return sum(m.width * (m.depth - 1) for m in model_cfg.modules)
    if getattr(model_cfg, "width", None) and getattr(model_cfg, "depth", None):
        return model_cfg.width * (model_cfg.depth - 1)
    return 0


def activation_bytes(cfg) -> int:
    """A full-batch gradient's activations: every hidden unit at every training point, kept for the backward pass
    and about as much again in temporaries (one seed at a time: the driver maps over seeds). The stages' own
    memory estimates count their state, not these, so a net this wide is checked here before it is tried."""
    return 8 * 2 * cost.trained_sizes(cfg)[2] * hidden_units(cfg.model)


def _probe(group, model: cost.CostModel, seconds: float, min_steps: int) -> dict:
    priced = group_seconds(group, model)
    factor = min(1.0, seconds / max(priced - model.rate("group"), 1e-9))
    probes = []
    for run in group:
        probe, facts, main = probe_config(run.config, factor, min_steps, len(group), model)
        probes.append(sw.SweepRun(len(probes), run.values, probe, store.run_id(probe)))
    with tempfile.TemporaryDirectory(prefix="prec-probe-") as root:
        started = time.perf_counter()
        outcomes = sw.run_group(root, probes)
        wall = time.perf_counter() - started
        # A probe measures time, not accuracy: a cut run whose loss rose (a few Adam steps on a wide tanh net) is
        # recorded as diverged but timed its steps all the same.
        failed = sorted({f"{o.state}: {o.reason}" for o in outcomes if o.state not in ("done", "diverged")})
        if failed:
            return {"error": "; ".join(failed)}
        path = store.run_dir(root, probes[0].config)
        summary, rates = store.read_summary(path), stage_rates(store.read_curve(path))
    rows, full, done = [], 0.0, 0.0
    for row in summary.stages:
        r, i = int(row.get("round", 0)), int(row.get("stage", 0))
        kind, limit, modelled = facts[i if r == 0 else main + i]  # every boosting round runs the boost chain
        rate = rates.get((r, i))
        # A stage that stopped before its second logged point (an LCS step finding no low-curvature direction)
        # gives no slope: priced by the model, its probe time (compilation included) counted as fixed.
        timed = rate is not None
        rate = rate if timed else modelled
        share = model.share(kind, group[0].config.name)
        full += rate * limit * share
        done += rate * int(row["steps"]) if timed else 0.0
        rows.append({"round": r, "stage": i, "kind": kind, "probe_steps": int(row["steps"]), "limit": limit,
                     "share_used": share, "seconds_per_iteration": rate, "model_seconds_per_iteration": modelled,
                     "from_slope": timed})
    measured = max(wall - done, 0.0) + full
    return {"seeds": len(group), "diverged": summary.status == "diverged", "N": summary.N, "D": summary.D,
            "n_test": summary.n_test, "factor": factor, "probe_wall_seconds": wall,
            "fixed_seconds": max(wall - done, 0.0), "stages": rows, "measured_group_seconds": measured,
            "model_group_seconds": priced, "measured_over_model": measured / priced}


def figure_cost(figure: str, model: cost.CostModel, seconds: float, share: float, min_steps: int,
                profile: str = "paper") -> dict:
    """The figure's cost at ``profile``: the model's, and the model's scaled per run set by its probe."""
    plan = runner.plan_figure(spec.load_figure(figure), profile, SCRATCH)
    sets = {}
    for name, runs in plan.run_sets.items():
        groups = sw.group_runs(runs)
        priced = [group_seconds(g, model) for g in groups]
        sets[name] = (len(runs), groups, priced)
    total = sum(sum(priced) for _, _, priced in sets.values())
    out, scaled = {}, model.figure
    for name, (count, groups, priced) in sets.items():
        row = {"runs": count, "groups": len(groups), "model_seconds": sum(priced)}
        if groups and total > 0 and sum(priced) >= share * total:
            # The dearest group that fits this machine's memory; a set whose dearest does not fit says what it
            # needs (a cluster task's --mem), and is scaled by the largest group measured here.
            order = sorted(range(len(groups)), key=priced.__getitem__, reverse=True)
            needs = [activation_bytes(groups[i][0].config) for i in order]
            row["dearest_activation_bytes"] = needs[0]
            free = 0.8 * memory.available_bytes()
            fitting = [i for i, bytes_ in zip(order, needs) if bytes_ <= free]
            if fitting:
                chosen, row["probed_dearest"] = groups[fitting[0]], fitting[0] == order[0]
                print(f"{figure}/{name}: probing the dearest group{'' if row['probed_dearest'] else ' that fits'} "
                      f"({len(chosen)} seeds, model {priced[fitting[0]] / 3600:.2f} h)", flush=True)
                row["probe"] = probe_group(chosen, model, seconds, min_steps)
        ratio = row.get("probe", {}).get("measured_over_model")
        row["scaled_seconds"] = row["model_seconds"] * (ratio or 1.0)
        scaled += row["scaled_seconds"]
        out[name] = row
    return {"model_seconds": model.figure + total, "scaled_seconds": scaled, "run_sets": out}


def table(rep: dict) -> str:
    """Markdown: per figure, each probed run set's dearest seed group (measured per iteration, then in full,
    against the model) and the figure's total, the model's and scaled by its probes."""
    lines = ["| fig | run set (its dearest seed group that fits in memory here) | seconds per iteration: "
             "measured / model | seed group: model → measured | figure at the paper profile: model → scaled by the "
             "probes |", "|---|---|---|---|---|"]
    for figure, fig in rep["figures"].items():
        first = True
        for name, row in fig["run_sets"].items():
            probe = row.get("probe")
            if probe is None:
                continue
            total = (f"{cost.format_duration(fig['model_seconds'])} → "
                     f"**{cost.format_duration(fig['scaled_seconds'])}**"
                     f" (≈ {2 * fig['scaled_seconds'] / 3600:,.0f} CPU-hours on 2-core tasks)") if first else ""
            memory_note = ("" if row.get("probed_dearest", True) else
                           f"; the dearest needs ~{row['dearest_activation_bytes'] / 2**30:.0f} GB")
            if "error" in probe:
                lines.append(f"| {figure if first else ''} | {name} | probe failed: {probe['error']} | | {total} |")
            else:
                rates = "; ".join(f"{st['kind']} {st['seconds_per_iteration']:.3g} / "
                                  f"{st['model_seconds_per_iteration']:.3g}" + ("" if st["from_slope"] else " (model)")
                                  for st in probe["stages"] if st["round"] == 0)
                group = (f"{cost.format_duration(probe['model_group_seconds'])} → "
                         f"{cost.format_duration(probe['measured_group_seconds'])} "
                         f"(×{probe['measured_over_model']:.2f})")
                lines.append(f"| {figure if first else ''} | {name} ({probe['seeds']} seeds, N = {probe['N']:,}, "
                             f"D = {probe['D']:,}{memory_note}) | {rates} | {group} | {total} |")
            first = False
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", nargs="*", help="figure ids (default: every figure over --over hours)")
    parser.add_argument("--over", type=float, default=2.0, help="hours at the paper profile that need a cluster")
    parser.add_argument("--probe-seconds", type=float, default=20.0, help="modelled seconds of each cut group")
    parser.add_argument("--share", type=float, default=0.1, help="probe run sets with at least this share")
    parser.add_argument("--min-steps", type=int, default=4, help="iterations of a cut stage at least")
    parser.add_argument("--profile", default="paper", help="the figures' profile (smoke: a quick check of this script)")
    parser.add_argument("--out", type=Path, default=record.RESULTS / "paper_run_cost.json")
    args = parser.parse_args(argv)
    sw.enable_compilation_cache()
    model = cost.DEFAULT
    figures = args.figures or [
        f for f in spec.list_figures()
        if runner.estimate_seconds(runner.plan_figure(spec.load_figure(f), args.profile, SCRATCH), model)
        > args.over * 3600]
    results = {}
    for figure in figures:  # written after each figure, so an interrupted measurement keeps what it measured
        results[figure] = figure_cost(figure, model, args.probe_seconds, args.share, args.min_steps, args.profile)
        r = results[figure]
        print(f"{figure}: model {r['model_seconds'] / 3600:.1f} h, scaled by the probes "
              f"{r['scaled_seconds'] / 3600:.1f} h", flush=True)
        record.write(args.out, {"benchmark": "paper_run_cost", "cost_model": model.machine, "profile": args.profile,
                                "settings": {"probe_seconds": args.probe_seconds, "share": args.share,
                                             "min_steps": args.min_steps}, "figures": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
