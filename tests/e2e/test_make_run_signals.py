"""`make run` stops everything it started: on Ctrl-C (SIGINT), SIGTERM (also twice in a row) and
SIGHUP (terminal closed), sent to its process group as a terminal does, every port is free within
15 s. A second `make run` on the same run directory says that one is running (tools/supervisor.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

from tools.stack import ROOT, free_port, wait_for
from tools.supervisor import ports_in_use

pytestmark = [pytest.mark.e2e, pytest.mark.model]
MODEL = ROOT / "models" / "current.tar.gz"
WITH_HANDOVER = (ROOT / "handover" / ".venv").exists()


def _ports() -> Dict[str, int]:
    names = ["RASA_PORT", "ACTIONS_PORT", "WIDGET_PORT"] + (["HANDOVER_PORT"] if WITH_HANDOVER else [])
    return {name: free_port() for name in names}


def _env(run_dir: Path, ports: Dict[str, int]) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "TRACKER_", "RASA_"))}
    env.update({name: str(port) for name, port in ports.items()})
    env.update(
        RUN_DIR=str(run_dir),
        MODEL=str(MODEL),
        HANDOVER_DATABASE_URL=f"sqlite+aiosqlite:///{run_dir / 'handover.db'}",
    )
    return env


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Dict[str, int], Dict[str, str]]]:
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train`")
    ports = _ports()
    env = _env(tmp_path / "run", ports)
    log = open(tmp_path / "make-run.log", "wb")
    # Its own session, as a job in a terminal: the signals below go to the whole process group.
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # the widget starts last: when it answers, everything runs
        wait_for(f"http://127.0.0.1:{ports['WIDGET_PORT']}/", 600, make, tmp_path / "make-run.log")
        assert ports_in_use(ports) == [f"{n}={p}" for n, p in ports.items()]
        yield make, ports, env
    finally:
        log.close()
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()


def _all_free_within(ports: Dict[str, int], seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (taken := ports_in_use(ports)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return taken


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGINT], [signal.SIGTERM, signal.SIGTERM], [signal.SIGHUP]],
    ids=["ctrl-c", "sigterm-twice", "sighup"],
)
def test_a_signal_to_make_run_frees_every_port(running: tuple, signals: list[int]) -> None:  # type: ignore[type-arg]
    make, ports, env = running
    if signals == [signal.SIGINT]:
        # a second `make run` on the same run directory refuses clearly and leaves the first alone
        second = subprocess.run(
            [sys.executable, "-m", "tools.run"],
            cwd=ROOT,
            env={**env, **{n: str(free_port()) for n in ports}},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "De assistent draait al (proces" in second.stderr
        assert ports_in_use(ports) == [f"{n}={p}" for n, p in ports.items()]
    for sig in signals:
        os.killpg(make.pid, sig)
    assert _all_free_within(ports, 15) == []
    make.wait(timeout=15)
    with pytest.raises(ProcessLookupError):  # nothing of the group is left
        os.killpg(make.pid, 0)


def test_a_port_taken_by_another_program_is_named(tmp_path: Path) -> None:
    ports = _ports()
    with socket.socket() as other:
        other.bind(("127.0.0.1", ports["RASA_PORT"]))
        other.listen()
        done = subprocess.run(
            [sys.executable, "-m", "tools.run"],
            cwd=ROOT,
            env=_env(tmp_path / "run", ports),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"RASA_PORT={ports['RASA_PORT']}" in done.stderr and "kies een andere poort" in done.stderr
