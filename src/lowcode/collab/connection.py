"""A page socket's client of its room: the shared outbound side
(`platform.websocket.connection`) plus what the room and the reader keep per
client — its access, its resend window and what it has waiting in the inbox."""

from __future__ import annotations

from dataclasses import dataclass

from lowcode.platform.websocket.connection import Connection as SocketConnection
from lowcode.platform.websocket.protocol import Frame


@dataclass(eq=False, kw_only=True)
class Connection(SocketConnection):
    read_only: bool
    # (access epoch, monotonic time) of the last live-authorisation answer.
    access_checked: tuple[int, float] | None = None
    # Until one of its ops is applied, an op may be a resend of one sent on an
    # earlier connection (resends come first): the room looks its opId up.
    may_resend: bool = True
    # Owned by the reader (and the room, which hands them back): what this
    # client has waiting in its room's inbox.
    ops_in_flight: int = 0
    cursors_in_flight: int = 0
    sync_pending: bool = False

    def presence(self) -> dict[str, str]:
        """This connection as the others in the room see it (AsyncAPI `Collaborator`):
        presence is per connection, so two tabs of one user are two entries."""
        return {**self.member.to_api(), "connectionId": self.id}

    def written(self, frame: Frame) -> None:
        # A sync request waits for the sync on its way (the reader drops repeats).
        if frame.kind == "sync":
            self.sync_pending = False
