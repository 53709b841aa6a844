"""`python -m bot.server run …`: Rasa's own command line, with one speed-up that keeps its behaviour,
its API token read from RASA_TOKEN (not the process list), files created for this user only, and a
turn whose action server died tried again or failed instead of answered as done (bot/action_retry.py),
and messages read on a thread of their own so the event loop keeps answering (bot/parse_thread.py).

Rasa 3.6 validates every action server response with `jsonschema.validate()`, which first checks the
*schema itself* against the JSON-Schema meta-schema on every call. Profiling our turns showed half
of the Rasa server's time in that check. We build the validator once and validate each response
against the same schema, raising the same error as Rasa does.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any, Dict, List

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

from privacy.logs import install_log_redaction


@lru_cache(maxsize=1)
def response_validator() -> Any:
    """The validator for action server responses, with the schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """Same contract as RemoteAction._validate_action_result, without re-checking the schema."""
    # jsonschema.validate() raises the best-matching error; so do we.
    error = jsonschema.exceptions.best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def apply() -> None:
    """Install the speed-up in this process, turns that fail when no action server answered
    instead of being answered as done (bot/action_retry.py), and messages read off the event loop
    (bot/parse_thread.py)."""
    from bot import action_retry, parse_thread

    RemoteAction._validate_action_result = validate_action_result
    action_retry.install()
    parse_thread.install()


def with_token_from_env(argv: List[str], env: Dict[str, str]) -> List[str]:
    """`rasa run` arguments plus `--auth-token` from RASA_TOKEN.

    Rasa 3.6 only takes its API token as a command-line argument, which every user of the machine
    can read in the process list; we add it to this process's own argument list instead, after it
    started. One argument ("--auth-token=…"): a token may start with "-".
    """
    token = env.get("RASA_TOKEN")
    if len(argv) < 2 or argv[1] != "run" or not token:
        return argv
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in argv):
        raise SystemExit("bot.server: give the Rasa token as RASA_TOKEN in the environment, not --auth-token")
    return [*argv, f"--auth-token={token}"]


def main() -> None:
    """Run Rasa's command line with the speed-up installed and personal data kept out of its logs."""
    install_log_redaction()  # before Rasa configures logging or logs anything (its DEBUG dumps user text)
    os.umask(0o077)  # the SQLite tracker store and log files hold conversations: this user only
    sys.argv = with_token_from_env(sys.argv, dict(os.environ))
    apply()
    from bot.input_guard import install_on_rasa
    from bot.log_privacy import install_on_rasa as hide_text_in_error_logs

    install_on_rasa()  # malformed requests, huge bodies and typed "/intent" (bot/input_guard.py)
    hide_text_in_error_logs()  # Rasa's structlog events of failed messages (bot/log_privacy.py)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
