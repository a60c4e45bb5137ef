"""What a figure costs before it runs: a linear wall-time model of seed groups, fitted to a store's recorded times.

A seed group of S seeds (trained one after another in one jitted program, :mod:`precision_jax.engine.driver`)
with stages k = 1…K, stage k of kind κ_k running s_k iterations, each of work w_k = ``iteration_work(N, p_k)``
parameter·point units (:meth:`~precision_jax.engine.stages.base.StageConfig.work`), takes

    T_group = c_group + K·c_stage + Σ_k S·s_k·(c_step + c_unit[κ_k]·w_k) + c_eval·S·N·(n_test + D)·Σ_k ⌈s_k/ℓ⌉

seconds, with ℓ = ``output.log_every`` (every ℓ iterations the driver scores the seeds on the training and
test sets). An interpolant run on D points in d dimensions takes

    T_interp = c_interp + c_interp_cell·D·5^d·[simplex, d ≥ 2] + c_interp_point·(D + n_test)

(D·5^d: the Delaunay triangulation's cost, its cells per point growing steeply with d, fitted to Figs. 2, 4 and
6's simplex runs in d = 2…6; splines and Chebyshev series on grids, and simplices in 1-D, have none). A figure
adds c_figure for drawing and judging. Before a run, s_k is the stage's iteration limit times u, the median
share of its limit that stage kind used in the calibration store (1 for a kind never seen: the limit is a
ceiling; Adam always runs its limit). Where the runs of one name (a figure's run set, e.g. ``figA1-rescale``)
used a share of a kind's limit 1.5× or more away from the kind's median, that name's median u[κ@name] prices
them instead: a BFGS that stops on its line search at a quarter of its limit every time is priced as such.

Every term is linear in the constants, so :func:`calibrate` fits them to a store by non-negative least squares
on relative error above ``FLOOR`` seconds (each run's row divided by max(its recorded time, FLOOR): a 100 s run
weighs as much as a 2 h one, and a 0.2 s fit does not steer the constants that price hours), one row per run
(its share 1/S of the group: ``wall_seconds`` = group time / S). :func:`estimate_seconds` is a pure function
of the plan and the constants; :data:`DEFAULT` holds constants fitted here, on the machine it names.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from precision_jax.config.engine import ConfigError

COST_FILE = "cost_model.json"  # in the store's root, written by `prec reproduce --list --calibrate STORE`
WRITTEN_BY = "prec reproduce --calibrate"
FLOOR = 10.0  # seconds: below it, a run's error counts in seconds, not relative to its time
SHARE_APART = 1.5  # a run name's share of a kind's limit is kept when this far from the kind's median


@dataclass(frozen=True)
class CostModel:
    """The constants of the module docstring's model, in seconds per unit of each feature."""

    seconds: dict  # feature → seconds per unit: group, stage, step, eval, interp*, and unit:<kind> per stage kind
    used: dict = field(default_factory=dict)  # kind, or kind@run name → share of its iteration limit it runs (≤ 1)
    figure: float = 0.0  # drawing and judging one figure
    machine: str = ""  # where the constants were measured
    runs: int = 0  # runs they were fitted to

    def to_json(self) -> dict:
        return {"written_by": WRITTEN_BY, "machine": self.machine, "runs": self.runs, "figure": self.figure,
                "seconds": dict(sorted(self.seconds.items())), "used": dict(sorted(self.used.items()))}

    @classmethod
    def from_json(cls, data: Any, source: str = "") -> "CostModel":
        if not isinstance(data, dict) or not isinstance(data.get("seconds"), dict):
            raise ConfigError("not a cost model (expected a mapping with `seconds`)", "", source)
        for key, value in (*data["seconds"].items(), *data.get("used", {}).items()):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"expected a number ≥ 0, got {value!r}", str(key), source)
        return cls({str(k): float(v) for k, v in data["seconds"].items()},
                   {str(k): min(float(v), 1.0) for k, v in data.get("used", {}).items()},
                   float(data.get("figure", 0.0)), str(data.get("machine", "")), int(data.get("runs", 0)))

    def share(self, kind: str, name: str = "") -> float:
        """The share of its iteration limit a stage of ``kind`` in a run named ``name`` is expected to run."""
        if kind == "adam":
            return 1.0
        return self.used.get(f"{kind}@{name}", self.used.get(kind, 1.0))

    def rate(self, feature: str) -> float:
        """Seconds per unit of ``feature``. A stage kind never calibrated is priced per work unit as BFGS (every
        kind's ``iteration_work`` already counts its own extra algebra), else as the dearest kind seen."""
        if feature in self.seconds:
            return self.seconds[feature]
        if feature.startswith("unit:"):
            known = [v for k, v in self.seconds.items() if k.startswith("unit:")]
            return self.seconds.get("unit:bfgs", max(known, default=0.0))
        return 0.0


# Fitted by :func:`calibrate` to 847 runs recorded on 2026-12-07 on the 2-core development machine, quiet (one
# job at a time): every figure's reduced profile and Fig. 4's paper profile. The figure constant is the median of
# wall − run time over the reports that ran their runs. Against those figures' measured times the estimates fall
# within 0.58–1.93× (A1 read 2.6× before run names got their own shares: its BFGS stops on its line search at a
# quarter of its limit). The constants they replace, fitted under load 5–8, read 3–20× high on the quiet machine.
DEFAULT = CostModel(
    seconds={"group": 0.38, "stage": 2.25, "step": 6.4e-5, "eval": 0.0, "interp": 0.0, "interp_cell": 6.1e-7,
             "interp_point": 1.06e-6, "unit:adam": 5.05e-10, "unit:bfgs": 9.35e-10, "unit:lcs": 2.29e-10,
             "unit:rescale": 0.0},
    used={"bfgs": 1.0, "lcs": 1.0, "rescale": 0.001, "bfgs@fig8-bfgs_ts": 0.267, "bfgs@figA1-rescale": 0.267,
          "bfgs@figA3-bfgs_II_6_15a": 0.413, "bfgs@figA3-bfgs_I_44_4": 0.374, "bfgs@figA3-bfgs_I_8_14": 0.492,
          "lcs@fig9-chain_I_11_19": 0.0, "lcs@fig9-chain_xy": 0.5},
    figure=10.4,
    machine="2-core x86_64 development machine, quiet (2026-12-07)",
    runs=847,
)


@dataclass(frozen=True)
class StageRun:
    """One stage as a cost model sees it: its kind, iterations and work per iteration per seed."""

    kind: str
    steps: float
    work: float


def group_features(stages: Iterable[StageRun], seeds: int, n_params: int, n_train: int, n_test: int,
                   log_every: int) -> dict:
    """The trained seed group's feature counts (the module docstring's T_group, term by term)."""
    out = {"group": 1.0, "stage": 0.0, "step": 0.0, "eval": 0.0}
    for st in stages:
        out["stage"] += 1.0
        out["step"] += seeds * st.steps
        out[f"unit:{st.kind}"] = out.get(f"unit:{st.kind}", 0.0) + seeds * st.steps * st.work
        out["eval"] += seeds * n_params * (n_test + n_train) * math.ceil(st.steps / log_every)
    return out


def interp_features(kind: str, n_train: int, n_test: int, d: int) -> dict:
    """An interpolant run's feature counts (the module docstring's T_interp)."""
    mesh = kind == "simplex" and d >= 2
    return {"interp": 1.0, "interp_cell": float(n_train) * 5.0 ** d if mesh else 0.0,
            "interp_point": float(n_train + n_test)}


def price(features: dict, model: CostModel) -> float:
    return sum(model.rate(name) * count for name, count in features.items())


def _chains(cfg) -> list:
    return [list(cfg.train)] + ([list(cfg.boost.train)] * cfg.boost.rounds if cfg.boost is not None else [])


def trained_sizes(cfg):
    """A trained run's config with its chain written out (``train: auto`` planned), its parameter count N and its
    training points D, from the shapes alone (no data drawn, no init)."""
    from precision_jax import models
    from precision_jax.runs.plan import resolve_target, resolve_train_points, with_chain

    d = resolve_target(cfg).d
    n = models.parameter_count(cfg.model, d)
    d_train = resolve_train_points(cfg, n, d)
    return with_chain(cfg, d, d_train, n), n, d_train


def seed_group_features(group: list, model: CostModel) -> list[dict]:
    """The feature mapping of one seed group of sweep runs (one per run for an interpolant, which runs alone), at
    the iterations ``model`` expects."""
    from precision_jax import models
    from precision_jax.runs.plan import resolve_target

    cfg = group[0].config
    if models.is_interpolant(cfg.model.kind):
        points = cfg.data.train_points if cfg.data.train_points != "auto" else cfg.data.test_points
        return [interp_features(cfg.model.kind, int(points), cfg.data.test_points, resolve_target(cfg).d)] * len(group)
    cfg, n, d_train = trained_sizes(cfg)
    stages = [StageRun(st.kind, st.iterations() * model.share(st.kind, cfg.name),
                       st.iteration_work(n, st.fitted_points(d_train)))
              for chain in _chains(cfg) for st in chain]
    return [group_features(stages, len(group), n, d_train, cfg.data.test_points, cfg.output.log_every)]


def plan_features(plan, model: CostModel) -> list[dict]:
    """One feature mapping per seed group (or interpolant run) of ``plan``, at the iterations ``model`` expects."""
    from precision_jax.runs import sweep as sw

    return [f for group in sw.group_runs(plan.runs) for f in seed_group_features(group, model)]


def format_duration(seconds: float) -> str:
    """A cost as a person reads it: seconds, minutes, then hours to 2–3 significant digits ("?" if unknown)."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 10 else f"{float(f'{hours:.3g}'):,.0f} h"


def estimate_seconds(plan, model: Optional[CostModel] = None) -> float:
    """The plan's wall time on the model's machine: every run, then drawing and judging; NaN if a target
    cannot be resolved (a missing data file)."""
    model = model or DEFAULT
    try:
        groups = plan_features(plan, model)
    except ConfigError:
        return math.nan
    return model.figure + sum(price(f, model) for f in groups)


def run_rows(root: str | Path) -> tuple[list[dict], list[float], dict]:
    """Each complete run of the store as (features of its 1/S share of its group, its recorded seconds), and the
    shares of their iteration limits that each stage kind used (keyed by kind, and by ``kind@run name``)."""
    from precision_jax import models
    from precision_jax.runs import store

    rows, seconds, used = [], [], {}
    for path in store.iter_runs(root):
        try:
            summary, cfg = store.read_summary(path), store.read_config(path)
        except (ValueError, ConfigError, OSError):
            continue  # not ours to judge here: a run that cannot be read adds nothing to a fit
        if summary.status != "complete" or not summary.wall_seconds > 0:
            continue
        if models.is_interpolant(cfg.model.kind):
            rows.append(interp_features(cfg.model.kind, summary.D, summary.n_test, summary.target.d))
            seconds.append(summary.wall_seconds)
            continue
        if cfg.train == "auto" or not isinstance(cfg.train, (list, tuple)):
            continue  # its chain was planned at run time: the config does not say which stages ran
        chains = _chains(cfg)
        stages = []
        for row in summary.stages:
            r, i = int(row.get("round", 0)), int(row.get("stage", 0))
            if r >= len(chains) or i >= len(chains[r]):
                break
            st = chains[r][i]
            stages.append(StageRun(st.kind, float(row["steps"]),
                                   st.iteration_work(summary.N, st.fitted_points(summary.D))))
            if st.kind != "adam":
                for key in (st.kind, f"{st.kind}@{cfg.name}"):
                    used.setdefault(key, []).append(float(row["steps"]) / st.iterations())
        else:
            seeds = int((summary.batch or {}).get("seeds", 1))
            features = group_features(stages, seeds, summary.N, summary.D, summary.n_test, cfg.output.log_every)
            rows.append({k: v / seeds for k, v in features.items()})
            seconds.append(summary.wall_seconds)
    return rows, seconds, used


def fit(rows: list[dict], seconds: list[float], used: Optional[dict] = None, base: CostModel = DEFAULT,
        figure: Optional[float] = None, machine: str = "") -> CostModel:
    """The constants that best price ``rows`` (least squares relative above ``FLOOR``, constants ≥ 0). A feature
    no row has keeps ``base``'s constant."""
    from scipy.optimize import nnls

    if not rows:
        raise ConfigError("no complete runs to calibrate from", "--calibrate")
    names = sorted({k for r in rows for k, v in r.items() if v > 0})
    t = np.asarray(seconds, dtype=np.float64)
    w = 1.0 / np.maximum(t, FLOOR)
    a = np.array([[r.get(k, 0.0) for k in names] for r in rows], dtype=np.float64) * w[:, None]
    scale = np.maximum(a.max(axis=0), 1e-300)  # columns to O(1), so nnls's tolerance means the same for each
    x, _ = nnls(a / scale, t * w)
    constants = dict(base.seconds)
    constants.update({k: float(v) for k, v in zip(names, x / scale)})
    medians = {k: float(min(np.median(v), 1.0)) for k, v in (used or {}).items() if v}
    shares = dict(base.used)
    shares.update({k: v for k, v in medians.items() if "@" not in k})
    for key, value in medians.items():  # a run name's own share only where it departs from its kind's
        if "@" in key:
            if 1 / SHARE_APART < value / max(shares.get(key.split("@")[0], 1.0), 1e-12) < SHARE_APART:
                shares.pop(key, None)
            else:
                shares[key] = value
    return CostModel(constants, shares, base.figure if figure is None else figure, machine or base.machine,
                     len(rows))


def calibrate(roots: str | Path | Iterable[str | Path], reports: Iterable[dict] = (), machine: str = "") -> CostModel:
    """Constants fitted to the complete runs in the stores ``roots``; the figure constant from ``reports``
    (report.json data) that ran their runs in the same invocation (median of wall − run time), else the
    default's."""
    rows, seconds, used = [], [], {}
    roots = [roots] if isinstance(roots, (str, Path)) else list(roots)
    for root in roots:
        r, s, u = run_rows(root)
        rows, seconds = rows + r, seconds + s
        for kind, shares in u.items():
            used.setdefault(kind, []).extend(shares)
    gaps = [r["wall_seconds"] - r["run_seconds"] for r in reports
            if r.get("wall_seconds", 0) > r.get("run_seconds", math.inf)]
    if not rows:
        raise ConfigError(f"no complete runs in {', '.join(map(str, roots))} to calibrate from", "--calibrate")
    return fit(rows, seconds, used, figure=float(np.median(gaps)) if gaps else None,
               machine=machine or _machine())


def _machine() -> str:
    import os
    import platform

    return f"{platform.node() or 'unknown host'}: {os.cpu_count()} cores, {platform.machine()}, {platform.system()}"


def load(root: str | Path) -> CostModel:
    """The store's calibrated constants (``COST_FILE`` in its root), else :data:`DEFAULT`."""
    path = Path(root) / COST_FILE
    if not path.is_file():
        return DEFAULT
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the cost model: {e}", "", str(path)) from None
    return CostModel.from_json(data, str(path))


def save(root: str | Path, model: CostModel) -> Path:
    """Write ``model`` as the store's ``COST_FILE``; a file of that name prec did not write is refused."""
    from precision_jax.runs import atomic_files

    path = Path(root) / COST_FILE
    if path.exists():
        try:
            ours = json.loads(path.read_text()).get("written_by") == WRITTEN_BY
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise ConfigError("exists and was not written by prec; not replacing it", "", str(path))
    atomic_files.atomic_write_text(path, json.dumps(model.to_json(), indent=1) + "\n")
    return path
