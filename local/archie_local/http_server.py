"""The HTTP side of the local stack: a threaded server on 127.0.0.1 that turns each request into an
`HttpRequest` for a dispatch function and writes back its `HttpResponse`.

Any method reaches the dispatch: what a method means is API Gateway's business (a method no route has is
its 403), not the HTTP server's (the stdlib's 501)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger("archie_local.http")

MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _make_handler(dispatch: Callable[[HttpRequest], HttpResponse]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __getattr__(self, name: str) -> Any:
            # handle_one_request looks up do_<METHOD> and answers 501 when there is none: every method is ours.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._write(HttpResponse(413, {"Content-Type": "application/json"}, b'{"message": "Request Too Long"}'))
                return
            body = self.rfile.read(length) if length else b""
            request = HttpRequest(
                method=self.command,
                path=split.path or "/",
                query=parse_qs(split.query, keep_blank_values=True),
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            self._write(dispatch(request))

        def _write(self, response: HttpResponse) -> None:
            self.send_response(response.status)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            logger.debug(format, *args)

    return Handler


class HttpService:
    """A threaded HTTP server on 127.0.0.1 running in a background thread; stop() shuts it down."""

    def __init__(self, dispatch: Callable[[HttpRequest], HttpResponse], port: int) -> None:
        self.server = _Server(("127.0.0.1", port), _make_handler(dispatch))
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpService:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
