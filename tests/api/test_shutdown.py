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
