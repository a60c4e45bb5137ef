"""``prec hessian RUN_DIR``: exact Hessian spectrum of a saved run's training MSE at its parameters."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.app import app
from cli.common import clean_errors, console, fail


@app.command("hessian")
@clean_errors
def hessian(
    run_dir: Path = typer.Argument(..., help="A complete run directory of a trainable model."),
    tau: float = typer.Option(1e-15, "--tau", help="Count eigenvalues with |λ| < tau as low-curvature."),
    round_: int = typer.Option(0, "--round", "--stage",
                               help="Boosting round whose model to analyse (0: the main model)."),
) -> None:
    """Write hessian.npz (eigenvalues most positive first, eigenvectors, |g·v_i|) and hessian.json to RUN_DIR.

    Round k ≥ 1 is analysed on what it was fitted to: the scaled residual
    (y − Σ_{j<k} c_j f_j) / c_k of the rounds before it.

    Example: prec hessian results/teacher_student/7ce13e839837
    """
    from precision_jax.engine.hessian import DENSE_LIMIT, spectrum_summary
    from precision_jax.experiment import ConfigError
    from precision_jax.runs import atomic_files, store
    from precision_jax.runs.training import run_round_spectrum

    try:
        record = store.read_run(run_dir, extra=False)
    except store.StoreError as e:  # not a run, another format version, a corrupt file: one line naming it
        fail(str(e))
    if not 0 <= round_ < len(record.parts):
        fail(f"{run_dir}: no boosting round {round_} (the run has rounds 0..{len(record.parts) - 1})")
    model = store.load_model(record)
    part = model.models[round_]
    if not hasattr(part, "apply"):
        fail(f"{run_dir}: round {round_} is a {record.parts[round_].model.kind} interpolant; "
             f"it has no parameters to differentiate")
    if part.n_params > DENSE_LIMIT:
        raise ConfigError(f"N = {part.n_params} is beyond the dense Hessian limit N ≤ {DENSE_LIMIT}", "model")
    spectrum = run_round_spectrum(record, model, round_)
    summary = {**spectrum_summary(spectrum, tau), "round": round_, "run_dir": str(run_dir)}
    atomic_files.atomic_write_npz(run_dir / "hessian.npz", {
        "eigenvalues": spectrum.eigenvalues, "eigenvectors": spectrum.eigenvectors,
        "gradient": spectrum.gradient, "projections": spectrum.projections})
    atomic_files.atomic_write_json(run_dir / "hessian.json", summary)
    console.print(f"N={summary['n_params']}  λ ∈ [{summary['lambda_min']:.3e}, {summary['lambda_max']:.3e}]  "
                  f"{summary['n_negative']} negative, {summary['n_below_tau']} with |λ| < {tau:g}  "
                  f"→ {run_dir / 'hessian.npz'}")
