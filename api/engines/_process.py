"""Child processes that cannot outlive Loupe.

Every engine (and every helper such as ``initdb``) is spawned with:

* ``start_new_session=True``: a Ctrl-C in the terminal reaches only Loupe, which then stops the
  engines in order, instead of every engine receiving SIGINT at once;
* ``PR_SET_PDEATHSIG`` (Linux): the kernel signals the child when its parent dies, however the
  parent dies (SIGKILL and OOM kills included), so no engine is ever orphaned.

Two kernel details shape this module. PDEATHSIG fires when the *thread* that forked the child
exits, not the process, so spawning is only allowed from the main thread (a child spawned from
a worker thread would be killed when that thread ends). And PDEATHSIG is cleared by credential
changes, so it is set in ``preexec_fn``, which CPython runs *after* the ``user=``/``group=``
switch.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from api.engines.errors import EngineError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RunAs:
    """An unprivileged account to run a child as (PostgreSQL refuses to run as root)."""

    name: str
    uid: int
    gid: int


def _die_with_parent(death_signal: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``death_signal`` when we die."""
    if not sys.platform.startswith("linux"):
        return None  # no PDEATHSIG elsewhere: stop() and the normal exit path still apply
    # Resolved here, in the parent: loading a library between fork and exec is not safe.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
        if os.getppid() != parent:  # the parent died before prctl: nobody would signal us
            os._exit(1)

    return preexec


def _require_main_thread() -> None:
    if threading.current_thread() is not threading.main_thread():
        raise EngineError(
            "embedded engines must be started from the main thread: Linux signals a child "
            "(PR_SET_PDEATHSIG) when the thread that forked it exits, so an engine spawned "
            "from another thread would be stopped when that thread ends"
        )


def spawn(
    argv: Sequence[str],
    *,
    log: IO[bytes],
    cwd: Path,
    env: Mapping[str, str],
    death_signal: signal.Signals,
    run_as: RunAs | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start a long-running child writing stdout and stderr to ``log``."""
    _require_main_thread()
    return subprocess.Popen(  # noqa: S603 - argv is built from our own paths, no shell
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=dict(env),
        close_fds=True,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
        preexec_fn=_die_with_parent(death_signal),  # noqa: PLW1509 - see module docstring
        user=run_as.uid if run_as else None,
        group=run_as.gid if run_as else None,
        extra_groups=[] if run_as else None,
    )


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str],
    cwd: Path | None = None,
    run_as: RunAs | None = None,
) -> tuple[int, str]:
    """Run a short helper to completion; return its exit status and combined output.

    On timeout (or any interruption) the helper's whole session is killed, so nothing it
    started (``initdb`` runs ``postgres`` in bootstrap mode) is left behind.
    """
    _require_main_thread()
    proc = subprocess.Popen(  # noqa: S603 - argv is built from our own paths, no shell
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=dict(env),
        close_fds=True,
        start_new_session=True,
        preexec_fn=_die_with_parent(signal.SIGKILL),  # noqa: PLW1509 - see module docstring
        user=run_as.uid if run_as else None,
        group=run_as.gid if run_as else None,
        extra_groups=[] if run_as else None,
    )
    try:
        out, _ = proc.communicate(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        kill_session(proc)
        raise EngineError(f"{Path(argv[0]).name} did not finish within {timeout:.1f} s") from None
    except BaseException:
        kill_session(proc)
        raise
    return proc.returncode, out.decode(errors="replace")


def kill_session(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child and everything in its session, then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def terminate(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Ask the child to stop with ``sig``; SIGKILL its session if it has not exited in time."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    # Also reaches what the child left behind (e.g. backends of a postmaster that was killed);
    # after a clean exit the session is empty and this is a no-op.
    kill_session(proc)


def child_env(**extra: str) -> dict[str, str]:
    """Our environment minus libpq's ``PG*`` variables, which would redirect the helpers."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(extra)
    return env
