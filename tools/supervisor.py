"""Children that end with their parent: the process supervision `make run` (tools/run.py) uses.

- Every child runs in its own process group (a Ctrl-C in the terminal reaches only the supervisor,
  which then stops the children in order) and gets PR_SET_PDEATHSIG, so the kernel ends it even when
  the supervisor itself is killed with SIGKILL.
- SIGINT, SIGTERM and SIGHUP (terminal closed) all start the same shutdown; from then on further
  signals are ignored, so a second Ctrl-C cannot cut the cleanup short and leave a process running.
- While a child is being started, stop signals wait (blocked) until it is registered: a signal
  never falls between "started" and "known to the supervisor".
- One supervisor per run directory: a lock file (flock, released by the kernel when the process
  ends) tells a second `make run` that one is already running, and which process it is.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Sequence

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class Shutdown(Exception):
    """A stop signal arrived (the signal number is args[0])."""


class AlreadyRunning(Exception):
    """Another supervisor holds the run directory (its pid is args[0], or 0 when unknown)."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def install_stop_signals() -> None:
    """Turn SIGINT, SIGTERM and SIGHUP into one Shutdown, raised once."""

    def stop(signum: int, _frame: Any) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)  # the cleanup that follows must not be interrupted
        raise Shutdown(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)


def ignore_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextmanager
def signals_held() -> Iterator[None]:
    """Stop signals wait until the block ends (then the Shutdown is raised)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def ports_in_use(ports: dict[str, int]) -> list[str]:
    """`NAME=port` for every port another program already listens on."""
    return [f"{name}={port}" for name, port in ports.items() if port_in_use(port)]


class Supervisor:
    """Starts children and ends all of them (group by group: SIGTERM, then SIGKILL after `grace`)."""

    def __init__(self, grace: float = 10.0) -> None:
        self.grace = grace
        self.children: List[subprocess.Popen[bytes]] = []
        self._lock: Optional[IO[str]] = None

    def lock(self, run_dir: Path) -> None:
        """Hold `run_dir/run.lock` for as long as this process lives; raises AlreadyRunning."""
        handle = open(run_dir / "run.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            handle.close()
            raise AlreadyRunning(int(text) if text.isdigit() else 0) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def spawn(
        self,
        args: Sequence[str],
        *,
        env: Dict[str, str],
        cwd: Path,
        stdout: Any = None,
    ) -> subprocess.Popen[bytes]:
        with signals_held():
            child = subprocess.Popen(  # our own programs, no shell
                list(args),
                cwd=cwd,
                env=env,
                stdout=stdout,
                stderr=subprocess.STDOUT if stdout is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # the supervisor runs no threads
            )
            self.children.append(child)
        return child

    def first_ended(self) -> Optional[subprocess.Popen[bytes]]:
        return next((c for c in self.children if c.poll() is not None), None)

    def stop_all(self) -> None:
        """End every child and everything it started; returns when they are gone."""
        ignore_stop_signals()
        for child in reversed(self.children):
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
        for child in self.children:  # grandchildren of a child that ended by itself
            _signal_group(child, signal.SIGKILL)
        self.children.clear()


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
