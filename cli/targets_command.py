"""``prec targets``: list the equation registry, or show one equation."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from cli.app import app
from cli.common import clean_errors, console, fail


@app.command("targets")
@clean_errors
def targets(equation: Optional[str] = typer.Argument(None, help="An equation id, e.g. I.8.14.")) -> None:
    """List the Feynman equation registry (id, d, formula, ranges), or show one equation.

    Example: prec targets I.8.14
    """
    from precision_jax.problems.targets import equation_target, feynman_registry

    registry = feynman_registry()
    if equation is not None:
        try:
            target = equation_target(equation)
        except (KeyError, ValueError) as e:
            fail(str(e.args[0] if e.args else e))
        row = registry[equation]
        console.print(f"[bold]{row.id}[/bold]  {row.output} = {row.formula}")
        console.print(f"d = {target.d}")
        for name, low, high in zip(target.variables, target.lows, target.highs):
            console.print(f"  {name} ~ U[{low:g}, {high:g}]")
        return
    table = Table("id", "d", "formula", "ranges", box=None)
    for row in registry.values():
        ranges = " ".join(f"{n}∈[{lo:g},{hi:g}]" for n, lo, hi in zip(row.variables, row.lows, row.highs))
        table.add_row(row.id, str(row.d), f"{row.output} = {row.formula}", ranges)
    console.print(table)
