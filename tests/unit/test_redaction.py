import json

from lowcode.platform.redaction import (
    REDACTED,
    TRUNCATED_MARKER,
    body_for_log,
    redact,
    redact_query,
)


def test_redact_replaces_secrets_at_any_depth():
    value = {
        "email": "a@b.c",
        "password": "hunter22",
        "nested": {"refresh_token": "r", "items": [{"client_secret": "s", "keep": 1}]},
        "Authorization": "Bearer x",
        "cookie": "sid=1",
    }
    out = redact(value)
    assert out["email"] == "a@b.c"
    assert out["password"] == REDACTED
    assert out["nested"]["refresh_token"] == REDACTED
    assert out["nested"]["items"][0] == {"client_secret": REDACTED, "keep": 1}
    assert out["Authorization"] == REDACTED
    assert out["cookie"] == REDACTED


def test_json_body_is_redacted_and_truncated_with_marker():
    raw = json.dumps({"password": "pw-123456", "blob": "x" * 60_000}).encode()
    logged = body_for_log(raw, "application/json", 50 * 1024)
    assert "pw-123456" not in logged
    assert REDACTED in logged
    assert logged.endswith(TRUNCATED_MARKER)
    assert len(logged) == 50 * 1024 + len(TRUNCATED_MARKER)


def test_unparseable_json_still_has_secrets_removed():
    raw = b'{"password": "pw-123456", "email": "a@b.c"'
    logged = body_for_log(raw, "application/json", 1000)
    assert "pw-123456" not in logged
    assert "a@b.c" in logged


def test_query_tokens_are_redacted():
    assert "abc" not in redact_query("access_token=abc&page=2")
    assert "page=2" in redact_query("access_token=abc&page=2")


def test_binary_bodies_are_described_not_dumped():
    assert body_for_log(b"\x00\x01", "application/octet-stream", 100) == (
        "<2 bytes application/octet-stream>"
    )
    assert body_for_log(b"", "application/json", 100) is None


def test_the_json_codec_keeps_integers_beyond_64_bits():
    from lowcode.platform import jsoncodec

    big = {"n": 2**80, "m": -(2**70)}
    assert jsoncodec.loads(jsoncodec.dumps(big)) == big


def test_non_json_bodies_are_logged_by_size_only():
    body = b'{"email":"a@b.c","password":"hunter22"}'
    for ctype in ("text/plain;charset=UTF-8", None, "application/x-www-form-urlencoded"):
        logged = body_for_log(body, ctype, 1000)
        assert logged is not None and "hunter22" not in logged
        assert logged.startswith(f"<{len(body)} bytes")


def test_an_escaped_key_is_redacted_like_the_plain_one():
    parsed = body_for_log(b'{"pass\\u0077ord":"hunter22"}', "application/json", 1000)
    assert parsed is not None and "hunter22" not in parsed
    broken = body_for_log(b'{"pass\\u0077ord":"hunter22", oops', "application/json", 1000)
    assert broken is not None and "hunter22" not in broken
