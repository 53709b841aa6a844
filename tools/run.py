"""`make run`: start the action server, the Rasa server and (when present) the handover service.

Ports and storage come from the environment (README, "Instellingen"); the defaults need nothing
installed: SQLite in var/ (`RUN_DIR`). Ctrl-C, SIGTERM and SIGHUP (terminal closed) stop every process
it started (tools/supervisor.py); a second `make run` says that one is running already.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

from tools.stack import ROOT, Stack, wait_for
from tools.supervisor import AlreadyRunning, Shutdown, Supervisor, install_stop_signals, ports_in_use

# The demo shows the whole path (live chat with a casemanager) at any hour; production keeps the
# service's own default (HANDOVER_OFFICE_HOURS, handover/README.md).
DEMO_OFFICE_HOURS = "mon-sun 00:00-24:00"


def demo_office_hours(environ: dict[str, str]) -> tuple[str, bool]:
    """The office hours for this run, and whether they are the demo's (the user set none)."""
    chosen = environ.get("HANDOVER_OFFICE_HOURS", "").strip()
    return (chosen, False) if chosen else (DEMO_OFFICE_HOURS, True)


def _say(text: str, err: bool = False) -> None:
    """Print, also when the terminal is gone (SIGHUP): stopping must go on regardless."""
    try:
        print(text, file=sys.stderr if err else sys.stdout, flush=True)
    except OSError:
        pass


def main() -> int:
    """Start everything, print the addresses, wait; stop everything on Ctrl-C, SIGTERM or SIGHUP."""
    model = Path(os.environ.get("MODEL", ROOT / "models" / "current.tar.gz"))
    os.umask(0o077)  # conversations, outbox and logs under var/: readable by this user only
    var = Path(os.environ.get("RUN_DIR") or ROOT / "var").resolve()
    var.mkdir(mode=0o700, parents=True, exist_ok=True)
    var.chmod(0o700)  # also when an earlier version created it open
    supervisor = Supervisor()
    try:
        supervisor.lock(var)
    except AlreadyRunning as running:
        which = f" (proces {running.args[0]})" if running.args[0] else ""
        _say(
            f"De assistent draait al{which}. Stop die eerst met Ctrl-C in het venster waar hij draait. "
            "Of start een tweede met een eigen RUN_DIR en andere poorten (README, Instellingen).",
            err=True,
        )
        return 1
    with_handover = (ROOT / "handover" / ".venv").exists()
    ports = {
        "RASA_PORT": int(os.environ.get("RASA_PORT", "5005")),
        "ACTIONS_PORT": int(os.environ.get("ACTIONS_PORT", "5055")),
        "WIDGET_PORT": int(os.environ.get("WIDGET_PORT", "8000")),
    }
    if with_handover:
        ports["HANDOVER_PORT"] = int(os.environ.get("HANDOVER_PORT", "8080"))
    taken = ports_in_use(ports)
    if taken:
        _say(
            f"Al in gebruik door een ander programma: {', '.join(taken)}. Stop dat programma, "
            "of kies een andere poort, bijvoorbeeld: RASA_PORT=5006 make run",
            err=True,
        )
        return 1
    token = os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(24)
    # Rasa proves itself to the action server with this (endpoints.yml); generated per run unless set.
    action_token = os.environ.get("ACTION_SERVER_TOKEN") or secrets.token_urlsafe(24)
    stack = Stack(
        model=model,
        workdir=var / "logs",
        rasa_port=ports["RASA_PORT"],
        actions_port=ports["ACTIONS_PORT"],
        token=token,
        action_token=action_token,
        host=os.environ.get("RASA_HOST", "127.0.0.1"),
        endpoints=ROOT / os.environ.get("RASA_ENDPOINTS", "endpoints.yml"),
        supervisor=supervisor,
    )
    os.environ.setdefault("TRACKER_DB_URL", f"sqlite:///{var / 'tracker.db'}")
    os.environ.setdefault("BOT_OUTBOX_DB_URL", str(var / "outbox.db"))
    os.environ.setdefault("WIDGET_PENDING_DB", str(var / "website.db"))
    os.environ.setdefault("EVENT_BROKER_URL", f"sqlite:///{var / 'events.db'}")
    if with_handover:
        # The actions and the service share one secret; generated per run unless configured.
        os.environ.setdefault("HANDOVER_SHARED_SECRET", secrets.token_urlsafe(24))
        os.environ.setdefault("HANDOVER_URL", f"http://127.0.0.1:{ports['HANDOVER_PORT']}")
        hours, is_demo = demo_office_hours(dict(os.environ))
        os.environ["HANDOVER_OFFICE_HOURS"] = hours
        _say(
            f"Medewerkers zijn in deze demo altijd bereikbaar (HANDOVER_OFFICE_HOURS={hours}); "
            "zet HANDOVER_OFFICE_HOURS voor echte openingstijden."
            if is_demo
            else f"Openingstijden medewerkers: HANDOVER_OFFICE_HOURS={hours}"
        )
    install_stop_signals()
    try:
        _say("Assistent starten (dit duurt ongeveer een halve minuut)...")
        stack.start()
        if with_handover:
            start_handover(supervisor, stack, token, ports["HANDOVER_PORT"])
        widget_port = ports["WIDGET_PORT"]
        widget = supervisor.spawn(
            [sys.executable, str(ROOT / "widget" / "serve.py")],
            env={
                **os.environ,
                "WIDGET_PORT": str(widget_port),
                "RASA_PUBLIC_URL": os.environ.get("RASA_PUBLIC_URL", f"http://localhost:{stack.rasa_port}"),
            },
            cwd=ROOT,
        )
        wait_for(f"http://127.0.0.1:{widget_port}/", 20, widget)
        _say(
            "\nDe assistent draait:\n"
            f"  Website + chat:   http://localhost:{widget_port}/\n"
            f"  Rasa (REST):      {stack.url}/webhooks/rest/webhook\n"
            f"  Rasa (socket.io): {stack.url}/socket.io\n"
            f"  Action server:    {stack.actions_url}/health\n"
            + (
                f"  Casemanagers:     {os.environ['HANDOVER_URL']}/wachtrij (inlog: zie hierboven)\n"
                if with_handover
                else ""
            )
            + f"  Logs:             {stack.workdir}\n"
            "Probeer:\n"
            f"  curl -s {stack.url}/webhooks/rest/webhook -H 'Content-Type: application/json' -d "
            '\'{"sender":"t1","message":'
            '"Ik heb een brief van het CJIB en ik kan de boete niet betalen"}\'\n'
            "Stoppen: Ctrl-C"
        )
        while supervisor.first_ended() is None:
            time.sleep(0.5)
        _say("Een van de processen is gestopt; zie de logs. Alles wordt gestopt.", err=True)
        return 1
    except Shutdown:
        return 0
    finally:
        _say("Stoppen...")
        supervisor.stop_all()
        _say("Gestopt.")


def start_handover(supervisor: Supervisor, stack: Stack, rasa_token: str, port: int) -> None:
    """The casemanagers' service: its database migrations, then the service (its own venv)."""
    here = ROOT / "handover"
    python = str(here / ".venv" / "bin" / "python")
    env = {
        **os.environ,
        # its own sources and the repository's shared `privacy` package (as handover/Makefile sets)
        "PYTHONPATH": f"{here / 'src'}{os.pathsep}{ROOT}",
        "RASA_URL": stack.url,
        "RASA_TOKEN": rasa_token,
        "HANDOVER_HOST": os.environ.get("HANDOVER_HOST", "127.0.0.1"),
        "HANDOVER_PORT": str(port),
        # Erasure by reference also deletes the conversation in Rasa's tracker store.
        "HANDOVER_TRACKER_DB_URL": os.environ.get("HANDOVER_TRACKER_DB_URL") or os.environ["TRACKER_DB_URL"],
        # The service counts Rasa's events for the insight dashboard (and deletes what it read).
        "HANDOVER_EVENTS_URL": os.environ.get("HANDOVER_EVENTS_URL") or os.environ["EVENT_BROKER_URL"],
    }
    migrate = supervisor.spawn([python, "-m", "alembic", "upgrade", "head"], env=env, cwd=here)
    if migrate.wait() != 0:
        raise RuntimeError("de database van de medewerkers kon niet worden bijgewerkt (alembic)")
    service = supervisor.spawn([python, "-m", "handover"], env=env, cwd=here)
    wait_for(f"http://127.0.0.1:{port}/healthz", 120, service)


if __name__ == "__main__":
    sys.exit(main())
