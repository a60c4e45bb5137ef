"""``prec guide TARGET``: the paper's user's guide — which approximator for this target, and a config that runs it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from cli.app import app
from cli.common import clean_errors, fail


def _parse_variables(items: List[str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        name, _, rng = item.partition("=")
        low, sep, high = rng.partition(":")
        try:
            bounds = (float(low), float(high))
        except ValueError:
            bounds = None
        if not name.strip() or not sep or bounds is None:
            fail(f"--var {item!r}: expected NAME=LOW:HIGH, e.g. x=-1:1")
        out[name.strip()] = bounds
    return out


@app.command("guide")
@clean_errors
def guide(
    target: str = typer.Argument(..., help="An equation id (I.11.19), a config file (its target is used), or a "
                                           "data file (.csv, .npz, .npy); with --var, an inline formula."),
    write: Optional[Path] = typer.Option(None, "--write", metavar="FILE",
                                         help="Write the recommended config to FILE (validated; `prec run FILE`)."),
    force: bool = typer.Option(False, "--force", help="Let --write overwrite an existing FILE."),
    probe: bool = typer.Option(False, "--probe", help="Fit the candidate methods at 2–3 small sizes each (in "
                                                      "memory, nothing written) and report measured RMSE and "
                                                      "slopes beside the expected ones."),
    no_probe: bool = typer.Option(False, "--no-probe", help="On a data file, skip the quick probes (each candidate "
                                                           "fitted to 80 % of the rows, scored on the rest) and "
                                                           "recommend from the rules alone."),
    budget: float = typer.Option(120.0, "--budget", min=1.0, metavar="SECONDS",
                                 help="Time the probe may take; sizes that would end past it are skipped."),
    var: List[str] = typer.Option([], "--var", metavar="NAME=LOW:HIGH",
                                  help="Make TARGET an inline formula over this variable (repeat per variable)."),
) -> None:
    """Recommend an approximator for TARGET following the paper's user's guide (its Figure 10).

    Reports d, the graph's largest arity d*, smoothness, output scale and float64 floor.

    Then the recommended method, its expected scaling exponent and a ready-to-run config.

    Examples: prec guide Z.001 ; prec guide I.11.19 --write i11.yaml ; prec guide "exp(sin(x))" --var x=-1:1 --probe
    """
    from precision_jax.analysis import guide as g

    variables = _parse_variables(var) if var else None
    if write is not None and write.exists() and not force:
        fail(f"--write: {write} exists; use --force to overwrite it")  # before minutes of analysis and probing
    if write is not None and not write.parent.is_dir():
        fail(f"--write: {write.parent} is not a folder")
    analysis = g.analyze(target, variables)
    rec = g.recommend(analysis)
    choice = None
    if analysis.kind == "data" and not no_probe:  # smoothness of data is unknown to the rules: measure it
        choice = g.quick_probe(analysis)
        rec = g.follow(analysis, rec, choice)
    header = [f"written by `prec guide {target}`: {rec.method.label} [{rec.regime}]",
              f"expected: RMSE ∝ {rec.method.expectation}"]
    if rec.method.key in g.NET_KEYS:
        header.append(f"trained here as a {rec.config['model']['activation']} net with "
                      f"{' → '.join(s['kind'] for s in rec.config['train'])}, for precision")
    if write is not None:
        path = g.write_config(rec, write, header, force=force)
        config_text = g.config_yaml(g.ready_config(rec, path.parent)[0])
    else:
        config_text = g.config_yaml(g.ready_config(rec, Path.cwd())[0])
    typer.echo(g.format_report(analysis, rec, config_text))
    if choice is not None:
        typer.echo("\n" + g.format_choice(choice))
    if write is not None:
        typer.echo(f"\nwrote {write}; run it with: prec run {write}")
    if not probe:
        return
    from precision_jax.runs.sweep import enable_compilation_cache

    enable_compilation_cache()  # a second probe of similar sizes skips most of the compiling
    typer.echo(f"\nProbing {len(rec.candidates)} candidates (budget {budget:g} s) ...")
    start = time.perf_counter()

    def show(result, point) -> None:
        typer.echo(f"  {result.candidate.label}: N = {point.N:,}, D = {point.D:,}, test RMSE {point.test_rmse:.3g} "
                   f"({point.seconds:.1f} s)")

    results = g.probe(analysis, rec, budget_s=budget, on_point=show)
    typer.echo("\n" + g.format_probe(analysis, rec, results, time.perf_counter() - start))
