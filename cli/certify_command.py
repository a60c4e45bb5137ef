"""``prec certify RUN_DIR``: search the run's box for its largest |f − model| and record it in summary.json."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.app import app
from cli.common import clean_errors, console


@app.command("certify")
@clean_errors
def certify(
    run_dir: Path = typer.Argument(..., help="A complete run directory of a formula, equation or teacher target."),
    points: int = typer.Option(65536, "--points", min=1,
                               help="Scrambled Sobol points to sample (rounded up to a power of two)."),
    starts: int = typer.Option(16, "--starts", min=0,
                               help="Local maximisations, from the sampled points of largest error."),
    maxiter: int = typer.Option(200, "--maxiter", min=1, help="L-BFGS-B iterations per start, at most."),
) -> None:
    """Search the target's box for the largest |f − model| and write it into the run's summary.json.

    Dense sampling (Sobol points, the run's test points, the box's corners), then
    L-BFGS-B from the worst of them with the run's own gradients. A search, not a
    proof: the value is an attained error, never below the sampled maximum. It goes
    into metrics.certified_max_abs_error, with where and the budget under "certify".

    Example: prec certify results/auto_xy/1a2b3c4d5e6f --points 262144 --starts 32
    """
    from precision_jax.runs.certify import certify_run

    summary = certify_run(run_dir, points=points, starts=starts, maxiter=maxiter)
    c = summary.certify
    where = ", ".join(f"{name} = {value:.17g}" for name, value in c["x"].items())
    console.print(f"certified max |f - model| = {c['value']:.3e} at {where}", soft_wrap=True)
    console.print(f"sampled max {c['sampled_max']:.3e}; test max {c['test_max_abs_error']:.3e} → "
                  f"{c['improvement']:.3g}× over the test points", soft_wrap=True)
    console.print(f"search: {c['points']} points, {c['starts']} starts, {c['iterations']} iterations, "
                  f"{c['evaluations']} evaluations (gradients: {c['gradients']}), {c['seconds']:.1f} s "
                  f"→ {run_dir / 'summary.json'}", soft_wrap=True)
