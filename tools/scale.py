"""`make scale-up`: the whole product scaled out on one machine, on loopback, on real parts.

    HAProxy  :5005 -> Rasa 1, Rasa 2          (socket.io: cookie-sticky for polling; websocket as is)
             :5055 -> action server 1, 2      (Rasa calls its actions through the balancer)
             :8080 -> handover service 1, 2   (casemanagers; Redis fan-out between the two)
    PostgreSQL: tracker store, bot outbox, website waiting messages, handover database, WhatsApp state
    Redis:      Rasa's lock store, socket.io between the Rasa instances (+ widget presence),
                handover fan-out
    widget      :8000 (static page; its socket.io goes to the balancer)

Everything ends with the supervisor (tools/supervisor.py), as with `make run`. `ScaledSystem` is
also what the soak (bench/soak.py) starts, kills and restarts parts of.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from tools.stack import PYTHON, ROOT, free_port, wait_for
from tools.supervisor import (
    AlreadyRunning,
    Shutdown,
    Supervisor,
    install_stop_signals,
    port_in_use,
    ports_in_use,
)

HANDOVER = ROOT / "handover"
HANDOVER_PY = HANDOVER / ".venv" / "bin" / "python"
PG_ADMIN = os.environ.get("SCALE_PG_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SCALE_REDIS_URL", "redis://127.0.0.1:6379")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/scale.log"
)
DATABASES = ("tracker", "outbox", "website", "handover", "whatsapp", "events")


def _ensure(port: int, start: str) -> None:
    """Start a local service whose port is closed (as the tests do); fail clearly when it stays shut."""
    if port_in_use(port):
        return
    subprocess.run(start, shell=True, capture_output=True, timeout=60, check=False)
    deadline = time.monotonic() + 20
    while not port_in_use(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not port_in_use(port):
        raise RuntimeError(f"poort {port} blijft dicht; start de dienst met: {start}")


def _create_databases(prefix: str) -> Dict[str, str]:
    """{part: postgresql URL}; databases that exist are kept (a restart keeps its conversations)."""
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    urls = {}
    try:
        with admin.connect() as conn:
            existing = {r[0] for r in conn.execute(sa.text("SELECT datname FROM pg_database"))}
            for part in DATABASES:
                name = f"{prefix}_{part}"
                if name not in existing:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                urls[part] = f"{PG_ADMIN}/{name}"
    finally:
        admin.dispose()
    return urls


def drop_databases(prefix: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for part in DATABASES:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{prefix}_{part}" WITH (FORCE)'))
    finally:
        admin.dispose()


def haproxy_config(
    front: Dict[str, int], back: Dict[str, List[int]], stats: Path, host: str = "127.0.0.1"
) -> str:
    """The balancer: one frontend per part, health-checked backends, retries on another server."""
    checks = {"rasa": "GET /", "actions": "GET /health", "handover": "GET /healthz"}
    lines = [
        "global",
        "  maxconn 8192",
        f"  stats socket {stats} mode 600 level user",  # server states, for wait_balanced
        "defaults",
        "  mode http",
        "  timeout connect 3s",
        "  timeout client 120s",
        "  timeout server 120s",
        "  timeout tunnel 1h",  # websockets (socket.io, the casemanagers' live page)
        # A killed server refuses the check's connection at once (out within 2 s); a busy one answers
        # slowly and must stay in: with the default (1 s) both action servers were marked down on a
        # loaded machine and Rasa got 503s for its action calls.
        "  timeout check 10s",
        "  option redispatch",
        "  retries 3",
        # only what never reached a server: a request a dying server may have handled is not sent
        # twice by the balancer (the outboxes retry, with their own idempotency keys)
        "  retry-on conn-failure",
    ]
    for part, port in front.items():
        lines += [f"frontend {part}_in", f"  bind {host}:{port}", f"  default_backend {part}"]
        lines += [
            f"backend {part}",
            "  balance roundrobin",
            "  option httpchk",
            f"  http-check send meth {checks[part].split()[0]} uri {checks[part].split()[1]}",
        ]
        if part == "rasa":
            # socket.io's long-polling needs every request of a session on one server
            lines.append("  cookie INTAKE_RASA insert indirect nocache httponly")
        for i, server_port in enumerate(back[part], 1):
            cookie = f" cookie {part}{i}" if part == "rasa" else ""
            lines.append(f"  server {part}{i} 127.0.0.1:{server_port} check inter 1s fall 2 rise 1{cookie}")
    return "\n".join(lines) + "\n"


@dataclass
class ScaledSystem:
    """Two of everything behind HAProxy; `kill(name)` / `restart(name)` for the soak."""

    run_dir: Path
    prefix: str = "intake_scale"
    ports: Dict[str, int] = field(default_factory=dict)  # the balancer's public ports
    extra_env: Dict[str, str] = field(default_factory=dict)
    instances: int = 2
    supervisor: Supervisor = field(default_factory=Supervisor)
    processes: Dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    internal: Dict[str, List[int]] = field(default_factory=dict)
    rasa_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    action_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    shared_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    demo_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    model: Path = ROOT / "models" / "current.tar.gz"

    def __post_init__(self) -> None:
        for part, default in (("rasa", 5005), ("actions", 5055), ("handover", 8080), ("widget", 8000)):
            self.ports.setdefault(part, default)
        self.logs = self.run_dir / "logs"

    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.ports[part]}"

    def env(self) -> Dict[str, str]:
        db = self.databases
        env = {k: v for k, v in os.environ.items()}
        env.update(
            PYTHONPATH=str(ROOT),
            TF_CPP_MIN_LOG_LEVEL="2",
            RASA_TELEMETRY_ENABLED="false",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
            TRACKER_DB_URL=db["tracker"],
            BOT_OUTBOX_DB_URL=db["outbox"],
            WIDGET_PENDING_DB=db["website"],
            WHATSAPP_STATE_DB=db["whatsapp"],
            EVENT_BROKER_URL=db["events"],
            REDIS_HOST="127.0.0.1",
            REDIS_PORT="6379",
            REDIS_PASSWORD="",
            REDIS_LOCK_DB="1",
            # a conversation whose instance was killed mid-turn waits this long (Rasa's default: 60 s)
            TICKET_LOCK_LIFETIME=os.environ.get("TICKET_LOCK_LIFETIME", "20"),
            SOCKETIO_REDIS_URL=f"{REDIS}/2",
            ACTION_ENDPOINT_URL=f"{self.url('actions')}/webhook",
            ACTION_SERVER_TOKEN=self.action_token,
            HANDOVER_URL=self.url("handover"),
            HANDOVER_SHARED_SECRET=self.shared_secret,
        )
        env.update(self.extra_env)
        return env

    def handover_env(self) -> Dict[str, str]:
        env = self.env()
        env.update(
            PYTHONPATH=f"{HANDOVER / 'src'}{os.pathsep}{ROOT}",
            HANDOVER_DATABASE_URL=self.databases["handover"].replace(
                "postgresql://", "postgresql+asyncpg://"
            ),
            HANDOVER_TRACKER_DB_URL=self.databases["tracker"],
            HANDOVER_EVENTS_URL=self.databases["events"],
            REDIS_URL=f"{REDIS}/3",
            HANDOVER_REDIS_CHANNEL=f"{self.prefix}:events",
            RASA_URL=self.url("rasa"),
            RASA_TOKEN=self.rasa_token,
            HANDOVER_HOST="127.0.0.1",
            HANDOVER_DEMO_PASSWORD=self.demo_password,
        )
        env.setdefault("HANDOVER_OFFICE_HOURS", "mon-sun 00:00-24:00")
        env.update({k: v for k, v in self.extra_env.items() if k.startswith("HANDOVER_")})
        return env

    # --- starting --------------------------------------------------------------------------

    def start(self) -> "ScaledSystem":
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.logs.mkdir(mode=0o700, exist_ok=True)
        if shutil.which("haproxy") is None:
            raise RuntimeError("HAProxy ontbreekt (Debian-pakket haproxy; make scale-up installeert het)")
        _ensure(5432, PG_START)
        _ensure(6379, REDIS_START)
        self.databases = _create_databases(self.prefix)
        self.internal = {
            part: [free_port() for _ in range(self.instances)] for part in ("rasa", "actions", "handover")
        }
        config = self.run_dir / "haproxy.cfg"
        config.write_text(
            haproxy_config(
                {p: self.ports[p] for p in ("rasa", "actions", "handover")},
                self.internal,
                self.run_dir / "haproxy.sock",
            )
        )
        self._spawn("haproxy", ["haproxy", "-f", str(config), "-db"], cwd=self.run_dir)
        for i in range(1, self.instances + 1):
            self.start_part("actions", i, wait=False)
        for i in range(1, self.instances + 1):
            self.wait_part("actions", i)
        migrate = self._spawn(
            "migrate", [str(HANDOVER_PY), "-m", "alembic", "upgrade", "head"], cwd=HANDOVER, handover=True
        )
        if migrate.wait() != 0:
            raise RuntimeError("alembic upgrade head mislukte; zie " + str(self.logs / "migrate.log"))
        for i in range(1, self.instances + 1):
            self.start_part("rasa", i, wait=False)
        # one after the other: each creates the demo login when it is missing
        for i in range(1, self.instances + 1):
            self.start_part("handover", i)
        for i in range(1, self.instances + 1):
            self.wait_part("rasa", i)
        self._spawn(
            "widget",
            [sys.executable, str(ROOT / "widget" / "serve.py")],
            cwd=ROOT,
            extra={
                "WIDGET_PORT": str(self.ports["widget"]),
                "RASA_PUBLIC_URL": f"http://localhost:{self.ports['rasa']}",
            },
        )
        wait_for(f"{self.url('widget')}/", 30, self.processes["widget"])
        # the balancer has seen every server healthy: a first request does not hit a server still starting
        for part in ("rasa", "actions", "handover"):
            self.wait_balanced(part)
        return self

    def _spawn(
        self,
        name: str,
        args: List[str],
        cwd: Path,
        handover: bool = False,
        extra: Optional[Dict[str, str]] = None,
    ) -> subprocess.Popen[bytes]:
        env = self.handover_env() if handover else self.env()
        env.update(extra or {})
        fd = os.open(self.logs / f"{name}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            process = self.supervisor.spawn(args, env=env, cwd=cwd, stdout=fd)
        finally:
            os.close(fd)
        self.processes[name] = process
        return process

    def start_part(self, part: str, i: int, wait: bool = True) -> None:
        port = self.internal[part][i - 1]
        name = f"{part}{i}"
        if part == "actions":
            args = [str(PYTHON), "-m", "bot.action_server", "--actions", "bot.actions", "--port", str(port)]
            self._spawn(name, args, cwd=ROOT)
        elif part == "rasa":
            args = [
                str(PYTHON),
                "-m",
                "bot.server",
                "run",
                "--model",
                str(self.model),
                "--enable-api",
                "--interface",
                "127.0.0.1",
                "--port",
                str(port),
                "--endpoints",
                str(ROOT / "endpoints.scale.yml"),
                "--credentials",
                str(ROOT / "credentials.yml"),
                "--cors",
                "*",
            ]
            self._spawn(name, args, cwd=ROOT, extra={"RASA_TOKEN": self.rasa_token})
        elif part == "handover":
            self._spawn(
                name,
                [str(HANDOVER_PY), "-m", "handover"],
                cwd=HANDOVER,
                handover=True,
                extra={"HANDOVER_PORT": str(port)},
            )
        if wait:
            self.wait_part(part, i)

    def wait_part(self, part: str, i: int) -> None:
        port = self.internal[part][i - 1]
        path = {"actions": "/health", "rasa": f"/status?token={self.rasa_token}", "handover": "/healthz"}[
            part
        ]
        name = f"{part}{i}"
        wait_for(f"http://127.0.0.1:{port}{path}", 300, self.processes[name], self.logs / f"{name}.log")

    def servers_up(self, part: str) -> List[str]:
        """The servers of `part` that HAProxy's health checks find up (from its stats socket)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.run_dir / "haproxy.sock"))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
        return [r[1] for r in rows if r[0] == part and r[1] not in ("FRONTEND", "BACKEND") and r[17] == "UP"]

    def wait_balanced(self, part: str, timeout: float = 60) -> None:
        """Until HAProxy sees every running server of `part` up."""
        wanted = {name for name in self.processes if name.rstrip("0123456789") == part}
        deadline = time.monotonic() + timeout
        while not wanted <= set(self.servers_up(part)):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"HAProxy ziet {part} niet gezond: {self.servers_up(part)} van {sorted(wanted)}"
                )
            time.sleep(0.2)

    # --- faults ------------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """SIGKILL one part ("rasa1", "actions2", "handover1", ...): a crash, not a shutdown."""
        process = self.processes.pop(name)
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
        self.supervisor.children.remove(process)

    def restart(self, name: str) -> None:
        part, i = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")) :])
        self.start_part(part, i)
        self.wait_balanced(part)

    def stop(self) -> None:
        self.supervisor.stop_all()
        self.processes.clear()


def main() -> int:
    run_dir = Path(os.environ.get("RUN_DIR") or ROOT / "var" / "scale").resolve()
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.umask(0o077)
    system = ScaledSystem(
        run_dir=run_dir,
        model=Path(os.environ.get("MODEL") or ROOT / "models" / "current.tar.gz").resolve(),
        ports={
            "rasa": int(os.environ.get("RASA_PORT", "5005")),
            "actions": int(os.environ.get("ACTIONS_PORT", "5055")),
            "handover": int(os.environ.get("HANDOVER_PORT", "8080")),
            "widget": int(os.environ.get("WIDGET_PORT", "8000")),
        },
    )
    try:
        system.supervisor.lock(run_dir)
    except AlreadyRunning as running:
        which = f" (proces {running.args[0]})" if running.args[0] else ""
        print(f"make scale-up draait al{which}. Stop die eerst met Ctrl-C.", file=sys.stderr)
        return 1
    taken = ports_in_use(system.ports)
    if taken:
        print(f"Al in gebruik door een ander programma: {', '.join(taken)}.", file=sys.stderr)
        return 1
    install_stop_signals()
    try:
        print(
            "Opschalen: HAProxy, 2x Rasa, 2x action server, 2x handover (ongeveer twee minuten)...",
            flush=True,
        )
        system.start()
        print(
            "\nDe assistent draait opgeschaald:\n"
            f"  Website + chat:   {system.url('widget')}/\n"
            f"  Rasa (HAProxy):   {system.url('rasa')}  -> {system.internal['rasa']}\n"
            f"  Actions (HAProxy):{system.url('actions')} -> {system.internal['actions']}\n"
            f"  Medewerkers:      {system.url('handover')}/wachtrij  (demo / {system.demo_password})\n"
            f"  Logs:             {system.logs}\n"
            "Stoppen: Ctrl-C",
            flush=True,
        )
        while system.supervisor.first_ended() is None:
            time.sleep(0.5)
        print("Een van de processen is gestopt; zie de logs. Alles wordt gestopt.", file=sys.stderr)
        return 1
    except Shutdown:
        return 0
    finally:
        try:
            print("Stoppen...", flush=True)
        except OSError:
            pass
        system.stop()


if __name__ == "__main__":
    sys.exit(main())
