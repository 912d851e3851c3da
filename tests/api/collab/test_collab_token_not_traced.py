"""A token sent in a WebSocket URL (`?access_token=`) never reaches an exported span."""

from websockets.asyncio.client import connect

from tests.api.collab.peer import Peer
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


async def test_websocket_handshakes_and_closes_are_in_the_access_log(client, live, logs):
    owner = await signup(client, "ws-logged")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    token = owner.access_token
    good = Peer(
        await connect(
            f"{live}/ws/pages/{page['id']}?access_token={token}",
            subprotocols=["lowcode.v1"],  # type: ignore[list-item]
        )
    )
    await good.next("sync")
    await good.close()
    bad = Peer(await connect(f"{live}/ws/pages/{page['id']}?access_token=forged"))
    assert await bad.closed() == 4401

    lines = [line for line in logs.lines("lowcode.access") if line.get("method") == "WEBSOCKET"]
    mine = [line for line in lines if line["path"] == f"/ws/pages/{page['id']}"]
    events = [(line["event"], line["status"], line["close_code"]) for line in mine]
    assert events[:2] == [("connect", 101, None), ("close", 101, 1000)]
    assert events[2:] == [("connect", 101, None), ("close", 101, 4401)]
    # The handshake is accepted before the token is checked: the close line names the user.
    assert mine[1]["user_id"] == owner.id and mine[3]["user_id"] is None
    assert mine[0]["query"] == "access_token=%5BREDACTED%5D"
    assert token.rsplit(".", 1)[1] not in logs.text()
