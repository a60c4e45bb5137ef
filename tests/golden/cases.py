"""The golden cases: short runs whose metrics must not change by one bit across refactors.

Each case goes through a public entry point that the refactors keep (`prec run`, `prec sweep`, `pj.fit`),
so the cases stay valid whatever happens inside. ``python -m tests.golden.cases`` records
``tests/golden/metrics.json`` (do that only on purpose: a change there is a change of results).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RECORD = HERE / "metrics.json"

TEACHER = ["target.teacher.widths=[1,3,3,1]", "data.train_points=400", "data.test_points=400"]

# name -> (config path, overrides); each trains in a few seconds on 2 cores.
RUN_CASES: dict[str, tuple[str, list[str]]] = {
    "quickstart": ("configs/quickstart.yaml", []),
    "mlp_relu_adam_lcs": ("configs/quickstart.yaml", ["model.activation=relu", "model.width=8",
                                                      "train=[{kind: adam, lr: 0.003, steps: 300},"
                                                      " {kind: heavy_ball, steps: 100},"
                                                      " {kind: lcs, steps: 20}]"]),
    "modular": ("configs/modular/I.8.14_modular.yaml", ["train.0.steps=400", "data.test_points=2000",
                                                        "output.log_every=100"]),
    "simplex": ("configs/classical/simplex_I.30.5.yaml", []),
    "spline": ("configs/classical/spline_exp.yaml", []),
    "chebyshev": ("configs/classical/chebyshev_exp.yaml", []),
    "boosted": ("configs/quickstart.yaml", ["model.width=8", "train.0.steps=300", "train.1.maxiter=200",
                                            "boost={rounds: 2, train: [{kind: lm, maxiter: 40}]}"]),
    # Recorded when fixed was the default: written out, the run keeps its id and its numbers.
    "lm_cg": ("configs/quickstart.yaml", ["model.width=8", "train.0.steps=200",
                                          "train.1={kind: lm, maxiter: 30, solver: cg, cg_forcing: fixed}"]),
}

SWEEP = """
name: golden_sweep
base:
  name: golden_sweep
  target: {equation: II.8.31}
  data: {train_points: auto, test_points: 1000, test_compactification: 0.8, standardize: true}
  model: {kind: mlp, depth: 3, width: 6, activation: tanh}
  train:
    - {kind: adam, lr: 1.0e-3, steps: 200}
    - {kind: bfgs, maxiter: 100}
  output: {dir: results, log_every: 100}
grid:
  seed: [0, 1, 2]
"""


def machine() -> dict:
    """What decides the bits of a float64 XLA:CPU program: the CPU model and the library versions."""
    from importlib import metadata

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu or platform.processor(), "machine": platform.machine(),
            **{name: metadata.version(name) for name in ("jax", "jaxlib", "numpy", "scipy")}}


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _metrics(summary: dict) -> dict:
    keep = {k: v for k, v in summary["metrics"].items() if isinstance(v, (int, float))}
    return {"metrics": keep, "N": summary["N"], "D": summary["D"],
            "stages": [[s["kind"], s["steps"], s["stop_reason"]] for s in summary["stages"]]}


def run_all(store: Path) -> dict:
    """Every golden case, run into ``store``; {case: {run_id, metrics, N, D, stages}}."""
    from typer.testing import CliRunner

    from cli.main import app

    runner = CliRunner()
    out: dict = {}
    for case, (config, overrides) in RUN_CASES.items():
        result = runner.invoke(app, ["run", str(REPO / config), *overrides, "--out", str(store / case), "-q"])
        assert result.exit_code == 0, (case, result.output, result.exception)
        run_dir = Path(result.output.strip().splitlines()[-1])
        out[case] = {"run_id": run_dir.name, **_metrics(_summary(run_dir))}
    sweep = store / "golden_sweep.yaml"
    sweep.write_text(SWEEP)
    result = runner.invoke(app, ["sweep", str(sweep), "--out", str(store / "sweep"), "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)
    for summary_path in sorted((store / "sweep").glob("*/*/summary.json")):
        summary = json.loads(summary_path.read_text())
        out[f"sweep_seed{summary['seed']}"] = {"run_id": summary_path.parent.name, **_metrics(summary)}

    import precision_jax as pj

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 2))
    y = np.sin(2 * x[:, 0]) * np.exp(x[:, 1])
    model = pj.fit(x, y, {"train": [{"kind": "adam", "lr": 3e-3, "steps": 200}, {"kind": "bfgs", "maxiter": 200}]},
                   out=store / "fit")
    out["pj_fit"] = {"run_id": model.run_dir.name, **_metrics(_summary(model.run_dir))}
    return out


def shipped_run_ids() -> dict:
    """The run id of every shipped experiment config (sweeps and figure specs are not experiment configs)."""
    from precision_jax.experiment import load_config
    from precision_jax.runs import store

    ids = {}
    for path in sorted((REPO / "configs").rglob("*.yaml")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(("configs/sweeps/", "configs/figures/")):
            continue
        ids[rel] = store.run_id(load_config(path))
    return ids


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record = {"machine": machine(), "runs": run_all(Path(tmp)), "run_ids": shipped_run_ids()}
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}", file=sys.stderr)
