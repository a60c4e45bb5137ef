"""Atomic files: a write is seen whole or not at all, and a store folder is checked before anything is written.

Every file prec writes goes to a temporary name in the same folder
(``.<name>.tmp-<pid>-<random>``), is flushed and fsynced, and is renamed into
place; the folder is fsynced after. A reader therefore sees the old file or the
new one, never half of either, whatever interrupts the writer (kill -9, a full
disk, a power cut after the fsync). :func:`exchange_paths` swaps two
directories in one step where Linux allows it (``renameat2(RENAME_EXCHANGE)``),
which :func:`precision_jax.runs.store.write_run` uses to replace a run.
:func:`check_writable` refuses a folder that cannot take a run (a file in the
way, permissions, a read-only or full device) before any work starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import json
import math
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import IO, Any, Callable, Optional, Union

import numpy as np

from precision_jax.config.engine import to_dict

TMP_PREFIX = ".tmp-"


class StoreError(ValueError):
    """A run directory (or one of its files) that cannot be read: one line naming the file."""

    def __init__(self, path: Union[str, Path], what: str):
        self.path, self.what = Path(path), " ".join(str(what).split())  # one line, whatever the cause said
        super().__init__(f"{self.path}: {self.what}")



def jsonable(value: Any) -> Any:
    """Plain JSON data for ``value``: numpy scalars and arrays unwrapped, tuples as lists, NaN/±inf as None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(to_dict(value))
    if hasattr(value, "__array__"):  # numpy and jax arrays
        return jsonable(np.asarray(value).tolist())
    raise TypeError(f"{type(value).__name__} is not JSON data: {value!r}")


def json_text(value: Any) -> str:
    """Strict JSON (never NaN or Infinity tokens) for ``value``, via :func:`jsonable`."""
    return json.dumps(jsonable(value), indent=2, allow_nan=False) + "\n"


MIN_FREE_BYTES_DEFAULT = 50 << 20  # 50 MiB; PREC_MIN_FREE_MB overrides


def min_free_bytes() -> int:
    """The free space a store needs before a run starts: ``PREC_MIN_FREE_MB`` (MiB), default 50 MiB."""
    text = os.environ.get("PREC_MIN_FREE_MB", "").strip()
    try:
        return int(float(text) * (1 << 20)) if text else MIN_FREE_BYTES_DEFAULT
    except ValueError:
        return MIN_FREE_BYTES_DEFAULT


def check_writable(root: Union[str, Path], need_bytes: Optional[int] = None) -> None:
    """Refuse, with one :class:`StoreError` line, a folder the store cannot write into; writes nothing.

    ``root`` may not exist yet: its nearest existing ancestor is checked, and
    must be a folder (not a file) in which a file can be created (a temporary
    one, removed at once) with at least ``need_bytes`` free
    (:func:`min_free_bytes` by default). Called before any training, so a bad
    ``--out`` costs seconds, not a run.
    """
    root = Path(root)
    existing = root
    while not os.path.lexists(existing):
        if existing.parent == existing:
            break
        existing = existing.parent
    for path in [root, *root.parents]:  # a file anywhere on the way makes the folder impossible
        if os.path.lexists(path) and not path.is_dir():
            raise StoreError(root, f"{path} is a file, not a folder" if path != root else "is a file, not a folder")
    probe = existing / f".prec-write-test-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as e:
        reason = {errno.EACCES: "not writable (permission denied)", errno.EPERM: "not writable (permission denied)",
                  errno.EROFS: "on a read-only file system", errno.ENOSPC: "no space left on the device",
                  errno.EDQUOT: "over the disk quota"}.get(e.errno, f"not writable ({e.strerror or e})")
        where = "" if existing == root else f" ({existing}, where it would be created, is {reason})"
        raise StoreError(root, f"{reason}" if not where else f"cannot be created{where}") from None
    need = min_free_bytes() if need_bytes is None else int(need_bytes)
    free = shutil.disk_usage(existing).free
    if free < need:
        raise StoreError(root, f"only {free / 2**20:.1f} MiB free on its device; a run needs at least "
                               f"{need / 2**20:.0f} MiB (PREC_MIN_FREE_MB sets the threshold)")


def fsync_dir(path: Path) -> None:
    # The rename itself is durable only once the directory holding it is synced.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory; the files are synced
            os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Create ``path`` (never an existing file), fill it with ``write(file)`` and fsync it."""
    with open(path, "xb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: Union[str, Path], write: Callable[[IO[bytes]], None]) -> Path:
    """Replace ``path`` atomically by what ``write(file)`` writes: a temporary file, fsync, rename.

    A reader sees the old file or the new one, never a part; an interrupted
    writer leaves at most a hidden ``.<name>.tmp-<pid>-<random>`` file.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        write_new(tmp, write)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Union[str, Path], text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Union[str, Path], value: Any) -> Path:
    """Strict JSON (:func:`json_text`: NaN/±inf as null) written atomically."""
    return atomic_write_text(path, json_text(value))


def atomic_write_npz(path: Union[str, Path], arrays: dict[str, Any]) -> Path:
    """An uncompressed ``.npz`` of ``arrays`` written atomically (no pickled objects)."""
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    check_no_objects(arrays, Path(path))
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def check_no_objects(arrays: dict[str, np.ndarray], path: Path) -> None:
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"{path.name}: array {name!r} holds Python objects; the store writes numbers and strings")


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
