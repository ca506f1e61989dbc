"""Network allow-lists (domain.network): what a client may write in `allowed_cidrs`, how it is stored, and which
source addresses a stored list lets through. Pure: no AWS."""

from __future__ import annotations

import pytest

from archie_keys.domain import limits
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.network import (
    SOURCE_IP_NOT_ALLOWED,
    SOURCE_IP_NOT_CACHE_KEYED,
    SOURCE_IP_STAGE_VARIABLE,
    AllowList,
    parse_allowed_cidrs,
    source_ip_refusal,
    stage_keys_cache_on_source_ip,
)


def refused(values: object) -> ValidationFailedError:
    with pytest.raises(ValidationFailedError) as caught:
        parse_allowed_cidrs(values)
    return caught.value


# --- what a client may write --------------------------------------------------------------------------------


def test_ipv4_and_ipv6_ranges_are_stored_in_canonical_form() -> None:
    stored = parse_allowed_cidrs(["203.0.113.0/24", "2001:DB8:0:0::/32", "10.1.2.3", "2001:db8::1"])
    assert stored == ("203.0.113.0/24", "2001:db8::/32", "10.1.2.3/32", "2001:db8::1/128")


def test_a_range_with_host_bits_is_refused_naming_both_readings() -> None:
    error = refused(["10.0.0.0/8", "10.0.0.5/8"])
    assert error.field == "allowed_cidrs.1"
    assert "10.0.0.0/8" in error.message and "10.0.0.5/32" in error.message


def test_an_ipv6_range_with_host_bits_is_refused_too() -> None:
    assert refused(["2001:db8::1/32"]).field == "allowed_cidrs.0"


def test_at_most_sixteen_ranges() -> None:
    many = [f"10.0.{i}.0/24" for i in range(limits.ALLOWED_CIDRS_MAX)]
    assert len(parse_allowed_cidrs(many)) == limits.ALLOWED_CIDRS_MAX
    assert refused([*many, "10.0.99.0/24"]).field == "allowed_cidrs"


@pytest.mark.parametrize(
    "entry",
    [
        "10.0.0.0/33",
        "2001:db8::/129",
        "010.0.0.0/8",  # leading zeros: octal to some parsers, decimal to others
        " 10.0.0.0/8",
        "10.0.0.0/8\n",
        "fe80::1%eth0/128",
        "example.com",
        "",
        "1" * 50,
        "\uff11\uff10.0.0.0/8",  # fullwidth digits
        8,
        None,
    ],
)
def test_anything_that_is_not_exactly_a_cidr_is_refused(entry: object) -> None:
    assert refused(["192.0.2.0/24", entry]).field == "allowed_cidrs.1"


def test_an_ipv4_mapped_range_is_refused_with_the_ipv4_form_to_write() -> None:
    error = refused(["::ffff:10.0.0.0/104"])
    assert "10.0.0.0/8" in error.message


def test_duplicates_are_dropped_once_canonical() -> None:
    assert parse_allowed_cidrs(["2001:DB8::/32", "2001:db8::/32", "10.0.0.1", "10.0.0.1/32"]) == (
        "2001:db8::/32",
        "10.0.0.1/32",
    )


@pytest.mark.parametrize("values", ["10.0.0.0/8", {"cidr": "10.0.0.0/8"}, None])
def test_the_list_must_be_a_list(values: object) -> None:
    assert refused(values).field == "allowed_cidrs"


def test_an_empty_list_is_no_restriction() -> None:
    assert parse_allowed_cidrs([]) == ()
    assert AllowList.of(parse_allowed_cidrs([])).allows("198.51.100.7")


# --- which addresses a stored list lets through ---------------------------------------------------------


def test_a_key_limited_to_10_0_0_0_8_is_refused_from_127_0_0_1_and_one_limited_to_127_0_0_0_8_is_not() -> None:
    assert not AllowList.of(parse_allowed_cidrs(["10.0.0.0/8"])).allows("127.0.0.1")
    assert AllowList.of(parse_allowed_cidrs(["127.0.0.0/8"])).allows("127.0.0.1")


def test_the_edges_of_a_range_are_inside_it_and_their_neighbours_are_not() -> None:
    allow = AllowList.of(parse_allowed_cidrs(["198.51.100.0/24", "2001:db8:1::/48"]))
    assert allow.allows("198.51.100.0") and allow.allows("198.51.100.255")
    assert not allow.allows("198.51.99.255") and not allow.allows("198.51.101.0")
    assert allow.allows("2001:db8:1:ffff:ffff:ffff:ffff:ffff")
    assert not allow.allows("2001:db8:2::")


def test_an_ipv4_mapped_source_address_is_matched_as_its_ipv4_address() -> None:
    allow = AllowList.of(parse_allowed_cidrs(["10.0.0.0/8"]))
    assert allow.allows("::ffff:10.1.2.3")
    assert not allow.allows("::ffff:11.1.2.3")


def test_an_ipv6_client_is_not_let_in_by_an_ipv4_range_that_holds_its_low_bits() -> None:
    # ::a01:203 has the same 32 low bits as 10.1.2.3; only the mapped form carries an IPv4 address.
    assert not AllowList.of(parse_allowed_cidrs(["10.0.0.0/8"])).allows("::a01:203")


@pytest.mark.parametrize(
    "source",
    [None, "", "not-an-ip", "10.1.2.3, 127.0.0.1", " 10.1.2.3", "10.1.2.3\n", "fe80::1%eth0", "1" * 64, 167838211],
)
def test_a_source_address_that_cannot_be_read_is_outside_every_list(source: object) -> None:
    assert not AllowList.of(["0.0.0.0/0", "::/0"]).allows(source)


# --- cached decisions -------------------------------------------------------------------------------------


def test_a_key_with_an_allow_list_is_refused_on_a_stage_whose_cache_is_not_keyed_on_the_source_address() -> None:
    allow = AllowList.of(["127.0.0.0/8"])
    assert source_ip_refusal(allow, "127.0.0.1", cache_keyed_on_source_ip=False) == SOURCE_IP_NOT_CACHE_KEYED
    assert source_ip_refusal(allow, "127.0.0.1", cache_keyed_on_source_ip=True) is None
    assert source_ip_refusal(allow, "10.0.0.1", cache_keyed_on_source_ip=True) == SOURCE_IP_NOT_ALLOWED


def test_a_key_without_an_allow_list_is_never_refused_for_where_it_comes_from() -> None:
    assert source_ip_refusal(AllowList.of([]), None, cache_keyed_on_source_ip=False) is None


def test_a_stage_declares_its_cache_keyed_on_the_source_address_only_with_the_exact_variable() -> None:
    assert stage_keys_cache_on_source_ip({SOURCE_IP_STAGE_VARIABLE: "true", "project": "demo"})
    for variables in ({SOURCE_IP_STAGE_VARIABLE: "True"}, {SOURCE_IP_STAGE_VARIABLE: "1"}, {}, None, "true"):
        assert not stage_keys_cache_on_source_ip(variables)
