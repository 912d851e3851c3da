"""Header rules of the legacy proxy, both directions (pure functions).

Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection, not the
message: `Connection` and every field it names, plus Proxy-Connection,
Keep-Alive, TE, Transfer-Encoding and Upgrade; Proxy-Authorization and
Proxy-Authenticate are meant for a proxy (§11.7) and stop here too.
A gateway adds itself to `Via` (§7.6.3) in both directions and passes on
who the client was (`X-Forwarded-*`), the request id and the trace context.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.propagate import inject
from starlette.types import Scope

from lowcode.platform.proxies import PEER_KEY

RawHeaders = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)
# Set by us on the way out, never taken from the client as they are.
_REWRITTEN_REQUEST = frozenset(
    {b"host", b"via", b"x-forwarded-for", b"x-request-id", b"x-served-by"}
)
# uvicorn writes its own Date and Server on every response; copying the
# legacy backend's would send both twice.
_REWRITTEN_RESPONSE = frozenset({b"via", b"x-served-by", b"date", b"server"})

SERVED_BY = b"x-served-by"
VIA_NAME = "lowcode"


def end_to_end(raw: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """`raw` without its hop-by-hop fields, including those `Connection` names."""
    headers = list(raw)
    drop = set(HOP_BY_HOP)
    for name, value in headers:
        if name.lower() == b"connection":
            drop.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return [(k, v) for k, v in headers if k.lower() not in drop]


def _joined(raw: RawHeaders, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in raw if k.lower() == name]
    return ", ".join(values) if values else None


def _via(prior: str | None, version: str) -> str:
    mine = f"{version} {VIA_NAME}"
    return f"{prior}, {mine}" if prior else mine


def came_through_us(scope: Scope) -> bool:
    """Whether `Via` lists us as a hop already (RFC 9110 §7.6.3: loop detection)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"via":
            for hop in value.decode("latin-1").split(","):
                parts = hop.split()
                if len(parts) >= 2 and parts[1] == VIA_NAME:
                    return True
    return False


def request_headers(scope: Scope, request_id: str) -> RawHeaders:
    """What the legacy backend receives for this request."""
    raw: RawHeaders = list(scope.get("headers", []))
    out = [(k, v) for k, v in end_to_end(raw) if k.lower() not in _REWRITTEN_REQUEST]
    # The hop we append is the one that connected to us (a trusted proxy's
    # address, not the client it vouched for: that one is in its header already).
    client = scope.get(PEER_KEY, scope.get("client"))
    forwarded_for = ", ".join(
        p for p in (_joined(raw, b"x-forwarded-for"), client[0] if client else None) if p
    )
    if forwarded_for:
        out.append((b"x-forwarded-for", forwarded_for.encode("latin-1")))
    # A proxy in front of us (nginx) already said what the client used; keep that.
    if _joined(raw, b"x-forwarded-proto") is None:
        out.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
    host = _joined(raw, b"host")
    if host and _joined(raw, b"x-forwarded-host") is None:
        out.append((b"x-forwarded-host", host.encode("latin-1")))
    version = str(scope.get("http_version", "1.1"))
    out.append((b"via", _via(_joined(raw, b"via"), version).encode("latin-1")))
    out.append((b"x-request-id", request_id.encode()))
    # With tracing on, the legacy call joins our trace; otherwise the
    # client's traceparent (kept above) goes through unchanged.
    carrier: dict[str, str] = {}
    inject(carrier)
    if carrier:
        names = {k.encode() for k in carrier}
        out = [(k, v) for k, v in out if k.lower() not in names]
        out.extend((k.encode(), v.encode("latin-1")) for k, v in carrier.items())
    return out


def response_headers(raw: Iterable[tuple[bytes, bytes]], http_version: str) -> RawHeaders:
    """What our client receives of the legacy backend's response headers."""
    headers = list(raw)
    out = [(k, v) for k, v in end_to_end(headers) if k.lower() not in _REWRITTEN_RESPONSE]
    out.append((b"via", _via(_joined(headers, b"via"), http_version).encode("latin-1")))
    out.append((SERVED_BY, b"legacy"))
    return out
