"""Request bodies as HTTP/1.1 frames them (RFC 9112 section 6): where a body ends decides where the next
request on a keep-alive connection starts, so every body is read whole, whatever the method or route, or
the connection is closed.

A body is delimited by Transfer-Encoding: chunked or by Content-Length, never both; any framing whose end
cannot be known (a malformed or ambiguous length, a transfer coding other than a final chunked, a malformed
chunk) is a `FramingError`, answered 400 (501 for a transfer coding not implemented) before the connection
is closed. A body over the limit (API Gateway's 10 MB) is `BodyTooLargeError`, raised before reading what
is over the limit, so the client is answered without its body being read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import BinaryIO

# API Gateway's payload limit (10 MB), and how long a chunk-size or trailer line may be.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_LINE_BYTES = 4096
MAX_TRAILER_LINES = 100

_DIGITS = re.compile(r"[0-9]{1,20}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class FramingError(Exception):
    """The end of the body cannot be known: answered `status` and the connection closed. `status` None: the
    client went away mid-body, so there is nobody to answer."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLargeError(Exception):
    """The body is over the limit; what was not read yet is left unread."""


@dataclass(frozen=True)
class Framing:
    chunked: bool = False
    length: int = 0

    @property
    def has_body(self) -> bool:
        return self.chunked or self.length > 0


def framing_of(headers: Message) -> Framing:
    """How the request's body is delimited, from its headers."""
    codings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if codings:
        # Both present is how request smuggling starts (a front end and a back end disagreeing on the end).
        if lengths:
            raise FramingError(400, "both Transfer-Encoding and Content-Length")
        tokens = [token.strip().lower() for value in codings for token in value.split(",") if token.strip()]
        if not tokens or tokens[-1] != "chunked":
            raise FramingError(400, "chunked is not the final transfer coding")
        if tokens != ["chunked"]:
            raise FramingError(501, f"transfer coding not implemented: {', '.join(tokens)}")
        return Framing(chunked=True)
    if lengths:
        values = {part.strip() for value in lengths for part in value.split(",")}
        if len(values) != 1:
            raise FramingError(400, "conflicting Content-Length values")
        (value,) = values
        if not _DIGITS.fullmatch(value):
            raise FramingError(400, "malformed Content-Length")
        return Framing(length=int(value))
    return Framing()


def check_declared_size(framing: Framing, limit: int = MAX_BODY_BYTES) -> None:
    """Refuse a declared length over the limit before reading anything (or sending 100 Continue)."""
    if framing.length > limit:
        raise BodyTooLargeError


def read_body(stream: BinaryIO, framing: Framing, limit: int = MAX_BODY_BYTES) -> bytes:
    if framing.chunked:
        return _read_chunked(stream, limit)
    check_declared_size(framing, limit)
    body = stream.read(framing.length) if framing.length else b""
    if len(body) < framing.length:
        raise FramingError(None, "the client closed the connection before the end of the body")
    return body


def _line(stream: BinaryIO) -> bytes:
    line = stream.readline(MAX_LINE_BYTES + 1)
    if not line:
        raise FramingError(None, "the client closed the connection inside a chunked body")
    if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
        raise FramingError(400, "chunk line too long")
    return line.rstrip(b"\r\n")


def _read_chunked(stream: BinaryIO, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_text = _line(stream).split(b";", 1)[0].strip()  # chunk extensions are ignored, as RFC 9112 allows
        if not _HEX.fullmatch(size_text):
            raise FramingError(400, "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise BodyTooLargeError
        chunk = stream.read(size)
        if len(chunk) < size:
            raise FramingError(None, "the client closed the connection inside a chunk")
        body += chunk
        if stream.readline(3) not in (b"\r\n", b"\n"):
            raise FramingError(400, "chunk data longer than its size")
    for _ in range(MAX_TRAILER_LINES):
        if not _line(stream):  # trailer fields are read and dropped; an empty line ends the body
            return bytes(body)
    raise FramingError(400, "too many trailer fields")
