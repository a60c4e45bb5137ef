"""``prec schema``: every config key with its type, default, range and one line of doc."""

from __future__ import annotations

import difflib
from typing import Optional

import typer

from cli.app import app
from cli.common import clean_errors, fail

COLUMNS = ("key", "type", "default", "range", "doc")


@app.command("schema")
@clean_errors
def schema(
    kind: Optional[str] = typer.Argument(
        None, help="A model or stage kind (mlp, adam, ...) or a top-level section (data, boost, ...)."),
    markdown: bool = typer.Option(False, "--markdown", help="Markdown tables, for the docs."),
) -> None:
    """List every key of the experiment config, of each model kind and of each stage kind.

    Example: prec schema lm
    """
    from precision_jax.experiment import schema_tables

    tables = schema_tables()
    if kind is not None:
        tables = _select(tables, kind)
    text = "\n".join(_markdown(t) if markdown else _plain(t) for t in tables)
    typer.echo(text.rstrip("\n"))


def _select(tables, name: str):
    """The kind's table, or the experiment table's rows under top-level key ``name``."""
    chosen = [t for t in tables if t.group != "experiment" and t.name == name]
    if chosen:
        return chosen
    experiment = tables[0]
    rows = tuple(r for r in experiment.rows if r.key == name or r.key.startswith(name + "."))
    if rows:
        return [type(experiment)(experiment.group, name, experiment.doc, rows)]
    names = [t.name for t in tables[1:]] + [r.key for r in experiment.rows if "." not in r.key]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    fail(f"no model kind, stage kind or config section {name!r}{hint}; expected one of: {', '.join(names)}")


def _title(table) -> str:
    if table.group == "experiment":
        return "experiment config" + (f", {table.name}" if table.name != "experiment" else "")
    where = "model: {kind: %s}" if table.group == "model" else "train: [{kind: %s}]"
    return f"{table.group} kind {table.name}  ({where % table.name})"


def _plain(table) -> str:
    rows = [COLUMNS] + [(r.key, r.type, r.default, r.range, r.doc) for r in table.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = [_title(table) + (f" — {table.doc}" if table.doc else "")]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _markdown(table) -> str:
    lines = [f"#### {_title(table)}", ""]
    if table.doc:
        lines += [table.doc, ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in table.rows:
        cells = (f"`{r.key}`", r.type, f"`{r.default}`" if r.default != "required" else "required", r.range, r.doc)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # A literal | would end the Markdown cell (types read "int | null").
    return text.replace("|", "\\|")
