"""Ctrl-C for ``prec``: exit status 130 and one line on stderr, never a traceback, never a crash inside JAX.

Python's default SIGINT handler raises :class:`KeyboardInterrupt` at whatever
bytecode the main thread is running, including JAX's own Python code while it
traces or compiles a program and calls back and forth with XLA's C++; an
exception there, followed by the interpreter's shutdown with XLA's threads
still busy, is how a Ctrl-C used to end in a traceback or a segfault.

:func:`install` replaces that handler. While a command runs
(:func:`command_phase`, entered by :func:`cli.common.clean_errors`), a SIGINT
raises :class:`KeyboardInterrupt` only in prec's own code, between JAX calls:
if the main thread is inside ``jax``/``jaxlib``/``optax`` or an ``import``,
the interrupt is *pending*, and a watcher thread re-checks every 50 ms (through
:func:`_thread.interrupt_main`) until the main thread is back outside, then
raises it there. The exception unwinds normally (a run being written removes
its temporary folder; complete runs are on disk already), and
:func:`exit_interrupted` prints the line and ends the process with
``os._exit(130)``, skipping the interpreter's teardown. If the main thread
stays inside XLA for longer than :data:`GRACE_SECONDS` (a long compilation or
jitted loop), the watcher ends the process itself the same way; worker
processes of ``prec sweep --jobs`` get the interrupt after
:data:`CHILDREN_SECONDS` if it did not reach them, and the process ends after
:data:`DEADLINE_SECONDS` whatever its clean-up still waits for. Outside a
command (start-up imports) and on a second Ctrl-C, the line is printed and the
process ends at once.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
import time

EXIT_STATUS = 130
POLL_SECONDS = 0.05
GRACE_SECONDS = 1.0  # how long a pending interrupt waits for the main thread to leave JAX before the process ends
CHILDREN_SECONDS = 2.0   # after this, worker processes (prec sweep --jobs) still running get the interrupt too
DEADLINE_SECONDS = 10.0  # and after this the process ends, whatever its clean-up still waits for
# Top-level packages inside which an exception must not be raised: JAX's tracing, compilation and dispatch,
# optimizer code called while tracing, and the import machinery (a half-imported module).
PROTECTED = frozenset({"jax", "jaxlib", "optax", "jaxopt", "importlib", "_frozen_importlib",
                       "_frozen_importlib_external"})


class _State:
    installed = False
    worker = False  # a sweep's worker process: interrupts unwind its task; its parent prints the line
    in_command = 0
    pending = False
    polling = False
    signals = 0
    where = ""


_state = _State()


def install() -> None:
    """Install prec's SIGINT handler (main thread only; idempotent)."""
    if _state.installed or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, _on_sigint)
    _state.installed = True


def install_worker() -> None:
    """In a worker process of ``prec sweep --jobs``: the same deferred interrupts, for the whole process.

    A Ctrl-C unwinds the worker's task as a :class:`KeyboardInterrupt` raised
    outside JAX (Python's default handler may raise it inside JAX's garbage
    collection callback, where it is swallowed and the worker trains on); the
    worker prints nothing, since its parent says what happened, and ignores
    a repeated SIGINT (its parent forwards one) until its deadline.
    """
    _state.worker = True
    _state.in_command = 1
    install()


def installed() -> bool:
    return _state.installed


def set_where(text: str) -> None:
    """What the command is doing, for the interrupted line: ``interrupted at <where>``."""
    _state.where = " ".join(str(text).split())


def message() -> str:
    at = f" at {_state.where}" if _state.where else ""
    return f"prec: interrupted{at}; complete runs are kept; run the same command to resume"


def exit_interrupted() -> None:
    """Print the interrupted line to stderr and end the process with status 130, skipping interpreter teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001  (a closed or broken stream, whatever it raises, must not stop the exit)
            pass
    if _state.worker:
        os._exit(EXIT_STATUS)
    _release_semaphores()
    text = message() + "\n"
    try:
        if os.isatty(2):
            text = "\x1b[?25h" + text  # a live display may have hidden the cursor
    except OSError:
        pass
    try:
        os.write(2, text.encode())
    except OSError:
        pass
    os._exit(EXIT_STATUS)


def _release_semaphores() -> None:
    # A process pool's queues hold named POSIX semaphores, which multiprocessing unlinks in its exit-time
    # finalizers; os._exit skips those, and the resource tracker would then unlink them itself with a "leaked
    # semaphore objects" warning on stderr. Run them now (they unlink names and close queues; nothing waits).
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        try:
            util._run_finalizers(0)
        except Exception:  # noqa: BLE001  (clean-up only: never stop the exit)
            pass


@contextlib.contextmanager
def command_phase():
    """While a command runs, a Ctrl-C unwinds as :class:`KeyboardInterrupt` (raised outside JAX only)."""
    _state.in_command += 1
    try:
        yield
    finally:
        _state.in_command -= 1


def _protected(frame) -> bool:
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        if name.partition(".")[0] in PROTECTED:
            return True
        frame = frame.f_back
    return False


def _in_task(frame) -> bool:
    """Whether a sweep worker is running a task (a seed group), not waiting for one."""
    while frame is not None:
        if frame.f_code.co_name == "_worker_run_group":
            return True
        frame = frame.f_back
    return False


def _watch() -> None:
    # Re-deliver the pending interrupt to the main thread until it lands outside protected code; if the main
    # thread stays inside XLA (a long compilation or jitted loop) past the grace period, end the process from
    # here: os._exit runs no teardown, so it cannot crash, and every complete run is already on disk.
    deadline = time.monotonic() + GRACE_SECONDS
    while _state.pending:
        time.sleep(POLL_SECONDS)
        if not _state.pending:
            return
        if time.monotonic() > deadline:
            exit_interrupted()
        _state.polling = True
        _thread.interrupt_main(signal.SIGINT)


def _deadline() -> None:
    # The KeyboardInterrupt is unwinding. Worker processes that did not get the signal themselves (it was sent
    # to this process alone, not to the terminal's process group) get it now, so that they stop and save as this
    # one does; and if the clean-up still waits after DEADLINE_SECONDS (a worker deep in a compilation), the
    # process ends anyway.
    time.sleep(CHILDREN_SECONDS)
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None:
        try:
            children = multiprocessing.active_children()
        except Exception:  # noqa: BLE001  (during shutdown multiprocessing may be half torn down: no children to wait for)
            children = []
        for child in children:
            try:
                os.kill(child.pid, signal.SIGINT)
            except (OSError, TypeError):
                pass
    time.sleep(max(0.0, DEADLINE_SECONDS - CHILDREN_SECONDS))
    exit_interrupted()


def _raise() -> None:
    threading.Thread(target=_deadline, name="prec-interrupt-deadline", daemon=True).start()
    raise KeyboardInterrupt


def _on_sigint(signum, frame) -> None:
    if _state.polling:  # the watcher's re-check, not a new Ctrl-C
        _state.polling = False
        if _state.pending and not _protected(frame):
            _state.pending = False
            _raise()
        return
    _state.signals += 1
    if _state.worker and _state.signals > 1:
        return  # the parent forwarding the Ctrl-C this worker already got: the deadline ends it if need be
    if _state.worker and not _in_task(frame):
        exit_interrupted()  # idle, between tasks: nothing to unwind (and no traceback from the pool's loop)
    if not _state.in_command or _state.signals > 1:
        exit_interrupted()
    if _protected(frame):
        if not _state.pending:
            _state.pending = True
            threading.Thread(target=_watch, name="prec-interrupt", daemon=True).start()
        return
    _raise()
