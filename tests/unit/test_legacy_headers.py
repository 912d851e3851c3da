"""The proxy's header rules (RFC 9110 §7.6) and the router's view of the spec."""

import yaml

from lowcode.routing.headers import (
    came_through_us,
    end_to_end,
    request_headers,
    response_headers,
)
from lowcode.routing.operations import OperationIndex
from lowcode.settings import Settings


def _scope(headers: list[tuple[bytes, bytes]], **kw) -> dict:
    return {
        "type": "http",
        "scheme": kw.get("scheme", "http"),
        "http_version": "1.1",
        "client": ("192.0.2.10", 5000),
        "headers": headers,
    }


def test_hop_by_hop_fields_and_those_connection_names_are_dropped():
    raw = [
        (b"Connection", b"keep-alive, X-Secret-Hop"),
        (b"connection", b"x-other"),
        (b"X-Secret-Hop", b"1"),
        (b"x-other", b"2"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"TE", b"trailers"),
        (b"Upgrade", b"websocket"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"Proxy-Authorization", b"Basic eA=="),
        (b"Proxy-Authenticate", b"Basic"),
        (b"Content-Type", b"application/json"),
        (b"Trailer", b"x-checksum"),
    ]
    assert end_to_end(raw) == [(b"Content-Type", b"application/json"), (b"Trailer", b"x-checksum")]


def test_requests_carry_via_forwarded_for_proto_host_and_the_request_id():
    out = dict(
        request_headers(
            _scope(
                [
                    (b"host", b"api.example.com"),
                    (b"x-forwarded-for", b"198.51.100.1"),
                    (b"x-forwarded-for", b"198.51.100.2"),
                    (b"via", b"1.1 edge"),
                    (b"x-request-id", b"client-chose-this"),
                    (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                ]
            ),
            "req-42",
        )
    )
    assert out[b"x-forwarded-for"] == b"198.51.100.1, 198.51.100.2, 192.0.2.10"
    assert out[b"x-forwarded-proto"] == b"http"
    assert out[b"x-forwarded-host"] == b"api.example.com"
    assert out[b"via"] == b"1.1 edge, 1.1 lowcode"
    assert out[b"x-request-id"] == b"req-42"
    assert out[b"traceparent"].startswith(b"00-0af7651916cd43dd8448eb211c80319c")
    assert b"host" not in out


def test_a_front_proxys_proto_and_host_are_kept():
    out = dict(
        request_headers(
            _scope(
                [
                    (b"host", b"internal:8080"),
                    (b"x-forwarded-proto", b"https"),
                    (b"x-forwarded-host", b"app.example.com"),
                ]
            ),
            "r",
        )
    )
    assert out[b"x-forwarded-proto"] == b"https"
    assert out[b"x-forwarded-host"] == b"app.example.com"


def test_responses_lose_hop_by_hop_fields_and_say_legacy_served_them():
    out = response_headers(
        [
            (b"connection", b"x-hop"),
            (b"x-hop", b"1"),
            (b"keep-alive", b"timeout=5"),
            (b"set-cookie", b"a=1"),
            (b"set-cookie", b"b=2"),
            (b"x-served-by", b"spoofed"),
            (b"date", b"Mon, 01 Jan 2024 00:00:00 GMT"),
        ],
        "1.1",
    )
    assert out == [
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"via", b"1.1 lowcode"),
        (b"x-served-by", b"legacy"),
    ]


def test_the_router_knows_each_operations_tags_and_workspace_parameter():
    spec = yaml.safe_load(Settings().openapi_file.read_text())
    ops = OperationIndex(spec)
    assert {"pages", "workspaces"} <= ops.routable_tags
    assert not ops.routable_tags & {"admin", "health", "flags", "auth", "users"}
    op, params = ops.match("GET", "/api/v1/pages/abc")
    assert (op.operation_id, op.workspace_param, params) == (
        "getPage",
        "page_id",
        {"page_id": "abc"},
    )
    op, _ = ops.match("HEAD", "/api/v1/workspaces/w1/pages")
    assert (op.operation_id, op.workspace_param) == ("listPages", "workspace_id")
    op, _ = ops.match("GET", "/api/v1/admin/jobs/stats")
    assert op.operation_id == "jobStats"
    assert ops.match("GET", "/api/v1/pages/a/b/c") is None
    assert ops.legacy_tags_of("getPage") == {"pages"}
    assert ops.legacy_tags_of("ready") == frozenset() == ops.legacy_tags_of(None)


def test_fallback_is_on_by_default_exactly_when_a_legacy_backend_is_set():
    assert Settings(LEGACY_BASE_URL="http://legacy:8000").legacy_fallback_on is True
    assert Settings().legacy_fallback_on is False
    assert Settings(LEGACY_BASE_URL="http://l", LEGACY_FALLBACK="false").legacy_fallback_on is False


def test_a_via_naming_us_is_a_loop():
    assert came_through_us(_scope([(b"via", b"1.0 fred, 1.1 lowcode (note)")]))
    assert came_through_us(_scope([(b"Via", b"1.1 edge"), (b"via", b"1.1 lowcode")]))
    assert not came_through_us(_scope([(b"via", b"1.1 lowcode-legacy, 1.1 edge")]))
    assert not came_through_us(_scope([]))
