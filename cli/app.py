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

VERSION_PACKAGES = ("jax", "jaxlib", "optax", "numpy", "scipy")


def version_text() -> str:
    """``prec 0.1.0 (jax 0.10.2, jaxlib 0.10.2, optax 0.2.8, numpy 2.3.1, scipy 1.16.0)``, read without importing."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"prec {version('prec')} (" + ", ".join(f"{n} {version(n)}" for n in VERSION_PACKAGES) + ")"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                      help="Print the versions of prec, jax, jaxlib, optax, numpy, scipy and exit.")
         ) -> None:
    """Precision machine learning: float64 JAX fits and scaling laws from YAML configs."""
