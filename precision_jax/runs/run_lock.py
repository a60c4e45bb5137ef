"""One process per run: an exclusive, non-blocking lock on a run of the store.

Taken only by :mod:`precision_jax.runs.execute`.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Optional, Union

from precision_jax.experiment import ExperimentConfig
from precision_jax.runs.store import run_dir, run_id

LOCK_PREFIX = ".lock-"


class RunLock:
    """An exclusive, non-blocking claim on one run of the store (``fcntl.flock`` on ``.lock-<run id>``).

    Processes that share a store (a sweep started three times, shards, a
    ``prec run`` beside a sweep) each train a run only while they hold its
    lock, so no run is trained twice at once and no process touches another's
    temporary folders. The kernel releases the lock when its holder exits,
    however it exits. Lock files are left in place: removing one would race
    with a process about to lock it.
    """

    def __init__(self, root: Union[str, Path], cfg: ExperimentConfig):
        self.path = run_dir(root, cfg).parent / f"{LOCK_PREFIX}{run_id(cfg)}"
        self._file: Optional[IO[bytes]] = None

    @classmethod
    def of_id(cls, folder: Union[str, Path], rid: str) -> "RunLock":
        """The lock of run ``rid`` in ``folder`` (``<root>/<name>``): a checkpoint names its runs by id only."""
        lock = cls.__new__(cls)
        lock.path, lock._file = Path(folder) / f"{LOCK_PREFIX}{rid}", None
        return lock

    def acquire(self) -> bool:
        """True if this process now holds the run; False if another process does."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+b")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        self._file = f
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None
