"""The Typer application every command registers itself on.

It lives apart from :mod:`cli.main` so that command modules import the app
without importing the module that imports them (no import circle).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="prec",
    help="Precision machine learning: float64 JAX fits and scaling laws from YAML configs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
