"""Run a command while every core is kept busy: `python -m tools.busy [--load PCT] -- CMD ...`.

`make test-busy` runs the e2e, fault and widget tests this way, so a test that only passes on an
idle machine (a sleep instead of a wait, a timeout too tight) fails here first. The load comes from
Debian's stress-ng (one CPU worker per core at PCT % each), bounded in time, and is stopped when the
command ends, however it ends. Exits with the command's exit code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import List, Optional

LIMIT_SECONDS = 45 * 60  # the load never outlives a forgotten run


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.busy")
    parser.add_argument("--load", type=int, default=90, help="CPU load per core in percent (default 90)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    stress = shutil.which("stress-ng")
    if stress is None:
        print(
            "stress-ng ontbreekt (Debian-pakket stress-ng; make test-busy installeert het)", file=sys.stderr
        )
        return 2
    cores = os.cpu_count() or 1
    load = subprocess.Popen(
        [
            stress,
            "--cpu",
            str(cores),
            "--cpu-load",
            str(args.load),
            "--timeout",
            f"{LIMIT_SECONDS}s",
            "--quiet",
        ],
        start_new_session=True,
    )
    started = time.monotonic()
    print(f"belasting: stress-ng, {cores} kernen op {args.load} %", flush=True)
    try:
        return subprocess.call(command)
    finally:
        try:
            os.killpg(load.pid, signal.SIGTERM)
            load.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(load.pid, signal.SIGKILL)
        print(f"belasting gestopt na {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
