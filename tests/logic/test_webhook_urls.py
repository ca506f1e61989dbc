"""Where webhooks may be delivered (domain.webhook_urls): no request forgery into the VPC, the metadata
endpoint or a loopback service, whatever a caller writes or a name resolves to."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.webhook_urls import (
    WebhookUrlRefusedError,
    address_refusal,
    checked_address,
    parse_webhook_url,
)


def test_an_https_url_is_read_into_its_parts() -> None:
    url = parse_webhook_url("https://Hooks.Example.com:8443/archie/keys?team=billing", local=False)
    assert (url.scheme, url.host, url.port, url.target) == (
        "https",
        "hooks.example.com",
        8443,
        "/archie/keys?team=billing",
    )
    assert str(url) == "https://hooks.example.com:8443/archie/keys?team=billing"
    assert parse_webhook_url("https://hooks.example.com", local=False).target == "/"


@pytest.mark.parametrize(
    "text",
    [
        "http://hooks.example.com/x",  # https only
        "ftp://hooks.example.com/x",
        "HTTPS://hooks.example.com/x",
        "https://user:pass@hooks.example.com/x",
        "https://hooks.example.com@10.0.0.1/x",
        "https://hooks.example.com/x#frag",
        "https://hooks.example.com/a b",
        "https://hooks.example.com\\@10.0.0.1/",
        "https://hooks.example.com/%zz",
        "https://hooks.exämple.com/",
        "https://localhost/x",
        "https://metadata.google.internal/x",
        "https://printer.local/x",
        "https://intranet/x",  # one label: resolved by search domains, never the internet's DNS
        "https://127.1/",
        "https://2130706433/",
        "https://0x7f.0.0.1/",
        "https://010.0.0.1/",
        "https://hooks.example.123/",
        "https://[fe80::1%25eth0]/",
        "https://[not-v6]/",
        "https://hooks.example.com:0/",
        "https://hooks.example.com:65536/",
        "https://hooks.example.com:0443/",
        "https://hooks.example.com:/",
        "https://-bad-.example.com/",
        "https:///x",
        "https://" + "a" * 2100 + ".com/",
        "",
        None,
    ],
)
def test_a_url_that_is_not_plainly_an_https_url_to_a_public_name_is_refused(text: object) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        parse_webhook_url(text, local=False)
    assert refused.value.field == "url"


def test_http_is_accepted_to_127_0_0_1_on_the_local_stack_only() -> None:
    local = parse_webhook_url("http://127.0.0.1:8123/hook", local=True)
    assert checked_address(local, [], local=True) == ip_address("127.0.0.1")
    for text in ("http://localhost:8123/hook", "http://127.0.0.2:8123/hook", "http://[::1]:8123/hook"):
        with pytest.raises(ValidationFailedError):
            parse_webhook_url(text, local=True)
    with pytest.raises(ValidationFailedError):
        parse_webhook_url("http://127.0.0.1:8123/hook", local=False)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.170.2", "link_local"),  # the container credentials endpoint
        ("10.1.2.3", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("fc00::1", "private"),
        ("fe80::1", "link_local"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:a00:1::1", "reserved"),  # 6to4 around 10.0.0.1
        ("64:ff9b::a00:1", "reserved"),  # NAT64 around 10.0.0.1
        ("2001:db8::1", "documentation"),
        ("192.0.2.1", "documentation"),
    ],
)
def test_every_non_public_address_is_refused_with_its_reason(address: str, reason: str) -> None:
    assert address_refusal(ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_unicast_addresses_pass(address: str) -> None:
    assert address_refusal(ip_address(address)) is None


def test_a_name_resolving_to_any_private_address_is_refused_even_beside_public_ones() -> None:
    url = parse_webhook_url("https://hooks.example.com/x", local=False)
    with pytest.raises(WebhookUrlRefusedError) as refused:
        checked_address(url, ["93.184.216.34", "10.0.0.5"], local=False)
    assert refused.value.reason == "private"


def test_an_ip_literal_is_checked_like_a_resolved_address() -> None:
    for text, reason in (("https://169.254.169.254/latest", "metadata"), ("https://[::ffff:127.0.0.1]/", "loopback")):
        with pytest.raises(WebhookUrlRefusedError) as refused:
            checked_address(parse_webhook_url(text, local=False), ["93.184.216.34"], local=False)
        assert refused.value.reason == reason


def test_the_address_to_connect_to_is_one_that_was_checked_ipv4_first() -> None:
    url = parse_webhook_url("https://hooks.example.com/x", local=False)
    assert checked_address(url, ["2606:4700:4700::1111", "93.184.216.34"], local=False) == ip_address("93.184.216.34")
    with pytest.raises(WebhookUrlRefusedError):
        checked_address(url, [], local=False)
    with pytest.raises(WebhookUrlRefusedError):
        checked_address(url, ["not-an-address"], local=False)


def test_loopback_stays_refused_on_aws_whatever_the_scheme() -> None:
    with pytest.raises(WebhookUrlRefusedError):
        checked_address(parse_webhook_url("https://127.0.0.1/x", local=False), [], local=False)
