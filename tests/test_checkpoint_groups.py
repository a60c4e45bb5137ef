"""A seed group finished in parts leaves no checkpoint behind, and nothing else is ever dropped.

Three sweeps on one store can lock different runs of one seed group: the
group's checkpoint, saved by a process killed earlier, is then completed by no
single process (the chaos soak, benchmarks/chaos.py, left one behind).
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

from precision_jax.experiment import build_config
from precision_jax.runs import store
from precision_jax.runs.checkpoint import PREFIX, Checkpointer, checkpoint_path, group_of
from precision_jax.runs.execute import Hooks, drop_finished_checkpoints, execute
from precision_jax.runs.run_lock import RunLock

TINY = {
    "name": "parts",
    "target": {"teacher": {"widths": [1, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 40, "test_points": 40},
    "model": {"kind": "mlp", "depth": 2, "width": 3, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 60}],
    "output": {"log_every": 10, "checkpoint_every": 1000.0},
}


def seeds(*numbers):
    return [build_config({**copy.deepcopy(TINY), "seed": s}) for s in numbers]


def checkpoints(folder):
    return sorted(p.name for p in folder.glob(f"{PREFIX}*"))


def interrupted(root, configs):
    """Start the group, Ctrl-C it at its second curve point: its checkpoint is on disk, no run is complete."""
    seen = []

    def stop(point):
        seen.append(point)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(root, configs, hooks=Hooks(on_log=stop))
    path = checkpoint_path(root, configs)
    assert path.is_file() and not list(store.iter_runs(root))
    return path


def test_a_group_finished_in_parts_drops_the_whole_groups_checkpoint(tmp_path):
    a, b, c = seeds(0, 1, 2)
    whole = interrupted(tmp_path, [a, b, c])
    folder = whole.parent
    assert [o.state for o in execute(tmp_path, [a, b])] == ["done", "done"]  # one process locked these two
    assert checkpoints(folder) == [whole.name]  # c is not complete: the group's checkpoint stays
    assert [o.state for o in execute(tmp_path, [c])] == ["done"]  # another process, the last run
    assert checkpoints(folder) == []


def test_a_complete_group_with_its_checkpoint_left_is_tidied_by_a_call_with_nothing_to_do(tmp_path):
    a, b = seeds(0, 1)
    execute(tmp_path, [a, b])
    path = checkpoint_path(tmp_path, [a, b])
    ids = [store.run_id(a), store.run_id(b)]
    # killed between writing the runs and dropping the checkpoint: saved before the summaries, plus a save cut short
    Checkpointer(path, ids).save({"x": np.arange(3)})
    os.utime(path, ns=(1, 1))
    cut = path.with_name(f"{path.name}.tmp-4242")
    cut.write_bytes(b"PK")
    assert [o.state for o in execute(tmp_path, [a, b])] == ["skipped", "skipped"]
    assert checkpoints(path.parent) == []


def test_only_prec_s_stale_checkpoints_are_dropped(tmp_path):
    a, b = seeds(0, 1)
    execute(tmp_path, [a, b])
    folder = checkpoint_path(tmp_path, [a, b]).parent
    ids = sorted([store.run_id(a), store.run_id(b)])

    forced = checkpoint_path(tmp_path, [a, b])  # saved after the runs completed: a --force run's progress
    Checkpointer(forced, ids).save({"x": np.arange(3)})
    renamed = folder / f"{PREFIX}0123456789ab.npz"  # a checkpoint of this group under another name: not prec's
    Checkpointer(renamed, ids).save({"x": np.arange(3)})
    foreign = folder / f"{PREFIX}mine.npz"  # someone's own file
    foreign.write_bytes(b"not a checkpoint")
    escaping = folder / f"{PREFIX}escape.npz"  # a group naming paths outside the folder
    Checkpointer(escaping, ["../../etc"]).save({"x": np.arange(3)})
    for path in (renamed, foreign, escaping):
        os.utime(path, ns=(1, 1))
    assert group_of(renamed) is None and group_of(foreign) is None and group_of(escaping) is None

    assert drop_finished_checkpoints(folder) == 0
    assert checkpoints(folder) == sorted(p.name for p in (forced, renamed, foreign, escaping))

    os.utime(forced, ns=(1, 1))  # now stale, but another process holds one of its runs
    elsewhere = RunLock(tmp_path, b)
    assert elsewhere.acquire()
    try:
        assert drop_finished_checkpoints(folder) == 0
        assert forced.is_file()
    finally:
        elsewhere.release()
    assert drop_finished_checkpoints(folder) == 1
    assert checkpoints(folder) == sorted(p.name for p in (renamed, foreign, escaping))


def test_a_save_that_fails_midway_leaves_the_last_whole_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / f"{PREFIX}abc.npz"
    ckpt = Checkpointer(path, ["abc"])
    ckpt.save({"step": np.arange(3)})

    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        ckpt.save({"step": np.arange(4)})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert Checkpointer(path, ["abc"]).load()["step"].tolist() == [0, 1, 2]
