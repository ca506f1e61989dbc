"""The local API Gateway over real HTTP answers as API Gateway does: any method reaches the gateway, a
keep-alive connection survives every body framing a client can send, oversized and malformed requests are
refused and their connection closed, every response carries the request ids, and each API is served both
under its stage (as execute-api serves it) and without it (as a custom domain with an empty base path does).

Responses are read with `RawConnection`, which frames them exactly as RFC 9112 says (no body on a 204, a
HEAD answer or a 1xx), so a stray byte on the connection shows up as the next response's status line
instead of being skipped by a forgiving client."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from typing import Any

import pytest

from tests.support import env_path, http

WHOAMI = env_path("demo", "dev", "/whoami")
KEYS = env_path("demo", "dev", "/keys")
MISSING_TOKEN = {"message": "Missing Authentication Token"}
EXTENDED_ID = re.compile(r"[A-Za-z0-9+/]{15}=")
OVER_LIMIT = 10 * 1024 * 1024 + 1


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """One keep-alive connection to 127.0.0.1; every read is bounded by the socket timeout."""

    def __init__(self, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.stream = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self, method: str = "GET") -> RawResponse:
        status_line = self.stream.readline(65537)
        match = re.fullmatch(rb"HTTP/1\.1 (\d{3}) [^\r\n]*\r\n", status_line)
        assert match, f"not a status line: {status_line[:80]!r}"
        headers: dict[str, str] = {}
        for _ in range(100):
            line = self.stream.readline(65537)
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise AssertionError("more than 100 header lines")
        status = int(match.group(1))
        if method == "HEAD" or status in (204, 304) or status < 200:
            return RawResponse(status, headers, b"")
        return RawResponse(status, headers, self.stream.read(int(headers.get("content-length", "0"))))

    def closed_by_server(self) -> bool:
        """True when the server has closed its side: the next read is the end of the stream."""
        try:
            return self.stream.read(1) == b""
        except (TimeoutError, ConnectionResetError):
            return False

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


def request(method: str, path: str, key: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A request head; the caller appends whatever body (and framing) the test is about."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, size: int = 5) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.fixture
def port(stack: Any) -> int:
    return int(stack.services["ManagementApi"].port)


@pytest.fixture
def connection(port: int) -> Iterator[RawConnection]:
    opened = RawConnection(port)
    yield opened
    opened.close()


@pytest.fixture
def access_log(stack: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The management API served by one more gateway, on its own free port, whose access-log lines the test
    reads directly."""
    from archie_local.gateway import Gateway
    from archie_local.http_server import HttpService

    lines: list[dict[str, Any]] = []
    service = HttpService(
        Gateway(stack.apis["ManagementApi"], lambda _api, line: lines.append(json.loads(line))).handle, 0
    )
    service.start()
    yield service.url, lines
    service.stop()


def new_key_id(stack: Any, admin: str) -> str:
    reply = http(stack.url(), "POST", KEYS, admin, {"name": "to delete", "roles": ["admin"]})
    assert reply.status == 201, reply.body
    return str(reply.body["key_id"])


# --- 1. a method no route has -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND", "BREW"])
def test_a_method_no_route_has_is_answered_like_an_unknown_route(
    method: str, access_log: tuple[str, list[dict[str, Any]]], admin: str
) -> None:
    # Given the management API, whose routes use none of these methods
    url, lines = access_log
    connection = HTTPConnection(url.removeprefix("http://"), timeout=10)
    try:
        # When one is called on a route that exists for other methods, and on no route at all
        connection.request(method, KEYS, headers={"Authorization": f"Bearer {admin}"})
        on_route = connection.getresponse()
        on_route_body = on_route.read()
        connection.request(method, "/nowhere")
        nowhere = connection.getresponse()
        nowhere_body = nowhere.read()
        # Then both get API Gateway's 403 Missing Authentication Token, as GET on an unknown route does
        assert (on_route.status, json.loads(on_route_body)) == (403, MISSING_TOKEN)
        assert (nowhere.status, json.loads(nowhere_body)) == (403, MISSING_TOKEN)
        assert on_route.getheader("x-amzn-RequestId") and on_route.getheader("x-amz-apigw-id")
        # And the connection still serves the next request
        connection.request("GET", WHOAMI, headers={"Authorization": f"Bearer {admin}"})
        after = connection.getresponse()
        assert after.status == 200, after.read()
        after.read()
    finally:
        connection.close()
    # And each is in the access log like any other request
    logged = [(line["method"], line["status"], line["error"]) for line in lines]
    assert logged[:2] == [(method, "403", "MISSING_AUTHENTICATION_TOKEN")] * 2


# --- 2. bodies and keep-alive -----------------------------------------------------------------------------


def test_a_delete_with_a_body_leaves_the_connection_clean_for_the_next_request(
    stack: Any, admin: str, port: int
) -> None:
    # Given one keep-alive connection (http.client, as the report had it)
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    try:
        # When a DELETE carrying a JSON body the route never reads is answered
        connection.request("DELETE", f"{KEYS}/{new_key_id(stack, admin)}", body=b'{"reason": "x"}', headers=headers)
        deleted = connection.getresponse()
        assert (deleted.status, deleted.read()) == (204, b"")
        # Then the next request on the same connection is answered correctly
        connection.request("GET", WHOAMI, headers=headers)
        after = connection.getresponse()
        assert after.status == 200
        assert json.loads(after.read())["project"] == "demo"
    finally:
        connection.close()


def test_a_204_carries_no_body_so_the_next_response_starts_right_after_it(
    stack: Any, admin: str, connection: RawConnection
) -> None:
    # Given a DELETE (with a body) whose handler answers 204
    body = b'{"reason": "x"}'
    head = request("DELETE", f"{KEYS}/{new_key_id(stack, admin)}", admin, {"Content-Length": str(len(body))})
    connection.send(head + body)
    deleted = connection.response("DELETE")
    assert deleted.status == 204
    # Then a 204 declares no length, and the very next bytes are the next response's status line
    assert "content-length" not in deleted.headers
    connection.send(request("GET", WHOAMI, admin))
    assert connection.response().status == 200


def test_a_get_with_a_body_is_answered_and_its_body_consumed(admin: str, connection: RawConnection) -> None:
    body = b'{"ignored": true}'
    connection.send(request("GET", WHOAMI, admin, {"Content-Length": str(len(body))}) + body)
    assert connection.response().status == 200
    connection.send(request("GET", WHOAMI, admin))
    assert connection.response().status == 200


def test_a_head_request_gets_no_body_and_the_connection_goes_on(admin: str, connection: RawConnection) -> None:
    connection.send(request("HEAD", WHOAMI, admin))
    assert connection.response("HEAD").status == 403  # no route has HEAD: answered like any such method
    connection.send(request("GET", WHOAMI, admin))
    assert connection.response().status == 200


def test_a_chunked_body_is_read_whole(stack: Any, admin: str, connection: RawConnection) -> None:
    # Given a key created with a chunked body, on a connection that then deletes another key with one
    created_body = json.dumps({"name": "sent in chunks", "roles": ["admin"]}).encode()
    connection.send(request("POST", KEYS, admin, {"Transfer-Encoding": "chunked"}) + chunked(created_body))
    created = connection.response()
    # Then the handler got the whole body
    assert created.status == 201, created.body
    assert created.json["record"]["name"] == "sent in chunks"
    # And a chunked body on a route that does not read it is consumed too
    doomed = f"{KEYS}/{new_key_id(stack, admin)}"
    connection.send(request("DELETE", doomed, admin, {"Transfer-Encoding": "chunked"}) + chunked(b'{"x": 1}'))
    assert connection.response("DELETE").status == 204
    connection.send(request("GET", WHOAMI, admin))
    assert connection.response().status == 200


def test_expect_100_continue_gets_continue_then_the_answer(admin: str, connection: RawConnection) -> None:
    body = b'{"ignored": true}'
    connection.send(request("GET", WHOAMI, admin, {"Content-Length": str(len(body)), "Expect": "100-continue"}))
    assert connection.response().status == 100
    connection.send(body)
    assert connection.response().status == 200


@pytest.mark.parametrize(
    "framing",
    [
        {"Content-Length": "abc"},
        {"Content-Length": "-1"},
        {"Content-Length": "1, 2"},
        {"Content-Length": "3", "Transfer-Encoding": "chunked"},
        {"Transfer-Encoding": "chunked, identity"},
    ],
    ids=["not-a-number", "negative", "two-lengths", "length-and-chunked", "chunked-not-last"],
)
def test_a_body_whose_length_cannot_be_known_is_400_and_the_connection_closed(
    framing: dict[str, str], admin: str, connection: RawConnection
) -> None:
    connection.send(request("POST", KEYS, admin, framing) + b"abc")
    refused = connection.response()
    assert refused.status == 400
    assert refused.headers.get("connection") == "close"
    assert connection.closed_by_server()


def test_a_malformed_chunk_is_400_and_the_connection_closed(admin: str, connection: RawConnection) -> None:
    connection.send(request("POST", KEYS, admin, {"Transfer-Encoding": "chunked"}) + b"zz\r\nabc\r\n0\r\n\r\n")
    assert connection.response().status == 400
    assert connection.closed_by_server()


def test_a_body_over_10_mb_is_refused_before_it_is_sent(admin: str, connection: RawConnection) -> None:
    # Given a client that declares an 11 MB body and waits for 100 Continue before sending it
    connection.send(request("POST", KEYS, admin, {"Content-Length": str(OVER_LIMIT), "Expect": "100-continue"}))
    # Then the answer is a final 413 (no 100 Continue), with the request ids, and the connection is closed
    refused = connection.response()
    assert refused.status == 413
    assert refused.json == {"message": "Request Too Long"}
    assert refused.headers["x-amzn-requestid"] and EXTENDED_ID.fullmatch(refused.headers["x-amz-apigw-id"])
    assert refused.headers.get("connection") == "close"
    assert connection.closed_by_server()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_over_10_mb_is_refused_unread_and_the_connection_closed(
    framing: str, admin: str, connection: RawConnection
) -> None:
    # Given a client already sending a body over 10 MB (declared up front, or in one huge chunk)
    start = b"x" * 65536
    if framing == "length":
        connection.send(request("POST", KEYS, admin, {"Content-Length": str(OVER_LIMIT)}) + start)
    else:
        connection.send(request("POST", KEYS, admin, {"Transfer-Encoding": "chunked"}) + b"%x\r\n" % OVER_LIMIT + start)
    # Then it gets 413 without the server waiting for the rest, and the connection is closed
    refused = connection.response()
    assert refused.status == 413
    assert refused.headers.get("connection") == "close"
    assert connection.closed_by_server()


def test_a_client_that_sends_an_oversized_body_whole_still_reads_the_413(admin: str, port: int) -> None:
    # Given http.client, which sends the whole body before reading any answer
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", KEYS, body=b"x" * OVER_LIMIT, headers={"Authorization": f"Bearer {admin}"})
        refused = connection.getresponse()
        # Then it reads the 413 rather than a reset connection
        assert (refused.status, json.loads(refused.read())) == (413, {"message": "Request Too Long"})
    finally:
        connection.close()


# --- 3. request ids ---------------------------------------------------------------------------------------


def test_every_response_carries_the_request_ids(stack: Any, admin: str, connection: RawConnection) -> None:
    sent_id = "3f1c2b8e-9a4d-4e7f-8b6a-1c2d3e4f5a6b"
    calls = [
        (request("GET", WHOAMI, admin, {"x-amzn-RequestId": sent_id}), 200),
        (request("GET", WHOAMI), 401),
        (request("GET", "/nowhere"), 403),
        (request("TRACE", WHOAMI, admin), 403),
    ]
    seen = set()
    for head, status in calls:
        connection.send(head)
        answered = connection.response()
        assert answered.status == status
        assert EXTENDED_ID.fullmatch(answered.headers["x-amz-apigw-id"])
        seen.add(answered.headers["x-amz-apigw-id"])
        assert answered.headers["x-amzn-requestid"]
    assert len(seen) == len(calls)
    connection.send(request("GET", WHOAMI, admin, {"x-amzn-RequestId": sent_id}))
    assert connection.response().headers["x-amzn-requestid"] == sent_id


# --- 4. the stage in the path -----------------------------------------------------------------------------


def test_both_forms_of_the_url_reach_the_same_handler(
    stack: Any, admin: str, access_log: tuple[str, list[dict[str, Any]]]
) -> None:
    # Given the management API at its root (custom domain) and under its stage (execute-api)
    root, lines = access_log
    stage = stack.apis["ManagementApi"].stage
    assert stack.url(with_stage=True) == f"{stack.url()}/{stage}"
    # When the same route is called both ways
    as_domain = http(root, "GET", WHOAMI, admin)
    as_execute_api = http(f"{root}/{stage}", "GET", WHOAMI, admin)
    # Then both reach the handler, and the access log shows each path as it was called
    assert as_domain.status == as_execute_api.status == 200
    assert as_domain.body == as_execute_api.body
    assert [line["path"] for line in lines] == [WHOAMI, f"/{stage}{WHOAMI}"]
    assert {line["resource"] for line in lines} == {"/projects/{project}/environments/{environment}/whoami"}


def test_the_stack_serves_both_forms_and_the_dashboard_at_both(stack: Any, admin: str) -> None:
    for base in (stack.url(), stack.url(with_stage=True)):
        assert http(base, "GET", WHOAMI, admin).status == 200
        page = http(base, "GET", "/")
        assert page.status == 200 and "<html" in str(page.body).lower()
    sample = stack.url("SampleApi", with_stage=True)
    assert sample.endswith(f"/{stack.apis['SampleApi'].stage}")
    assert http(sample, "GET", "/orders/42").status == 401  # reached the route: the authorizer wants a key


# --- 5. the authorizer's identity source ------------------------------------------------------------------


def test_two_authorization_headers_are_refused_and_the_garbage_alone_is_not_let_in(
    admin: str, access_log: tuple[str, list[dict[str, Any]]]
) -> None:
    # Given a request with two Authorization headers, the first garbage and the second a real key, on the wire
    root, lines = access_log
    connection = RawConnection(int(root.rsplit(":", 1)[1]))
    garbage, real = "Authorization: Bearer garbage\r\n", f"Authorization: Bearer {admin}\r\n"
    try:
        connection.send(f"GET {WHOAMI} HTTP/1.1\r\nHost: 127.0.0.1\r\n{garbage}{real}\r\n".encode())
        # Then it is a 401, logged as API Gateway's UNAUTHORIZED
        assert connection.response().status == 401
        assert (lines[-1]["status"], lines[-1]["error"]) == ("401", "UNAUTHORIZED")
        # And no answer was cached under the garbage: alone, it is refused too
        connection.send(f"GET {WHOAMI} HTTP/1.1\r\nHost: 127.0.0.1\r\n{garbage}\r\n".encode())
        assert connection.response().status == 401
        connection.send(f"GET {WHOAMI} HTTP/1.1\r\nHost: 127.0.0.1\r\n{real}\r\n".encode())
        assert connection.response().status == 200
    finally:
        connection.close()


# --- 6. the static site -----------------------------------------------------------------------------------

# What any answer carries besides the site's security headers: framing, caching, the gateway's ids.
NOT_SECURITY_HEADERS = {
    "content-type",
    "content-length",
    "cache-control",
    "location",
    "date",
    "server",
    "connection",
    "x-amzn-requestid",
    "x-amz-apigw-id",
}


def test_the_static_site_sends_exactly_the_headers_cloudfront_adds_on_aws(stack: Any, port: int) -> None:
    # Given the response headers policy of the template's CloudFront distribution, as CloudFront renders it
    from archie_local.template import load_template

    policy = load_template()["Resources"]["DashboardResponseHeadersPolicy"]["Properties"]
    settings = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    hsts = settings["StrictTransportSecurity"]
    assert hsts["IncludeSubdomains"] is True and "Preload" not in hsts  # what the rendering below assumes
    expected = {
        "content-security-policy": stack.provisioned.resolver.resolve(
            settings["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        ),
        "strict-transport-security": f"max-age={hsts['AccessControlMaxAgeSec']}; includeSubDomains",
        "x-content-type-options": "nosniff",
        "x-frame-options": settings["FrameOptions"]["FrameOption"],
        "referrer-policy": settings["ReferrerPolicy"]["ReferrerPolicy"],
    }
    # A setting added to the template must be added here (and to archie_local.site) too
    assert set(settings) == {
        "ContentSecurityPolicy",
        "StrictTransportSecurity",
        "ContentTypeOptions",
        "FrameOptions",
        "ReferrerPolicy",
    }
    assert set(policy["ResponseHeadersPolicyConfig"]) == {"Name", "Comment", "SecurityHeadersConfig"}
    connection = RawConnection(port)
    try:
        # When the dashboard, the OpenAPI document and Swagger UI are fetched
        for path, status in (
            ("/", 200),
            ("/openapi.json", 200),
            ("/docs", 302),
            ("/docs/", 200),
            ("/docs/init.js", 200),
        ):
            connection.send(request("GET", path))
            answered = connection.response()
            # Then each answer carries exactly those headers, and nothing else but framing and ids
            assert answered.status == status, path
            security = {k: v for k, v in answered.headers.items() if k not in NOT_SECURITY_HEADERS}
            assert security == expected, path
    finally:
        connection.close()
