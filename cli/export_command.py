"""``prec export RUN_DIR --to python|npz [--out FILE]``: a run's fitted model as a standalone artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.app import app
from cli.common import clean_errors, console, fail


@app.command("export")
@clean_errors
def export(
    run: Path = typer.Argument(..., metavar="RUN_DIR", help="A run directory of the results store."),
    to: str = typer.Option(..., "--to", help="python: one .py file needing only numpy (scipy for simplex in "
                                             "d >= 2) that defines predict(x); npz: the weights, layout in "
                                             "precision_jax/use/export_runtime.py."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default: <name>_<run id>.py or .npz "
                                                           "in the current folder); its folder must exist."),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists (without: refused, "
                                                      "exit 2, the file left as it was)."),
) -> None:
    """Write a run's fitted model as a standalone .py predictor or an .npz of its weights.

    An existing output file is never replaced without --force.

    Example: prec export results/quickstart/<run id> --to python --out model.py
    then, without prec: python -c "from model import predict; print(predict([[0.5]]))"
    """
    from precision_jax.use import export as exporting

    if to not in exporting.FORMATS:
        fail(f"--to must be one of {', '.join(exporting.FORMATS)}, got {to!r}")
    try:
        path = exporting.export_run(run, to, out, force=force)
    except exporting.OutputExists as e:
        fail(f"{e.path} exists; --force replaces it")
    except exporting.OutputError as e:
        fail(str(e))
    console.print(str(path), soft_wrap=True)
