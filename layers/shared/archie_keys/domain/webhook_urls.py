"""Where a webhook may be delivered (docs/webhooks.md, "Where deliveries may go"). Pure: no resolving here.

A webhook URL is a way for a caller to make the service send a request: pointed at the VPC, the instance
metadata endpoint or a loopback service, it would be a server-side request forgery. So:

* `parse_webhook_url` reads the URL strictly (its own parser, so what is checked is what is connected to):
  https only (http only to the literal 127.0.0.1, and only locally); no credentials, no fragment; a host that
  is a DNS name with a non-numeric last label, or an IP literal in canonical form (no `127.1`, `0x7f.1`,
  `2130706433`); names like `localhost` or under `.internal` refused outright.
* `address_refusal` says why one address may not be connected to: every private, loopback, link-local (the
  metadata endpoints 169.254.169.254 and fd00:ec2::254 among them), multicast, reserved, documentation or
  transition range of the IANA special-purpose registries. Only global unicast passes.
* `checked_address` takes every address a name resolves to: one refused address refuses the URL (a name that
  also resolves to 10.0.0.5 is refused however often it resolves publicly), and the address it returns is
  the one to connect to, so a second resolution (DNS rebinding) is never made.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from archie_keys.domain.errors import ValidationFailedError, shown
from archie_keys.domain.limits import WEBHOOK_URL_MAX_LENGTH

Address = IPv4Address | IPv6Address

_REFUSED_IPV4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("169.254.169.254/32", "metadata"),
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "private"),  # shared address space (carrier-grade NAT)
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link_local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),  # benchmarking
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # and the broadcast address
    )
)
_GLOBAL_UNICAST_IPV6 = IPv6Network("2000::/3")
_REFUSED_IPV6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("fd00:ec2::254/128", "metadata"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link_local"),
        ("ff00::/8", "multicast"),
        ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo among them
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "reserved"),  # 6to4: an IPv4 address of any kind inside
        ("3fff::/20", "documentation"),
    )
)
_MAPPED = IPv6Network("::ffff:0:0/96")
_REFUSED_NAMES = ("localhost", "localhost.localdomain")
_REFUSED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".in-addr.arpa", ".ip6.arpa")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_TARGET = re.compile(r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)?(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*)?")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class WebhookUrlRefusedError(Exception):
    """A delivery target that may not be connected to (`reason`: private, loopback, metadata, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class WebhookUrl:
    scheme: str
    host: str  # lowercase DNS name, or an IP literal (IPv6 without brackets)
    port: int
    target: str  # path and query, at least "/"
    literal: Address | None  # the host when it is an IP literal

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if isinstance(self.literal, IPv6Address) else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"


def _refuse(message: str) -> ValidationFailedError:
    return ValidationFailedError(message, field="url")


def _host(text: str) -> tuple[str, Address | None]:
    if text.startswith("["):
        if not text.endswith("]") or "%" in text:
            raise _refuse("an IPv6 host is written in brackets, without a zone: https://[2001:db8::1]/hook")
        try:
            return str(IPv6Address(text[1:-1])), IPv6Address(text[1:-1])
        except ValueError:
            raise _refuse(f"{text} is not an IPv6 address") from None
    host = text.lower()
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        try:
            return host, IPv4Address(host)  # dotted quad, decimal, no leading zeros: nothing else
        except ValueError:
            raise _refuse(f"{text} is not an IPv4 address in dotted-quad form") from None
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _refuse(f"{text} is not a DNS name (letters, digits and '-', at least two labels)")
    if labels[-1].isdigit() or re.fullmatch(r"0x[0-9a-f]+", labels[-1]):
        raise _refuse(f"{text} ends in a numeric label: write an IP address in dotted-quad form")
    if host in _REFUSED_NAMES or host.endswith(_REFUSED_SUFFIXES):
        raise _refuse(f"{text} names a host inside a private network")
    return host, None


def parse_webhook_url(text: object, *, local: bool) -> WebhookUrl:
    """A webhook URL a caller sent, strictly, or ValidationFailedError (field `url`). `local`: the local stack,
    where http to 127.0.0.1 is the one exception to https."""
    if not isinstance(text, str) or not text or len(text) > WEBHOOK_URL_MAX_LENGTH:
        raise _refuse(f"must be an https URL of at most {WEBHOOK_URL_MAX_LENGTH} characters")
    if not text.isascii() or not text.isprintable() or " " in text or "\\" in text:
        raise _refuse("must be an ASCII URL without spaces or backslashes (percent-encode the rest)")
    scheme, separator, rest = text.partition("://")
    if not separator or scheme not in ("https", "http"):
        raise _refuse("must start with https://")
    if "#" in rest:
        raise _refuse("a fragment (#...) is never sent: leave it out")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, target = rest[:cut], rest[cut:]
    if "@" in authority:
        raise _refuse("credentials in the URL are not accepted: the signature authenticates each delivery")
    host_text, colon, port_text = authority, "", ""
    if authority.startswith("["):
        host_text, _, after = authority.partition("]")
        host_text += "]"
        if after and not after.startswith(":"):
            raise _refuse(f"{authority} is not host[:port]")
        colon, port_text = after[:1], after[1:]
    else:
        host_text, colon, port_text = authority.partition(":")
    port = 443 if scheme == "https" else 80
    if colon:
        if not port_text.isdigit() or port_text[0] == "0" or not 1 <= int(port_text) <= 65535:
            raise _refuse(f"{shown(port_text)} is not a port (1-65535)")
        port = int(port_text)
    if not host_text:
        raise _refuse("must name a host")
    host, literal = _host(host_text)
    if not _TARGET.fullmatch(target) or _PERCENT.search(target):
        raise _refuse("the path and query may hold only URL characters, with % followed by two hex digits")
    if scheme == "http" and not (local and host == "127.0.0.1"):
        raise _refuse("must be https (http only to 127.0.0.1, on the local stack)")
    return WebhookUrl(scheme, host, port, target if target.startswith("/") else "/" + target, literal)


def address_refusal(address: Address) -> str | None:
    """Why `address` may not be connected to, or None for a global unicast address."""
    if isinstance(address, IPv6Address) and address in _MAPPED:
        address = address.ipv4_mapped or address
    if isinstance(address, IPv4Address):
        return next((reason for net, reason in _REFUSED_IPV4 if address in net), None)
    found = next((reason for net, reason in _REFUSED_IPV6 if address in net), None)
    if found is None and address not in _GLOBAL_UNICAST_IPV6:
        return "reserved"
    return found


def checked_address(url: WebhookUrl, resolved: Sequence[str], *, local: bool) -> Address:
    """The address to connect to for `url`: its literal, or one of the addresses its name resolved to, all of
    which must be acceptable. Locally, http://127.0.0.1 is accepted as the one loopback target."""
    if url.literal is not None:
        addresses: list[Address] = [url.literal]
    else:
        try:
            addresses = [ip_address(text.partition("%")[0]) for text in resolved]
        except ValueError:
            raise WebhookUrlRefusedError("unresolvable", f"{url.host} resolved to something not an address") from None
    if not addresses:
        raise WebhookUrlRefusedError("unresolvable", f"{url.host} does not resolve")
    for address in addresses:
        if local and url.host == "127.0.0.1" and address == IPv4Address("127.0.0.1"):
            continue
        reason = address_refusal(address)
        if reason is not None:
            raise WebhookUrlRefusedError(reason, f"{url.host} resolves to a {reason.replace('_', '-')} address")
    # Lambda outside a VPC reaches the internet over IPv4: prefer it when the name has both.
    return next((a for a in addresses if isinstance(a, IPv4Address)), addresses[0])
