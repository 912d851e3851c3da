"""Authorisation stays live on open sockets (SPEC §4.6): removed → 4403, demoted →
read-only, revoked / disabled / deleted / expired → 4401, page deleted → 4404."""

from __future__ import annotations

import contextlib
import uuid

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.api.collab.peer import Peer, open_peer, serve_app
from tests.lifespan import with_state
from tests.support import (
    add_member,
    login_again,
    make_admin,
    make_page,
    make_workspace,
    prop,
    signup,
)


async def send_op(peer: Peer, page, op_id: str, base: int = 1) -> None:
    """Send an op; the server may already have closed the socket (then nothing is sent)."""
    with contextlib.suppress(ConnectionClosed):
        await peer.send(
            "op-patch", {"patches": prop(page, op_id, 1), "baseVersion": base, "opId": op_id}
        )


async def version_of(client, owner, page) -> int:
    response = await client.get(f"/api/v1/pages/{page['id']}", headers=owner.headers)
    return int(response.json()["version"])


async def editing_pair(client, live):
    owner = await signup(client, "la-owner")
    editor = await signup(client, "la-editor")
    ws = await make_workspace(client, owner)
    await add_member(client, owner, ws, editor, "editor")
    page = await make_page(client, owner, ws)
    peer = await open_peer(live, page["id"], editor.access_token)
    assert (await peer.next("sync"))["payload"]["readOnly"] is False
    return owner, editor, ws, page, peer


async def test_a_removed_member_is_refused_and_closed_with_4403(client, live):
    owner, editor, ws, page, peer = await editing_pair(client, live)
    removed = await client.delete(
        f"/api/v1/workspaces/{ws}/members/{editor.id}", headers=owner.headers
    )
    assert removed.status_code == 204
    await send_op(peer, page, "after-removal")
    assert await peer.closed() == 4403
    assert await version_of(client, owner, page) == 1
    assert not peer.violations


async def test_a_demoted_editor_becomes_read_only_then_writable_when_promoted(client, live):
    owner, editor, ws, page, peer = await editing_pair(client, live)
    url = f"/api/v1/workspaces/{ws}/members/{editor.id}"
    demoted = await client.patch(url, json={"role": "viewer"}, headers=owner.headers)
    assert demoted.status_code == 200
    await send_op(peer, page, "after-demotion")
    refused = await peer.next("error")
    assert refused["payload"]["code"] == "FORBIDDEN"
    assert refused["payload"]["opId"] == "after-demotion"
    syncs = [f for f in peer.seen if f["type"] == "sync"]
    assert syncs[-1]["payload"]["readOnly"] is True
    assert await version_of(client, owner, page) == 1

    promoted = await client.patch(url, json={"role": "editor"}, headers=owner.headers)
    assert promoted.status_code == 200
    while (await peer.next("sync"))["payload"]["readOnly"] is not False:
        pass
    await send_op(peer, page, "after-promotion")
    assert (await peer.next("ack"))["payload"]["version"] == 2
    await peer.close()


async def test_a_revoked_session_closes_its_sockets_with_4401(client, live):
    owner, editor, _ws, page, peer = await editing_pair(client, live)
    other = await login_again(client, editor)
    revoked = await client.delete(
        f"/api/v1/auth/sessions/{editor.session_id}", headers=other.headers
    )
    assert revoked.status_code == 204
    # Pushed: closed without the client sending anything.
    assert await peer.closed() == 4401
    assert await version_of(client, owner, page) == 1


async def test_a_logged_out_session_is_refused_on_its_next_op(client, live, app):
    owner, editor, _ws, page, peer = await editing_pair(client, live)
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": editor.refresh_token})
    assert out.status_code == 204
    await send_op(peer, page, "after-logout")
    assert await peer.closed() == 4401
    assert await version_of(client, owner, page) == 1


async def test_disabling_a_user_closes_page_and_event_sockets_with_4401(client, live, app):
    _owner, editor, _ws, _page, peer = await editing_pair(client, live)
    events = Peer(
        await connect(
            f"{live}/ws/events", subprotocols=["lowcode.v1", f"bearer.{editor.access_token}"]
        )  # type: ignore[list-item]
    )
    admin = await make_admin(app, client, "la-admin")
    disabled = await client.patch(
        f"/api/v1/users/{editor.id}", json={"disabled": True}, headers=admin.headers
    )
    assert disabled.status_code == 200
    assert await peer.closed() == 4401
    assert await events.closed() == 4401


async def test_a_deleted_page_closes_its_room_with_4404(client, live):
    owner, _editor, _ws, page, peer = await editing_pair(client, live)
    deleted = await client.delete(f"/api/v1/pages/{page['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    assert await peer.closed() == 4404


async def test_a_deleted_workspace_closes_its_rooms_with_4404(client, live):
    owner, _editor, ws, _page, peer = await editing_pair(client, live)
    deleted = await client.delete(f"/api/v1/workspaces/{ws}", headers=owner.headers)
    assert deleted.status_code == 204
    assert await peer.closed() == 4404


async def test_a_socket_closes_when_its_access_token_expires(client, settings):
    async with serve_app(settings, access_token_ttl_s=2) as (application, url):
        transport = httpx.ASGITransport(app=with_state(application))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as short:
            owner = await signup(short, "la-expiry")
            ws = await make_workspace(short, owner)
            page = await make_page(short, owner, ws)
        peer = await open_peer(url, page["id"], owner.access_token)
        await peer.next("sync")
        code = await peer.closed(timeout=30)
        assert code == 4401


async def test_a_lost_announcement_is_caught_by_the_periodic_check(client, settings):
    """A revocation whose announcement never arrived (Redis blip): the sockets
    still close, at the next periodic re-check."""
    async with serve_app(settings, ws_access_recheck_s=0.5) as (application, url):
        owner = await signup(client, "la-periodic")
        ws = await make_workspace(client, owner)
        page = await make_page(client, owner, ws)
        peer = await open_peer(url, page["id"], owner.access_token)
        await peer.next("sync")
        events = Peer(
            await connect(
                f"{url}/ws/events",
                subprotocols=["lowcode.v1", f"bearer.{owner.access_token}"],  # type: ignore[list-item]
            )
        )
        await events.send("ping", {})
        await events.next("pong")
        # Revoked behind the service's back: no announcement at all.
        async with application.res.pool.acquire() as conn:
            await application.res.queries.identity.revoke_session(
                conn, session_id=uuid.UUID(owner.session_id), reason="test"
            )
        assert await peer.closed(timeout=30) == 4401
        assert await events.closed(timeout=30) == 4401
