"""The ``prec`` command line (Typer), a thin layer over :mod:`precision_jax`."""

import os as _os
import sys as _sys

# Run as the `prec` program (the console script imports this package first), take over Ctrl-C before the
# heavy imports; imported as a library (tests), leave the process's signal handling alone.
if _sys.argv and _os.path.basename(_sys.argv[0]) in ("prec", "prec.exe", "-m"):
    from cli import interrupts as _interrupts

    _interrupts.install()
