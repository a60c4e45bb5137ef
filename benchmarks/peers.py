"""Time to test-RMSE milestones: `prec`'s shipped configs vs two peer libraries, on the same data.

Peers, as installed from PyPI (``pip install -e ".[peers]"``, then ``pip install --no-deps
multistage==0.4b0`` — multistage 0.4b0 declares ``jax<=0.8.2`` while prec pins jax 0.10.2, so pip
cannot resolve it with prec; it imports and runs on jax 0.10.2):

- **multistage** 0.4b0 (multistage neural networks, JAX/equinox): ``multistage_train`` with
  ``optimizer=optax.lbfgs`` (zoom line search, no learning rate), ``steps=20000`` L-BFGS steps per
  stage, a ``Stage1`` MLP of width 20 and depth 3 on the box ``[lb, ub]`` of the task, later stages
  the library's ``Stage2`` (sine features at the estimated frequency κ, width 20, depth 4, scaled by
  the estimated residual size ε), loss normalised per stage (library default) — the recipe of the
  library's own example, ``tests/test_burgers.py`` (runs 1–2), which its docstrings point to, with
  ``n_stages=4`` instead of 2 so that the recipe can fill the budget. The loss is the mean squared
  error on the training points; adaptive (collocation) resampling, which is for PDE residuals, is
  off. Between stages the library estimates ε and κ from the residual on a regular mesh of the box
  (``stats``; 1024 points per axis for d ≤ 2, ``n^d ≤ 2^20`` for d = 6) with operator order 0 (the
  "equation" of a regression is f − y = 0); on a regression that residual needs the target's values
  on the mesh, so the script hands the true target function to that statistic only — more than the
  other tools see, but it sets only two numbers per stage. Checkpointing is off; the model files it
  writes go to a scratch folder.
- **pykan** 0.2.8 (KANs, torch): ``torch.set_default_dtype(torch.float64)`` (its ``hellokan``
  notebook), ``KAN(width=W, grid=3, k=3, seed=1)``, then grid extension ``model.refine(G)`` over
  G = 3, 5, 10, 20, 50, 100, 200, 500, 1000 (the KAN paper's schedule; the docs' Example 1 uses
  3…100), each grid fitted by ``model.fit(dataset, opt="LBFGS", steps=50,
  stop_grid_update_step=30)`` (the docs' Example 8, "KANs' scaling laws"; pykan's LBFGS, history
  10, strong-Wolfe line search, up to 20 iterations per step, full batch, no regularisation).
  Widths: ``[1, 1]`` (one spline) for the 1-D teacher, ``[2, 2, 1]`` for x·y and ``[2, 1, 1]`` for
  exp(sin(πx) + y²) (the KAN paper's shapes for them), ``[6, 6, 1]`` for I.11.19 (three products,
  each two squares). Auto-saving is off. A grid whose B-spline tensors would need more than half of
  the available memory (estimated as 12 × n_train × Σ fan-in × (G + k) × 8 bytes: pykan evaluates
  every basis function at every training point) is not started; the run then ends there.
- **prec**: the task's config run in-process as ``prec run`` runs it (``run_experiment``; nothing
  written to the store, and without the persistent compilation cache ``prec run`` turns on, so its
  compilation is cold like the others'); its curve's test RMSE is of the whole ensemble.

Tasks. ``--chains tuned`` (default) takes the hand-tuned configs; ``--chains auto`` the same tasks'
configs in configs/precision/auto/ (``train: auto``: the chain sized from d, D and N); the data
follow the config:

- ``teacher``: configs/precision/teacher_student_best.yaml (auto: auto/teacher_student.yaml) —
  teacher 1-3-3-1 tanh (seed 0) on [−1, 1], 100k training / 10k test points, as all tasks;
- ``xy``: configs/precision/xy.yaml — x·y (Feynman Z.008) on the registry's box [1, 5]²
  (auto: auto/xy.yaml, x·y on [−1, 1]²);
- ``expsin``: configs/precision/auto/exp_sin.yaml (both modes; the only config of it) —
  exp(sin(πx) + y²) on [−1, 1]², the KAN paper's example;
- ``I.11.19``: configs/precision/I.11.19.yaml (auto: auto/I.11.19_modular.yaml) —
  x1·y1 + x2·y2 + x3·y3 on [1, 5]⁶, prec's modular net.

The training and test sets are drawn once per task by ``precision_jax.runs.training.run_data`` with the
config's seed — the function and key ``prec run`` itself uses — and written raw (unstandardized) to
``<data-dir>/<task>.npz``; the peers load that file; prec redraws the same arrays from the same key,
standardizing inputs where its config says so.

Timing: wall time from the start of each tool's fit (prec: the call to ``run_experiment``, which
also draws its data; peers: building the first model), **compilation included** for every tool
(the user's wait: XLA for prec and multistage; torch has none), imports and data export excluded.
Test RMSE is on the 10k test points. prec's comes from its own curve (every ``output.log_every``
steps, computed inside its loop, on the clock) and its final model. The peers' is evaluated off the
clock: multistage's at its callback, every 100 L-BFGS steps (its internal ``_train`` has
``callback_every=1000``, which ``multistage_train`` does not expose; the script sets it to 100, which
changes only how often it reports) and at each stage's end; pykan's after every ``fit`` step (a
"metric" callback), and at the start. A milestone's time is that of the first recorded point at or
below it, so it is an upper bound within one recording interval. Every tool, prec included, is
stopped once it has run ``--budget`` seconds: prec and multistage at their next record, pykan at
its next forward pass. "> T" (T: the seconds it ran) means the budget ran out first (the ratio is
then a lower bound); "—" that the run ended (recipe or config done) without reaching it. Ratios
are peer / prec: times per milestone, and final test RMSEs. Tools run one after the other in this
one process (importing torch next to jax changes neither XLA's threads nor its results). Threads:
the process is pinned to ``--cpus`` CPUs (default: all usable; XLA sizes its pool from the
affinity), ``torch.set_num_threads(cpus)``, and ``OPENBLAS/OMP/MKL_NUM_THREADS`` default to the
same number; the settings, host, CPU, commit and versions go into the JSON (``--out``), with every
curve. The peers' logs and scratch files go to a temporary folder, named in the first line.

Run:  python benchmarks/peers.py [--budget 600] [--tasks teacher,xy,expsin,I.11.19]
                                 [--tools prec,multistage,pykan] [--chains tuned|auto] [--cpus N]
                                 [--data-dir DIR] [--out benchmarks/results/peers.json]
      python benchmarks/peers.py --markdown benchmarks/results/peers.json   (the docs table of a run)

The docs' peers table is generated from ``benchmarks/results/peers.json`` (this function's ``markdown``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MILESTONES = (1e-6, 1e-8, 1e-10, 1e-12)
TOOLS = ("prec", "multistage", "pykan")

# multistage: tests/test_burgers.py runs 1-2 (L-BFGS, 20k steps per stage, Stage1 width 20 depth 3).
MS_STEPS, MS_STAGES, MS_WIDTH, MS_DEPTH = 20_000, 4, 20, 3
MS_STAGE2_WIDTH, MS_STAGE2_DEPTH = 20, 4  # multistage_train's defaults for the later stages
MS_PRINT_EVERY = 1000
MS_CALLBACK_EVERY = 100  # its internal _train calls the callback every 1,000 steps; finer here, for the record
# pykan: the KAN paper's grid-extension schedule; 50 LBFGS steps per grid, grid updates until step 30 (docs Example 8).
KAN_GRIDS = (3, 5, 10, 20, 50, 100, 200, 500, 1000)
KAN_STEPS, KAN_STOP_GRID_UPDATE, KAN_K, KAN_SEED = 50, 30, 3, 1
KAN_MEMORY_FACTOR = 12  # bytes of a fit step ≈ 12 × n × Σ fan-in × (G + k) × 8, measured on pykan 0.2.8


@dataclass(frozen=True)
class Task:
    name: str
    config: str  # relative to ROOT: the hand-tuned chain (--chains tuned)
    auto_config: str  # the same task with train: auto (--chains auto)
    kan_width: tuple[int, ...]


TASKS = {t.name: t for t in (
    Task("teacher", "configs/precision/teacher_student_best.yaml", "configs/precision/auto/teacher_student.yaml",
         (1, 1)),
    Task("xy", "configs/precision/xy.yaml", "configs/precision/auto/xy.yaml", (2, 2, 1)),
    Task("expsin", "configs/precision/auto/exp_sin.yaml", "configs/precision/auto/exp_sin.yaml", (2, 1, 1)),
    Task("I.11.19", "configs/precision/I.11.19.yaml", "configs/precision/auto/I.11.19_modular.yaml", (6, 6, 1)),
)}
CHAINS = ("tuned", "auto")


class OutOfBudget(Exception):
    """Raised from a tool's callback once its budget is spent."""


class Clock:
    """Wall time of one tool's fit; evaluation for the record is paused out."""

    def __init__(self):
        self.start, self.paused, self.pausing = time.perf_counter(), 0.0, False

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def over(self, budget: float) -> bool:
        return not self.pausing and self.now() > budget

    @contextlib.contextmanager
    def pause(self):
        t0, self.pausing = time.perf_counter(), True
        try:
            yield
        finally:
            self.paused += time.perf_counter() - t0
            self.pausing = False


@dataclass
class Outcome:
    """One tool on one task: the (seconds, test RMSE) curve and how the run ended."""

    status: str = "ok"  # ok | budget | skipped: ... | error: ...
    curve: list = field(default_factory=list)
    wall: float = float("nan")
    final: float = float("nan")
    notes: list = field(default_factory=list)

    def record(self, seconds: float, rmse: float) -> None:
        self.curve.append((float(seconds), float(rmse)))

    @property
    def best(self) -> float:
        finite = [r for _, r in self.curve if r == r]
        return min(finite) if finite else float("nan")

    def first_times(self) -> dict:
        out = {}
        for m in MILESTONES:
            hits = [t for t, r in self.curve if r <= m]
            if hits:
                out[m] = min(hits)
        return out


# --------------------------------------------------------------------------- threads, before any numerics import


def pin_threads(cpus: int | None) -> dict:
    """Pin the process to ``cpus`` CPUs, default the BLAS/OpenMP pools to as many threads; returns what is in force."""
    usable = sorted(os.sched_getaffinity(0))
    n = len(usable) if cpus is None else max(1, min(int(cpus), len(usable)))
    os.sched_setaffinity(0, set(usable[:n]))
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(n))
    return {"cpus": n, "affinity": sorted(os.sched_getaffinity(0))}


# --------------------------------------------------------------------------- data


def task_config(task: Task):
    from precision_jax.experiment import load_config

    return load_config(os.path.join(ROOT, task.config))


def export_data(task: Task, data_dir: str) -> dict:
    """Draw the task's training and test sets as ``prec run`` does (raw inputs) and write them to ``<task>.npz``."""
    import numpy as np

    from precision_jax.numerics.random_keys import run_keys
    from precision_jax.runs.plan import cached_model, resolve_target
    from precision_jax.runs.training import run_data

    cfg = task_config(task)
    target = resolve_target(cfg)
    model = cached_model(cfg.model, target.d, tuple(target.variables))
    data = run_data(cfg, target, model.n_params, run_keys(cfg.seed, getattr(cfg.model, "init_seed", None)),
                    standardize=False)
    path = os.path.join(data_dir, f"{task.name}.npz")
    arrays = {k: np.asarray(getattr(data, k), np.float64) for k in ("x_train", "y_train", "x_test", "y_test")}
    np.savez(path, **arrays, lows=np.asarray(target.lows), highs=np.asarray(target.highs))
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    box = " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(target.lows, target.highs))
    return {"file": path, "sha256": digest, "config": task.config, "target": target.name, "box_text": box,
            "d": target.d, "box": [list(target.lows), list(target.highs)], "n_train": data.n_train,
            "n_test": data.n_test, "prec_standardizes_inputs": cfg.data.standardize}


def load_data(path: str) -> dict:
    import numpy as np

    with np.load(path) as f:
        return {k: np.array(f[k]) for k in f.files}


def rmse(prediction, y) -> float:
    import numpy as np

    e = np.asarray(prediction, np.float64).reshape(-1) - np.asarray(y, np.float64).reshape(-1)
    return float(np.sqrt(np.mean(e * e)))


# --------------------------------------------------------------------------- tools


def run_prec(task: Task, budget: float, data: dict, workdir: str) -> Outcome:
    import dataclasses

    from precision_jax.runs.training import run_experiment

    cfg = task_config(task)
    if PREC_LOG_EVERY is not None:  # finer curve records: milestone times to within a few steps
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, log_every=PREC_LOG_EVERY))
    out = Outcome()
    start = time.perf_counter()

    def on_log(point):
        out.record(time.perf_counter() - start, point.test_rmse)
        if time.perf_counter() - start > budget:
            raise OutOfBudget

    try:
        result = run_experiment(cfg, on_log=on_log)
    except OutOfBudget:
        out.status, out.wall = "budget", time.perf_counter() - start
        out.final = out.curve[-1][1] if out.curve else float("nan")
        return out
    out.wall = time.perf_counter() - start
    out.final = float(result.summary.metrics["test_rmse"])
    out.record(out.wall, out.final)
    return out


def run_multistage(task: Task, budget: float, data: dict, workdir: str) -> Outcome:
    import functools

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import multistage._multistage as ms_module
    import optax
    from multistage import Stage1, multistage_train

    from precision_jax.runs.plan import resolve_target

    target_fn = resolve_target(task_config(task)).fn  # for the between-stage statistic only (see the docstring)
    x, y = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    x_test, y_test = jnp.asarray(data["x_test"]), data["y_test"]
    d = int(x.shape[1])
    xs, xs_test = tuple(x[:, i] for i in range(d)), tuple(x_test[:, i] for i in range(d))
    mesh = 1024 if d <= 2 else int((2 ** 20) ** (1.0 / d) + 1e-9)

    def loss(model, *args):  # multistage passes (*x, y, *x_collocation); the collocation points are None here
        return jnp.mean((jax.vmap(model)(*args[:d]) - args[d]) ** 2)

    def residual(model, *points):  # (prediction, residual of the "equation" f − y = 0)
        u = jax.vmap(model)(*points)
        return u, u - target_fn(jnp.stack(points, axis=1))

    predict = eqx.filter_jit(lambda model: jax.vmap(model)(*xs_test))
    out = Outcome()
    out.notes.append(f"stats mesh {mesh}^{d} points, operator order 0")
    clock = Clock()  # restarted right before the first model is built

    def on_state(net, stage, name, step=None):
        with clock.pause():
            out.record(clock.now(), rmse(predict(net), y_test))
        if clock.over(budget):
            raise OutOfBudget

    log = os.path.join(workdir, f"{task.name}_multistage.log")
    here, train = os.getcwd(), ms_module._train
    os.chdir(workdir)  # it writes models/ (and would resume from checkpoints/) under the working directory
    # multistage_train does not pass callback_every (default 1,000 steps) to _train: only how often it reports.
    ms_module._train = functools.partial(train, callback_every=MS_CALLBACK_EVERY)
    try:
        with open(log, "w") as f, contextlib.redirect_stdout(f):
            clock = Clock()
            net = Stage1(jnp.asarray(data["lows"]), jnp.asarray(data["highs"]), in_size=d, out_size=1,
                         width_size=MS_WIDTH, depth=MS_DEPTH, key=jax.random.PRNGKey(0))
            multistage_train(net, residual, residual, loss, loss, xs, y, optimizer=optax.lbfgs, steps=MS_STEPS,
                             adaptive_sample_freq=0, n_stages=MS_STAGES, width_size=MS_STAGE2_WIDTH,
                             depth=MS_STAGE2_DEPTH, num_samples_for_epsilon=(mesh,), order=(0,),
                             print_every=MS_PRINT_EVERY, key=jax.random.PRNGKey(0), name=task.name,
                             checkpoint_every=0, benchmark_state=on_state)
        out.wall = clock.now()
    except OutOfBudget:
        out.status, out.wall = "budget", clock.now()
    finally:
        os.chdir(here)
        ms_module._train = train
    out.final = out.curve[-1][1] if out.curve else float("nan")
    return out


def run_pykan(task: Task, budget: float, data: dict, workdir: str) -> Outcome:
    import torch
    from kan import KAN

    from precision_jax.engine.memory import available_bytes

    torch.set_default_dtype(torch.float64)
    dataset = {"train_input": torch.from_numpy(data["x_train"]),
               "train_label": torch.from_numpy(data["y_train"])[:, None],
               "test_input": torch.from_numpy(data["x_test"]),
               "test_label": torch.from_numpy(data["y_test"])[:, None]}
    n_train = int(data["x_train"].shape[0])
    width = list(task.kan_width)
    fan_in = sum(width[:-1])
    out = Outcome()
    state = {}

    def probe():  # pykan calls its metrics after every step: record the test RMSE off the clock
        model = state["model"]
        with clock.pause(), torch.no_grad():
            cache = model.cache_data  # refine() initialises the next grid from the last forward's inputs: keep them
            out.record(clock.now(), rmse(model.forward(dataset["test_input"]).numpy(), data["y_test"]))
            model.cache_data = cache
        if clock.over(budget):
            raise OutOfBudget
        return torch.zeros(())  # pykan keeps metrics[i]().item() per step

    def watch(model):
        """Stop at the budget inside a step too (one step is up to 20 L-BFGS iterations): check at every forward."""
        forward = model.forward

        def checked(*args, **kwargs):
            if clock.over(budget):
                raise OutOfBudget
            return forward(*args, **kwargs)

        model.forward = checked
        state["model"] = model
        return model

    log = os.path.join(workdir, f"{task.name}_pykan.log")
    ckpt = os.path.join(workdir, f"{task.name}_kan_model")
    clock = Clock()  # restarted right before the first model is built
    try:
        with open(log, "w") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
            clock = Clock()
            for i, grid in enumerate(KAN_GRIDS):
                if i == 0:
                    model = watch(KAN(width=width, grid=grid, k=KAN_K, seed=KAN_SEED, auto_save=False,
                                      ckpt_path=ckpt))
                    probe()  # the initial model, as the other tools' first records
                else:
                    need = KAN_MEMORY_FACTOR * n_train * fan_in * (grid + KAN_K) * 8
                    if need > available_bytes() / 2:
                        out.notes.append(f"grid {grid} not started: ~{need / 2**30:.0f} GiB of B-spline tensors "
                                         f"for {n_train} points, over half the available memory")
                        break
                    model = watch(model.refine(grid))
                    model.auto_save = False
                model.fit(dataset, opt="LBFGS", steps=KAN_STEPS, stop_grid_update_step=KAN_STOP_GRID_UPDATE,
                          metrics=[probe])
                out.notes.append(f"grid {grid} done at {clock.now():.1f} s")
        out.wall = clock.now()
    except OutOfBudget:
        out.status, out.wall = "budget", clock.now()
        out.notes.append(f"budget spent at grid {state['model'].grid}")
    out.final = out.curve[-1][1] if out.curve else float("nan")
    return out


PREC_LOG_EVERY: int | None = None  # --prec-log-every
RUNNERS = {"prec": run_prec, "multistage": run_multistage, "pykan": run_pykan}


def peer_available(tool: str) -> str | None:
    """None if the tool can run here, else a one-line reason."""
    if tool == "prec":
        return None
    modules = {"multistage": ("multistage", "equinox", "optax"), "pykan": ("torch", "kan")}[tool]
    for module in modules:
        try:
            __import__(module)
        except Exception as e:  # noqa: BLE001 -- any import failure means: skip the tool
            return f"{module} is not usable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    return None


# --------------------------------------------------------------------------- report


def plain(value):
    """``value`` with NaN and infinities as None, so the JSON is standard."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("prec", "jax", "jaxlib", "numpy", "scipy", "optax", "equinox", "optimistix", "lineax",
                 "multistage", "torch", "pykan"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cell_time(outcome: Outcome, m: float) -> str:
    """Seconds to milestone ``m``; "> T" (T: the seconds it ran) when its budget ran out first, "—" when it ended."""
    t = outcome.first_times().get(m)
    if t is not None:
        return f"{t:.1f}"
    return f"> {outcome.wall:.0f}" if outcome.status == "budget" else "—"


def ratios(peer: Outcome, prec: Outcome) -> dict:
    """Peer / prec, per milestone (time) and of the final RMSE; "> r" where it is a lower bound, None if undefined."""
    pt, qt = prec.first_times(), peer.first_times()
    times = {}
    for m in MILESTONES:
        if m not in pt:
            times[f"{m:g}"] = None
        elif m in qt:
            times[f"{m:g}"] = qt[m] / pt[m]
        elif peer.status == "budget":
            times[f"{m:g}"] = f"> {peer.wall / pt[m]:.3g}"
        else:
            times[f"{m:g}"] = None
    r = peer.final / prec.final if prec.final > 0 and peer.final == peer.final else None
    return {"time": times, "rmse": r}


def fmt_ratio(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return f" ({value}x)"
    return f" ({value:.3g}x)"


def table(results: dict) -> str:
    head = ["task", "tool", "final RMSE", "best RMSE"] + [f"t<={m:g} (s)" for m in MILESTONES] + ["wall (s)", "end"]
    rows = []
    for task, by_tool in results.items():
        prec = by_tool.get("prec")
        for tool, o in by_tool.items():
            if o.status.startswith(("skipped", "error")):  # the reason is printed above and in the JSON
                rows.append([task, tool, "skipped" if o.status.startswith("skipped") else o.status]
                            + [""] * (len(head) - 3))
                continue
            rt = ratios(o, prec) if tool != "prec" and prec is not None and prec.curve else None
            final = f"{o.final:.3g}" + (fmt_ratio(rt["rmse"]) if rt else "")
            cells = [cell_time(o, m) + (fmt_ratio(rt["time"][f"{m:g}"]) if rt else "") for m in MILESTONES]
            rows.append([task, tool, final, f"{o.best:.3g}"] + cells + [f"{o.wall:.1f}", o.status])
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def times(ratio: float) -> str:
    """A ratio as "125×" or, from 1,000 up, "1.2e5×"."""
    if ratio < 1000:
        return f"{ratio:.3g}×"
    mantissa, exponent = f"{ratio:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}×"


def markdown(report: dict) -> str:
    """The "Against the peers" table of docs/benchmarks.md from a report this script wrote: final test RMSE and time to
    each milestone, the peers' with their ratio to prec's; the fastest time at each milestone in bold."""
    head = ["task", "tool", "final test RMSE (peer / prec)"] + [f"time to {m:g}" for m in MILESTONES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    configs = report["recipes"]["prec"]["configs"]
    for task, by_tool in report["results"].items():
        reached = [t for o in by_tool.values() for t in [o["time_to"]] if t]
        fastest = {m: min((t[m] for t in reached if t.get(m) is not None), default=None) for m in
                   (f"{m:g}" for m in MILESTONES)}
        for i, (tool, o) in enumerate(by_tool.items()):
            if o["final_test_rmse"] is None:
                lines.append(f"| {task if i == 0 else ''} | {tool} | {o['status']} |" + " |" * len(MILESTONES))
                continue
            r = report["ratios_vs_prec"].get(task, {}).get(tool)
            name = f"prec (`{os.path.splitext(os.path.relpath(configs[task], 'configs/precision'))[0]}`)" \
                if tool == "prec" else tool
            final = f"{o['final_test_rmse']:.3g}" + (f" ({times(r['rmse'])})" if r and r["rmse"] else "")
            cells = []
            for m in (f"{m:g}" for m in MILESTONES):
                t = o["time_to"].get(m)
                ratio = r["time"].get(m) if r else None
                if t is None:
                    cell = f"> {o['wall_s']:.0f} s" if o["status"] == "budget" else "—"
                    cell += f" ({ratio}×)" if isinstance(ratio, str) else ""
                else:
                    cell = f"{t:.1f} s" + (f" ({ratio:.3g}×)" if isinstance(ratio, float) else "")
                    cell = f"**{cell}**" if t == fastest[m] else cell
                cells.append(cell)
            lines.append(f"| {task if i == 0 else ''} | {name} | {final} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--markdown":  # print the docs table of an earlier run's JSON
        with open(sys.argv[2]) as f:
            print(markdown(json.load(f)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per tool and task (default 600)")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {', '.join(TASKS)}")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {', '.join(TOOLS)}")
    parser.add_argument("--chains", choices=CHAINS, default="tuned",
                        help="prec's configs: the hand-tuned ones (default) or configs/precision/auto/ (train: auto)")
    parser.add_argument("--prec-log-every", type=int, default=None,
                        help="record prec's curve every N steps instead of its config's output.log_every (the "
                             "milestone resolution; the steps themselves are the same)")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs to pin the process to (default: all usable)")
    parser.add_argument("--data-dir", default=None, help="where the shared .npz data sets go (default: a new "
                                                         "temporary folder, which also holds the peers' logs)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "peers.json"),
                        help="JSON file for the results (default benchmarks/results/peers.json, which the docs "
                             "table is generated from)")
    args = parser.parse_args()
    global PREC_LOG_EVERY
    PREC_LOG_EVERY = args.prec_log_every
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for name, known, what in ((tasks, TASKS, "task"), (tools, TOOLS, "tool")):
        unknown = [n for n in name if n not in known]
        if unknown:
            parser.error(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")

    threads = pin_threads(args.cpus)  # before numpy, jax and torch start their pools
    started = time.time()
    import jax

    jax.config.update("jax_enable_x64", True)
    from precision_jax.runs import provenance

    workdir = tempfile.mkdtemp(prefix="prec-peers-")
    data_dir = args.data_dir or workdir
    os.makedirs(data_dir, exist_ok=True)
    print(f"budget {args.budget:g} s per tool and task; {threads['cpus']} CPUs {threads['affinity']}; "
          f"backend {jax.default_backend()}; data in {data_dir}; logs in {workdir}", flush=True)

    missing = {}  # tool -> why it cannot run here
    for tool in tools:
        reason = peer_available(tool)
        if reason is not None:
            missing[tool] = reason
            print(f"{tool}: skipped — {reason}", flush=True)
    if "pykan" in tools and "pykan" not in missing:
        import torch

        torch.set_num_threads(threads["cpus"])
        threads.update(torch_threads=torch.get_num_threads(), torch_interop_threads=torch.get_num_interop_threads())
    threads["env"] = provenance.thread_settings()

    results: dict = {}
    data_info = {}
    for name in tasks:
        task = TASKS[name]
        if args.chains == "auto":
            task = dataclasses.replace(task, config=task.auto_config)
        info = data_info[name] = export_data(task, data_dir)
        data = load_data(info["file"])
        print(f"\n{name}: {info['target']} on {info['box_text']}, prec chain {task.config}; {info['n_train']} "
              f"training / {info['n_test']} test points -> {info['file']}", flush=True)
        results[name] = {}
        for tool in tools:
            if tool in missing:
                results[name][tool] = Outcome(status=f"skipped: {missing[tool]}")
                continue
            try:
                o = RUNNERS[tool](task, args.budget, data, workdir)
            except Exception as e:  # noqa: BLE001 -- one tool failing must not lose the others' numbers
                o = Outcome(status=f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            results[name][tool] = o
            if o.curve:
                print(f"  {tool}: final test RMSE {o.final:.3e} (best {o.best:.3e}) in {o.wall:.1f} s "
                      f"[{o.status}]{'; ' + '; '.join(o.notes) if o.notes else ''}", flush=True)
            else:
                print(f"  {tool}: {o.status}", flush=True)

    print()
    print(table(results))
    print("\nTimes in seconds from the start of each fit, compilation included; (Nx): peer / prec. "
          "'> T': the budget ran out first, after T s; '—': the run ended without reaching it.")

    report = {
        "benchmark": "benchmarks/peers.py", "budget_s": args.budget, "chains": args.chains,
        "milestones": list(MILESTONES),
        "timing": "wall seconds from the start of each tool's fit, compilation included, test evaluation of the "
                  "peers off the clock; tools run one after the other in one process",
        "threads": threads, "provenance": provenance.collect(started), "versions": versions(),
        "recipes": {
            "prec": {"how": "run_experiment, as prec run (without its persistent compilation cache)",
                     "log_every_override": args.prec_log_every,
                     "configs": {t: data_info[t]["config"] for t in data_info}},
            "multistage": {"optimizer": "optax.lbfgs", "steps_per_stage": MS_STEPS, "n_stages": MS_STAGES,
                           "stage1": {"width_size": MS_WIDTH, "depth": MS_DEPTH},
                           "later_stages": {"width_size": MS_STAGE2_WIDTH, "depth": MS_STAGE2_DEPTH},
                           "order": 0, "adaptive_sample_freq": 0, "normalize_loss": True},
            "pykan": {"grids": list(KAN_GRIDS), "steps_per_grid": KAN_STEPS, "k": KAN_K, "seed": KAN_SEED,
                      "stop_grid_update_step": KAN_STOP_GRID_UPDATE, "opt": "LBFGS", "dtype": "float64",
                      "widths": {t: list(TASKS[t].kan_width) for t in tasks}},
        },
        "data": data_info, "workdir": workdir,
        "results": {task: {tool: {"status": o.status, "final_test_rmse": o.final, "best_test_rmse": o.best,
                                  "wall_s": o.wall,
                                  "time_to": {f"{m:g}": o.first_times().get(m) for m in MILESTONES},
                                  "notes": o.notes, "curve": o.curve}
                           for tool, o in by_tool.items()} for task, by_tool in results.items()},
        "ratios_vs_prec": {task: {tool: ratios(o, by_tool["prec"])
                                  for tool, o in by_tool.items()
                                  if tool != "prec" and o.curve and "prec" in by_tool and by_tool["prec"].curve}
                           for task, by_tool in results.items()},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(plain(report), f, indent=1, default=float)
    print(f"written {args.out}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
