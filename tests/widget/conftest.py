"""Fixtures for the chat widget tests: npm packages, Debian's Chromium, the widget's static server,
the real bot (tools/stack.py) and a Playwright browser.

Setup is idempotent: `npm ci` runs only when widget/node_modules is missing or older than the lock
file; Chromium is installed with apt-get only when /usr/bin/chromium is missing (never with
`playwright install`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List

import pytest

from tests.widget.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HOSTILE_RASA_URL,
    MODEL,
    FakeRasa,
    WidgetServer,
    ensure_chromium,
    ensure_node_modules,
)
from tools.stack import Stack


@pytest.fixture(scope="session")
def node_modules() -> None:
    ensure_node_modules()


@pytest.fixture(scope="session")
def static_server(node_modules: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WidgetServer]:
    """widget/serve.py without a bot behind it (the Rasa address is a hostile-looking string)."""
    running = WidgetServer(HOSTILE_RASA_URL, Path(tmp_path_factory.mktemp("serve")))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    """A stand-in for Rasa's socket.io channel whose messages the test chooses (no model needed)."""
    running = FakeRasa().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def fake_server(
    fake_rasa: FakeRasa, node_modules: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    """widget/serve.py with the stand-in as its bot."""
    running = WidgetServer(fake_rasa.url, Path(tmp_path_factory.mktemp("fake-rasa")))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The real bot: action server + Rasa with socket.io (one per test module)."""
    if not MODEL.exists():
        pytest.fail("Geen getraind model: draai `make train` (make test doet dat vanzelf).")
    running = Stack(model=MODEL, workdir=Path(tmp_path_factory.mktemp("widget-stack"))).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def widget_server(
    stack: Stack, node_modules: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    server = WidgetServer(stack.url, Path(tmp_path_factory.mktemp("widget-serve")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    ensure_chromium()
    from playwright.sync_api import expect, sync_playwright

    # The first answers of a freshly loaded model can take several seconds on a busy machine.
    expect.set_options(timeout=30_000)

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Factory: a page in a fresh browser context (own localStorage); closed after the test, which
    fails when the page had a JavaScript error."""
    contexts = []
    errors: List[str] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "nl-NL")
        context = browser.new_context(**options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript-fouten op de pagina: {errors}"
