"""Without a bot behind it the widget says so, keeps what the citizen typed and shows no false
"typing" indicator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.widget.helpers import WidgetServer
from tools.stack import free_port

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def server_without_bot(
    node_modules: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    running = WidgetServer(f"http://127.0.0.1:{free_port()}", Path(tmp_path_factory.mktemp("offline")))
    try:
        yield running
    finally:
        running.stop()


def test_no_connection_is_announced(server_without_bot: WidgetServer, new_page: Any) -> None:
    page = new_page()
    page.goto(server_without_bot.url)
    page.get_by_role("button", name="Chat met de gemeente").click()
    page.locator("#gcw-input").fill("Hallo, is daar iemand?")
    page.keyboard.press("Enter")
    notice = page.get_by_role("status").filter(has_text="geen verbinding")
    expect(notice).to_be_visible()
    expect(page.locator(".gcw-msg--user", has_text="Hallo, is daar iemand?")).to_be_visible()
    expect(page.locator(".gcw-typing")).to_be_hidden()
