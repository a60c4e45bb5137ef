"""What the fuzz tests (``tests/test_fuzz_*.py``) share: counts, time limits, the write guard, the refusal check.

Every parser that reads outside input is held to one property: an input is either accepted (and what comes
back is valid) or refused with the parser's own error carrying ONE line that names the file or the key. It
never raises anything else, never runs past a hard time limit, and never writes outside the example's own
temporary folder.

Counts. Each fuzz test exists twice: in the default suite with a few hundred examples (hypothesis profile
``default``, registered below), and marked ``slow`` with :data:`SLOW_EXAMPLES` (20,000 unless the environment
variable ``PREC_FUZZ_EXAMPLES`` says otherwise)::

    python3 -m pytest -q -m slow tests/test_fuzz_*.py                          # >= 20,000 per parser
    PREC_FUZZ_EXAMPLES=200 python3 -m pytest -q -m slow tests/test_fuzz_*.py   # a short check that it runs

No example database: hypothesis would otherwise write ``.hypothesis/`` into the working tree. Failures found
once are kept as ``@example(...)`` regressions next to the test that found them.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

DEFAULT_EXAMPLES = 300
SLOW_EXAMPLES = int(os.environ.get("PREC_FUZZ_EXAMPLES", "20000"))
DEADLINE_MS = 5000    # hypothesis' per-example deadline (generous: the machine is shared)
HARD_LIMIT_S = 20.0   # SIGALRM: an example still running after this is a hang, whatever the parser is doing

_COMMON = dict(deadline=DEADLINE_MS, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much, HealthCheck.large_base_example])
settings.register_profile("default", max_examples=DEFAULT_EXAMPLES, **_COMMON)
settings.register_profile("slow", max_examples=SLOW_EXAMPLES, **_COMMON)

ROOT = Path(__file__).resolve().parent.parent


def fuzz_pair(check: Callable[[object], None], strategy, examples: int = DEFAULT_EXAMPLES, regressions=()):
    """(default test, ``slow``-marked test) running ``check`` on draws of ``strategy``.

    The default test takes ``examples`` draws under profile ``default``; the slow one profile ``slow``'s
    count. ``regressions``: inputs that once failed, run first by both (hypothesis ``@example``).
    """
    def make(profile: str, count: int):
        def test(value):
            check(value)

        test.__name__ = test.__qualname__ = check.__name__
        for value in regressions:
            test = example(value)(test)
        return settings(settings.get_profile(profile), max_examples=count)(given(strategy)(test))

    return make("default", examples), pytest.mark.slow(make("slow", SLOW_EXAMPLES))


# --------------------------------------------------------------------------- time limit


class Hang(BaseException):
    """An example ran past :data:`HARD_LIMIT_S` (a BaseException, so no parser's ``except Exception`` hides it)."""


def _alarm(signum, frame):
    raise Hang(f"example still running after {HARD_LIMIT_S:g} s")


@contextlib.contextmanager
def time_limit(seconds: float = HARD_LIMIT_S):
    """Raise :class:`Hang` in the main thread if the block runs longer than ``seconds``."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- write guard


class ForbiddenWrite(BaseException):
    """A write outside the example's temporary folder; raised by the audit hook, so the write never happens."""


_GUARD: dict = {"allowed": None, "violations": []}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_WRITE_EVENTS = {"os.mkdir", "os.remove", "os.rmdir", "os.rename", "os.link", "os.symlink", "os.truncate",
                 "os.chmod", "os.chown", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile"}


def _permitted(path) -> bool:
    if isinstance(path, int):
        return True  # an already open descriptor: its open was checked
    text = os.fsdecode(path)
    if "__pycache__" in text or text == os.devnull:
        return True  # the interpreter caching the byte code of a module imported lazily
    resolved = os.path.realpath(text)
    return any(resolved == folder or resolved.startswith(folder + os.sep) for folder in _allowed_folders())


def _allowed_folders() -> list[str]:
    """The example's folder, and JAX's persistent compilation cache when an earlier test in the process turned
    it on (``prec run`` does, in-process): evaluating an accepted formula compiles it, and that cache is JAX's
    own, not an output of the parser under test."""
    folders = [_GUARD["allowed"]]
    cache = _jax_cache_dir()
    if cache:
        folders.append(os.path.realpath(cache))
    return folders


def _jax_cache_dir():
    jax = sys.modules.get("jax")
    return getattr(jax.config, "jax_compilation_cache_dir", None) if jax is not None else None


def _audit(event: str, args) -> None:
    if _GUARD["allowed"] is None:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS)
        paths = [path] if writes else []
    elif event in _WRITE_EVENTS:
        paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
    else:
        return
    for path in paths:
        if not _permitted(path):
            _GUARD["violations"].append((event, os.fsdecode(path)))
            raise ForbiddenWrite(f"{event} {os.fsdecode(path)!r} outside the example's temporary folder")


sys.addaudithook(_audit)


@contextlib.contextmanager
def sandbox(seconds: float = HARD_LIMIT_S):
    """A fresh temporary folder as the working directory, writes allowed only inside it, under a time limit.

    Yields the folder. Fails the example if anything tried to write elsewhere (the write itself was refused).
    """
    with tempfile.TemporaryDirectory(prefix="prec-fuzz-") as tmp:
        folder = os.path.realpath(tmp)
        cwd = os.getcwd()
        os.chdir(folder)
        _GUARD["allowed"], _GUARD["violations"] = folder, []
        try:
            with time_limit(seconds):
                yield Path(folder)
        finally:
            _GUARD["allowed"] = None
            os.chdir(cwd)
        assert not _GUARD["violations"], f"wrote outside the temporary folder: {_GUARD['violations']}"


# --------------------------------------------------------------------------- refusals


def assert_one_line(error: BaseException, *names: str) -> None:
    """``error``'s message is one non-empty line and names one of ``names`` (a file, a key), when given."""
    text = str(error)
    assert text.strip(), f"{type(error).__name__} with an empty message"
    assert len(text.splitlines()) == 1 and "\n" not in text and "\r" not in text, \
        f"{type(error).__name__} message is not one line: {text!r}"
    if names:
        assert any(name and name in text for name in names), f"{text!r} names none of {names}"


# --------------------------------------------------------------------------- documents


INTERESTING_TEXT = ["", " ", "auto", "null", "~", ".inf", "-.inf", ".nan", "1e-3", "1e5", "0x10", "0o7", "1_000",
                    "yes", "no", "on", "off", "True", "tanh", "relu", "mlp", "adam", "bfgs", "lm", "spline",
                    "chebyshev", "simplex", "modular", "I.11.19", "x*y", "exp(x)", "__import__('os')", "../..",
                    "/etc/passwd", "results", "\n", "a\nb", "\x85", "\u2028", "\ufeff", "é", "💥", "\x00",
                    "{", "[", "*a", "&a", "!!python/object/apply:os.system", "%", "@", "`", "- 1", ": x"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-10, max_value=10_000),
    st.floats(), st.floats(min_value=-1e3, max_value=1e6, allow_nan=False), st.text(max_size=12),
    st.sampled_from(INTERESTING_TEXT))
KEYS = st.one_of(st.sampled_from(["name", "target", "model", "train", "data", "output", "seed", "boost", "kind",
                                  "width", "depth", "lr", "steps", "equation", "formula", "variables", "x",
                                  "train_points", "dir", "activation", "maxiter", "widths", "base", "grid",
                                  "zip", "runs", "panels", "claims", "profiles", "set", "lhs", "rhs", "op",
                                  "series", "where", "smoke", "figure", "layout", "size", "metric", "slope"]),
                 st.text(max_size=6), st.integers(min_value=-2, max_value=5), st.none(), st.booleans())
VALUES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)), max_leaves=10)


def _slots(node, out):
    """Every (container, key) of a nested document, the containers themselves included."""
    if isinstance(node, dict):
        for k in list(node):
            out.append((node, k))
            _slots(node[k], out)
    elif isinstance(node, list):
        for i in range(len(node)):
            out.append((node, i))
            _slots(node[i], out)
    return out


@st.composite
def mutated(draw, documents: dict):
    """A shipped document with 1–4 random edits: a value replaced, a key removed, renamed or added."""
    doc = copy.deepcopy(documents[draw(st.sampled_from(sorted(documents)))])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        slots = _slots(doc, [])
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["set", "set", "delete", "rename", "add"]))
        if action == "set":
            container[key] = draw(VALUES)
        elif action == "delete":
            del container[key]
        elif action == "rename" and isinstance(container, dict):
            container[draw(KEYS)] = container.pop(key)
        elif action == "add" and isinstance(container[key], dict):
            container[key][draw(KEYS)] = draw(VALUES)
        elif action == "add" and isinstance(container[key], list):
            container[key].append(draw(VALUES))
    return doc
