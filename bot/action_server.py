"""`python -m bot.action_server …`: rasa_sdk's action server (same arguments), locked down.

- Logs without personal data (privacy/logs.py).
- Listens on ACTIONS_HOST, 127.0.0.1 unless configured: only Rasa needs to reach it.
- Refuses to start without ACTION_SERVER_TOKEN; every call must carry it (bot/action_guard.py,
  installed through rasa_sdk's plugin hook in rasa_sdk_plugins/).
- Files it creates (the outbox database) are readable by the service user only.
"""

from __future__ import annotations

import os
import sys

from privacy.logs import install_log_redaction

DEFAULT_HOST = "127.0.0.1"


def main() -> None:
    """Check the settings, then run rasa_sdk's command line."""
    install_log_redaction()
    os.umask(0o077)  # the outbox holds citizens' messages until they are delivered
    from bot.action_guard import ActionGuardConfigError, ActionGuardSettings

    try:
        ActionGuardSettings.from_env()
    except ActionGuardConfigError as error:
        print(f"action server: {error}", file=sys.stderr)
        sys.exit(2)
    # rasa_sdk 3.6 reads the interface from SANIC_HOST and defaults to every interface.
    os.environ["SANIC_HOST"] = os.environ.get("ACTIONS_HOST") or DEFAULT_HOST
    from rasa_sdk.__main__ import main as sdk_main

    sdk_main()


if __name__ == "__main__":
    main()
