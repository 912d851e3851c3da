"""Handler return values. An operation that declares both a JSON and a problem
response must name its content type, or Connexion cannot tell which it is."""

from __future__ import annotations

from typing import Any

from connexion.lifecycle import ConnexionResponse

JsonReply = tuple[Any, int, dict[str, str]]
NoContent = ConnexionResponse


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonReply:
    return body, status, {"Content-Type": "application/json", **(headers or {})}


def created(
    body: dict[str, Any], location: str, headers: dict[str, str] | None = None
) -> JsonReply:
    """201 with `Location`: the URL of the new resource (RFC 9110 §10.2.2)."""
    return json_reply(body, 201, {"Location": location, **(headers or {})})


def no_content() -> ConnexionResponse:
    return ConnexionResponse(status_code=204)
