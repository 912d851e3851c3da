"""A token sent in a WebSocket URL (`?access_token=`) never reaches an exported span."""

from websockets.asyncio.client import connect

from tests.api.collab.conftest import Peer
from tests.support import make_page, make_workspace, signup


async def test_a_token_in_the_websocket_url_is_not_in_any_span(client, live, spans):
    owner = await signup(client, "traced")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    spans.clear()
    token = owner.access_token
    peer = Peer(
        await connect(
            f"{live}/ws/pages/{page['id']}?access_token={token}",
            subprotocols=["lowcode.v1"],  # type: ignore[list-item]
        )
    )
    await peer.next("sync")  # the application still got the token
    await peer.close()
    events = Peer(await connect(f"{live}/ws/events?access_token={token}"))
    await events.send("ping", {})
    await events.next("pong")
    await events.close()

    finished = spans.get_finished_spans()
    handshakes = [s for s in finished if "/ws/" in str(s.attributes.get("http.target", ""))]
    assert handshakes, [s.attributes for s in finished]
    signature = token.rsplit(".", 1)[1]
    for span in finished:
        values = [str(v) for v in (span.attributes or {}).values()]
        values += [str(v) for e in span.events for v in (e.attributes or {}).values()]
        assert not any(signature in v for v in values), span.name
