"""The Rasa speed-up validates action server responses exactly like Rasa does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor

from bot import action_retry, parse_thread
from bot.server import apply, validate_action_result, with_token_from_env

VALID = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"response": "utter_welkom"}]}
INVALID = [
    {"events": "not a list"},
    {"events": [{"event": 5}]},
    {"responses": "no list"},
    {"events": [{"event": "slot"}], "responses": []},
]



def test_valid_results_pass() -> None:
    assert validate_action_result(RemoteAction("action_x", None), VALID) is True


@pytest.mark.parametrize("result", INVALID)
def test_invalid_results_fail_like_rasa(result) -> None:
    rasa_says = None
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as e:
        rasa_says = e.message
    assert rasa_says is not None
    with pytest.raises(jsonschema.ValidationError) as ours:
        validate_action_result(RemoteAction("action_x", None), result)
    assert ours.value.message.startswith(rasa_says)
    assert "Failed to validate Action server response" in ours.value.message


def test_apply_installs_it_on_remote_actions() -> None:
    original_method = RemoteAction._validate_action_result
    try:
        apply()
        assert RemoteAction._validate_action_result is validate_action_result
        assert RemoteAction.run is action_retry.run_remote_action
        assert MessageProcessor.parse_message is parse_thread.parse_message
    finally:
        RemoteAction._validate_action_result = original_method
        action_retry.uninstall()
        parse_thread.uninstall()


def test_the_rasa_token_comes_from_the_environment_not_the_command_line() -> None:
    argv = ["bot.server", "run", "--model", "m.tar.gz"]
    expected = [*argv, "--auth-token=-starts-with-dash"]
    assert with_token_from_env(argv, {"RASA_TOKEN": "-starts-with-dash"}) == expected
    assert with_token_from_env(argv, {}) == argv  # Rasa then runs without its HTTP API token
    assert with_token_from_env(["bot.server", "train"], {"RASA_TOKEN": "x"}) == ["bot.server", "train"]


def test_a_token_on_the_command_line_is_refused() -> None:
    with pytest.raises(SystemExit):
        with_token_from_env(["bot.server", "run", "--auth-token=visible"], {"RASA_TOKEN": "x"})
