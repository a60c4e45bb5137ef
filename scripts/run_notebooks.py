"""Execute the docs' notebooks as CI does: each one in a temporary copy, failing on the first error.

    python3 scripts/run_notebooks.py                   # every docs/notebooks/*.ipynb; exit 1 if one fails
    python3 scripts/run_notebooks.py --write           # and store the executed outputs back into each file
    python3 scripts/run_notebooks.py docs/notebooks/fit_your_data.ipynb --timeout 120

Each notebook is copied into a fresh temporary folder and run there (that folder is the kernel's working
directory, so anything it writes relative to it is removed afterwards) with nbclient on the ``python3``
kernel, which jupyter_client starts with this interpreter. A cell that raises, or runs past ``--timeout``
seconds, fails the notebook. The docs site renders the stored outputs and never executes, so ``--write``
is how the stored file is refreshed: only a notebook that ran cleanly is written back, with nbclient's
per-cell timestamps left out so that re-running an unchanged notebook changes only what it printed, and
with the SHA-256 of its code cells in ``metadata.prec.executed_source_sha256``: tests/test_notebooks.py
compares it with the cells as they are, so a code cell edited without re-executing fails the tests.

Needs the ``[docs]`` extra (nbclient, nbformat, ipykernel): ``python3 -m pip install -e ".[docs]"``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "docs" / "notebooks"


def source_digest(cells) -> str:
    """SHA-256 of the code cells' sources, in order (a cell's source is a string, or a list of lines on disk)."""
    digest = hashlib.sha256()
    for cell in cells:
        if cell["cell_type"] == "code":
            source = cell["source"]
            digest.update(("".join(source) if isinstance(source, list) else source).encode() + b"\0")
    return digest.hexdigest()


def execute(path: Path, timeout: int, write: bool) -> float:
    """Run ``path`` in a temporary copy; returns the seconds it took. Raises on a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="prec-notebook-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        notebook = nbformat.read(copy, as_version=4)
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": tmp}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    if write:
        notebook.metadata["prec"] = {"executed_source_sha256": source_digest(notebook.cells)}
        nbformat.validate(notebook)
        nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every docs/notebooks/*.ipynb")
    parser.add_argument("--timeout", type=int, default=300, help="seconds one cell may run (default 300)")
    parser.add_argument("--write", action="store_true", help="store the executed outputs back into each file")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print(f"run_notebooks: no notebooks in {NOTEBOOKS}", file=sys.stderr)
        return 2
    for path in paths:
        if not path.is_file():
            print(f"run_notebooks: {path}: no such notebook", file=sys.stderr)
            return 2
    try:
        import nbclient  # noqa: F401  (checked before any kernel starts: the one-line reason, not a traceback)
        import nbformat  # noqa: F401
    except ImportError as e:
        print(f"run_notebooks: {e.name} is missing; install the docs extra: pip install -e \".[docs]\"",
              file=sys.stderr)
        return 2
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    failed = 0
    for path in paths:
        try:
            seconds = execute(path, args.timeout, args.write)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
            failed += 1
            print(f"run_notebooks: {path}: FAILED\n{e}", file=sys.stderr)
            continue
        print(f"run_notebooks: {path.name}: executed in {seconds:.1f} s{' (outputs written)' if args.write else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
