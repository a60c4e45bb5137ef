"""Names vulture reports as unused that are used from outside the scanned code.

Vulture matches by name, so each line below marks one name as used; each says who uses it. A name that is
only computed and never read is dead code and belongs in no whitelist. Decorator-registered functions
(Typer commands, stage builders) are covered by ``ignore_decorators`` in pyproject.toml's [tool.vulture].
"""

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# Python protocols: called by the interpreter, never by name.
_.__getattr__  # precision_jax/__init__.py: PEP 562 module __getattr__, serves pj.fit, pj.load, pj.Model lazily
_.__dir__  # precision_jax/__init__.py: PEP 562 module __dir__, lists those names for dir(pj) and completion
_.signum  # cli/interrupts.py _on_sigint: signal.signal calls a handler as handler(signum, frame)

# Third-party attributes that prec sets and the library reads.
_.extrapolate  # models/spline.py: scipy's BSpline.extrapolate = False makes it return NaN outside the grid

# The on-disk run format: Summary.to_json writes every dataclass field by name into summary.json.
_.numerics  # runs/store.py Summary.numerics: dtype, x64 flag and backend of the run, read by people and tools
_.format_version  # runs/store.py Summary.format_version: which summary.json layout a reader is looking at

# Public interface used by people, documented where it is defined.
_.outside_hull_count  # models/simplex.py: the documented way to count NaN predictions outside the hull
_.load_npz  # use/export_runtime.py: loads a `prec export --to npz` file; export.py's docstring points users to it

# Instrumentation read by benchmarks/checkpoint_overhead.py (outside the scanned packages).
_.saves  # runs/checkpoint.py Checkpointer.saves: number of checkpoints written
_.save_seconds  # runs/checkpoint.py Checkpointer.save_seconds: time spent writing them

# Data a reader of a Table gets, reported by tests today; kept as part of what reading a file tells.
_.dropped_duplicates  # problems/data_files.py Table: exact duplicate rows kept once (tests/test_datafile.py reads it)
