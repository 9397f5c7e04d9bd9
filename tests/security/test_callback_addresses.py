"""Callback URLs: every way to write a non-public address is refused, malformed URLs are
refused as such (a 400 at submit time, never a 500), and no refusal says what a name
resolved to."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from infra.address_policy import embedded_ipv4, is_allowed, is_public, parse_networks
from infra.settings import WebhookSettings
from infra.webhooks import CallbackUrlRejected, DeliveryReport, attempt_webhook, validate_callback_url

EMBEDDING_PRIVATE_IPV4 = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
    "2002:a9fe:a9fe::",  # 6to4
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "::ffff:7f00:1",  # IPv4-mapped
    "::ffff:10.1.2.3",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo, client 192.0.2.45
]
SPECIAL_PURPOSE = ["192.0.0.8", "192.0.0.170", "198.18.0.1", "100.64.0.1", "0.0.0.0", "255.255.255.255",
                   "224.0.0.1", "::", "::1", "fe80::1", "fc00::1", "2001:db8::1", "100::1", "ff02::1"]


def fixed_resolver(*addresses: str) -> Any:
    def resolve(host: str, port: int, *_: Any) -> list[tuple[Any, ...]]:
        family = socket.AF_INET6
        return [(family, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    return resolve


@pytest.mark.parametrize("text", EMBEDDING_PRIVATE_IPV4 + SPECIAL_PURPOSE)
def test_addresses_that_are_not_globally_routable_are_refused(text: str) -> None:
    assert not is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", ["8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"])
def test_public_addresses_and_wrappers_of_public_ipv4_are_allowed(text: str) -> None:
    assert is_public(ipaddress.ip_address(text))


def test_every_embedding_is_unwrapped() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::a9fe:a9fe")) == [ipaddress.IPv4Address("169.254.169.254")]
    assert ipaddress.IPv4Address("169.254.169.254") in embedded_ipv4(ipaddress.IPv6Address("2002:a9fe:a9fe::"))
    assert ipaddress.IPv4Address("127.0.0.1") in embedded_ipv4(ipaddress.IPv6Address("::7f00:1"))


def test_the_allow_list_admits_a_network_and_its_embedded_forms() -> None:
    networks = parse_networks(["10.0.0.0/8", "::1/128"])
    assert is_allowed(ipaddress.ip_address("10.1.2.3"), networks)
    assert is_allowed(ipaddress.ip_address("::ffff:10.1.2.3"), networks)
    assert is_allowed(ipaddress.ip_address("::1"), networks)
    assert not is_allowed(ipaddress.ip_address("127.0.0.1"), networks)


@pytest.mark.parametrize("url", ["http://[::1/", "http://[]/", "http://[1:2:3]/", "http://[::ffff:127.1]/",
                                 "http://a\x00b/", "http://exa mple.com/", "http://é.example/"])
def test_malformed_urls_are_refused_as_malformed(url: str) -> None:
    with pytest.raises(CallbackUrlRejected) as refused:
        validate_callback_url(url, WebhookSettings(), resolve=fixed_resolver("8.8.8.8"))
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize("address", EMBEDDING_PRIVATE_IPV4 + ["192.0.0.8"])
def test_names_resolving_to_embedded_private_addresses_are_refused_without_saying_where(address: str) -> None:
    with pytest.raises(CallbackUrlRejected) as refused:
        validate_callback_url("http://hooks.example.com/x", WebhookSettings(), resolve=fixed_resolver(address))
    assert address not in refused.value.message and "hooks.example.com" not in refused.value.message
    with pytest.raises(CallbackUrlRejected) as literal:
        validate_callback_url(f"http://[{address}]/" if ":" in address else f"http://{address}/", WebhookSettings())
    assert literal.value.reason == "address_not_allowed"


def test_unresolvable_and_private_names_get_the_same_answer() -> None:
    def nowhere(*_: Any) -> list[Any]:
        raise socket.gaierror("no such name")

    answers = set()
    for resolve in (nowhere, fixed_resolver("10.0.0.1")):
        with pytest.raises(CallbackUrlRejected) as refused:
            validate_callback_url("http://internal.example/", WebhookSettings(), resolve=resolve)
        answers.add((refused.value.reason, refused.value.message))
    assert len(answers) == 1


def test_delivery_checks_again_on_each_attempt_and_records_no_address() -> None:
    """The name rebinds to a private address after the submit-time check: the attempt is
    refused, and the recorded error names neither the address nor a resolution."""
    report, next_delay = attempt_webhook(
        DeliveryReport.start("http://hooks.example.com/x"), {"job": 1}, "whsec_x", WebhookSettings(max_attempts=1),
        resolve=fixed_resolver("64:ff9b::a9fe:a9fe"),
    )
    assert not report.delivered and next_delay is None
    error = report.attempts[0].error or ""
    assert error.startswith("rejected: address_not_allowed") and "a9fe" not in error
