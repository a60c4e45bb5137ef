"""``python -m cli`` is the same as ``prec``."""

from cli.main import app

app()
