"""The datasource host policy: never link-local or metadata, optionally narrowed."""

from __future__ import annotations

import ipaddress

import pytest

from lowcode.datasources.errors import HostRefused
from lowcode.datasources.hosts import HostPolicy, refused_address


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
     "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255"],
)  # fmt: skip
def test_link_local_metadata_and_non_unicast_addresses_are_refused(address):
    assert refused_address(ipaddress.ip_address(address))
    with pytest.raises(HostRefused):
        HostPolicy().check_name(address)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "2001:db8::1"])
def test_ordinary_addresses_pass_without_a_list(address):
    assert not refused_address(ipaddress.ip_address(address))
    HostPolicy().check_name(address)


@pytest.mark.parametrize(
    "host", ["metadata.google.internal", "METADATA.google.internal.", "bad host", "a;b", "-"]
)
def test_metadata_names_and_junk_are_refused(host):
    with pytest.raises(HostRefused):
        HostPolicy().check_name(host)


def test_an_allow_list_narrows_by_network_and_name():
    policy = HostPolicy.parse("10.0.0.0/8, db.example.com, *.corp.example.com")
    for ok in ("10.9.8.7", "db.example.com", "pg.corp.example.com", "some-name"):
        policy.check_name(ok)  # a name may still resolve into 10/8: checked on connect
    for refused in ("11.0.0.1", "192.168.1.1", "169.254.169.254"):
        with pytest.raises(HostRefused):
            policy.check_name(refused)
    names_only = HostPolicy.parse("db.example.com")
    with pytest.raises(HostRefused):
        names_only.check_name("other.example.com")


async def test_names_are_checked_again_after_resolution():
    assert await HostPolicy().resolve("localhost", 5432, 5) in ("127.0.0.1", "::1")
    with pytest.raises(HostRefused, match="outside DATASOURCE_ALLOWED_HOSTS"):
        await HostPolicy.parse("10.0.0.0/8").resolve("localhost", 5432, 5)
    assert await HostPolicy.parse("127.0.0.0/8, ::1/128").resolve("localhost", 5432, 5)
