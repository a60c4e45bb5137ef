"""What every command shares: one-line errors with exit status 2, Ctrl-C as exit status 130, the console."""

from __future__ import annotations

import functools
import sys

import typer
from rich.console import Console

from cli import interrupts

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

USAGE_ERROR = 2


def fail(message: str) -> "typer.Exit":
    """Print ``prec: error: message`` on one line to stderr and exit with status 2."""
    err_console.print(f"prec: error: {' '.join(str(message).split())}", markup=False, soft_wrap=True)
    raise typer.Exit(USAGE_ERROR)


def clean_errors(command):
    """Run ``command`` with one-line errors: bad configs and inputs, unreadable runs and unwritable or full
    folders exit with status 2 and one line (no traceback); Ctrl-C exits with status 130 and one line."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from precision_jax.config.engine import ConfigError
        from precision_jax.runs.store import StoreError

        try:
            with interrupts.command_phase():
                return command(*args, **kwargs)
        except (ConfigError, StoreError) as e:
            fail(str(e))
        except KeyboardInterrupt:
            if interrupts.installed():
                interrupts.exit_interrupted()  # no interpreter teardown with XLA's threads still running
            err_console.print(interrupts.message(), markup=False, soft_wrap=True)
            sys.exit(interrupts.EXIT_STATUS)
        except OSError as e:
            if e.filename is None or e.errno is None:
                raise
            # A folder that vanished, filled up or turned read-only while prec wrote into it.
            fail(f"{e.filename}: {e.strerror or e}")

    return wrapper


def print_wide(table) -> None:
    """Print a rich table; piped output has no terminal width to respect, so numbers are never cut."""
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=400, highlight=False, file=sys.stdout).print(table)
