"""`python -m bot.server run …`: Rasa's own command line, with one speed-up that keeps its behaviour.

Rasa 3.6 validates every action server response with `jsonschema.validate()`, which first checks the
*schema itself* against the JSON-Schema meta-schema on every call. Profiling our turns showed half
of the Rasa server's time in that check. We build the validator once and validate each response
against the same schema, raising the same error as Rasa does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

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
    """Install the speed-up in this process."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def main() -> None:
    """Run Rasa's command line with the speed-up installed and personal data kept out of its logs."""
    install_log_redaction()  # before Rasa configures logging or logs anything (its DEBUG dumps user text)
    apply()
    from bot.channels.guard import install_on_rasa

    install_on_rasa()  # malformed requests, huge bodies and typed "/intent" (bot/channels/guard.py)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
