"""``python -m cli`` is the same as ``prec``."""

from cli import interrupts

interrupts.install()  # first: a Ctrl-C while the rest is imported exits with one line, status 130

from cli.main import app  # noqa: E402

app()
