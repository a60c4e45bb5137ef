"""The ``prec`` command: a thin Typer layer over :mod:`precision_jax`."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="prec",
    help="Precision machine learning: float64 JAX fits and scaling laws from YAML configs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each command lives in its own module and registers itself on `app`.
from cli import run_command, targets_command, sweep_command, plot_command, hessian_command  # noqa: E402,F401
