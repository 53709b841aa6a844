"""widget/serve.py: the right files with the right content types, nothing else."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Tuple

import pytest

from tests.widget.helpers import WIDGET, WidgetServer


@pytest.fixture
def server(static_server: WidgetServer) -> WidgetServer:
    return static_server


def get(server: WidgetServer, path: str, method: str = "GET") -> Tuple[int, str, bytes]:
    """A raw request: the path goes out exactly as written (no client-side normalising)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "content_type", "source"),
    [
        ("/chat-widget.js", "text/javascript; charset=utf-8", WIDGET / "src" / "chat-widget.js"),
        ("/chat-widget.css", "text/css; charset=utf-8", WIDGET / "src" / "chat-widget.css"),
        ("/vendor/socket.io.min.js", "text/javascript; charset=utf-8",
         WIDGET / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"),
    ],
)
def test_serves_the_widget_files(server: WidgetServer, path: str, content_type: str, source: Path) -> None:
    status, kind, body = get(server, path)
    assert (status, kind) == (200, content_type)
    assert body == source.read_bytes()


def test_demo_page_embeds_the_widget_with_one_escaped_script_tag(server: WidgetServer) -> None:
    for path in ("/", "/index.html", "/?utm=x"):
        status, kind, body = get(server, path)
        assert (status, kind) == (200, "text/html; charset=utf-8")
    page = body.decode()
    assert '<html lang="nl">' in page
    assert "Gemeente Voorbeeld" in page
    assert page.count("<script") == 1
    escaped = "http://bot.voorbeeld.nl:5005/&quot;&gt;&lt;script&gt;"
    assert f'<script src="/chat-widget.js" data-rasa-url="{escaped}" defer></script>' in page


def test_head_has_no_body(server: WidgetServer) -> None:
    status, kind, body = get(server, "/chat-widget.css", method="HEAD")
    assert (status, kind, body) == (200, "text/css; charset=utf-8", b"")


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/", "/src/", "/src/chat-widget.js", "/demo/index.html", "/serve.py", "/package.json",
        "/../serve.py", "/%2e%2e/serve.py", "/vendor/../serve.py", "/vendor/..%2f..%2fserve.py",
        "/node_modules/socket.io-client/package.json", "//etc/passwd", "/chat-widget.js/", "/favicon.ico",
    ],
)
def test_nothing_else_no_listing_no_traversal(server: WidgetServer, path: str) -> None:
    status, kind, body = get(server, path)
    assert status == 404
    assert kind.startswith("text/plain")
    assert b"<a href" not in body and b"import" not in body


def test_rejects_other_methods(server: WidgetServer) -> None:
    status, _, _ = get(server, "/", method="POST")
    assert status == 501
