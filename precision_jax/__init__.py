"""prec: precision machine learning in float64 JAX.

Importing this package switches JAX to float64 for every computation; nothing
in prec is meant to run in lower precision.
"""

import jax

jax.config.update("jax_enable_x64", True)
# Matmuls at full float64 precision on every backend (no TF32 on GPUs).
jax.config.update("jax_default_matmul_precision", "highest")

__version__ = "0.1.0"
