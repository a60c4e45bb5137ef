"""prec: precision machine learning in float64 JAX.

Importing this package switches JAX to float64 for every computation; nothing
in prec is meant to run in lower precision.
"""

import jax

jax.config.update("jax_enable_x64", True)
# Matmuls at full float64 precision on every backend (no TF32 on GPUs).
jax.config.update("jax_default_matmul_precision", "highest")

__version__ = "0.1.0"

# The Python API (precision_jax/use/api.py): pj.fit, pj.load, pj.Model; imported on first use, so that
# `import precision_jax` stays cheap for the command line.
_API = ("fit", "load", "Model", "DEFAULT_CONFIG")


def __getattr__(name):
    if name in _API:
        from precision_jax.use import api

        return getattr(api, name)
    raise AttributeError(f"module 'precision_jax' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
