"""`make run`: start the action server, the Rasa server and (when present) the handover service.

Ports and storage come from the environment (README, "Instellingen"); the defaults need nothing
installed: SQLite in var/. Stops everything on Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tools.stack import ROOT, Stack, wait_for

# The demo shows the whole path (live chat with a casemanager) at any hour; production keeps the
# service's own default (HANDOVER_OFFICE_HOURS, handover/README.md).
DEMO_OFFICE_HOURS = "mon-sun 00:00-24:00"


def demo_office_hours(environ: dict[str, str]) -> tuple[str, bool]:
    """The office hours for this run, and whether they are the demo's (the user set none)."""
    chosen = environ.get("HANDOVER_OFFICE_HOURS", "").strip()
    return (chosen, False) if chosen else (DEMO_OFFICE_HOURS, True)


def main() -> int:
    """Start everything, print the addresses, wait."""
    model = Path(os.environ.get("MODEL", ROOT / "models" / "current.tar.gz"))
    os.umask(0o077)  # conversations, outbox and logs under var/: readable by this user only
    var = ROOT / "var"
    var.mkdir(mode=0o700, exist_ok=True)
    var.chmod(0o700)  # also when an earlier version created it open
    token = os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(24)
    # Rasa proves itself to the action server with this (endpoints.yml); generated per run unless set.
    action_token = os.environ.get("ACTION_SERVER_TOKEN") or secrets.token_urlsafe(24)
    stack = Stack(
        model=model,
        workdir=var / "logs",
        rasa_port=int(os.environ.get("RASA_PORT", "5005")),
        actions_port=int(os.environ.get("ACTIONS_PORT", "5055")),
        token=token,
        action_token=action_token,
        host=os.environ.get("RASA_HOST", "127.0.0.1"),
        endpoints=ROOT / os.environ.get("RASA_ENDPOINTS", "endpoints.yml"),
    )
    os.environ.setdefault("TRACKER_DB_URL", f"sqlite:///{var / 'tracker.db'}")
    os.environ.setdefault("BOT_OUTBOX_DB_URL", str(var / "outbox.db"))
    os.environ.setdefault("WIDGET_PENDING_DB", str(var / "website.db"))
    with_handover = (ROOT / "handover" / ".venv").exists()
    if with_handover:
        # The actions and the service share one secret; generated per run unless configured.
        os.environ.setdefault("HANDOVER_SHARED_SECRET", secrets.token_urlsafe(24))
        os.environ.setdefault("HANDOVER_URL", f"http://127.0.0.1:{os.environ.get('HANDOVER_PORT', '8080')}")
        hours, is_demo = demo_office_hours(dict(os.environ))
        os.environ["HANDOVER_OFFICE_HOURS"] = hours
        print(
            f"Medewerkers zijn in deze demo altijd bereikbaar (HANDOVER_OFFICE_HOURS={hours}); "
            "zet HANDOVER_OFFICE_HOURS voor echte openingstijden."
            if is_demo else f"Openingstijden medewerkers: HANDOVER_OFFICE_HOURS={hours}",
            flush=True,
        )
    # Ctrl-C and a plain `kill` both end every child process (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("Assistent starten (dit duurt ongeveer een halve minuut)...", flush=True)
    handover = widget = None
    try:
        stack.start()
        if with_handover:
            handover = subprocess.Popen(
                ["make", "--no-print-directory", "-C", "handover", "run"],
                env={**os.environ, "RASA_URL": stack.url, "RASA_TOKEN": token,
                     # Erasure by reference also deletes the conversation in Rasa's tracker store.
                     "HANDOVER_TRACKER_DB_URL": os.environ.get("HANDOVER_TRACKER_DB_URL")
                     or os.environ["TRACKER_DB_URL"]},
                start_new_session=True,
            )
            port = os.environ.get("HANDOVER_PORT", "8080")
            wait_for(f"http://127.0.0.1:{port}/healthz", 120, handover)
        widget_port = os.environ.get("WIDGET_PORT", "8000")
        widget = subprocess.Popen(
            [sys.executable, str(ROOT / "widget" / "serve.py")],
            env={**os.environ, "WIDGET_PORT": widget_port,
                 "RASA_PUBLIC_URL": os.environ.get("RASA_PUBLIC_URL", f"http://localhost:{stack.rasa_port}")},
            start_new_session=True,
        )
        wait_for(f"http://127.0.0.1:{widget_port}/", 20, widget)
        print(
            "\nDe assistent draait:\n"
            f"  Website + chat:   http://localhost:{widget_port}/\n"
            f"  Rasa (REST):      {stack.url}/webhooks/rest/webhook\n"
            f"  Rasa (socket.io): {stack.url}/socket.io\n"
            f"  Action server:    {stack.actions_url}/health\n"
            + (f"  Casemanagers:     {os.environ['HANDOVER_URL']}/wachtrij (inlog: zie hierboven)\n" if with_handover else "")
            + f"  Logs:             {stack.workdir}\n"
            "Probeer:\n"
            f"  curl -s {stack.url}/webhooks/rest/webhook -H 'Content-Type: application/json' -d "
            "'{\"sender\":\"t1\",\"message\":\"Ik heb een brief van het CJIB en ik kan de boete niet betalen\"}'\n"
            "Stoppen: Ctrl-C\n",
            flush=True,
        )
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        print("Een van de processen is gestopt; zie de logs.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in (handover, widget):
            if child is not None and child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
