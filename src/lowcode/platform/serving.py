"""uvicorn, with the process deciding what SIGTERM and SIGINT do."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import uvicorn


class Server(uvicorn.Server):
    """uvicorn re-raises the captured signal after shutdown, which kills the
    process before our `finally` blocks stop the embedded servers; here the
    signal only starts the shutdown (`handle_exit`) and the process then exits
    normally. `signals=False`: no handlers at all, for a server inside a
    process that owns its signals (the worker's probes, a test's event loop)."""

    def __init__(self, config: uvicorn.Config, *, signals: bool = True) -> None:
        super().__init__(config)
        self.signals = signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if not self.signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
