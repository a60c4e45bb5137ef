"""``prec hessian RUN_DIR``: exact Hessian spectrum of a saved run's training MSE at its parameters."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.app import app
from cli.common import clean_errors, console, fail


@app.command("hessian")
@clean_errors
def hessian(
    run_dir: Path = typer.Argument(..., help="A complete run directory (holding params.npz)."),
    tau: float = typer.Option(1e-15, "--tau", help="Count eigenvalues with |λ| < tau as low-curvature."),
    stage: int = typer.Option(0, "--stage", help="Boosting stage whose model to analyse (0: the main model)."),
) -> None:
    """Write hessian.npz (eigenvalues most positive first, eigenvectors, |g·v_i|) and hessian.json to RUN_DIR.

    Example: prec hessian results/teacher_student/7ce13e839837
    """
    import jax.numpy as jnp
    import numpy as np

    from precision_jax.config import ConfigError, build_config, read_yaml
    from precision_jax.hessian import DENSE_LIMIT, hessian_spectrum, spectrum_summary
    from precision_jax.training import BoostContext, resolve_target, seeded_data

    if not (run_dir / "params.npz").is_file():
        fail(f"{run_dir}: no params.npz (not a complete run of a trainable model)")
    cfg = build_config(read_yaml(run_dir / "config.yaml"), source=str(run_dir / "config.yaml"))
    target = resolve_target(cfg)
    context = BoostContext(cfg.model, target.d, tuple(target.variables))
    main = context.build()
    data = seeded_data(cfg, target, main.n_params)[0]
    x, y = data.x_train, data.y_train
    model, theta = main, jnp.asarray(np.load(run_dir / "params.npz")["theta"])
    if stage > 0:
        boost_file = run_dir / "boost.npz"
        arrays = np.load(boost_file) if boost_file.is_file() else None
        if arrays is None or f"theta_{stage}" not in arrays:
            fail(f"{run_dir}: no boosting stage {stage}")
        coefficients = arrays["coefficients"]
        models = [main] + [context.build(cfg.train[-1].model) for _ in coefficients[1:]]
        prediction = sum(coefficients[k] * models[k].apply(jnp.asarray(arrays[f"theta_{k}"]), x)
                         for k in range(stage))
        y = (y - prediction) / coefficients[stage]  # the scaled residual this stage was fitted to
        model, theta = models[stage], jnp.asarray(arrays[f"theta_{stage}"])
    if model.n_params > DENSE_LIMIT:
        raise ConfigError(f"N = {model.n_params} is beyond the dense Hessian limit N ≤ {DENSE_LIMIT}", "model")
    spectrum = hessian_spectrum(model.apply, theta, x, y)
    summary = {**spectrum_summary(spectrum, tau), "stage": stage, "run_dir": str(run_dir)}
    np.savez(run_dir / "hessian.npz", eigenvalues=spectrum.eigenvalues, eigenvectors=spectrum.eigenvectors,
             gradient=spectrum.gradient, projections=spectrum.projections)
    (run_dir / "hessian.json").write_text(json.dumps(summary, indent=2))
    console.print(f"N={summary['n_params']}  λ ∈ [{summary['lambda_min']:.3e}, {summary['lambda_max']:.3e}]  "
                  f"{summary['n_negative']} negative, {summary['n_below_tau']} with |λ| < {tau:g}  "
                  f"→ {run_dir / 'hessian.npz'}")
