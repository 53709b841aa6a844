"""Start and stop the real processes (action server, Rasa server) for `make run`, tests and benchmarks.

Each process gets its own log file in the work directory; `stop()` ends them all, also when a test
fails half-way.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from tools.supervisor import Supervisor

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    url: str, timeout: float, process: Optional[subprocess.Popen[bytes]] = None, log: Optional[Path] = None
) -> None:
    """Poll `url` until it answers 200; fail early when the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"process stopped (exit {process.returncode}) before {url} answered\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class Stack:
    """Action server + Rasa server on loopback ports, with a SQLite tracker store in `workdir`."""

    model: Path
    workdir: Path
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    # Rasa sends it on every call to the action server (endpoints.yml, bot/action_guard.py).
    action_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    extra_env: Dict[str, str] = field(default_factory=dict)
    endpoints: Path = ROOT / "endpoints.yml"
    host: str = "127.0.0.1"
    # `make run` passes its supervisor (tools/supervisor.py): children that end with it.
    supervisor: Optional[Supervisor] = None
    processes: List[subprocess.Popen[bytes]] = field(default_factory=list)
    named: Dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        """Base URL of the action server."""
        return f"http://127.0.0.1:{self.actions_port}"

    def env(self) -> Dict[str, str]:
        """Environment for both processes."""
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(ROOT),
            TF_CPP_MIN_LOG_LEVEL="2",
            RASA_TELEMETRY_ENABLED="false",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
            ACTION_ENDPOINT_URL=f"{self.actions_url}/webhook",
            TRACKER_DB_URL=env.get("TRACKER_DB_URL") or f"sqlite:///{self.workdir / 'tracker.db'}",
            BOT_OUTBOX_DB_URL=env.get("BOT_OUTBOX_DB_URL") or str(self.workdir / "outbox.db"),
            WIDGET_PENDING_DB=env.get("WIDGET_PENDING_DB") or str(self.workdir / "website.db"),
            # Rasa's event broker (endpoints.yml, bot/event_broker.py): a SQLite file of its own.
            EVENT_BROKER_URL=env.get("EVENT_BROKER_URL") or f"sqlite:///{self.workdir / 'events.db'}",
            ACTION_SERVER_TOKEN=self.action_token,
        )
        env.update(self.extra_env)
        return env

    def _spawn(
        self, name: str, args: List[str], secrets_env: Optional[Dict[str, str]] = None
    ) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        # Logs hold no personal data (privacy/logs.py), but still: readable by this user only.
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        env = {**self.env(), **(secrets_env or {})}
        try:  # append: a restarted process keeps the log of its predecessor
            if self.supervisor is not None:
                process = self.supervisor.spawn(args, env=env, cwd=ROOT, stdout=fd)
            else:
                process = subprocess.Popen(
                    args, cwd=ROOT, env=env, stdout=fd, stderr=subprocess.STDOUT, start_new_session=True
                )
        finally:
            os.close(fd)
        self.processes.append(process)
        self.named[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """End one process ("rasa" or "actions") and wait until it is gone; SIGKILL is a crash."""
        process = self.named.pop(name)
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
        self.processes.remove(process)

    def start_actions(self, timeout: float = 120) -> None:
        """Start the action server and wait until it answers."""
        process = self._spawn(
            "actions",
            [
                str(PYTHON),
                "-m",
                "bot.action_server",
                "--actions",
                "bot.actions",
                "--port",
                str(self.actions_port),
            ],
        )
        wait_for(f"{self.actions_url}/health", timeout, process, self.workdir / "actions.log")

    def start_rasa(self, timeout: float = 240) -> None:
        """Start the Rasa server and wait until the model is loaded."""
        # The API token travels in the environment, not in the process list (bot/server.py).
        process = self._spawn(
            "rasa",
            [
                str(PYTHON),
                "-m",
                "bot.server",
                "run",
                "--model",
                str(self.model),
                "--enable-api",
                "--interface",
                self.host,
                "--port",
                str(self.rasa_port),
                "--endpoints",
                str(self.endpoints),
                "--credentials",
                str(ROOT / "credentials.yml"),
                "--cors",
                "*",
            ],
            secrets_env={"RASA_TOKEN": self.token},
        )
        wait_for(f"{self.url}/status?token={self.token}", timeout, process, self.workdir / "rasa.log")

    def start(self) -> "Stack":
        """Start both processes (actions first: Rasa calls it from the first message on)."""
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.start_actions()
            self.start_rasa()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """End every process of this stack."""
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()
        self.named.clear()


if __name__ == "__main__":  # pragma: no cover - manual use: python -m tools.stack MODEL
    stack = Stack(model=Path(sys.argv[1]), workdir=ROOT / "var" / "stack").start()
    print(stack.url)
