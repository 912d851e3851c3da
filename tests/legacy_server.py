"""A stand-in legacy backend for the routing tests, run as its own process.

Every path echoes what arrived (method, path, query, headers, body length and
sha256) as JSON, streaming the body as it comes. Test switches, by header:
- `x-test-mode: download` streams `x-test-size` bytes: 1 MiB, then waits for
  `POST /_control/release/<x-test-gate>` before the rest (so a proxy that
  buffered the whole response would never deliver the first MiB);
  `/_control/downloads/<gate>` says whether it is streaming, done or aborted;
- `x-upload-id: ID` publishes the bytes received so far at
  `/_control/progress/ID` (so a test can see a streamed upload arrive);
- `x-test-status: N` answers with status N.
Its answers carry end-to-end headers (`x-legacy`, two `set-cookie`) and
hop-by-hop ones (`keep-alive`, and `x-hop` named in `connection`).

    python -m tests.legacy_server --fd N     # serve on an inherited listening socket
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
from collections import defaultdict
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MIB = 1024 * 1024
progress: dict[str, int] = {}
gates: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
received: list[dict[str, str]] = []
downloads: dict[str, str] = {}


async def ping(_request: Request) -> Response:
    return Response("ok")


async def upload_progress(request: Request) -> Response:
    return JSONResponse({"received": progress.get(request.path_params["upload_id"], 0)})


async def release(request: Request) -> Response:
    gates[request.path_params["gate"]].set()
    return Response(status_code=204)


async def requests_seen(_request: Request) -> Response:
    return JSONResponse({"requests": received})


async def _download(size: int, gate: str) -> AsyncIterator[bytes]:
    sent = 0
    downloads[gate] = "streaming"
    try:
        while sent < size:
            if sent == MIB:
                await asyncio.wait_for(gates[gate].wait(), 60)
            chunk = min(64 * 1024, (MIB if sent < MIB else size) - sent)
            yield bytes([sent // MIB % 256]) * chunk
            sent += chunk
        downloads[gate] = "done"
    finally:
        if downloads[gate] != "done":
            downloads[gate] = "aborted"


async def download_state(request: Request) -> Response:
    return JSONResponse({"state": downloads.get(request.path_params["gate"])})


async def echo(request: Request) -> Response:
    received.append({"method": request.method, "path": request.url.path})
    if request.headers.get("x-test-mode") == "download":
        size, gate = int(request.headers["x-test-size"]), request.headers["x-test-gate"]
        return StreamingResponse(
            _download(size, gate),
            media_type="application/octet-stream",
            headers={"content-length": str(size), "x-legacy": "download"},
        )
    digest, length = hashlib.sha256(), 0
    upload_id = request.headers.get("x-upload-id")
    kept = bytearray()
    async for chunk in request.stream():
        digest.update(chunk)
        length += len(chunk)
        if len(kept) < 10_000:
            kept.extend(chunk[: 10_000 - len(kept)])
        if upload_id:
            progress[upload_id] = length
    body = {
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw],
        "body_length": length,
        "body_sha256": digest.hexdigest(),
        "body": kept.decode("utf-8", "replace") if length <= 10_000 else None,
    }
    response = Response(
        json.dumps(body),
        status_code=int(request.headers.get("x-test-status", "200")),
        media_type="application/json",
        headers={"x-legacy": "yes", "keep-alive": "timeout=5", "x-hop": "secret"},
    )
    response.headers.append("connection", "x-hop")
    response.headers.append("set-cookie", "a=1; Path=/")
    response.headers.append("set-cookie", "b=2; Path=/")
    return response


app = Starlette(
    routes=[
        Route("/_control/ping", ping),
        Route("/_control/progress/{upload_id}", upload_progress),
        Route("/_control/release/{gate}", release, methods=["POST"]),
        Route("/_control/requests", requests_seen),
        Route("/_control/downloads/{gate}", download_state),
        Route("/{path:path}", echo, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
