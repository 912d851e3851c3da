"""Which hosts a datasource may connect to.

Always refused, whatever the configuration: link-local addresses (169.254/16,
fe80::/10 — where cloud metadata services live), the known metadata addresses
and names, "this network" (0/8, ::), multicast and broadcast. IPv4 addresses
embedded in IPv6 (mapped, NAT64) are checked as IPv4.

`DATASOURCE_ALLOWED_HOSTS` (comma-separated CIDRs and hostnames; `*.example.com`
matches subdomains) narrows further when set.

The check runs twice: on save (the name as written) and on every connect,
against every address the name resolves to; the connection then goes to the
checked address, so a DNS answer that changes in between (rebinding) cannot
redirect it. With `verify-full` TLS the name is kept for certificate checks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass

from lowcode.datasources.errors import DatasourceUnreachable, HostRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local: AWS/GCP/Azure/OpenStack metadata (169.254.169.254)
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS IMDS over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "0.0.0.0/8",  # "this network"
        "::/128",
        "224.0.0.0/4",  # multicast
        "ff00::/8",
        "255.255.255.255/32",
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$"
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _as_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded_v4(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refused_address(ip: IPAddress) -> bool:
    candidates = {ip, _embedded_v4(ip)}
    return any(c in net for c in candidates for net in REFUSED_NETWORKS if c.version == net.version)


@dataclass(frozen=True, slots=True)
class HostPolicy:
    networks: tuple[IPNetwork, ...] = ()
    names: tuple[str, ...] = ()  # exact names, or ".suffix" for "*.suffix"

    @classmethod
    def parse(cls, allowed: str) -> HostPolicy:
        networks: list[IPNetwork] = []
        names: list[str] = []
        for item in (i.strip().lower() for i in allowed.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.append(item[1:] if item.startswith("*.") else item)
                if item.startswith("*."):
                    names[-1] = "." + names[-1]
        return cls(tuple(networks), tuple(names))

    @property
    def restricted(self) -> bool:
        return bool(self.networks or self.names)

    def _name_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host.endswith(n) if n.startswith(".") else host == n for n in self.names)

    def _ip_allowed(self, ip: IPAddress) -> bool:
        ip = _embedded_v4(ip)
        return any(ip in net for net in self.networks if ip.version == net.version)

    def check_name(self, host: str) -> None:
        """On save: the host as written is acceptable (no DNS lookup yet)."""
        ip = _as_ip(host)
        if ip is None and not _HOSTNAME.match(host):
            raise HostRefused(f"'{host}' is not a hostname or an IP address")
        if ip is None and host.lower().rstrip(".") in METADATA_NAMES:
            raise HostRefused(f"'{host}' is a cloud metadata service")
        if ip is not None and refused_address(ip):
            raise HostRefused(f"{ip} is a link-local, metadata or non-unicast address")
        if not self.restricted:
            return
        if ip is not None and self._ip_allowed(ip):
            return
        if ip is None and (self._name_allowed(host) or self.networks):
            return  # a name may still resolve into an allowed network; checked on connect
        raise HostRefused(f"'{host}' is not in DATASOURCE_ALLOWED_HOSTS")

    async def resolve(self, host: str, port: int, timeout_s: float) -> str:
        """The address to connect to: `host` resolved, every answer checked."""
        self.check_name(host)
        ip = _as_ip(host)
        if ip is not None:
            return str(ip)
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s
            )
        except (OSError, TimeoutError) as e:
            raise DatasourceUnreachable(f"cannot resolve '{host}'") from e
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise DatasourceUnreachable(f"'{host}' resolves to no address")
        for address in addresses:
            if refused_address(address):
                raise HostRefused(f"'{host}' resolves to {address}, which is never allowed")
        if self.restricted and not self._name_allowed(host):
            outside = [a for a in addresses if not self._ip_allowed(a)]
            if outside:
                raise HostRefused(
                    f"'{host}' resolves to {outside[0]}, outside DATASOURCE_ALLOWED_HOSTS"
                )
        return str(addresses[0])
