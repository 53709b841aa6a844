"""privacy/sender_id.py: the one rule for conversation ids that the bot's channels and the handover
service share. Refused, never changed: two processes can then never disagree about whose id it is."""

from __future__ import annotations

from typing import Any

import pytest

from privacy.sender_id import InvalidSenderId, check_sender_id


@pytest.mark.parametrize("value", ["burger-1", "31612345678", "a3f9" * 32, "x", "wa.me_123", "Jöns"])
def test_canonical_ids_come_back_unchanged(value: str) -> None:
    assert check_sender_id(value) is value


@pytest.mark.parametrize(
    "value",
    [
        "", " ", " victim", "victim ", "\tvictim", "victim\n", "vic\rtim", "vic\x00tim", "vic\x7ftim",
        "vic\u200btim",  # zero-width space
        "vic\u202etim",  # right-to-left override
        "vic\u00a0tim",  # no-break space
        "vic\u2028tim",  # line separator
        "\ud800", "a\udfff",  # unpaired surrogates
        "a/b", "../x", "x" * 129, None, 5, b"abc", ["a"],
    ],
)
def test_odd_ids_are_refused(value: Any) -> None:
    with pytest.raises(InvalidSenderId):
        check_sender_id(value)


def test_the_length_limit_can_be_set_per_caller() -> None:
    assert check_sender_id("x" * 255, max_chars=255) == "x" * 255
    with pytest.raises(InvalidSenderId):
        check_sender_id("x" * 256, max_chars=255)
