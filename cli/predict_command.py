"""``prec predict RUN_DIR INPUT [--out FILE] [--grad]``: a stored model evaluated on points from a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from cli.app import app
from cli.common import clean_errors, err_console, fail


@app.command("predict")
@clean_errors
def predict(
    run: Path = typer.Argument(..., metavar="RUN_DIR", help="A run directory of the results store."),
    points: Path = typer.Argument(..., metavar="INPUT",
                                  help="Points to evaluate: a CSV (with a header: the run's input columns by name; "
                                       "without: exactly d columns), an NPZ (one array per input name, or x of "
                                       "shape (n, d)) or an NPY (n, d)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the CSV here (default: standard output); its "
                                                          "folder must exist."),
    force: bool = typer.Option(False, "--force", help="Replace the --out file if it exists (without: refused, "
                                                      "exit 2, the file left as it was)."),
    grad: bool = typer.Option(False, "--grad", help="Add d columns d<output>/d<x_i>: autodiff for nets, the "
                                                    "piece's derivative for splines, Chebyshev and simplex."),
) -> None:
    """Evaluate a run's fitted model on points from a file; writes CSV: the inputs, then the prediction.

    Floats are written as their shortest repr, so they read back bit for bit.
    Interpolants give nan outside the box they were fitted on (a warning counts
    those points). An existing --out file is never replaced without --force.
    Example: prec predict results/quickstart/<run id> points.csv --out predictions.csv
    """
    from precision_jax.runs import store
    from precision_jax.use import export

    if out is not None:  # before the model is read: a bad --out costs nothing
        _checked(export.check_output, out, force)
    record = store.read_run(run, extra=False)
    model = store.load_model(record)
    try:
        x = export.read_points(points, model.variables)
    except export.PointsError as e:
        fail(str(e))
    target = record.summary.target
    outside = export.outside_box(x, target.lows, target.highs)
    if outside:
        from precision_jax import models

        fitted = [models.is_interpolant(p.model.kind) for p in record.parts]
        what = "interpolants give nan there" if all(fitted) else \
            "nets extrapolate there" if not any(fitted) else "interpolant parts give nan there"
        err_console.print(f"prec: warning: {outside} of {x.shape[0]} points lie outside the box the run was "
                          f"trained on; {what}", markup=False, soft_wrap=True)
    names, table = export.prediction_table(model, x, export.output_name(record.config), grad)
    if out is None:
        export.write_csv(sys.stdout, names, table)
        return
    import io

    text = io.StringIO()
    export.write_csv(text, names, table)
    data = text.getvalue().encode()
    _checked(export.write_output, out, lambda f: f.write(data), force)  # refuses a file made meanwhile too
    err_console.print(f"{x.shape[0]} predictions → {out}", markup=False, soft_wrap=True)


def _checked(step, *args):
    """``step(*args)`` with an output refusal as one line: the existing file or the missing folder."""
    from precision_jax.use import export

    try:
        return step(*args)
    except export.OutputExists as e:
        fail(f"{e.path} exists; --force replaces it")
    except export.OutputError as e:
        fail(str(e))
