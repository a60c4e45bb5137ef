"""What every command shares: one-line errors with exit status 2, the console."""

from __future__ import annotations

import functools
import sys

import typer
from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

USAGE_ERROR = 2


def fail(message: str) -> "typer.Exit":
    """Print ``prec: error: message`` on one line to stderr and exit with status 2."""
    err_console.print(f"prec: error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(USAGE_ERROR)


def clean_errors(command):
    """Turn config and input errors raised by ``command`` into one line and exit 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from precision_jax.config import ConfigError

        try:
            return command(*args, **kwargs)
        except ConfigError as e:
            fail(str(e))
        except KeyboardInterrupt:
            err_console.print("prec: interrupted; complete runs are kept, partial ones were discarded")
            sys.exit(130)

    return wrapper
