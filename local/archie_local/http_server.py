"""The HTTP side of the local stack: a threaded HTTP/1.1 server on 127.0.0.1 that turns each request into an
`HttpRequest` for a dispatch function and writes back its `HttpResponse`.

Any method reaches the dispatch: what a method means is API Gateway's business (a method no route has is
its 403), not the HTTP server's (the stdlib's 501). Bodies are framed by `http_body` and always read whole,
or the connection is closed; an answer that must not carry a body (to HEAD, a 1xx, 204 or 304) carries
none, so both ends of a keep-alive connection agree on where the next message starts."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from archie_local.http_body import (
    MAX_BODY_BYTES,
    BodyTooLargeError,
    FramingError,
    check_declared_size,
    framing_of,
    read_body,
)

logger = logging.getLogger("archie_local.http")

# RFC 9110's token: what a method may be made of. Anything else is not an HTTP request at all.
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# How long, and how much, a closing connection keeps discarding what the client still sends (see _linger).
LINGER_SECONDS = 2.0
LINGER_BYTES = 2 * MAX_BODY_BYTES


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    body_too_large: bool = False  # the body is over the limit and was left unread

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        """Every value sent under `name`, in any case, in the order sent."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _has_no_content(status: int) -> bool:
    """RFC 9110 sections 15.2, 15.3.5 and 15.4.5: 1xx, 204 and 304 never have content."""
    return status < 200 or status in (204, 304)


class _Handler(BaseHTTPRequestHandler):
    """One connection's requests, each answered by `dispatch` (set per server by _make_handler)."""

    protocol_version = "HTTP/1.1"
    dispatch: Callable[[HttpRequest], HttpResponse]

    def __getattr__(self, name: str) -> Any:
        # handle_one_request looks up do_<METHOD> and answers 501 when there is none: every method is ours.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def handle_expect_100(self) -> bool:
        # 100 Continue is sent only once the body is about to be read (_serve), so a client is never
        # invited to send a body that is refused anyway (too large, unframeable).
        return True

    def _serve(self) -> None:
        if not _METHOD.fullmatch(self.command):
            self._refuse(400, "malformed method")
            return
        try:
            framing = framing_of(self.headers)
            check_declared_size(framing)
            if framing.has_body:
                self._continue()
            body = read_body(self.rfile, framing)  # type: ignore[arg-type]  # a buffered binary stream
        except FramingError as error:
            if error.status is None:
                self.close_connection = True
            else:
                self._refuse(error.status, str(error))
            return
        except BodyTooLargeError:
            # API Gateway's REQUEST_TOO_LARGE: the gateway answers it (its response, ids, access log).
            self._write(self.dispatch(self._request(b"", body_too_large=True)), close=True)
            return
        self._write(self.dispatch(self._request(body)))

    def _request(self, body: bytes, body_too_large: bool = False) -> HttpRequest:
        split = urlsplit(self.path)
        return HttpRequest(
            method=self.command,
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            body_too_large=body_too_large,
        )

    def _continue(self) -> None:
        if self.headers.get("Expect", "").lower() == "100-continue" and self.request_version != "HTTP/1.0":
            self.send_response_only(100)
            self.end_headers()

    def _refuse(self, status: int, message: str) -> None:
        """Requests that never reach API Gateway (on AWS its front end refuses them): plain JSON, and the
        connection closed, since where the next request would start is unknown."""
        body = json.dumps({"message": message}).encode()
        self._write(HttpResponse(status, {"Content-Type": "application/json"}, body), close=True)

    def _write(self, response: HttpResponse, close: bool = False) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        if not _has_no_content(response.status):
            self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")  # also ends this connection's request loop
        self.end_headers()
        if self.command != "HEAD" and not _has_no_content(response.status):
            self.wfile.write(response.body)
        if close:
            self._linger()

    def _linger(self) -> None:
        """Closing a socket that holds unread request bytes makes the kernel send a reset, which can
        destroy the answer before the client reads it (RFC 9112 section 9.6). So: stop sending (the
        client sees the answer, then the end of the stream), then discard what the client still sends,
        bounded in bytes and time, before the connection is closed."""
        deadline = time.monotonic() + LINGER_SECONDS
        discarded = 0
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while discarded < LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
                self.connection.settimeout(remaining)
                received = self.connection.recv(65536)
                if not received:
                    return
                discarded += len(received)
        except OSError:
            return  # the client is gone or slow: either way the connection is being closed

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug(format, *args)


def _make_handler(dispatch: Callable[[HttpRequest], HttpResponse]) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"dispatch": staticmethod(dispatch)})


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
