"""One webhook delivery attempt over HTTP, to an address checked and pinned (docs/webhooks.md).

The URL is read strictly and its name resolved once; every address it resolves to is checked
(domain.webhook_urls), and the connection is made to the checked address itself, with the name kept for TLS
(SNI and certificate verification) and the Host header: a second resolution, where DNS rebinding would answer
10.0.0.5, is never made. Redirects are not followed (a 3xx is a failed attempt, as the specification advises),
only the first WEBHOOK_RESPONSE_KEPT_BYTES of an answer are read, and every attempt ends within
WEBHOOK_TIMEOUT_SECONDS per socket operation.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from archie_keys.domain.clock import now_epoch
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.webhook_limits import WEBHOOK_RESPONSE_KEPT_BYTES, WEBHOOK_TIMEOUT_SECONDS
from archie_keys.domain.webhook_retries import Outcome
from archie_keys.domain.webhook_urls import (
    Address,
    WebhookUrl,
    WebhookUrlRefusedError,
    checked_address,
    parse_webhook_url,
)

USER_AGENT = "archie-keys-webhooks/1"

Resolve = Callable[[str, int], list[str]]
Connect = Callable[[WebhookUrl, Address, float], http.client.HTTPConnection]


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (TCP), in the resolver's order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `address`, speaking TLS to `url.host`: the certificate must be the name's."""

    def __init__(self, url: WebhookUrl, address: Address, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(url.host, url.port, timeout=timeout, context=context)
        self._address, self._context = address, context

    def connect(self) -> None:
        raw = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, url: WebhookUrl, address: Address, timeout: float) -> None:
        super().__init__(url.host, url.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


def pinned_connection(url: WebhookUrl, address: Address, timeout: float) -> http.client.HTTPConnection:
    if url.scheme == "https":
        return _PinnedHTTPSConnection(url, address, timeout, ssl.create_default_context())
    return _PinnedHTTPConnection(url, address, timeout)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class WebhookSender:
    """Sends one attempt. `local`: the local stack's policy (http to 127.0.0.1 allowed). `resolve` and
    `connect` are the network, injected so tests can answer a name with what an attacker's DNS would."""

    def __init__(
        self,
        *,
        local: bool = False,
        resolve: Resolve = system_resolve,
        connect: Connect = pinned_connection,
        timeout: float = WEBHOOK_TIMEOUT_SECONDS,
        clock: Callable[[], float] = now_epoch,
    ) -> None:
        self.local, self.resolve, self.connect, self.timeout, self.clock = local, resolve, connect, timeout, clock

    def check(self, url: str) -> str:
        """A URL a caller registers, as it will be called (normalised), or ValidationFailedError (field `url`):
        not a webhook URL, or a name that does not resolve or resolves anywhere refused."""
        target = parse_webhook_url(url, local=self.local)
        try:
            resolved = [] if target.literal is not None else self.resolve(target.host, target.port)
            checked_address(target, resolved, local=self.local)
        except WebhookUrlRefusedError as refused:
            raise ValidationFailedError(str(refused), field="url", code="webhook_url_refused") from None
        except OSError:
            raise ValidationFailedError(
                f"{target.host} does not resolve", field="url", code="webhook_url_refused"
            ) from None
        return str(target)

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Outcome:
        try:
            target = parse_webhook_url(url, local=self.local)
            resolved = [] if target.literal is not None else self.resolve(target.host, target.port)
            address = checked_address(target, resolved, local=self.local)
        except ValidationFailedError:
            return Outcome(None, "url_refused: not a webhook URL")
        except WebhookUrlRefusedError as refused:
            return Outcome(None, f"url_refused: {refused.reason}")
        except OSError:
            return Outcome(None, "unresolvable")
        connection = self.connect(target, address, self.timeout)
        try:
            connection.request(
                "POST",
                target.target,
                body=body,
                headers={
                    **headers,
                    "Host": target.authority,
                    "User-Agent": USER_AGENT,
                    "Content-Length": str(len(body)),
                },
            )
            answer = connection.getresponse()
            kept = answer.read(WEBHOOK_RESPONSE_KEPT_BYTES)
            return Outcome(
                answer.status, None, retry_after_seconds(answer.getheader("Retry-After"), self.clock()), kept
            )
        except TimeoutError:
            return Outcome(None, "timeout")
        except (OSError, http.client.HTTPException) as failure:
            return Outcome(None, f"connection: {type(failure).__name__}")
        finally:
            connection.close()
