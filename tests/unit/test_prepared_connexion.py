"""`platform.prepared` against stock Connexion: the same answers for the same
spec, with the per-operation work done once. These fail when a Connexion
upgrade changes what the subclasses rely on."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
from connexion import AsyncApp
from connexion.decorators import parameter as connexion_parameter

from lowcode.platform import prepared
from lowcode.platform.validation import VALIDATORS

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "prepared", "version": "1"},
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "x-bearerInfoFunc": "tests.unit.test_prepared_connexion.bearer_info",
            }
        }
    },
    "paths": {
        "/items/{item_id}": {
            "get": {
                "operationId": "tests.unit.test_prepared_connexion.get_item",
                "security": [{"bearerAuth": []}],
                "parameters": [
                    {
                        "name": "item_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    {
                        "name": "size",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10},
                    },
                ],
                "responses": {"200": {"description": "an item"}},
            }
        },
        "/items": {
            "post": {
                "operationId": "tests.unit.test_prepared_connexion.create_item",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {"201": {"description": "created"}},
            }
        },
    },
}

ITEM = "0b0e7c3c-9a8e-4d6f-8f5e-1f2d3c4b5a69"


def bearer_info(token: str, required_scopes: Any = None, request: Any = None) -> Any:
    return {"sub": "u1"} if token == "good" else None


async def get_item(item_id: str, token_info: dict[str, Any], size: int = 3) -> Any:
    return {"id": item_id, "size": size, "user": token_info["sub"]}, 200, {"X-Seen": "1"}


async def create_item(body: dict[str, Any]) -> Any:
    return {"name": body["name"]}, 201


def _apps() -> tuple[AsyncApp, AsyncApp]:
    stock = AsyncApp(__name__)
    stock.add_api(SPEC, strict_validation=True, validator_map=VALIDATORS)
    fast = prepared.PreparedAsyncApp(
        __name__, middlewares=prepared.middlewares(), security_map=prepared.SECURITY_MAP
    )
    fast.add_api(SPEC, strict_validation=True, validator_map=VALIDATORS)
    return stock, fast


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", f"/items/{ITEM}", {"headers": {"Authorization": "Bearer good"}}),
    ("GET", f"/items/{ITEM}?size=7", {"headers": {"Authorization": "Bearer good"}}),
    ("GET", f"/items/{ITEM}?size=70", {"headers": {"Authorization": "Bearer good"}}),
    ("GET", f"/items/{ITEM}?colour=red", {"headers": {"Authorization": "Bearer good"}}),
    ("GET", "/items/not-a-uuid", {"headers": {"Authorization": "Bearer good"}}),
    ("GET", f"/items/{ITEM}", {"headers": {"Authorization": "Bearer bad"}}),
    ("GET", f"/items/{ITEM}", {}),
    ("POST", "/items", {"json": {"name": "a"}}),
    ("POST", "/items", {"json": {"nom": "a"}}),
    ("POST", "/items", {"content": b"name=a", "headers": {"Content-Type": "text/plain"}}),
    ("GET", "/openapi.json", {}),
    ("GET", "/openapi.yaml", {}),
    ("GET", "/ui/", {}),
    ("GET", "/ui", {"follow_redirects": False}),
    ("GET", "/nowhere", {}),
]


def test_connexion_is_the_version_the_subclasses_were_written_for() -> None:
    assert version("connexion") == prepared.CONNEXION_VERSION


@pytest.mark.parametrize(("method", "path", "kwargs"), REQUESTS)
def test_prepared_connexion_answers_like_stock_connexion(
    method: str, path: str, kwargs: dict[str, Any]
) -> None:
    stock, fast = _apps()
    with stock.test_client() as a, fast.test_client() as b:
        expected = a.request(method, path, **kwargs)
        got = b.request(method, path, **kwargs)
    assert got.status_code == expected.status_code
    assert got.headers.get("content-type") == expected.headers.get("content-type")
    assert got.headers.get("x-seen") == expected.headers.get("x-seen")
    assert got.content == expected.content


def test_handler_signatures_are_read_at_start_up_not_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    original = connexion_parameter.inspect_function_arguments

    def counting(fn: Any) -> Any:
        calls.append(fn)
        return original(fn)

    monkeypatch.setattr(connexion_parameter, "inspect_function_arguments", counting)
    _stock, fast = _apps()
    headers = {"Authorization": "Bearer good"}
    with fast.test_client() as client:
        assert client.get(f"/items/{ITEM}", headers=headers).status_code == 200
        at_start = len(calls)
        for _ in range(3):
            assert client.get(f"/items/{ITEM}", headers=headers).status_code == 200
    assert len(calls) == at_start


def test_the_service_still_serves_its_docs_and_spec() -> None:
    from lowcode.app import create_app
    from lowcode.settings import Settings

    app = create_app(Settings(DATABASE_URL="postgresql://unused", REDIS_URL="redis://unused"))  # type: ignore[call-arg]
    client = app.connexion.test_client()
    # The spec itself is served as written in front of Connexion
    # (platform/documents.py; tests/api/test_documents.py); Swagger UI is Connexion's.
    docs = client.get("/docs/")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_parameters_are_parsed_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from connexion.uri_parsing import OpenAPIURIParser

    calls = []
    original = OpenAPIURIParser.resolve_path

    def counting(self: Any, path_params: Any) -> Any:
        calls.append(path_params)
        return original(self, path_params)

    monkeypatch.setattr(OpenAPIURIParser, "resolve_path", counting)
    _stock, fast = _apps()
    with fast.test_client() as client:
        response = client.get(f"/items/{ITEM}?size=4", headers={"Authorization": "Bearer good"})
    assert response.json() == {"id": ITEM, "size": 4, "user": "u1"}
    assert len(calls) == 1
