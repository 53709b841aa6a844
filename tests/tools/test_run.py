"""`make run`: the demo's office hours (the whole path, live chat included, at any hour)."""

from __future__ import annotations

import pytest

from tools.run import DEMO_OFFICE_HOURS, demo_office_hours


@pytest.mark.parametrize("environ", [{}, {"HANDOVER_OFFICE_HOURS": ""}, {"HANDOVER_OFFICE_HOURS": "  "}])
def test_the_demo_is_open_around_the_clock_unless_hours_are_set(environ: dict[str, str]) -> None:
    assert demo_office_hours(environ) == ("mon-sun 00:00-24:00", True)
    assert DEMO_OFFICE_HOURS == "mon-sun 00:00-24:00"


def test_hours_the_user_set_are_kept() -> None:
    chosen = {"HANDOVER_OFFICE_HOURS": "mon-fri 09:00-17:00"}
    assert demo_office_hours(chosen) == ("mon-fri 09:00-17:00", False)
