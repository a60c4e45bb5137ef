"""What the second-order stages (LM, LCS) share: dense N×N matrices up to a size, matrix–vector products above.

A dense solver factors N×N matrices (O(N²) memory, O(N³) flops per
factorization), so it is refused for N > ``max_params``; its per-sample
derivatives are formed in chunks of points whose size a memory budget sets
(:func:`precision_jax.engine.data_chunks.default_chunk`). A matrix-free solver
works from Jacobian– or Hessian–vector products only. ``solver: auto``
chooses between the two from N and the config alone, so a config means the
same computation on every machine.
"""

from __future__ import annotations

from precision_jax.config.engine import ConfigError
from precision_jax.engine.data_chunks import default_chunk
from precision_jax.engine.stages.base import StageBase

MATRIX_FREE = ("cg", "lanczos")


def check_dense_size(n_params: int, limit: int, kind: str) -> None:
    """Reject a model whose N×N matrices the stage cannot afford, stating the limit."""
    if n_params > limit:
        gib = n_params * n_params * 8 / 2**30
        raise ConfigError(
            f"the model has N = {n_params} parameters; a {kind} stage needs dense N×N matrices "
            f"({gib:.1f} GiB each, O(N³) factorizations) and is limited to N ≤ {limit} "
            f"(raise max_params at your own risk, or take the matrix-free solver: solver: auto)", "max_params")


def choose_solver(requested: str, n_params: int, max_params: int, dense: str, matrix_free: str) -> str:
    """The solver a stage runs: ``requested``, or for ``auto`` ``dense`` up to ``max_params`` and ``matrix_free`` above.

    Only N and the config decide (not the machine's free memory), so a config
    means the same computation everywhere; the run's memory check then refuses
    a dense choice that cannot fit.
    """
    if requested != "auto":
        return requested
    return dense if n_params <= max_params else matrix_free


class DenseStage(StageBase):
    """A second-order stage (LM, LCS) that factors dense N×N matrices or, with its matrix-free ``solver``,
    works from matrix–vector products only.

    ``solver`` is the one the stage runs (``auto`` resolved by :func:`choose_solver`
    between ``dense_solver`` and ``matrix_free_solver``). The dense solvers are
    capped by ``max_params`` and process the data in chunks.
    """

    dense_solver = ""
    matrix_free_solver = ""

    def __init__(self, cfg, predict, n_params: int):
        self.solver = choose_solver(cfg.solver, n_params, cfg.max_params, self.dense_solver, self.matrix_free_solver)
        if not self.matrix_free:
            check_dense_size(n_params, cfg.max_params, self.kind)
        super().__init__(cfg, predict, n_params)

    @property
    def matrix_free(self) -> bool:
        return self.solver in MATRIX_FREE

    chunk_numbers = 2**21  # per-sample derivative entries per chunk (the memory budget)

    def chunk(self, n_points: int) -> int:
        """Points per chunk of per-sample derivatives (``chunk_size``, or what the memory budget allows)."""
        return self.cfg.chunk_size or default_chunk(self.n_params, n_points, self.chunk_numbers)
