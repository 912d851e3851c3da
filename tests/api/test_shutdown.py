"""Shutdown: an app stops cleanly even right after it started."""

from asgi_lifespan import LifespanManager

from lowcode.app import create_app


async def test_an_app_stopped_right_after_it_started_stops(settings):
    # The events subscription may still be reading its first replies: the
    # cancel used to be swallowed there and shutdown hung until killed.
    for _ in range(3):
        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
            pass
        assert app.events is not None and app.events._task is not None
        assert app.events._task.done()


async def test_a_second_shutdown_waits_for_the_first_to_flush_the_rooms(client, settings):
    """SIGTERM starts the shutdown; the lifespan starts it again before closing
    the pool. The second must wait until every room's final snapshot is written."""
    import asyncio

    from tests.api.collab.peer import open_peer, serve_app
    from tests.support import make_page, make_workspace, signup

    owner = await signup(client, "shutdown")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    root = page["schema"]["rootId"]
    async with serve_app(settings) as (app, url):
        peer = await open_peer(url, page["id"], owner.access_token)
        await peer.next("sync")
        patch = [{"op": "add", "path": f"/components/{root}/props/x", "value": 1}]
        await peer.send("op-patch", {"patches": patch, "baseVersion": 1, "opId": "s-1"})
        await peer.next("ack")
        rooms = list(app.hub.rooms.values())
        first = asyncio.create_task(app.begin_shutdown())  # as the signal handler does
        await asyncio.sleep(0)
        await app.begin_shutdown()  # as the lifespan does
        assert all(room.task is not None and room.task.done() for room in rooms)
        async with app.res.pool.acquire() as conn:
            head = await app.res.queries.pages.get_page_head(conn, page_id=rooms[0].page_id)
        assert head is not None and head.snapshot_version == 2
        await first
