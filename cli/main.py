"""The ``prec`` command: a thin Typer layer over :mod:`precision_jax`."""

from __future__ import annotations

# Each command lives in its own module and registers itself on `app`; import order is the order of --help.
from cli import (run_command, targets_command, sweep_command, plot_command, runs_command,  # noqa: F401
                 hessian_command, schema_command, reproduce_command)
from cli import predict_command, export_command  # noqa: F401
from cli import guide_command  # noqa: F401
from cli import configs_command  # noqa: F401
from cli import certify_command  # noqa: F401
from cli.app import app

__all__ = ["app"]
