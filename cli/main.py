"""The ``prec`` command: a thin Typer layer over :mod:`precision_jax`."""

from __future__ import annotations

# Each command lives in its own module and registers itself on `app`.
from cli import hessian_command, plot_command, run_command, schema_command, sweep_command, targets_command  # noqa: F401
from cli.app import app

__all__ = ["app"]
