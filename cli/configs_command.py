"""``prec configs list`` and ``prec configs copy NAME [DIR]``: the configs, sweeps and figure specs prec ships."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.app import app
from cli.common import clean_errors, console, fail, print_wide

configs_app = typer.Typer(help="The configs, sweeps and figure specs shipped with prec: list them, copy one "
                               "out to edit.", no_args_is_help=True)
app.add_typer(configs_app, name="configs")

KIND_TITLES = {"experiment": "experiments", "sweep": "sweeps", "figure": "figures"}


@configs_app.command("list")
@clean_errors
def list_configs() -> None:
    """What is shipped: experiments, sweeps and figures.

    A name runs as it is (prec run NAME, prec sweep NAME, prec reproduce NAME); a file of that name in
    ./configs is used instead of the shipped one.

    Example: prec configs list
    """
    from precision_jax.config import shipped

    tree = shipped.shipped_root()
    local = shipped.search_roots()[0]
    table = Table("kind", "name", "about", "used instead (./configs)", title=f"prec configs: shipped in {tree}")
    for kind in shipped.KINDS:
        for name in shipped.names(kind, tree):
            ours = shipped.in_tree(local, name, kind) if not local.resolve() == tree.resolve() else None
            table.add_row(KIND_TITLES[kind], name, shipped.description(shipped.in_tree(tree, name, kind)),
                          str(ours) if ours is not None else "")
    print_wide(table)
    console.print("Copy one out to edit: prec configs copy NAME  (into ./configs, where a name finds it first)")


@configs_app.command("copy")
@clean_errors
def copy_config(
    name: str = typer.Argument(..., help="A shipped name (prec configs list): quickstart, precision/x_squared, "
                                         "widths, 3, ..."),
    directory: Path = typer.Argument(Path("configs"), help="The configs folder to copy into; the file keeps its "
                                                         "place in the shipped tree (DIR/sweeps/widths.yaml)."),
) -> None:
    """Copy a shipped config, sweep or figure spec out to edit.

    The files it names by a relative path (a sweep's base config, a data file) come along. Never overwrites: an
    existing copy is refused (exit 2), and an existing file it names is kept as it is.

    Examples: prec configs copy widths  (then edit configs/sweeps/widths.yaml; prec sweep widths runs it);
    prec configs copy precision/x_squared my_configs
    """
    from precision_jax.config import shipped

    plan = shipped.copy_plan(name, directory)
    target = plan[0][1]
    if target.exists() or target.is_symlink():
        fail(f"{target} exists; prec configs copy never overwrites a file (edit it, remove it, or copy into "
             f"another folder: prec configs copy {name} DIR)")
    for source, copy in plan:
        if copy.exists() or copy.is_symlink():
            console.print(f"kept {copy} (exists; the copy reads it)", soft_wrap=True)
            continue
        try:
            shipped.copy_new(source, copy)
        except FileExistsError:
            fail(f"{copy} appeared while copying; left as it is")
        console.print(f"wrote {copy}", soft_wrap=True)
