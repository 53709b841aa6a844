"""A tiny static server for the chat widget and its demo page (Python standard library only).

    python widget/serve.py            # http://localhost:8000/

Settings (environment):
  WIDGET_PORT        port (default 8000)
  WIDGET_HOST        interface (default 127.0.0.1; 0.0.0.0 to reach it from other machines)
  RASA_PUBLIC_URL    the Rasa server as the browser reaches it (default http://localhost:5005)
  WIDGET_PUBLIC_URL  where browsers load the widget from, for the demo's script tag (default: this server)

Only a fixed list of files is served: no directory listings, no path traversal.
"""

from __future__ import annotations

import html
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
SOCKET_IO = HERE / "node_modules" / "socket.io-client" / "dist"

JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"

# URL path -> (file, content type). Nothing else exists.
FILES: Dict[str, Tuple[Path, str]] = {
    "/chat-widget.js": (HERE / "src" / "chat-widget.js", JS),
    "/chat-widget.css": (HERE / "src" / "chat-widget.css", CSS),
    "/vendor/socket.io.min.js": (SOCKET_IO / "socket.io.min.js", JS),
    "/vendor/socket.io.min.js.map": (SOCKET_IO / "socket.io.min.js.map", JSON),
}
DEMO = HERE / "demo" / "index.html"
DEMO_PATHS = {"/", "/index.html"}


def demo_page(rasa_url: str, widget_base: str) -> bytes:
    """The demo page with the embed tag pointing at this server and at Rasa."""
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace("{{RASA_PUBLIC_URL}}", html.escape(rasa_url, quote=True))
    text = text.replace("{{WIDGET_BASE}}", html.escape(widget_base.rstrip("/"), quote=True))
    return text.encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    """GET/HEAD for the files above; 404 for everything else."""

    server_version = "gemeente-chat-widget"
    sys_version = ""
    rasa_url = "http://localhost:5005"
    widget_base = ""

    def do_GET(self) -> None:
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        self._serve(with_body=False)

    def _serve(self, with_body: bool) -> None:
        path = urlsplit(self.path).path
        body: Optional[bytes] = None
        if path in DEMO_PATHS:
            body, content_type = demo_page(self.rasa_url, self.widget_base), HTML
        elif path in FILES:
            file, content_type = FILES[path]
            if file.is_file():
                body = file.read_bytes()
            elif "vendor" in path:
                missing = "socket.io-client ontbreekt: draai `npm ci --prefix widget`.\n"
                self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, missing, with_body)
                return
        if body is None:
            self._send_text(HTTPStatus.NOT_FOUND, "Niet gevonden.\n", with_body)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        if path in FILES:
            # Other sites embed the widget: let them load it.
            self.send_header("Access-Control-Allow-Origin", "*")
        else:
            self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _send_text(self, status: HTTPStatus, text: str, with_body: bool) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("WIDGET_QUIET") != "1":
            super().log_message(format, *args)


def make_server(host: str, port: int, rasa_url: str, widget_base: str = "") -> ThreadingHTTPServer:
    """A server bound to host:port (not yet serving)."""
    handler = type("ConfiguredHandler", (Handler,), {"rasa_url": rasa_url, "widget_base": widget_base})
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main() -> int:
    host = os.environ.get("WIDGET_HOST", "127.0.0.1")
    port = int(os.environ.get("WIDGET_PORT", "8000"))
    rasa_url = os.environ.get("RASA_PUBLIC_URL", "http://localhost:5005")
    widget_base = os.environ.get("WIDGET_PUBLIC_URL", "")
    if not (SOCKET_IO / "socket.io.min.js").is_file():
        print("Let op: socket.io-client ontbreekt; draai eerst `npm ci --prefix widget`.", file=sys.stderr)
    server = make_server(host, port, rasa_url, widget_base)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    print(f"Demopagina met chatwidget: http://{shown}:{port}/  (Rasa: {rasa_url})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
