"""The run's key tree: every random draw of a run comes from one documented derivation.

With ``root = PRNGKey(seed)``::

    root ──split──► data    training points, then test points (split again inside make_dataset)
         └────────► init    the main model's θ₀ (PRNGKey(model.init_seed) instead, when set)
                     ├─ fold_in(init, SUBSETS)  ► subsets
                     │     └─ fold_in(subsets, i)                ► training subsample of stage i
                     │     └─ fold_in(subsets, ROUND_BASE + k)   ► the subsets of boosting round k
                     └─ fold_in(init, ROUNDS)   ► rounds
                           └─ fold_in(rounds, k)                 ► θ₀ of boosting round k's model

Nets, modular nets and interpolants all draw their points from ``data``, so
the same seed and data config give every approximator the same training and
test sets. A stage's subsample key depends only on its position, so a seed's
draws do not change when it runs in a batch of seeds. The constants are those
the store's earlier runs used, so their numbers are reproduced bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import jax

SUBSETS = 2
ROUNDS = 1
ROUND_BASE = 1000  # keeps round keys apart from stage indices within one subsets key


@dataclass(frozen=True)
class RunKeys:
    """The keys of one run (see the module docstring for the tree)."""

    data: jax.Array
    init: jax.Array
    subsets: jax.Array
    rounds: jax.Array

    def round_init(self, k: int) -> jax.Array:
        """θ₀ of boosting round ``k`` ≥ 1."""
        return jax.random.fold_in(self.rounds, k)

    def round_subsets(self, k: int) -> jax.Array:
        """The subsets key of boosting round ``k`` (0: the main chain's)."""
        return self.subsets if k == 0 else jax.random.fold_in(self.subsets, ROUND_BASE + k)


def run_keys(seed: int, init_seed: Optional[int] = None) -> RunKeys:
    """The key tree of a run with ``seed`` (and the model's optional ``init_seed``)."""
    data, init = jax.random.split(jax.random.PRNGKey(seed))
    if init_seed is not None:
        init = jax.random.PRNGKey(init_seed)
    return RunKeys(data, init, jax.random.fold_in(init, SUBSETS), jax.random.fold_in(init, ROUNDS))


def stage_key(subsets: jax.Array, index: int) -> jax.Array:
    """The key that draws stage ``index``'s training subsample from a chain's ``subsets`` key."""
    return jax.random.fold_in(subsets, index)
