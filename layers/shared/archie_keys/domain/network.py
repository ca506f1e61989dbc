"""Network allow-lists: the address ranges a key may be used from (`allowed_cidrs`). Pure: no I/O.

What a client sends is checked by `parse_allowed_cidrs` and stored in canonical form; the authorizer builds an
`AllowList` from the stored strings and asks it about API Gateway's `requestContext.identity.sourceIp` (never a
client header: X-Forwarded-For is whatever the client wrote).

Choices (docs/limits.md, "Network allow-lists"):
* An entry with host bits set (`10.0.0.5/8`) is refused, not normalised: normalising would silently widen
  a typo for one address into sixteen million of them. The message names both readings.
* A bare address is one host (`10.0.0.5` is stored as `10.0.0.5/32`, `2001:db8::1` as `2001:db8::1/128`).
* IPv4 ranges are written as IPv4. An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) is refused with the IPv4
  form to write instead; a source address in mapped form (`::ffff:10.1.2.3`, what a dual-stack socket
  reports) is matched as the IPv4 address it carries, so one list serves both.
* Zone indexes (`fe80::1%eth0`) name an interface of one machine, never a client on the internet: refused.
* Duplicates are dropped (the first kept); the order given is otherwise kept. `[]` means no restriction.

Cached decisions (API Gateway's authorizer cache is keyed on the identity sources): a key with an allow-list is
only accepted on a stage that declares, with the stage variable `SOURCE_IP_STAGE_VARIABLE`, that the source IP
is among its identity sources; elsewhere it is refused (`SOURCE_IP_NOT_CACHE_KEYED`), so a decision cached for
one address can never answer another (`source_ip_refusal`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from archie_keys.domain.errors import ValidationFailedError, shown
from archie_keys.domain.limits import ALLOWED_CIDRS_MAX, CIDR_MAX_LENGTH, SOURCE_IP_MAX_LENGTH

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

# The refusal reasons the authorizer records in the audit (and /verify answers).
SOURCE_IP_NOT_ALLOWED = "source_ip_not_allowed"
# The key has an allow-list but the stage does not declare its cache keyed on the source address.
SOURCE_IP_NOT_CACHE_KEYED = "source_ip_not_cache_keyed"

# How a stage declares that API Gateway's result cache is keyed on the source address (docs/limits.md): the
# authorizer's identity sources include SOURCE_IP_IDENTITY_SOURCE, and this stage variable says "true".
SOURCE_IP_STAGE_VARIABLE = "source_ip_in_cache_key"
SOURCE_IP_IDENTITY_SOURCE = "context.identity.sourceIp"

_MAPPED_IPV4 = IPv6Network("::ffff:0:0/96")


def _refuse(message: str, field: str) -> ValidationFailedError:
    return ValidationFailedError(message, field=field)


def _canonical(entry: object, field: str) -> Network:
    if not isinstance(entry, str):
        raise _refuse("must be a CIDR string such as 203.0.113.0/24 or 2001:db8::/32", field)
    if not entry or len(entry) > CIDR_MAX_LENGTH or not entry.isascii() or not entry.isprintable() or " " in entry:
        raise _refuse(f"must be a CIDR of at most {CIDR_MAX_LENGTH} characters, without spaces", field)
    if "%" in entry:
        raise _refuse("a zone index (%...) names an interface of one machine, not a network: leave it out", field)
    try:
        network = ip_network(entry, strict=False)
    except ValueError:
        raise _refuse(f"{shown(entry)} is not an IPv4 or IPv6 CIDR (such as 203.0.113.0/24)", field) from None
    address = entry.partition("/")[0]
    if network.network_address != ip_address(address):
        raise _refuse(
            f"{entry} has host bits set: write {network} for the whole network, or "
            f"{address}/{network.max_prefixlen} for the one address",
            field,
        )
    if isinstance(network, IPv6Network) and network.subnet_of(_MAPPED_IPV4):
        mapped = network.network_address.ipv4_mapped
        as_ipv4 = IPv4Network(f"{mapped}/{network.prefixlen - 96}")
        raise _refuse(f"write IPv4 networks in IPv4 form: {as_ipv4}", field)
    return network


def parse_allowed_cidrs(values: object, field: str = "allowed_cidrs") -> tuple[str, ...]:
    """The canonical allow-list of what a client sent, or ValidationFailedError naming the entry at fault
    (`allowed_cidrs.3`). An empty list is no restriction."""
    if not isinstance(values, (list, tuple)):
        raise _refuse("must be a list of CIDRs", field)
    if len(values) > ALLOWED_CIDRS_MAX:
        raise _refuse(f"at most {ALLOWED_CIDRS_MAX} CIDRs", field)
    canonical: list[str] = []
    for index, entry in enumerate(values):
        text = str(_canonical(entry, f"{field}.{index}"))
        if text not in canonical:
            canonical.append(text)
    return tuple(canonical)


def parse_source_ip(text: object) -> Address | None:
    """API Gateway's source address as an address, IPv4-mapped IPv6 as the IPv4 it carries; None for anything
    that is not exactly an address (an unexpected value allows nothing)."""
    if not isinstance(text, str) or not text or len(text) > SOURCE_IP_MAX_LENGTH or "%" in text:
        return None
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class AllowList:
    """A stored allow-list, parsed once (the authorizer keeps it with the key's cached decision)."""

    networks: tuple[Network, ...]

    @classmethod
    def of(cls, stored: Iterable[str] | None) -> AllowList:
        """From the canonical strings `parse_allowed_cidrs` produced (what the key record holds)."""
        return cls(tuple(ip_network(entry) for entry in stored or ()))

    @property
    def restricted(self) -> bool:
        return bool(self.networks)

    def allows(self, source_ip: object) -> bool:
        """Whether a request from `source_ip` may use the key. No list allows every address (and none at all);
        with a list, an address that cannot be read is outside it."""
        if not self.networks:
            return True
        address = parse_source_ip(source_ip)
        if address is None:
            return False
        return any(address.version == network.version and address in network for network in self.networks)


def stage_keys_cache_on_source_ip(stage_variables: object) -> bool:
    """Whether a stage declares its authorizer cache keyed on the source address (docs/limits.md)."""
    return isinstance(stage_variables, dict) and stage_variables.get(SOURCE_IP_STAGE_VARIABLE) == "true"


def source_ip_refusal(allow_list: AllowList, source_ip: object, cache_keyed_on_source_ip: bool) -> str | None:
    """Why a request is refused for where it comes from, or None. A key with an allow-list is refused on a stage
    whose cached decisions are shared between addresses, whatever the address: the Allow cached for an address
    inside the list would otherwise answer the next request from anywhere for the cache's lifetime."""
    if not allow_list.restricted:
        return None
    if not cache_keyed_on_source_ip:
        return SOURCE_IP_NOT_CACHE_KEYED
    return None if allow_list.allows(source_ip) else SOURCE_IP_NOT_ALLOWED
